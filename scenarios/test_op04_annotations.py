"""OP-04: descriptive information about a resource goes in annotations, not labels.

Story: a Deployment is to carry its description under the key ``description``. As an annotation
the API server keeps it; a label selector on the key then finds nothing and a field selector on
the annotation is refused (annotations are not for selecting). As a label the API server refuses
the object, and its validation message names each reason the label rule gives: too long, or
characters a label may not hold. Control: a short, label-safe value is accepted both ways, and
the same verdict fails on it, so what the check shows is about descriptions, not labels in general.
"""

from __future__ import annotations

import json
from typing import Callable

import pytest
from kubernetes import client

from podlife.errors import PodlifeError
from podlife.report.summary import Evidence
from podlife.scene import Scene
from podlife.served import name_of
from podlife.verdicts.annotations import Answer, Placement, assert_belongs_in_annotations
from podlife.workloads.agnhost import Netexec

KEY = "description"
#: Each breaks the label rule one way: 66 bytes of label characters; a sentence with spaces, ':', '<', '@'.
DESCRIPTIONS = {
    "too-long": "serves-the-storefront-product-pages-and-the-search-suggestions-api",
    "a-sentence": "Storefront: owned by team Shop <shop@example.com>",
}
LABEL_SAFE = "storefront-pages"
#: Deployments of no replicas: the object's metadata is the story, no pod needs to run.
APP = Netexec("storefront", replicas=0)


def answered(action: Callable[[], object]) -> Answer:
    """Whether the API server accepted ``action``, else its message (``scene.apply`` reports a refusal as a ``PodlifeError``)."""
    try:
        action()
    except PodlifeError as refused:
        return Answer(False, str(refused))
    except client.ApiException as refused:
        if refused.status != 400:
            raise
        return Answer(False, str(json.loads(refused.body or "{}").get("message", refused.reason)))
    return Answer(True)


def field_value(value: str) -> str:
    """``value`` escaped for a field selector (apimachinery's ``fields.EscapeValue``)."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def place(scene: Scene, value: str) -> Placement:
    """Annotate one Deployment with ``value``, select by it, then try it as a label of another."""
    annotated = APP.deployment()
    annotated["metadata"]["annotations"] = {KEY: value}
    as_annotation = answered(lambda: scene.apply(annotated, source="the value as an annotation"))
    found = scene.apps.list_namespaced_deployment(scene.namespace, label_selector=KEY).items
    field_selected = answered(lambda: scene.apps.list_namespaced_deployment(
        scene.namespace, field_selector=f"metadata.annotations.{KEY}={field_value(value)}"))
    labelled = APP.deployment()
    labelled["metadata"]["name"] = f"{APP.name}-labelled"
    labelled["metadata"]["labels"][KEY] = value
    as_label = answered(lambda: scene.apply(labelled, source="the value as a label"))
    return Placement(KEY, value, as_label, as_annotation, tuple(name_of(d) for d in found), field_selected)


def report(evidence: Evidence, placement: Placement) -> None:
    evidence.measure("value_bytes", len(placement.value.encode()))
    evidence.measure("as_label", placement.as_label.message or "accepted")
    evidence.measure("field_selector", placement.field_selected.message or "accepted")


@pytest.mark.claim("OP-04")
@pytest.mark.parametrize("value", list(DESCRIPTIONS.values()), ids=list(DESCRIPTIONS))
def test_a_description_is_refused_as_a_label_and_kept_as_an_annotation(scene: Scene, evidence: Evidence, value: str) -> None:
    placement = place(scene, value)
    report(evidence, placement)
    assert_belongs_in_annotations(placement)


@pytest.mark.claim("OP-04")
@pytest.mark.control
def test_control_a_label_safe_value_is_accepted_as_a_label_too(scene: Scene, evidence: Evidence) -> None:
    placement = place(scene, LABEL_SAFE)
    report(evidence, placement)
    assert placement.as_annotation.accepted, placement.as_annotation.message
    with pytest.raises(AssertionError, match="accepted 'storefront-pages' as the label description"):
        assert_belongs_in_annotations(placement)
