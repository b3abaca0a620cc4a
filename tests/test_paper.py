"""gil.experiments.paper: the typed-in numbers and what page 07 says of them."""

from gil.experiments import paper


def test_the_branchs_casia_b_row_repeats_the_papers_softmax_row():
    assert paper.branch_repeats_paper()


def test_a_branch_row_that_differs_from_the_paper_is_told(monkeypatch):
    branch = dict(paper._AUTHORS_BRANCH)
    branch["CASIA-B LT (74)", "GaitGL + GiLoss"] = (97.6, 95.5, 87.3)
    monkeypatch.setattr(paper, "_AUTHORS_BRANCH", branch)
    assert not paper.branch_repeats_paper()
    del branch["CASIA-B LT (74)", "GaitGL + GiLoss"]
    assert not paper.branch_repeats_paper()  # no such row: nothing repeats
