"""This reproduction's tooling, beside the library: the notebooks' parameters (:mod:`gil.experiments.params`)."""
