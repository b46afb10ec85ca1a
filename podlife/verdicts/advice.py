"""Advice read from a workload's manifests alone, each piece tied to the claim it comes from.

What the manifests say decides part of what the dynamic checks then find (no readiness
probe, no preStop delay), and part of what no short test run can show (a ``latest`` tag that
turns stale on a node, labels too few to select by). Advice is reported, not failed, unless
the workload file asks for ``strict``.
"""

from __future__ import annotations

import math
import re
import shlex
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


#: GNU sleep's units; a bare number is seconds.
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$")
#: Shell words that run the next command only on a condition, or in the background: a sleep after
#: (or before) one of them may not delay anything.
_CONDITIONAL = {"||", "&", "|"}
_SHELLS = {"sh", "bash", "ash", "dash", "zsh", "busybox"}


@dataclass(frozen=True)
class HookSleep:
    """How long a preStop hook delays SIGTERM as far as its manifest tells.

    ``seconds`` is the sleeping the hook does for sure (None: nothing the manifest shows);
    ``exact`` says the hook does nothing else, so its length is known, not just a lower bound.
    """

    seconds: float | None
    exact: bool


def _duration(words: list[str]) -> float | None:
    """The seconds ``sleep ARGS...`` sleeps (GNU sleep adds its arguments up), or None if an argument is not a duration."""
    total = 0.0
    for word in words:
        if word == "infinity":
            return math.inf
        match = _DURATION.match(word)
        if not match:
            return None
        total += float(match[1]) * _UNITS[match[2]]
    return total if words else None


def shell_sleep(script: str) -> HookSleep:
    """The sleeping a shell script surely does before it ends: its unconditional ``sleep`` commands, added up.

    ``sleep 5``, ``sleep 5 && nginx -s quit`` and ``nginx -s quit; sleep 5`` all delay at least
    five seconds, the first exactly; a sleep after ``||`` or sent to the background (``&``) may not
    delay anything and is not counted.
    """
    lexer = shlex.shlex(script.replace("\n", ";"), posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:  # unbalanced quotes: the manifest's script is not one a shell would run either
        return HookSleep(None, False)
    commands: list[tuple[list[str], str, str]] = []  # (words, separator before, separator after)
    current: list[str] = []
    before = ";"
    for word in [*words, ";"]:
        if word and set(word) <= set(";&|"):
            commands.append((current, before, word))
            current, before = [], word
        else:
            current.append(word)
    slept, others = 0.0, False
    for command, sep_before, sep_after in commands:
        if not command:
            continue
        seconds = _duration(command[1:]) if command[0].rsplit("/", 1)[-1] == "sleep" else None
        if seconds is None or sep_before in _CONDITIONAL or sep_after in _CONDITIONAL:
            others = True
            continue
        slept += seconds
    return HookSleep(slept if slept else None, not others and slept > 0)


def hook_sleep(container: dict[str, Any]) -> HookSleep:
    """How long a container's preStop hook delays SIGTERM: the sleep action, an exec of ``sleep N``, or
    a shell's (``sh -c "sleep 5"``, alone or with other commands); unknown for anything else."""
    pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre_stop:
        return HookSleep(float(pre_stop["sleep"]["seconds"]), True)
    command = [str(word) for word in (pre_stop.get("exec") or {}).get("command") or []]
    if not command:
        return HookSleep(None, False)
    program = command[0].rsplit("/", 1)[-1]
    if program == "busybox" and len(command) > 1:
        command, program = command[1:], command[1]
    if program == "sleep":
        seconds = _duration(command[1:])
        return HookSleep(seconds, seconds is not None)
    script = next((command[i + 1] for i, word in enumerate(command[:-1])
                   if word.startswith("-") and not word.startswith("--") and "c" in word), None)
    if program in _SHELLS and script is not None:
        return shell_sleep(script)
    return HookSleep(None, False)


def pre_stop_sleep(container: dict[str, Any]) -> float | None:
    """How long a container's preStop hook delays SIGTERM at least (see ``hook_sleep``); None when unknown."""
    return hook_sleep(container).seconds


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
    hook = (container.get("lifecycle") or {}).get("preStop")
    pre_stop = pre_stop_sleep(container)
    if not hook:
        advice.append(Advice("RQ-03", f"container {name} has no preStop delay: requests the data path still routes to a "
                                      "pod after its deletion started reach an app that is shutting down; add a preStop "
                                      "sleep longer than the data path takes to drop a pod (the rolling-update and "
                                      "scale-down checks measure it and name the length)"))
    elif pre_stop is None:
        advice.append(Advice("RQ-03", f"container {name}: its preStop hook's length is unknown from the manifests (not a "
                                      "plain sleep); it must keep the app serving until the data path drops the pod: the "
                                      "shutdown check measures how long the pod took to stop"))
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
