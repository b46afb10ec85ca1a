"""The Allure results ``podlife report``'s page is made from: the claims' and the users' workloads'.

``pytest`` as the README runs it (testpaths ``tests`` and ``scenarios``) writes a result for each
of podlife's own tests too: several hundred unit tests that say nothing about the cluster and
would fill the page's tree beside the claims. The page is a run's account of what was verified
on the cluster, so the generator reads a copy of the results without them (and without their
fixtures' containers and attachments, which would carry their parameters and texts into the
page). The run's results directory is left as it is, and their outcomes stay in JUnit
(``reports/junit.xml``), where CI reads podlife's own tests.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from podlife.errors import PodlifeError
from podlife.report.summary import shown_in_report


@dataclass(frozen=True)
class Selection:
    directory: Path  # the copy the generator reads
    shown: int  # results of claims and workloads
    left_out: int  # results of tests of no claim and no workload


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise PodlifeError(f"{path}: not an Allure result file ({err})") from None
    if not isinstance(document, dict):
        raise PodlifeError(f"{path}: not an Allure result file (no JSON object)")
    return document


def _attachments(node: Any) -> Iterator[str]:
    """The attachment files a result or container names, in its steps and fixtures too."""
    if isinstance(node, dict):
        if isinstance(node.get("source"), str):  # an attachment: {"name", "source", "type"}
            yield node["source"]
        node = list(node.values())
    if isinstance(node, list):
        for value in node:
            yield from _attachments(value)


def select(results: Path, claims: set[str], into: Path) -> Selection:
    """Copy ``results`` to ``into`` (which must not exist) without the results ``shown_in_report``
    leaves out, the containers of no result shown and the attachments only those name."""
    shown: set[str] = set()
    dropped: set[str] = set()
    kept_files: set[str] = set()
    dropped_files: set[str] = set()
    for path in results.glob("*-result.json"):
        result = _read(path)
        labels = [(str(label.get("name")), str(label.get("value"))) for label in result.get("labels", [])]
        if shown_in_report(labels, claims):
            shown.add(str(result.get("uuid")))
            kept_files.update(_attachments(result))
        else:
            dropped.add(path.name)
            dropped_files.update(_attachments(result))
    left_out = len(dropped)
    for path in results.glob("*-container.json"):
        container = _read(path)
        if shown.isdisjoint(container.get("children", [])):
            dropped.add(path.name)
            dropped_files.update(_attachments(container))
        else:
            kept_files.update(_attachments(container))
    dropped |= dropped_files - kept_files
    shutil.copytree(results, into, ignore=lambda _, names: dropped.intersection(names))
    return Selection(into, len(shown), left_out)
