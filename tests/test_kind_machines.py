"""A kind node's power, kubelet and cable through the container engine: the command lines, recorded."""

from __future__ import annotations

import subprocess

import pytest

from podlife.cluster.kind_machines import KindMachines
from podlife.errors import HarnessError, PodlifeError


class Engine:
    """Records each call; ``inspect`` answers the control plane's address; ``iptables -D`` succeeds once per rule."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.rules: set[tuple[str, ...]] = set()

    def __call__(self, cmd: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(cmd)
        out, code = "", 0
        if cmd[1] == "inspect":
            out = "172.18.0.2 "
        elif "iptables" in cmd and "-I" in cmd:
            self.rules.add(tuple(a for a in cmd if a not in ("-I", "1")))
        elif "iptables" in cmd and "-D" in cmd:
            key = tuple(a if a != "-D" else "" for a in cmd)
            match = next((r for r in self.rules if [a for a in r if a] == [a for a in key if a]), None)
            code = 0 if match else 1
            if match:
                self.rules.discard(match)
        return subprocess.CompletedProcess(cmd, code, out, "")


def test_power_and_kubelet_go_through_the_engine() -> None:
    engine = Engine()
    machines = KindMachines("ci", ("ci-worker", "ci-worker2"), engine, "docker")
    machines.power_off("ci-worker")
    machines.power_on("ci-worker")
    machines.stop_kubelet("ci-worker2")
    machines.start_kubelet("ci-worker2")
    assert engine.calls == [["docker", "kill", "ci-worker"], ["docker", "start", "ci-worker"],
                            ["docker", "exec", "ci-worker2", "systemctl", "stop", "kubelet"],
                            ["docker", "exec", "ci-worker2", "systemctl", "start", "kubelet"]]


def test_partition_drops_both_ways_and_heal_takes_every_rule_back() -> None:
    engine = Engine()
    machines = KindMachines("ci", ("ci-worker",), engine, "podman")
    machines.partition("ci-worker")
    inserted = [c for c in engine.calls if "-I" in c]
    assert {(c[8], c[10], c[11]) for c in inserted} == {("PREROUTING", "-s", "172.18.0.2"), ("OUTPUT", "-d", "172.18.0.2"),
                                                      ("FORWARD", "-d", "172.18.0.2"), ("FORWARD", "-s", "172.18.0.2")}
    assert all(c[:3] == ["podman", "exec", "ci-worker"] for c in inserted)
    machines.heal("ci-worker")
    assert not engine.rules
    assert engine.calls[-1] == ["podman", "exec", "ci-worker", "ss", "-K", "-tn", "dst", "172.18.0.2"]


def test_the_control_plane_and_strangers_are_refused() -> None:
    machines = KindMachines("ci", ("ci-worker",), Engine(), "docker")
    with pytest.raises(PodlifeError, match="not a worker of kind cluster 'ci'"):
        machines.power_off("ci-control-plane")


def test_a_failing_engine_is_a_harness_problem() -> None:
    def failing(cmd: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 1, "", "Cannot connect to the Docker daemon")

    with pytest.raises(HarnessError, match="docker kill ci-worker failed: Cannot connect"):
        KindMachines("ci", ("ci-worker",), failing, "docker").power_off("ci-worker")
