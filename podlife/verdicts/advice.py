"""Advice read from a workload's manifests alone, each piece tied to the claim it comes from.

What the manifests say decides part of what the dynamic checks then find (no readiness
probe, no preStop delay), and part of what no short test run can show (a ``latest`` tag that
turns stale on a node, labels too few to select by). Advice is reported, not failed, unless
the workload file asks for ``strict``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podlife.kernel.defaults import DEFAULT_GRACE

#: A preStop delay taking more than this share of the grace period leaves the app too little
#: time to shut down after SIGTERM.
PRE_STOP_SHARE = 0.8


@dataclass(frozen=True)
class Advice:
    claim: str
    text: str

    def __str__(self) -> str:
        return f"{self.claim}: {self.text}"


def pre_stop_sleep(container: dict[str, Any]) -> float | None:
    """How long a container's preStop hook delays SIGTERM, when it is a plain sleep (exec or the sleep action)."""
    pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre_stop:
        return float(pre_stop["sleep"]["seconds"])
    command = (pre_stop.get("exec") or {}).get("command") or []
    if len(command) == 2 and command[0].endswith("sleep") and command[1].replace(".", "", 1).isdigit():
        return float(command[1])
    return None


def pre_stop_advice(pre_stop_seconds: float | None, grace: float) -> str | None:
    """Advice when a preStop delay leaves the app little of the grace period (LC-12, SD-02)."""
    if pre_stop_seconds is not None and pre_stop_seconds > PRE_STOP_SHARE * grace:
        return (f"the preStop delay ({pre_stop_seconds:g}s) takes more than {PRE_STOP_SHARE:.0%} of the "
                f"{grace:g}s grace period, leaving the app {grace - pre_stop_seconds:g}s after SIGTERM")
    return None


def _tag(image: str) -> str | None:
    """The tag of an image reference (None without one); a digest pins the image as well as a tag."""
    if "@" in image:
        return "@digest"
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def container_advice(container: dict[str, Any], grace: float) -> list[Advice]:
    name, image = container.get("name", "?"), container.get("image", "")
    advice = []
    tag = _tag(image)
    if tag in (None, "latest"):
        policy = container.get("imagePullPolicy")
        stale = " and with IfNotPresent a node that holds an older latest runs it" if policy == "IfNotPresent" else ""
        advice.append(Advice("OP-02", f"container {name}: image {image} has {'no tag' if tag is None else 'the latest tag'}, "
                                      f"so it is pulled on every start{stale}; pin a version"))
    if "readinessProbe" not in container:
        advice.append(Advice("RQ-01", f"container {name} has no readiness probe: a new pod gets traffic as soon as it runs, "
                                      "before the app answers"))
    pre_stop = pre_stop_sleep(container)
    if pre_stop is None:
        advice.append(Advice("RQ-03", f"container {name} has no preStop delay: requests the Service still routes to a "
                                      "pod after its deletion started reach an app that is shutting down"))
    elif text := pre_stop_advice(pre_stop, grace):
        advice.append(Advice("LC-12", f"container {name}: {text}"))
    if container.get("terminationMessagePolicy") != "FallbackToLogsOnError":
        advice.append(Advice("OP-05", f"container {name}: with terminationMessagePolicy FallbackToLogsOnError a crash "
                                      "leaves the tail of its log in the pod's status"))
    return advice


def placement_advice(target: dict[str, Any], others: list[dict[str, Any]]) -> list[Advice]:
    """Advice on surviving node loss and drains (ND-01, ND-04): replicas, spread, a disruption budget among ``others``."""
    template = target["spec"]["template"]
    spec = template.get("spec") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    replicas = int(target["spec"].get("replicas", 1))
    advice = []
    if replicas < 2:
        advice.append(Advice("ND-04", f"{replicas} replica: a drain or a lost node takes the whole app down; run at least 2"))
    elif not spec.get("topologySpreadConstraints") and not (spec.get("affinity") or {}).get("podAntiAffinity"):
        advice.append(Advice("ND-04", f"the {replicas} replicas are not spread across nodes (no topologySpreadConstraints "
                                      "or podAntiAffinity): the scheduler may put them all on one node, and losing it "
                                      "takes the app down"))
    budgets = [o for o in others if o.get("kind") == "PodDisruptionBudget"
               and ((o.get("spec") or {}).get("selector") or {}).get("matchLabels", {}).items() <= labels.items()]
    if not budgets:
        advice.append(Advice("ND-01", "no PodDisruptionBudget selects its pods: a node drain may evict every replica "
                                      "at once; add one (minAvailable, or maxUnavailable: 1)"))
    return advice


def workload_advice(target: dict[str, Any], others: list[dict[str, Any]] | None = None) -> list[Advice]:
    """Advice on a Deployment's or StatefulSet's manifest: its pod template's containers, labels and annotations;
    with the workload's other manifests (``others``), its placement across nodes too."""
    template = target["spec"]["template"]
    spec = template.get("spec") or {}
    grace = float(spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE))
    advice = [a for c in spec.get("containers") or [] for a in container_advice(c, grace)]
    labels = (template.get("metadata") or {}).get("labels") or {}
    if len(labels) < 2:
        advice.append(Advice("OP-03", f"the pod template has {len(labels)} label(s) ({', '.join(f'{k}={v}' for k, v in labels.items())}): "
                                      "add dimensions (tier, track, environment) so its pods can be selected precisely"))
    if not (target.get("metadata") or {}).get("annotations"):
        advice.append(Advice("OP-04", f"{target['kind']}/{target['metadata']['name']} has no annotations: describe it "
                                      "(description, owner, contact) where people and tools look"))
    if others is not None:
        advice += placement_advice(target, others)
    return advice
