"""Issue #30, cases 8, 9 and the reading rules: a config file is read as a person reads it, and refused, naming the
file, where a person and YAML 1.1 would disagree."""

from __future__ import annotations

import pytest

from gil import config as config_lib
from gil.config import load_yaml, parse_overrides


def test_plain_scalars_follow_yaml_1_2():
    values = load_yaml("a: yes\nb: 010\nc: 1_000\nd: 1:30\ne: 1e-4\nf: true\ng: off\nh: 0x1f\ni: 0o10\nj: -3\nk: ~")
    assert values == {
        "a": "yes", "b": 10, "c": "1_000", "d": "1:30", "e": 1e-4, "f": True, "g": "off", "h": 31, "i": 8, "j": -3,
        "k": None,
    }  # fmt: skip
    assert parse_overrides(["trainer.amp=off", "trainer.steps=010"]) == {"trainer.amp": "off", "trainer.steps": 10}


def test_a_repeated_section_is_an_error_naming_the_key_and_file(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("trainer:\n  steps: 4\nmodel:\n  name: gaitset\ntrainer:\n  seed: 1\n")
    with pytest.raises(ValueError, match=r"twice.yaml: not valid YAML: key 'trainer' appears twice .*line 5"):
        config_lib.load(path)
    path.write_text("trainer:\n  steps: 4\n  steps: 5\n")
    with pytest.raises(ValueError, match="key 'steps' appears twice"):
        config_lib.load(path)


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("- data\n- model\n", "expected a mapping of sections at the top level, got a list"),
        ("a: &x [1, 2]\n" + "".join(f"b{i}: *x\n" for i in range(80)), "more than 64 aliases"),
    ],
)
def test_documents_that_are_no_config_are_refused_naming_the_file(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"c\.yaml: .*{message}"):
        config_lib.load(path)


def test_a_file_that_is_not_utf8_or_a_folder_is_named(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.yaml: not a UTF-8 text file"):
        config_lib.load(path)
    with pytest.raises(ValueError, match="is a folder; expected a YAML file"):
        config_lib.load(tmp_path)
