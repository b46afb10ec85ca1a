"""Verdicts over what a label selector reached: exactly the objects meant, none beside them (OP-03).

A selector picks every object that carries all of its labels. With one label per object
(``app=web``) it cannot tell a Deployment's stable pods from its canary, or a test backend from a
production one; with one label per dimension it can. The verdict compares what an operation
actually reached (the pods that answered a Service's requests, the Deployments a scale changed)
with the objects the operator meant, given as the labels every one of them carries.
"""

from __future__ import annotations

from collections.abc import Mapping

from podlife.errors import NotExercised
from podlife.observe.traffic import Ledger
from podlife.workloads.labelled import matches


def _labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def _dimensions(labels: Mapping[str, str] | None, meant: Mapping[str, str]) -> str:
    """An object's labels of the keys ``meant`` names (the rest, such as the test's stamp, tell nothing here)."""
    if labels is None:
        return "labels unknown"
    return _labels({key: labels.get(key, "<none>") for key in meant})


def assert_reached_exactly(reached: Mapping[str, str], objects: Mapping[str, dict[str, str]],
                           meant: dict[str, str], what: str) -> None:
    """OP-03: ``what`` reached every object labelled ``meant`` and nothing else.

    ``reached`` names each object the operation reached, with what it did there ("34 requests",
    "replicas 1 -> 0"); ``objects`` are all the objects of the kind in the namespace, by name, with
    their labels. An operation that reached nothing shows nothing about selection: ``NotExercised``.
    """
    if not reached:
        raise NotExercised(f"{what} reached no object, so it shows nothing about what its selector picks")
    strays = sorted(name for name in reached if not matches(objects.get(name, {}), meant))
    assert not strays, (
        f"{what} reached {len(strays)} object(s) outside {_labels(meant)}: "
        + "; ".join(f"{name} ({_dimensions(objects.get(name), meant)}): {reached[name]}" for name in strays)
        + ". Its selector must name every label that tells them apart from the objects meant")
    missed = sorted(name for name, labels in objects.items() if matches(labels, meant) and name not in reached)
    assert not missed, f"{what} missed {', '.join(missed)}, labelled {_labels(meant)} like the objects it reached"


def assert_served_only_by(ledger: Ledger, pods: Mapping[str, dict[str, str]], meant: dict[str, str]) -> None:
    """OP-03: the Service's requests were answered by every pod labelled ``meant`` and by no other pod."""
    ledger.check_usable()
    served = ledger.served_by()
    assert_reached_exactly({pod: f"{count} requests" for pod, count in served.items()}, pods, meant,
                           f"the Service at {ledger.target} ({sum(served.values())} requests answered)")
