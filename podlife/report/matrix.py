"""The claims matrix: one row per claim of the catalog, with how this run's checks and controls
came out, the figures they measured, and whether the claim is covered.

A claim is covered when a check passed and its negative control passed (the summary decides
it, as the catalog defines it). A row shows each side as its worst test, because one failing
check of three is what a reader must see; the tests behind it are listed with their own
outcomes. Claims the run tested that the catalog does not name are listed after the catalog's,
and marked so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podlife.report.catalog import Catalog, category_of
from podlife.report.history import flatten, worst


@dataclass(frozen=True)
class Side:
    """A claim's checks, or its controls: the worst outcome and each test's."""

    outcome: str
    tests: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Row:
    claim: str
    category: str
    text: str | None  # None: a claim the run tested that the catalog does not name
    check: Side
    control: Side
    covered: bool
    measurements: dict[str, tuple[float, float]]  # name -> (lowest, highest) over the claim's checks


def _side(tests: list[dict[str, Any]], kind: str) -> Side:
    chosen = [(t["test"], t["outcome"]) for t in tests if t["kind"] == kind]
    return Side(worst(outcome for _, outcome in chosen), tuple(chosen))


def _ranges(tests: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Each measured figure of the claim's checks, as the range over its tests (most claims have one)."""
    ranges: dict[str, tuple[float, float]] = {}
    for test in tests:
        if test["kind"] != "check":
            continue
        for name, value in flatten(test.get("measurements") or {}).items():
            low, high = ranges.get(name, (value, value))
            ranges[name] = (min(low, value), max(high, value))
    return dict(sorted(ranges.items()))


def rows(summary: dict[str, Any], catalog: Catalog | None) -> list[Row]:
    """The catalog's claims in its order, then any the run tested that it does not name."""
    tested = summary["claims"]
    named = list(catalog.claims) if catalog else []
    result = []
    for claim in named + sorted(set(tested) - set(named)):
        tests = tested.get(claim, {}).get("tests", [])
        result.append(Row(
            claim=claim, category=category_of(claim),
            text=catalog.claims[claim].text if catalog and claim in catalog.claims else None,
            check=_side(tests, "check"), control=_side(tests, "control"),
            covered=bool(tested.get(claim, {}).get("covered")), measurements=_ranges(tests),
        ))
    return result


@dataclass(frozen=True)
class Check:
    """One check of a user's workload on the scorecard."""

    name: str
    outcome: str
    detail: str  # the verdict's finding or the inconclusive reason, first line
    measurements: dict[str, float]
    advice: tuple[str, ...]


def scorecard(summary: dict[str, Any]) -> dict[str, tuple[bool, list[Check]]]:
    """Per workload the run tested: whether it passed, and its checks."""
    cards = {}
    for name, card in (summary.get("workloads") or {}).items():
        checks = []
        for check, result in card["checks"].items():
            detail = (result.get("finding") or result.get("reason") or "").strip().splitlines()
            measured = result.get("measurements") or {}
            checks.append(Check(check.replace("_", " "), result["outcome"], detail[0] if detail else "",
                                flatten(measured), tuple(str(a) for a in measured.get("advice") or ())))
        cards[name] = (bool(card.get("passed")), checks)
    return cards


def counts(matrix: list[Row]) -> dict[str, int]:
    """How many claims are covered, checked without a passing control, failing, or not run at all."""
    failing = {"failed", "error"}
    return {
        "claims": len(matrix),
        "covered": sum(r.covered for r in matrix),
        "failing": sum(r.check.outcome in failing or r.control.outcome in failing for r in matrix),
        "not run": sum(r.check.outcome == "not run" and r.control.outcome == "not run" for r in matrix),
    }



def environment(cluster: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The run's cluster facts as (name, value) pairs: the report's environment and the page's header.

    The back-off policy is what the kubelet's configz said (LC-04 and LC-05 are judged by it),
    or the reason it could not be read; its source names the node it was read from.
    """
    if not cluster:
        return [("cluster", "unknown (the run recorded no cluster facts)")]
    gates = cluster.get("feature_gates")
    backoff = cluster.get("backoff")
    pairs = [("provider", str(cluster.get("provider"))), ("version", str(cluster.get("version"))),
             ("nodes", "not visible" if cluster.get("nodes") is None else str(cluster["nodes"]))]
    if gates is not None:
        pairs.append(("feature gates", ", ".join(f"{k}={v}" for k, v in sorted(gates.items())) or "none set"))
    if isinstance(backoff, dict):
        pairs.append(("back-off", f"initial {backoff.get('initial_s')}s, cap {backoff.get('cap_s')}s"))
    elif backoff is not None:
        pairs.append(("back-off", str(backoff)))
    if cluster.get("backoff_source"):
        pairs.append(("back-off from", str(cluster["backoff_source"])))
    return pairs
