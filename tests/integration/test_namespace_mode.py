"""Namespace-scoped mode: a run with only the documented Role in one pre-created namespace.

The local cluster plays a locked-down real cluster: the test makes a namespace, a service
account bound to ``fixtures/podlife-namespace-role.yaml`` and a kubeconfig with its token, then
runs scenarios through ``--cluster existing --namespace``. They pass, or skip naming what they
would need; the identity cannot create namespaces, and the run leaves none of its objects behind.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from kubernetes import client

from podlife.cluster.base import RUN_LABEL, connect
from podlife.cluster.local.provider import LocalCluster
from podlife.kernel.defaults import TEST_LABEL

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ["scenarios/test_sd04_grace_override.py", "scenarios/test_lc07_init_containers.py",
             "scenarios/test_sd06_scale_down_migration.py", "scenarios/test_lc01_pod_kill.py"]


@pytest.fixture
def scoped_kubeconfig(k8s: client.ApiClient, local_cluster: LocalCluster, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A kubeconfig for a service account that holds only the documented Role, in a namespace of its own."""
    core, rbac = client.CoreV1Api(k8s), client.RbacAuthorizationV1Api(k8s)
    namespace = f"podlife-scoped-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels={RUN_LABEL: "scoped-test"})))
    try:
        core.create_namespaced_service_account(namespace, {"metadata": {"name": "podlife"}})
        rbac.create_namespaced_role(namespace, yaml.safe_load((ROOT / "fixtures/podlife-namespace-role.yaml").read_text()))
        rbac.create_namespaced_role_binding(namespace, {
            "metadata": {"name": "podlife"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "podlife"},
            "subjects": [{"kind": "ServiceAccount", "name": "podlife", "namespace": namespace}],
        })
        token = core.create_namespaced_service_account_token("podlife", namespace, {"spec": {"expirationSeconds": 3600}}).status.token
        admin = yaml.safe_load(local_cluster.layout.kubeconfig.read_text())
        cluster = admin["clusters"][0]
        kubeconfig = tmp_path / "scoped.kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "scoped",
            "clusters": [cluster], "users": [{"name": "podlife", "user": {"token": token}}],
            "contexts": [{"name": "scoped", "context": {"cluster": cluster["name"], "user": "podlife", "namespace": namespace}}],
        }))
        yield kubeconfig, namespace
    finally:
        core.delete_namespace(namespace, grace_period_seconds=0)


def may_create_namespaces(kubeconfig: Path) -> bool:
    """Whether the identity in ``kubeconfig`` may create namespaces (other tests create some meanwhile, so ask RBAC)."""
    review = client.AuthorizationV1Api(connect(kubeconfig, None)).create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(verb="create", resource="namespaces"))))
    return bool(review.status.allowed)


def run_scoped(kubeconfig: Path, namespace: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", "-p", "no:podlife-summary", "-o", "addopts=",
         "--cluster", "existing", "--kubeconfig", str(kubeconfig), "--namespace", namespace, "--allow-disruptive=scoped", "-rs"],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def test_scenarios_run_with_only_the_namespaced_role(k8s: client.ApiClient, scoped_kubeconfig: tuple[Path, str]) -> None:
    kubeconfig, namespace = scoped_kubeconfig
    core = client.CoreV1Api(k8s)
    output = run_scoped(kubeconfig, namespace, *SCENARIOS)
    assert "nodes not visible" in output
    assert "may not list nodes (namespace-scoped mode" in output, "the traffic scenario should skip with its reason"
    assert " passed" in output and "failed" not in output
    assert not may_create_namespaces(kubeconfig), "the scoped identity could create namespaces: the test proves nothing"
    left = [p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector=TEST_LABEL).items]
    left += [c.metadata.name for c in core.list_namespaced_persistent_volume_claim(namespace, label_selector=TEST_LABEL).items]
    assert not left, f"the run left {left} in {namespace}"


def test_traffic_from_pods_needs_nothing_but_the_role(scoped_kubeconfig: tuple[Path, str]) -> None:
    """What the NodePort could not do, the in-cluster traffic pods do within the Role."""
    kubeconfig, namespace = scoped_kubeconfig
    output = run_scoped(kubeconfig, namespace, "scenarios/test_lc01_pod_kill.py", "--traffic", "in-cluster")
    assert "2 passed" in output and "skipped" not in output, output[-3000:]
