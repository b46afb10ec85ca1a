"""Provisioning once per run: xdist workers attach, errors are one line, kind is driven as documented.

Each test runs pytest itself, as a user would, on a small test file of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from podlife.cluster.kind import NODE_IMAGES
from podlife.cluster.local.provider import LocalCluster

STANDIN_KIND = Path(__file__).parents[1] / "standins" / "kind"

USER_TESTS = '''
import os
from kubernetes import client

def test_first(podlife_cluster, k8s):
    client.CoreV1Api(k8s).list_namespace(limit=1)
    print("ran on", os.environ.get("PYTEST_XDIST_WORKER", "single"), podlife_cluster.provider)

def test_second(podlife_cluster, k8s):
    client.CoreV1Api(k8s).list_namespace(limit=1)
'''


def run_pytest(where: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    (where / "test_user.py").write_text(USER_TESTS)
    cmd = [sys.executable, "-m", "pytest", str(where / "test_user.py"), "-p", "no:cacheprovider", "-o", "addopts=",
           "--rootdir", str(where), *args]
    return subprocess.run(cmd, cwd=where, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})


def test_provisioning_error_under_xdist_is_one_line(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "-n", "2", "--cluster", "existing", "--kubeconfig", str(tmp_path / "missing"))
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert f"Exit: podlife: kubeconfig {tmp_path / 'missing'} does not exist" in output, output
    assert "Traceback" not in output and "node down" not in output, output
    assert "workers" not in output, "workers were started although the cluster could not be provisioned"


def kind_calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.parametrize("keep", [False, True], ids=["deleted", "kept"])
def test_kind_cluster_created_once_shared_by_workers_and_released(tmp_path: Path, local_cluster: LocalCluster, keep: bool) -> None:
    log = tmp_path / "kind-calls"
    env = {"STANDIN_KIND_LOG": str(log), "STANDIN_KIND_STATE": str(tmp_path / "kind-state"),
           "STANDIN_KIND_KUBECONFIG": str(local_cluster.layout.kubeconfig)}
    args = ["-n", "2", "--cluster", "kind", "--kind-bin", str(STANDIN_KIND), "--cluster-name", "podlife-ci",
            "--k8s-version", "1.36", "-s", *(["--keep-cluster"] if keep else [])]
    result = run_pytest(tmp_path, *args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    calls = kind_calls(log)
    creates = [c for c in calls if c[:2] == ["create", "cluster"]]
    deletes = [c for c in calls if c[:2] == ["delete", "cluster"]]
    assert len(creates) == 1, calls
    assert "--name=podlife-ci" in creates[0] and f"--image={NODE_IMAGES['1.36']}" in creates[0], creates
    assert len(deletes) == (0 if keep else 1), calls
    if deletes:
        assert "--name=podlife-ci" in deletes[0] and calls[-1] == deletes[0], "the cluster was deleted before the run ended"


def test_kind_with_several_nodes_gets_a_config_of_workers(tmp_path: Path, local_cluster: LocalCluster) -> None:
    log = tmp_path / "kind-calls"
    env = {"STANDIN_KIND_LOG": str(log), "STANDIN_KIND_STATE": str(tmp_path / "kind-state"),
           "STANDIN_KIND_KUBECONFIG": str(local_cluster.layout.kubeconfig)}
    result = run_pytest(tmp_path, "--cluster", "kind", "--kind-bin", str(STANDIN_KIND), "--cluster-name", "podlife-nodes",
                        "--nodes", "3", "--kubeconfig", str(tmp_path / "kind.kubeconfig"), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    create = next(c for c in kind_calls(log) if c[:2] == ["create", "cluster"])
    assert "--config" in create, create
    config = create[-1]
    assert config.count("role: control-plane") == 1 and config.count("role: worker") == 2, config


def test_nodes_on_an_existing_cluster_is_one_line(tmp_path: Path, local_cluster: LocalCluster) -> None:
    result = run_pytest(tmp_path, "--cluster", "existing", "--kubeconfig", str(local_cluster.layout.kubeconfig), "--nodes", "3")
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "--nodes sizes a cluster podlife makes" in output, output
    assert "Traceback" not in output


def test_allowing_disruption_of_a_node_that_does_not_exist_is_one_line(tmp_path: Path, local_cluster: LocalCluster) -> None:
    result = run_pytest(tmp_path, "--cluster", "existing", "--kubeconfig", str(local_cluster.layout.kubeconfig),
                        "--allow-node-disruption", "podlife-node,no-such-node")
    output = result.stdout + result.stderr
    assert result.returncode == 2 and "--allow-node-disruption names no node of this cluster: no-such-node" in output, output
    assert "Traceback" not in output


def test_kind_without_an_executable_is_one_line(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "--cluster", "kind", "--kind-bin", str(tmp_path / "no-kind"))
    output = result.stdout + result.stderr
    assert result.returncode == 2 and f"no kind executable at {tmp_path / 'no-kind'}" in output, output
    assert "Traceback" not in output


def test_concurrent_runs_attach_to_the_same_local_cluster(tmp_path: Path, local_cluster: LocalCluster) -> None:
    runs = []
    for n in range(2):
        where = tmp_path / f"run{n}"
        where.mkdir()
        (where / "test_user.py").write_text(USER_TESTS)
        runs.append(subprocess.Popen(
            [sys.executable, "-m", "pytest", "test_user.py", "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(where),
             "-n", "2", "--cluster", "local"], cwd=where, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    for run, output in zip(runs, outputs):
        assert run.returncode == 0 and "2 passed" in output, output
    assert LocalCluster().is_up()
