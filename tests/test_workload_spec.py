"""Tests for users' workload files and their rendered manifests (podlife.workloads.spec)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest
import yaml

from podlife.errors import PodlifeError
from podlife.workloads import spec
from podlife.workloads.spec import (
    Access,
    HelmChart,
    Workload,
    WorkloadError,
    load_workloads,
    render,
    run_tool,
    service_port,
    target_object,
)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: production
  labels: {app: shop}
spec:
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop, tier: web}
    spec:
      containers:
        - name: shop
          image: shop:1
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop}
  ports:
    - name: http
      port: 80
      targetPort: 8080
"""

TWO_PORT_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop}
  ports:
    - {name: http, port: 80}
    - {name: metrics, port: 9090}
"""

WORKLOAD = """\
workloads:
  - manifests: deploy.yaml
    target: Deployment/shop
    service: {name: shop}
"""


def write(base: Path, relative: str, text: str = "") -> Path:
    path = base / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def workload_file(base: Path, text: str = WORKLOAD) -> Path:
    return write(base, "podlife-workload.yaml", text)


def only_workload(base: Path, text: str = WORKLOAD) -> Workload:
    [workload] = load_workloads(workload_file(base, text))
    return workload


def error_of(action: Callable[[], object]) -> str:
    """The message of the WorkloadError the action raises, which must fit on one line."""
    with pytest.raises(WorkloadError) as caught:
        action()
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def no_run(command: list[str]) -> str:
    raise AssertionError(f"nothing should be run, yet {command} was")


# --------------------------------------------------------------------------- loading


def test_a_minimal_entry_gets_the_documented_defaults(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", DEPLOYMENT + "---\n" + SERVICE)

    workload = only_workload(tmp_path)

    assert workload == Workload(
        name="shop",
        file=tmp_path / "podlife-workload.yaml",
        kind="Deployment",
        target="shop",
        access=Access(service="shop", port=None, path="/", expect=200, served_by_header=None),
        manifests=tmp_path / "deploy.yaml",
        helm=None,
        images=(),
        strict=False,
    )
    assert workload.label == "shop (podlife-workload.yaml)"


def test_every_field_is_read_and_paths_are_relative_to_the_workload_file(tmp_path: Path) -> None:
    write(tmp_path, "app/charts/shop/Chart.yaml", "name: shop\n")
    write(tmp_path, "app/ci-values.yaml", "replicas: 2\n")
    write(tmp_path, "app/build/shop.tar", "not really an archive")
    path = write(
        tmp_path,
        "app/podlife-workload.yaml",
        """\
        workloads:
          - name: shop-ci
            helm: {chart: charts/shop, release: shop-rel, values: [ci-values.yaml]}
            target: StatefulSet/shop
            service: {name: shop-svc, port: 8080, path: /healthz, expect: 204}
            servedBy: {header: X-Pod-Name}
            images: [build/shop.tar]
            strict: true
        """,
    )

    [workload] = load_workloads(path)

    app = tmp_path / "app"
    assert workload.name == "shop-ci"
    assert (workload.kind, workload.target) == ("StatefulSet", "shop")
    assert workload.access == Access("shop-svc", 8080, "/healthz", 204, "X-Pod-Name")
    assert workload.manifests is None
    assert workload.helm == HelmChart(app / "charts/shop", "shop-rel", (app / "ci-values.yaml",))
    assert workload.images == (app / "build/shop.tar",)
    assert workload.strict is True


def test_a_helm_release_defaults_to_the_workload_name(tmp_path: Path) -> None:
    write(tmp_path, "charts/shop/Chart.yaml", "name: shop\n")

    workload = only_workload(
        tmp_path,
        """\
        workloads:
          - name: shop-ci
            helm: {chart: charts/shop}
            target: Deployment/shop
            service: {name: shop}
        """,
    )

    assert workload.helm == HelmChart(tmp_path / "charts/shop", "shop-ci", ())


def test_a_file_with_several_workloads_keeps_their_order(tmp_path: Path) -> None:
    write(tmp_path, "deploy.yaml", DEPLOYMENT)
    path = workload_file(
        tmp_path,
        """\
        workloads:
          - {manifests: deploy.yaml, target: Deployment/shop, service: {name: shop}}
          - {name: shop-2, manifests: deploy.yaml, target: Deployment/shop, service: {name: shop}}
        """,
    )

    assert [w.name for w in load_workloads(path)] == ["shop", "shop-2"]


def test_a_workload_error_is_a_podlife_error_the_cli_prints() -> None:
    assert issubclass(WorkloadError, PodlifeError)
    assert str(WorkloadError("first\n  second\n")) == "first second"


def test_a_missing_workload_file_is_named(tmp_path: Path) -> None:
    message = error_of(lambda: load_workloads(tmp_path / "nope.yaml"))

    assert "nope.yaml" in message and "no such workload file" in message


def test_a_directory_is_not_a_workload_file(tmp_path: Path) -> None:
    message = error_of(lambda: load_workloads(tmp_path))

    assert str(tmp_path) in message and "is a directory" in message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = workload_file(tmp_path, "workloads:\n  - name: shop\n    target: [unclosed\n")

    message = error_of(lambda: load_workloads(path))

    assert message.startswith(f"{path}: invalid YAML at line 4")


# Each row: the workload file's text, and fragments its error message must contain. The
# manifests file deploy.yaml exists in every case, so each row fails for its own reason only.
LOAD_ERRORS = {
    "empty file": ("", ["is empty"]),
    "not a mapping": ("- shop\n", ["expected a mapping", "workloads:"]),
    "no workloads key": ("other: 1\n", ["unknown key 'other'", "allowed keys: workloads"]),
    "empty workloads": ("workloads: []\n", ["workloads: is empty"]),
    "workloads not a list": ("workloads: {name: shop}\n", ["expected a list of workloads"]),
    "entry not a mapping": ("workloads: [shop]\n", ["workloads[0]", "expected a mapping"]),
    "unknown key with a hint": (
        "workloads: [{manifest: deploy.yaml, target: Deployment/shop, service: {name: shop}}]\n",
        ["workloads[0]: unknown key 'manifest'", "did you mean 'manifests'", "allowed keys: name, manifests, helm"],
    ),
    "unknown nested key": (
        "workloads: [{manifests: deploy.yaml, target: Deployment/shop, service: {name: shop, url: /}}]\n",
        ["workloads[0].service: unknown key 'url'", "allowed keys: name, port, path, expect"],
    ),
    "unknown servedBy key": (
        "workloads: [{manifests: deploy.yaml, target: Deployment/shop, service: {name: shop}, servedBy: {body: x}}]\n",
        ["workloads[0].servedBy: unknown key 'body'", "allowed keys: header"],
    ),
    "unknown helm key": (
        "workloads: [{helm: {chart: deploy.yaml, value: [x.yaml]}, target: Deployment/shop, service: {name: shop}}]\n",
        ["workloads[0].helm: unknown key 'value'", "did you mean 'values'", "allowed keys: chart, release, values"],
    ),
    "missing target": (
        "workloads: [{manifests: deploy.yaml, service: {name: shop}}]\n",
        ["workloads[0]: missing target:"],
    ),
    "missing service": (
        "workloads: [{manifests: deploy.yaml, target: Deployment/shop}]\n",
        ["workloads[0]: missing service:"],
    ),
    "missing service name": (
        "workloads: [{manifests: deploy.yaml, target: Deployment/shop, service: {port: 80}}]\n",
        ["workloads[0].service: missing name:"],
    ),
    "target without a kind": (
        "workloads: [{manifests: deploy.yaml, target: shop, service: {name: shop}}]\n",
        ["workloads[0].target: expected KIND/NAME"],
    ),
    "target of another kind": (
        "workloads: [{manifests: deploy.yaml, target: DaemonSet/shop, service: {name: shop}}]\n",
        ["workloads[0].target", "Deployment, StatefulSet", "'DaemonSet'"],
    ),
    "name not a DNS label": (
        "workloads: [{name: Shop_1, manifests: deploy.yaml, target: Deployment/shop, service: {name: shop}}]\n",
        ["workloads[0].name: 'Shop_1' is not a DNS-1123 label"],
    ),
    "name too long": (
        f"workloads: [{{name: {'a' * 41}, manifests: deploy.yaml, target: Deployment/shop, service: {{name: shop}}}}]\n",
        ["workloads[0].name", "at most 40 characters"],
    ),
    "target name unfit as a default name": (
        "workloads: [{manifests: deploy.yaml, target: Deployment/shop.v2, service: {name: shop}}]\n",
        ["workloads[0]", "'shop.v2'", "set name: explicitly"],
    ),
    "duplicate names": (
        "workloads:\n"
        "  - {manifests: deploy.yaml, target: Deployment/shop, service: {name: shop}}\n"
        "  - {manifests: deploy.yaml, target: StatefulSet/shop, service: {name: shop}}\n",
        ["workloads[1]", "'shop' is taken by workloads[0]"],
    ),
    "both manifests and helm": (
        "workloads: [{manifests: deploy.yaml, helm: {chart: deploy.yaml}, target: Deployment/shop, service: {name: shop}}]\n",
        ["workloads[0]: has both manifests: and helm:"],
    ),
    "neither manifests nor helm": (
        "workloads: [{target: Deployment/shop, service: {name: shop}}]\n",
        ["workloads[0]: needs manifests:", "or helm:"],
    ),
    "manifests that do not exist": (
        "workloads: [{manifests: k8s/, target: Deployment/shop, service: {name: shop}}]\n",
        ["workloads[0].manifests", "k8s does not exist", "relative to the workload file's directory"],
    ),
    "manifests not a string": (
        "workloads: [{manifests: [deploy.yaml], target: Deployment/shop, service: {name: shop}}]\n",
        ["workloads[0].manifests: expected a non-empty string, got ['deploy.yaml']"],
    ),
    "helm without a chart": (
        "workloads: [{helm: {release: shop}, target: Deployment/shop, service: {name: shop}}]\n",
        ["workloads[0].helm: missing chart:"],
    ),
    "helm values that do not exist": (
        "workloads: [{helm: {chart: deploy.yaml, values: [ci.yaml]}, target: Deployment/shop, service: {name: shop}}]\n",
        ["workloads[0].helm.values[0]", "ci.yaml does not exist"],
    ),
    "image archive that does not exist": (
        "workloads: [{manifests: deploy.yaml, target: Deployment/shop, service: {name: shop}, images: [shop.tar]}]\n",
        ["workloads[0].images[0]", "shop.tar does not exist"],
    ),
    "images not a list": (
        "workloads: [{manifests: deploy.yaml, target: Deployment/shop, service: {name: shop}, images: deploy.yaml}]\n",
        ["workloads[0].images: expected a list"],
    ),
    "port of the wrong type": (
        "workloads: [{manifests: deploy.yaml, target: Deployment/shop, service: {name: shop, port: [80]}}]\n",
        ["workloads[0].service.port: expected a port name or number"],
    ),
    "port out of range": (
        "workloads: [{manifests: deploy.yaml, target: Deployment/shop, service: {name: shop, port: 70000}}]\n",
        ["workloads[0].service.port: 70000 is not a port number"],
    ),
    "path without a slash": (
        "workloads: [{manifests: deploy.yaml, target: Deployment/shop, service: {name: shop, path: healthz}}]\n",
        ["workloads[0].service.path: 'healthz' must start with '/'"],
    ),
    "expect not a status": (
        "workloads: [{manifests: deploy.yaml, target: Deployment/shop, service: {name: shop, expect: ok}}]\n",
        ["workloads[0].service.expect: expected an HTTP status"],
    ),
    "servedBy without a header": (
        "workloads: [{manifests: deploy.yaml, target: Deployment/shop, service: {name: shop}, servedBy: {}}]\n",
        ["workloads[0].servedBy: missing header:"],
    ),
    "strict not a boolean": (
        "workloads: [{manifests: deploy.yaml, target: Deployment/shop, service: {name: shop}, strict: 'no'}]\n",
        ["workloads[0].strict: expected true or false, got 'no'"],
    ),
}


@pytest.mark.parametrize(("text", "fragments"), LOAD_ERRORS.values(), ids=LOAD_ERRORS.keys())
def test_a_mistake_in_the_workload_file_is_one_line_naming_file_and_field(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    write(tmp_path, "deploy.yaml", DEPLOYMENT)
    path = workload_file(tmp_path, text)

    message = error_of(lambda: load_workloads(path))

    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message


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
    monkeypatch.setattr(spec.shutil, "which", lambda name: f"/usr/bin/{name}")
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
    monkeypatch.setattr(spec.shutil, "which", lambda name: None)

    message = error_of(lambda: render(workload, run=no_run))

    assert message.startswith(f"{workload.file}: workload shop: helm is not on PATH")


def test_a_cluster_scoped_object_from_a_chart_names_the_chart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workload = helm_workload(tmp_path)
    monkeypatch.setattr(spec.shutil, "which", lambda name: f"/usr/bin/{name}")
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

    stripped = spec._without_namespace(original)

    assert stripped["metadata"] == {"name": "c"}
    assert original["metadata"] == {"name": "c", "namespace": "production"}
