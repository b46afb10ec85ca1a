"""Two runs side by side: what changed between a base run and a new one (``podlife compare BASE NEW``).

Before an upgrade, a platform team runs the suite on the version it has and on the one it
wants, and needs the difference, not two reports: verdicts that flipped, measurements that
moved further than the run-to-run noise the verdicts themselves allow for, claims and checks
one run covered and the other did not, and the facts of each cluster that may explain it
(version, feature gates, the kubelet's back-off). A check that passed in the base run and
fails in the new one is a regression; anything else is a difference to read, with its cause
where the cluster facts name one.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podlife.errors import PodlifeError
from podlife.observe.clock import K8S_TIMESTAMP_RESOLUTION
from podlife.verdicts.backoff import EARLY, JITTER, LATE_FIXED
from podlife.verdicts.shutdown import KILL_EARLY_TOLERANCE, KILL_LATE_TOLERANCE

SUMMARY = "summary.json"
#: Outcomes a passing check can fall to that make the comparison a regression.
FAILING = ("failed", "error")


@dataclass(frozen=True)
class Tolerance:
    """How far a measurement may move between two runs of the same behaviour, and why.

    Moved means beyond both bounds: ``absolute`` seconds (or units) and ``relative`` of the
    base value; a bound of 0 does not hold it back.
    """

    why: str
    absolute: float = 0.0
    relative: float = 0.0

    def exceeded(self, base: float, new: float) -> bool:
        change = abs(new - base)
        return change > self.absolute and change > self.relative * abs(base)


#: Measurements compared by value, with the tolerance the verdict that produced them allows.
TOLERANCES: dict[str, Tolerance] = {
    "kill_delay_s": Tolerance(
        "the kill window's width: finishedAt in whole seconds, plus the kubelet's reaction",
        absolute=KILL_EARLY_TOLERANCE + KILL_LATE_TOLERANCE),
    "shutdown_s": Tolerance("finishedAt in whole seconds, plus the kubelet's reaction to the delete",
                            absolute=K8S_TIMESTAMP_RESOLUTION + 1.0),
    "after_sigterm_s": Tolerance("finishedAt in whole seconds, plus the kubelet's reaction to the delete",
                                 absolute=K8S_TIMESTAMP_RESOLUTION + 1.0),
    "endpoint_removal_lag_s": Tolerance("kube-proxy's one-second minimum sync period", absolute=1.0),
    "success_ratio": Tolerance("LC-01's one percent of slack", absolute=0.01),
    # From the replacement's start to the old container's kill (or back): the kill moves within
    # its window, the start with the node's load (measured 1.1 to 2.9 s over four runs).
    "overlap_s": Tolerance("the kill window's width plus the replacement's start-up",
                           absolute=KILL_EARLY_TOLERANCE + KILL_LATE_TOLERANCE, relative=1.0),
    "gap_s": Tolerance("the kill window's width plus the replacement's start-up",
                       absolute=KILL_EARLY_TOLERANCE + KILL_LATE_TOLERANCE, relative=1.0),
    "first_served_after_scale_up_s": Tolerance("start-up varies with node load: 2 s and half the base",
                                               absolute=2.0, relative=0.5),
    "replacement_serving_after_s": Tolerance("start-up varies with node load: 2 s and half the base",
                                             absolute=2.0, relative=0.5),
    "inferred_policy.initial_s": Tolerance(
        "a delay's jitter (x1.5) and the kubelet's fixed lateness", absolute=EARLY + LATE_FIXED, relative=JITTER),
    "inferred_policy.cap_s": Tolerance(
        "a delay's jitter (x1.5) and the kubelet's fixed lateness", absolute=EARLY + LATE_FIXED, relative=JITTER),
    "inferred_policy.factor": Tolerance("the ratio of two jittered delays", relative=JITTER),
}
#: Facts of a cluster that change what the scenarios measure.
CLUSTER_FACTS = ("provider", "version", "nodes", "feature_gates", "backoff")


@dataclass(frozen=True)
class Row:
    """One difference: where (section, subject), the two sides, and what it means."""

    section: str
    subject: str
    base: Any
    new: Any
    note: str = ""
    regression: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"section": self.section, "subject": self.subject, "base": self.base, "new": self.new,
                "note": self.note, "regression": self.regression}


def load(path: Path) -> dict[str, Any]:
    """A run's summary: ``summary.json`` itself, or the report directory holding it."""
    file = path / SUMMARY if path.is_dir() else path
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise PodlifeError(f"{file}: no such run summary (give a summary.json or a report directory)") from None
    except (OSError, ValueError) as err:
        raise PodlifeError(f"{file} is not a run summary: {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("claims"), dict):
        raise PodlifeError(f"{file} is not a run summary: it has no claims")
    return data


def results(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every test of a run once, by a name both runs share: its node id, or ``workload W: check``."""
    found: dict[str, dict[str, Any]] = {}
    for tests in (claim["tests"] for claim in summary["claims"].values()):
        for test in tests:
            found.setdefault(test["test"], test)
    for name, card in (summary.get("workloads") or {}).items():
        for check, result in card["checks"].items():
            found[f"workload {name}: {check}"] = result
    return found


def compare(base: dict[str, Any], new: dict[str, Any]) -> list[Row]:
    """Every difference between two run summaries, cluster facts first."""
    causes = cluster_differences(base.get("cluster") or {}, new.get("cluster") or {})
    rows = list(causes)
    cause = "; ".join(f"{r.subject} {r.base} -> {r.new}" for r in causes)
    rows += coverage(base, new)
    before, after = results(base), results(new)
    for name in sorted(before.keys() | after.keys()):
        if name not in after or name not in before:
            side = "base" if name in before else "new"
            rows.append(Row("tests", name, before.get(name, {}).get("outcome", "absent"),
                            after.get(name, {}).get("outcome", "absent"), f"ran in the {side} run only"))
            continue
        rows += verdict(name, before[name], after[name], cause)
        rows += measurements(name, before[name], after[name], cause)
    return rows


def cluster_differences(base: dict[str, Any], new: dict[str, Any]) -> list[Row]:
    return [Row("cluster", fact, base.get(fact), new.get(fact)) for fact in CLUSTER_FACTS if base.get(fact) != new.get(fact)]


def coverage(base: dict[str, Any], new: dict[str, Any]) -> list[Row]:
    """Claims covered (a check and its control passed) in one run and not the other, or run in one only."""
    rows = []
    for claim in sorted(base["claims"].keys() | new["claims"].keys()):
        was, now = (base["claims"].get(claim, {}).get("covered"), new["claims"].get(claim, {}).get("covered"))
        if was != now:
            state = {True: "covered", False: "not covered", None: "absent"}
            rows.append(Row("claims", claim, state[was], state[now]))
    return rows


def verdict(name: str, base: dict[str, Any], new: dict[str, Any], cause: str) -> list[Row]:
    was, now = base["outcome"], new["outcome"]
    if was == now:
        return []
    if was == "passed" and now in FAILING:
        finding = (new.get("finding") or "").splitlines()
        note = (finding[0] if finding else "") + (f" (cluster differs: {cause})" if cause else "")
        return [Row("verdicts", name, was, now, note, regression=True)]
    if now == "inconclusive":
        return [Row("verdicts", name, was, now, f"harness problem, not the claim: {new.get('reason', '')}")]
    return [Row("verdicts", name, was, now)]


def measurements(name: str, base: dict[str, Any], new: dict[str, Any], cause: str) -> list[Row]:
    """Measurements of one check that moved beyond their tolerance, and back-off delays outside the base's windows.

    A control's figures are not compared: it provokes the failure on purpose, and how much of
    it a run sees depends on timing, not on the cluster's behaviour.
    """
    if base.get("kind") == "control":
        return []
    before, after = comparable(base.get("measurements") or {}), comparable(new.get("measurements") or {})
    rows = []
    for key in sorted(before.keys() & after.keys()):
        tolerance = TOLERANCES[key]
        if tolerance.exceeded(before[key], after[key]):
            note = f"moved beyond its tolerance ({tolerance.why})" + (f"; cluster differs: {cause}" if cause else "")
            rows.append(Row("measurements", f"{name}: {key}", before[key], after[key], note))
    rows += backoff_windows(name, base.get("measurements") or {}, new.get("measurements") or {}, cause)
    return rows


def comparable(measured: dict[str, Any]) -> dict[str, float]:
    """The measurements with a tolerance, as numbers: nested ones dotted, per-pod ones at their worst."""
    flat: dict[str, float] = {}
    for key, value in measured.items():
        if isinstance(value, dict) and key == "endpoint_removal_lag_s":
            numbers = [v for v in value.values() if isinstance(v, (int, float))]
            if numbers:
                flat[key] = max(numbers)
        elif isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items() if isinstance(v, (int, float))})
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[key] = value
    return {k: v for k, v in flat.items() if k in TOLERANCES}


def backoff_windows(name: str, base: dict[str, Any], new: dict[str, Any], cause: str) -> list[Row]:
    """Restart delays of the new run outside the window the base run's policy allowed for the same restart."""
    windows = {r["restart"]: r for r in base.get("restart_delays") or []}
    rows = []
    for restart in new.get("restart_delays") or []:
        was = windows.get(restart["restart"])
        if was is None:
            continue
        low, high = was["allowed_s"]
        if not low <= restart["delay_s"] <= high:
            policy = (f"; the kubelet's back-off policy differs: {base['expected_policy']} -> {new['expected_policy']}"
                      if base.get("expected_policy") != new.get("expected_policy") else "")
            rows.append(Row("measurements", f"{name}: restart {restart['restart']} delay_s", was["delay_s"],
                            restart["delay_s"], f"outside the base run's window {low:g}..{high:g}s"
                            + policy + (f"; cluster differs: {cause}" if cause and not policy else "")))
    return rows


def render(rows: list[Row], base_label: str, new_label: str) -> str:
    """The comparison as text, one block per section, regressions marked."""
    lines = [f"podlife compare: base {base_label}", f"                 new  {new_label}"]
    if not rows:
        return "\n".join([*lines, "", "no differences"])
    for section in ("cluster", "claims", "verdicts", "measurements", "tests"):
        chosen = [r for r in rows if r.section == section]
        if chosen:
            lines += ["", f"{section}:"]
            for r in chosen:
                mark = "REGRESSION " if r.regression else ""
                lines.append(f"  {mark}{r.subject}: {_shown(r.base)} -> {_shown(r.new)}" + (f"  ({r.note})" if r.note else ""))
    regressions = sum(r.regression for r in rows)
    lines += ["", f"{regressions} regression(s), {len(rows) - regressions} other difference(s)"]
    return "\n".join(lines)


def _shown(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)


def save(rows: list[Row], base_label: str, new_label: str, out: Path) -> list[Path]:
    """Write the comparison into a report directory: as text, as JSON, and as an Allure result.

    The Allure result is a test named after the comparison, failed when a regression was found,
    with the text attached, so the report people open shows the comparison beside the run.
    """
    out.mkdir(parents=True, exist_ok=True)
    text = render(rows, base_label, new_label)
    written = [out / "compare.txt", out / "compare.json"]
    written[0].write_text(text + "\n")
    written[1].write_text(json.dumps({"base": base_label, "new": new_label, "rows": [r.to_dict() for r in rows]},
                                     indent=2) + "\n")
    results_dir = out / "allure-results"
    if results_dir.is_dir():
        key = uuid.uuid5(uuid.NAMESPACE_URL, f"{base_label} {new_label}").hex
        now = int(time.time() * 1000)
        (results_dir / f"{key}-attachment.txt").write_text(text + "\n")
        regressions = sum(r.regression for r in rows)
        result = {
            "uuid": key, "historyId": "podlife-compare", "name": f"compare with {base_label}",
            "fullName": "podlife compare", "status": "failed" if regressions else "passed",
            "statusDetails": {"message": f"{regressions} regression(s), {len(rows) - regressions} other difference(s)"},
            "stage": "finished", "start": now, "stop": now,
            "attachments": [{"name": "comparison", "source": f"{key}-attachment.txt", "type": "text/plain"}],
            "labels": [{"name": "suite", "value": "podlife compare"}, {"name": "feature", "value": "upgrade"}],
        }
        written.append(results_dir / f"{key}-result.json")
        written[-1].write_text(json.dumps(result, indent=2) + "\n")
    return written
