"""Tests for rendering a user's workload into the objects podlife applies (podlife.workloads.render)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from podlife.workloads import render as rendering
from podlife.workloads.render import render, run_tool, service_port, target_object
from podlife.workloads.spec import Workload, WorkloadError
from tests.workload_samples import DEPLOYMENT, SERVICE, WORKLOAD, error_of, only_workload, write

#: The Service with a second port, so that podlife cannot pick the only one.
TWO_PORT_SERVICE = SERVICE.replace(
    "    - name: http\n      port: 80\n      targetPort: 8080\n",
    "    - {name: http, port: 80}\n    - {name: metrics, port: 9090}\n",
)


def no_run(command: list[str]) -> str:
    raise AssertionError(f"nothing should be run, yet {command} was")


# --------------------------------------------------------------------------- rendering plain manifests


def test_a_manifest_file_renders_into_objects_without_their_namespace(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", "---\n" + DEPLOYMENT + "---\n# only a comment\n---\n" + SERVICE)
    workload = only_workload(tmp_path)

    objects = render(workload, run=no_run)

    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [("Deployment", "shop"), ("Service", "shop")]
    assert objects[0]["metadata"] == {"name": "shop", "labels": {"app": "shop"}}
    assert objects[0]["spec"]["template"]["metadata"]["labels"] == {"app": "shop", "tier": "web"}


def test_a_directory_renders_its_yaml_files_in_name_order_without_subdirectories(tmp_path: Path) -> None:
    write(tmp_path, "deploy/b-service.yml", SERVICE)
    write(tmp_path, "deploy/a-deployment.yaml", DEPLOYMENT)
    write(tmp_path, "deploy/c-notes.txt", "not yaml: [")
    write(tmp_path, "deploy/extra/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n")
    workload = only_workload(tmp_path, WORKLOAD.replace("deploy.yaml", "deploy/"))

    objects = render(workload, run=no_run)

    assert [o["kind"] for o in objects] == ["Deployment", "Service"]


def test_a_list_is_expanded_into_its_items(tmp_path: Path) -> None:
    items = [yaml.safe_load(DEPLOYMENT), yaml.safe_load(SERVICE)]
    write(tmp_path, "deploy.yaml", yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    workload = only_workload(tmp_path)

    objects = render(workload, run=no_run)

    assert [o["kind"] for o in objects] == ["Deployment", "Service"]
    assert "namespace" not in objects[0]["metadata"]


def test_an_empty_directory_says_what_it_looked_for(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    workload = only_workload(tmp_path, WORKLOAD.replace("deploy.yaml", "deploy/"))

    message = error_of(lambda: render(workload, run=no_run))

    assert "has no *.yaml or *.yml files" in message and str(workload.file) in message


def test_invalid_yaml_in_a_manifest_names_that_file_and_line(tmp_path: Path) -> None:
    manifest = write(tmp_path, "deploy.yaml", DEPLOYMENT + "---\nkind: [Service\n")
    workload = only_workload(tmp_path)

    message = error_of(lambda: render(workload, run=no_run))

    assert message.startswith(f"{manifest}: invalid YAML at line")


def test_a_document_without_a_name_is_named_by_file_and_position(tmp_path: Path) -> None:
    manifest = write(tmp_path, "deploy.yaml", DEPLOYMENT + "---\n" + SERVICE + "---\napiVersion: v1\nkind: ConfigMap\n")
    workload = only_workload(tmp_path)

    message = error_of(lambda: render(workload, run=no_run))

    assert message.startswith(f"{manifest}: document 3: missing metadata.name")


def test_a_document_that_is_not_a_mapping_is_named_by_file_and_position(tmp_path: Path) -> None:
    manifest = write(tmp_path, "deploy.yaml", "- a\n- b\n")
    workload = only_workload(tmp_path)

    message = error_of(lambda: render(workload, run=no_run))

    assert message.startswith(f"{manifest}: document 1: expected a Kubernetes object")


def test_a_list_item_without_a_kind_is_named_by_its_position(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", "apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, metadata: {name: x}}\n")
    workload = only_workload(tmp_path)

    message = error_of(lambda: render(workload, run=no_run))

    assert "document 1, item 1: missing kind" in message


def test_a_cluster_scoped_object_is_refused(tmp_path: Path) -> None:
    manifest = write(tmp_path, "deploy.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n" + DEPLOYMENT)
    workload = only_workload(tmp_path)

    message = error_of(lambda: render(workload, run=no_run))

    assert message == (
        f"{manifest}: Namespace/shop is cluster-scoped; podlife applies a workload into a test namespace only: "
        "leave it out of the manifests (install it beforehand)"
    )


def test_the_same_object_twice_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", DEPLOYMENT + "---\n" + SERVICE + "---\n" + DEPLOYMENT)
    workload = only_workload(tmp_path)

    message = error_of(lambda: render(workload, run=no_run))

    assert "document 3: Deployment/shop is also defined at" in message and "document 1" in message


# --------------------------------------------------------------------------- target and Service


def test_a_missing_target_lists_the_controllers_that_are_there(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", DEPLOYMENT.replace("name: shop\n  namespace", "name: web\n  namespace") + "---\n" + SERVICE)
    workload = only_workload(tmp_path)

    message = error_of(lambda: render(workload, run=no_run))

    assert message.startswith(f"{workload.file}: workload shop: target Deployment/shop is not in")
    assert "Deployments and StatefulSets there: Deployment/web" in message


def test_target_object_returns_the_target_manifest(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", SERVICE + "---\n" + DEPLOYMENT)
    workload = only_workload(tmp_path)

    target = target_object(workload, render(workload, run=no_run))

    assert (target["kind"], target["metadata"]["name"]) == ("Deployment", "shop")


def test_a_missing_service_lists_the_services_that_are_there(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", DEPLOYMENT + "---\n" + SERVICE.replace("name: shop", "name: shop-web"))
    workload = only_workload(tmp_path)

    message = error_of(lambda: render(workload, run=no_run))

    assert "Service shop is not in" in message and "Services there: shop-web" in message


@pytest.mark.parametrize("port", ["http", 80, "80"])
def test_the_service_port_is_chosen_by_name_or_number(tmp_path: Path, port: int | str) -> None:
    write(tmp_path, "deploy.yaml", DEPLOYMENT + "---\n" + SERVICE)
    workload = only_workload(tmp_path, WORKLOAD.replace("{name: shop}", f"{{name: shop, port: {port!r}}}"))

    assert service_port(workload, render(workload, run=no_run)) == 80


def test_the_only_service_port_needs_no_choosing(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", DEPLOYMENT + "---\n" + SERVICE)
    workload = only_workload(tmp_path)

    assert service_port(workload, render(workload, run=no_run)) == 80


def test_a_second_port_is_chosen_by_name(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", DEPLOYMENT + "---\n" + TWO_PORT_SERVICE)
    workload = only_workload(tmp_path, WORKLOAD.replace("{name: shop}", "{name: shop, port: metrics}"))

    assert service_port(workload, render(workload, run=no_run)) == 9090


def test_several_ports_need_a_choice(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", DEPLOYMENT + "---\n" + TWO_PORT_SERVICE)
    workload = only_workload(tmp_path)

    message = error_of(lambda: render(workload, run=no_run))

    assert "Service shop has several ports (http (80), metrics (9090)); choose one with service.port:" in message


def test_a_port_the_service_lacks_lists_its_ports(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", DEPLOYMENT + "---\n" + TWO_PORT_SERVICE)
    workload = only_workload(tmp_path, WORKLOAD.replace("{name: shop}", "{name: shop, port: grpc}"))

    message = error_of(lambda: render(workload, run=no_run))

    assert "Service shop has no port 'grpc' (its ports: http (80), metrics (9090))" in message


def test_a_service_that_does_not_select_the_target_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", DEPLOYMENT + "---\n" + SERVICE.replace("{app: shop}", "{app: shop, tier: db}"))
    workload = only_workload(tmp_path)

    message = error_of(lambda: render(workload, run=no_run))

    assert "Service shop selects app=shop,tier=db" in message
    assert "labelled app=shop,tier=web" in message and "traffic would never reach them" in message


def test_a_service_without_a_selector_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", DEPLOYMENT + "---\n" + SERVICE.replace("  selector: {app: shop}\n", ""))
    workload = only_workload(tmp_path)

    message = error_of(lambda: render(workload, run=no_run))

    assert "Service shop has no selector" in message


# --------------------------------------------------------------------------- kustomize and helm


class FakeTool:
    """Stands in for kubectl or helm: records the command and prints the given manifests."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.commands: list[list[str]] = []

    def __call__(self, command: list[str]) -> str:
        self.commands.append(command)
        return self.output


