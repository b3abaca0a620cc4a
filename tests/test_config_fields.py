"""Issue #30: every config field, loss terms included, fed a wrong type, a non-finite number, a negative and a huge
value, is refused when the config is built, naming its dotted key."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from gil import config as config_lib
from gil.losses import TERMS

BASE = "embedded/tiny_triplet"
ALL_TERMS = {"loss.terms": {"gil": {}, "ce": {}}}  # the tiny triplet config with every term


def _fields() -> list[tuple[str, object]]:
    base = config_lib.load(BASE, ALL_TERMS)
    fields = []
    for section in ("data", "model", "optim", "schedule", "trainer", "eval"):
        cls = type(getattr(base, section))
        hints = typing.get_type_hints(cls)
        fields += [(f"{section}.{f.name}", hints[f.name]) for f in dataclasses.fields(cls)]
    for name, cls in TERMS.items():
        hints = typing.get_type_hints(cls)
        fields += [(f"loss.terms.{name}.{f.name}", hints[f.name]) for f in dataclasses.fields(cls)]
    return fields


FIELDS = _fields()
NUMBERS = [(key, hint) for key, hint in FIELDS if hint in (int, float, float | None, int | None)]
# a negative number is a setting nowhere, except where a field has no numeric meaning of sign (none today)
CASES = [
    (key, "wrong type", 3 if hint in (str, str | None) else "abc") for key, hint in FIELDS if hint is not typing.Any
]
CASES += [(key, "non-finite", float("inf")) for key, _ in NUMBERS] + [(key, "nan", float("nan")) for key, _ in NUMBERS]
CASES += [(key, "negative", -1) for key, _ in NUMBERS] + [(key, "huge", 10**12) for key, _ in NUMBERS]
CASES += [("data.resolution", "huge", [10**6, 22]), ("data.resolution", "negative", [-1, 22])]
CASES += [("schedule.milestones", "huge", [10**12]), ("schedule.milestones", "negative", [-1])]
CASES += [("schedule.milestones", "non-finite", [float("inf")])]


def test_every_numeric_field_is_covered():
    assert {key for key, _, _ in CASES} >= {key for key, _ in NUMBERS}
    assert len(NUMBERS) == 32  # every section's numbers (19) and every term's (13): a new one joins the cases


@pytest.mark.parametrize("key,kind,value", CASES, ids=[f"{key}-{kind}" for key, kind, _ in CASES])
def test_a_bad_value_is_refused_naming_its_key(key, kind, value):
    with pytest.raises(ValueError) as refused:
        config_lib.load(BASE, {**ALL_TERMS, key: value})
    message = str(refused.value)
    section, name = key.rsplit(".", 1)
    assert f"'{key}'" in message or f"'{key}[" in message or (f"'{section}'" in message and name in message), message


def test_a_batch_that_cannot_fit_in_memory_is_refused_before_allocating():
    with pytest.raises(ValueError, match=r"config key 'data': expected a training batch of at most .* GiB as float32"):
        config_lib.load(BASE, {"data.identities": 1000, "data.per_identity": 1000, "data.frames": 1000})
