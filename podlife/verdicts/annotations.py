"""Verdicts over where a resource's description can go: not in a label, in an annotation (OP-04).

Labels are for selecting. Their values are short tokens, and the API server validates every one
(apimachinery's ``content.IsLabelValue``): at most 63 bytes, of alphanumerics, ``-``, ``_`` and
``.``, starting and ending with an alphanumeric. Annotations are for people and tools: any
string (up to 256 KiB for all of an object's annotations together), and no selector reaches
them, neither a label selector nor a field selector. A description (a sentence, an owner and
how to reach them) is of the second kind. The verdict holds the API server's answers to the
rule: the description refused as a label for each reason the rule gives (each reason's words
in the refusal), kept as an annotation, and found by no selector there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LABEL_VALUE_MAX_BYTES = 63
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
#: Where the API server's refusal puts a label's problems.
LABELS_FIELD = "metadata.labels"


def label_value_problems(value: str) -> dict[str, str]:
    """Why ``value`` cannot be a label value: each reason, with the words the API server's refusal uses for it."""
    problems = {}
    if len(value.encode()) > LABEL_VALUE_MAX_BYTES:
        problems[f"longer than {LABEL_VALUE_MAX_BYTES} bytes"] = f"no more than {LABEL_VALUE_MAX_BYTES}"
    if not LABEL_VALUE.fullmatch(value):
        problems["characters a label may not hold, or not alphanumeric at an end"] = (
            "a valid label must be an empty string or consist of alphanumeric characters")
    return problems


@dataclass(frozen=True)
class Answer:
    """What the API server answered one write or read: accepted, or refused with its message."""

    accepted: bool
    message: str = ""


@dataclass(frozen=True)
class Placement:
    """One value tried under one key of an object: as a label, as an annotation, then selected by."""

    key: str
    value: str
    as_label: Answer
    as_annotation: Answer
    #: What a label selector on ``key`` (the key exists) found while the value was an annotation only.
    label_selected: tuple[str, ...]
    #: A field selector on ``metadata.annotations.<key>=<value>``.
    field_selected: Answer


def assert_belongs_in_annotations(placement: Placement) -> None:
    """OP-04: the value is refused as a label for every reason the rule gives, kept as an annotation, and not selectable there."""
    key, value, label = placement.key, placement.value, placement.as_label
    assert not label.accepted, (
        f"the API server accepted {value!r} as the label {key}: it fits a label ({LABEL_VALUE_MAX_BYTES} bytes or "
        "fewer of alphanumerics, '-', '_' and '.'), so it shows nothing about a description that does not")
    problems = label_value_problems(value)
    unnamed = [reason for reason, words in problems.items() if words not in label.message]
    assert problems and LABELS_FIELD in label.message and not unnamed, (
        f"the API server refused {value!r} as the label {key}, but not for "
        f"{'; '.join(unnamed) if unnamed else 'any reason the label rule gives'}: {label.message}")
    assert placement.as_annotation.accepted, (
        f"the API server refused {value!r} as the annotation {key}: {placement.as_annotation.message}")
    assert not placement.label_selected, (
        f"a label selector on {key} found {', '.join(placement.label_selected)}, where {key} is only an "
        "annotation: annotations would be selectable")
    assert not placement.field_selected.accepted, (
        f"a field selector on metadata.annotations.{key} was accepted: annotations would be selectable")