def test_a_kustomization_is_built_with_kubectl_kustomize(tmp_path: Path) -> None:
    write(tmp_path, "deploy/kustomization.yaml", "resources: [app.yaml]\nnamespace: production\n")
    workload = only_workload(tmp_path, WORKLOAD.replace("deploy.yaml", "deploy"))
    kubectl = FakeTool(DEPLOYMENT + "---\n" + SERVICE)

    objects = render(workload, kubectl="/opt/bin/kubectl", run=kubectl)

    assert kubectl.commands == [["/opt/bin/kubectl", "kustomize", str(tmp_path / "deploy")]]
    assert [o["kind"] for o in objects] == ["Deployment", "Service"]
    assert all("namespace" not in o["metadata"] for o in objects)


@pytest.mark.parametrize("marker", ["kustomization.yml", "Kustomization"])
def test_the_other_kustomization_file_names_count_too(tmp_path: Path, marker: str) -> None:
    write(tmp_path, f"deploy/{marker}", "resources: []\n")
    workload = only_workload(tmp_path, WORKLOAD.replace("deploy.yaml", "deploy"))
    kubectl = FakeTool(DEPLOYMENT + "---\n" + SERVICE)

    render(workload, run=kubectl)

    assert kubectl.commands == [["kubectl", "kustomize", str(tmp_path / "deploy")]]


