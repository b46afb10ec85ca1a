"""OP-04's verdict over the API server's answers to a description placed as a label and as an annotation."""

from __future__ import annotations

import pytest

from podlife.verdicts.annotations import Answer, Placement, assert_belongs_in_annotations, label_value_problems

LONG = "serves-the-storefront-product-pages-and-the-search-suggestions-api"
SENTENCE = "Storefront: owned by team Shop <shop@example.com>"
#: The API server's refusal of both problems at once, as kube-apiserver 1.37 words it.
REFUSED = ('Deployment.apps "storefront-labelled" is invalid: metadata.labels: Invalid value: "...": '
           "must be no more than 63 bytes; a valid label must be an empty string or consist of alphanumeric "
           "characters, '-', '_' or '.', and must start and end with an alphanumeric character")
NOT_SELECTABLE = Answer(False, "field label not supported: metadata.annotations.description")


def placement(value: str, as_label: Answer, **changes: object) -> Placement:
    facts: dict[str, object] = dict(key="description", value=value, as_label=as_label, as_annotation=Answer(True),
                                    label_selected=(), field_selected=NOT_SELECTABLE)
    facts.update(changes)
    return Placement(**facts)  # type: ignore[arg-type]


def test_the_label_rule_names_each_problem() -> None:
    assert list(label_value_problems(LONG)) == ["longer than 63 bytes"]
    assert list(label_value_problems(SENTENCE)) == ["characters a label may not hold, or not alphanumeric at an end"]
    assert len(label_value_problems(SENTENCE * 2)) == 2
    assert label_value_problems("storefront-pages") == {} and label_value_problems("") == {}
    assert label_value_problems("-pages") and label_value_problems("é" * 32)  # an end, and 64 bytes in 32 letters


def test_a_description_refused_as_a_label_for_its_reasons_and_kept_as_an_annotation_passes() -> None:
    assert_belongs_in_annotations(placement(SENTENCE * 2, Answer(False, REFUSED)))
    assert_belongs_in_annotations(placement(LONG, Answer(False, "metadata.labels: Invalid value: must be no more than 63 characters")))


def test_a_value_accepted_as_a_label_fails_it_shows_nothing_about_descriptions() -> None:
    with pytest.raises(AssertionError, match="accepted 'storefront-pages' as the label description: it fits a label"):
        assert_belongs_in_annotations(placement("storefront-pages", Answer(True)))


def test_a_refusal_for_another_reason_fails_naming_the_reason_it_lacks() -> None:
    with pytest.raises(AssertionError, match="not for longer than 63 bytes: .*forbidden"):
        assert_belongs_in_annotations(placement(LONG, Answer(False, "metadata.labels: forbidden by a policy")))


@pytest.mark.parametrize(("changes", "message"), [
    ({"as_annotation": Answer(False, "too large")}, "refused .* as the annotation description: too large"),
    ({"label_selected": ("storefront",)}, "a label selector on description found storefront"),
    ({"field_selected": Answer(True)}, "field selector on metadata.annotations.description was accepted"),
])
def test_an_annotation_refused_or_selectable_fails(changes: dict[str, object], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        assert_belongs_in_annotations(placement(LONG, Answer(False, REFUSED), **changes))
