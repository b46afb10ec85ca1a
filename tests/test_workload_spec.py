"""Tests for users' workload files (podlife.workloads.spec)."""

from __future__ import annotations

from pathlib import Path

import pytest

from podlife.errors import PodlifeError
from podlife.workloads.spec import Access, HelmChart, Workload, WorkloadError, load_workloads
from tests.workload_samples import DEPLOYMENT, SERVICE, error_of, only_workload, workload_file, write


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