def test_kubectl_that_cannot_be_found_is_one_line(tmp_path: Path) -> None:
    write(tmp_path, "deploy/kustomization.yaml", "resources: []\n")
    workload = only_workload(tmp_path, WORKLOAD.replace("deploy.yaml", "deploy"))

    message = error_of(lambda: render(workload, kubectl=str(tmp_path / "no-kubectl")))

    assert message.startswith(f"{workload.file}: workload shop: {tmp_path / 'no-kubectl'} is not on PATH")


def test_a_failing_tool_reports_its_first_line_of_complaint(tmp_path: Path) -> None:
    write(tmp_path, "deploy/kustomization.yaml", "resources: []\n")
    workload = only_workload(tmp_path, WORKLOAD.replace("deploy.yaml", "deploy"))

    def failing(command: list[str]) -> str:
        raise WorkloadError("`kubectl kustomize deploy` failed (exit 1): error: missing resource app.yaml")

    message = error_of(lambda: render(workload, run=failing))

    assert message == (
        f"{workload.file}: workload shop: `kubectl kustomize deploy` failed (exit 1): error: missing resource app.yaml"
    )


def test_the_default_runner_returns_stdout_and_reports_the_first_stderr_line() -> None:
    assert run_tool([sys.executable, "-c", "print('kind: Service')"]) == "kind: Service\n"

    script = "import sys; sys.stderr.write('\\nError: chart not found\\nmore detail\\n'); sys.exit(3)"
    message = error_of(lambda: run_tool([sys.executable, "-c", script]))

    assert message.endswith("failed (exit 3): Error: chart not found")


def helm_workload(base: Path) -> Workload:
    write(base, "charts/shop/Chart.yaml", "name: shop\n")
    write(base, "ci-values.yaml", "replicas: 2\n")
    write(base, "more-values.yaml", "replicas: 3\n")
    return only_workload(
        base,
        """\
        workloads:
          - helm: {chart: charts/shop, values: [ci-values.yaml, more-values.yaml]}
            target: Deployment/shop
            service: {name: shop}
        """,
    )


def test_a_chart_is_rendered_with_helm_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workload = helm_workload(tmp_path)
    monkeypatch.setattr(rendering.shutil, "which", lambda name: f"/usr/bin/{name}")
    helm = FakeTool("---\n# Source: shop/templates/deployment.yaml\n" + DEPLOYMENT + "---\n" + SERVICE)

    objects = render(workload, run=helm)

    assert helm.commands == [
        [
            "helm", "template", "shop", str(tmp_path / "charts/shop"),
            "-f", str(tmp_path / "ci-values.yaml"), "-f", str(tmp_path / "more-values.yaml"),
        ]
    ]
    assert [o["kind"] for o in objects] == ["Deployment", "Service"]


def test_helm_missing_from_path_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workload = helm_workload(tmp_path)
    monkeypatch.setattr(rendering.shutil, "which", lambda name: None)

    message = error_of(lambda: render(workload, run=no_run))

    assert message.startswith(f"{workload.file}: workload shop: helm is not on PATH")


def test_a_cluster_scoped_object_from_a_chart_names_the_chart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workload = helm_workload(tmp_path)
    monkeypatch.setattr(rendering.shutil, "which", lambda name: f"/usr/bin/{name}")
    helm = FakeTool(DEPLOYMENT + "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: shop}\n")

    message = error_of(lambda: render(workload, run=helm))

    assert message.startswith(f"{tmp_path / 'charts/shop'} (helm template): ClusterRole/shop is cluster-scoped")


def test_rendering_leaves_the_tools_objects_as_they_were(tmp_path: Path) -> None:
    """Stripping the namespace copies the object rather than editing what the parser returned."""
    original = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "production"},
    }

    stripped = rendering._without_namespace(original)

    assert stripped["metadata"] == {"name": "c"}
    assert original["metadata"] == {"name": "c", "namespace": "production"}
