"""A user's workload rendered: its manifests turned into the objects podlife applies, and checked.

A workload's manifests are a YAML file, a directory of them, a kustomization (built with
``kubectl kustomize``) or a helm chart (rendered with ``helm template``, never installed).
``render`` reads them into objects for a test namespace and checks that the target and the
Service it is reached through are there and fit together; every mistake is a one-line
``WorkloadError`` as for the workload file itself (``podlife.workloads.spec``).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import yaml

from podlife.workloads.spec import TARGET_KINDS, Workload, WorkloadError, kind_of, yaml_problem

#: Well-known cluster-scoped kinds. A workload is applied into a test namespace that podlife
#: deletes afterwards, so these would either fail to apply or outlive the test; the cluster's
#: discovery catches the kinds not listed here when the objects are applied.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PriorityClass",
        "RuntimeClass",
        "IngressClass",
        "CSIDriver",
        "APIService",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
)

#: Files whose presence makes a directory a kustomization, as kustomize itself recognises them.
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
#: How long kustomize or helm may take to render; remote bases can otherwise hang a run.
RENDER_TIMEOUT_S = 300


def run_tool(command: list[str]) -> str:
    """Run a rendering tool (kubectl kustomize, helm template) and return what it printed.

    A non-zero exit is a ``WorkloadError`` carrying the tool's first line of complaint, which is
    usually the line that names the broken file. A missing tool raises ``FileNotFoundError``,
    which ``render`` turns into advice on installing it.
    """
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=RENDER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise WorkloadError(f"`{' '.join(command)}` did not finish within {RENDER_TIMEOUT_S}s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or "").splitlines() if line.strip()]
        reason = lines[0] if lines else "it printed no error"
        raise WorkloadError(f"`{' '.join(command)}` failed (exit {done.returncode}): {reason}")
    return done.stdout


@dataclass(frozen=True)
class _Origin:
    """Where an object came from, for messages: a file (and document), or a tool's output."""

    source: str
    document: int | None = None
    item: int | None = None

    def __str__(self) -> str:
        text = self.source
        if self.document is not None:
            text += f": document {self.document}"
        if self.item is not None:
            text += f", item {self.item}"
        return text


def render(
    workload: Workload,
    kubectl: str | None = None,
    run: Callable[[list[str]], str] = run_tool,
) -> list[dict[str, Any]]:
    """The workload's objects, ready to apply into a test namespace, after checking they can work.

    Objects lose ``metadata.namespace`` because podlife applies them into a namespace of its own.
    The checks here are the ones that would otherwise surface as a confusing failure deep inside a
    scenario: a cluster-scoped object, a target that is not there, a Service port that does not
    exist, or a Service whose selector does not pick the target's pods.
    """
    found = list(_documents(workload, kubectl, run))
    objects: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], _Origin] = {}
    for origin, obj in found:
        kind, name = obj["kind"], obj["metadata"]["name"]
        if kind in CLUSTER_SCOPED_KINDS:
            raise WorkloadError(
                f"{origin.source}: {kind}/{name} is cluster-scoped; podlife applies a workload into a test namespace "
                "only: leave it out of the manifests (install it beforehand)"
            )
        if (kind, name) in seen:
            raise WorkloadError(
                f"{origin}: {kind}/{name} is also defined at {seen[kind, name]}; keep one of them"
            )
        seen[kind, name] = origin
        objects.append(_without_namespace(obj))

    target = target_object(workload, objects)
    service = _service(workload, objects)
    service_port(workload, objects)
    _check_selector(workload, target, service)
    return objects


def target_object(workload: Workload, manifests: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest of the workload's target (its Deployment or StatefulSet)."""
    for obj in manifests:
        if obj.get("kind") == workload.kind and _name(obj) == workload.target:
            return obj
    present = [f"{obj.get('kind')}/{_name(obj)}" for obj in manifests if obj.get("kind") in TARGET_KINDS]
    there = ", ".join(present) if present else "none"
    raise WorkloadError(
        f"{_prefix(workload)}target {workload.kind}/{workload.target} is not in {_source(workload)} "
        f"(Deployments and StatefulSets there: {there}); fix target:"
    )


def service_port(workload: Workload, manifests: list[dict[str, Any]]) -> int:
    """The number of the Service port podlife sends traffic to, from ``service.port`` or the only port."""
    service = _service(workload, manifests)
    listed_ports = _dig(service, "spec", "ports")
    ports = [p for p in listed_ports if isinstance(p, dict)] if isinstance(listed_ports, list) else []
    where = f"{_prefix(workload)}Service {workload.access.service}"
    if not ports:
        raise WorkloadError(f"{where} has no ports; give it the port podlife should send traffic to")
    listed = ", ".join(_describe_port(p) for p in ports)
    wanted = workload.access.port
    if wanted is None:
        if len(ports) != 1:
            raise WorkloadError(f"{where} has several ports ({listed}); choose one with service.port:")
        chosen = ports[0]
    else:
        matches = [p for p in ports if isinstance(wanted, str) and p.get("name") == wanted]
        if not matches and (isinstance(wanted, int) or wanted.isdigit()):
            matches = [p for p in ports if p.get("port") == int(wanted)]
        if not matches:
            raise WorkloadError(f"{where} has no port {wanted!r} (its ports: {listed}); fix service.port:")
        chosen = matches[0]
    number = chosen.get("port")
    if isinstance(number, bool) or not isinstance(number, int):
        raise WorkloadError(f"{where}: port {_describe_port(chosen)} has no numeric port: field; fix the Service")
    return number


def _documents(
    workload: Workload, kubectl: str | None, run: Callable[[list[str]], str]
) -> Iterator[tuple[_Origin, dict[str, Any]]]:
    """Every object of the workload's manifests, with where it came from."""
    if workload.helm is not None:
        helm = workload.helm
        if shutil.which("helm") is None:
            raise WorkloadError(
                f"{_prefix(workload)}helm is not on PATH; install helm 3 to render {helm.chart}, "
                "or render it yourself and point manifests: at the output"
            )
        command = ["helm", "template", helm.release, str(helm.chart)]
        for values in helm.values:
            command += ["-f", str(values)]
        yield from _parse_stream(_run(workload, command, run), f"{helm.chart} (helm template)")
        return

    assert workload.manifests is not None  # load_workloads sets exactly one of manifests and helm
    path = workload.manifests
    if path.is_dir():
        if any((path / name).is_file() for name in KUSTOMIZATION_FILES):
            command = [kubectl or "kubectl", "kustomize", str(path)]
            yield from _parse_stream(_run(workload, command, run), f"{path} (kustomize)")
            return
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
        if not files:
            raise WorkloadError(
                f"{_prefix(workload)}{path} has no *.yaml or *.yml files (subdirectories are not read) "
                "and no kustomization; point manifests: at your manifests"
            )
    elif path.is_file():
        files = [path]
    else:
        raise WorkloadError(f"{_prefix(workload)}manifests: {path} does not exist (any more); fix manifests:")
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise WorkloadError(f"{file}: cannot read it: {err}") from None
        yield from _parse_stream(text, str(file))


def _run(workload: Workload, command: list[str], run: Callable[[list[str]], str]) -> str:
    try:
        return run(command)
    except FileNotFoundError:
        raise WorkloadError(
            f"{_prefix(workload)}{command[0]} is not on PATH or does not exist; it is needed to render "
            f"{_source(workload)}: install it or point podlife at it"
        ) from None
    except WorkloadError as err:
        raise WorkloadError(f"{_prefix(workload)}{err}") from None
    except OSError as err:
        raise WorkloadError(f"{_prefix(workload)}cannot run {command[0]}: {err}") from None


def _parse_stream(text: str, source: str) -> Iterator[tuple[_Origin, dict[str, Any]]]:
    """The objects of a multi-document YAML text, with ``kind: List`` expanded into its items."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as err:
        raise WorkloadError(f"{source}: {yaml_problem(err)}") from None
    # Documents count from 1 and include empty ones, so the number matches the file's '---' separators.
    for number, document in enumerate(documents, start=1):
        if document is None:
            continue
        if isinstance(document, dict) and document.get("kind") == "List":
            items = document.get("items")
            if items is None:
                continue
            if not isinstance(items, list):
                raise WorkloadError(f"{source}: document {number}: a List's items: must be a list, got {kind_of(items)}")
            for item_number, item in enumerate(items, start=1):
                origin = _Origin(source, number, item_number)
                yield origin, _checked_object(origin, item)
        else:
            origin = _Origin(source, number)
            yield origin, _checked_object(origin, document)


def _checked_object(origin: _Origin, document: object) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise WorkloadError(f"{origin}: expected a Kubernetes object (a mapping), got {kind_of(document)}")
    missing = [field for field in ("apiVersion", "kind") if not isinstance(document.get(field), str) or not document[field]]
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str) or not name:
        missing.append("metadata.name")
    if missing:
        raise WorkloadError(
            f"{origin}: missing {', '.join(missing)}; every object needs apiVersion, kind and metadata.name"
        )
    return document


def _without_namespace(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy without ``metadata.namespace``; the parsed document itself is left as it was."""
    metadata = {key: value for key, value in obj["metadata"].items() if key != "namespace"}
    return {**obj, "metadata": metadata}


def _service(workload: Workload, manifests: list[dict[str, Any]]) -> dict[str, Any]:
    for obj in manifests:
        if obj.get("kind") == "Service" and _name(obj) == workload.access.service:
            return obj
    present = [_name(obj) for obj in manifests if obj.get("kind") == "Service"]
    there = ", ".join(str(name) for name in present) if present else "none"
    raise WorkloadError(
        f"{_prefix(workload)}Service {workload.access.service} is not in {_source(workload)} "
        f"(Services there: {there}); fix service.name:"
    )


def _check_selector(workload: Workload, target: dict[str, Any], service: dict[str, Any]) -> None:
    """The Service must select the target's pods, or no request podlife sends would reach them."""
    selector = _dig(service, "spec", "selector")
    where = f"{_prefix(workload)}Service {workload.access.service}"
    if not isinstance(selector, dict) or not selector:
        raise WorkloadError(
            f"{where} has no selector, so traffic would never reach {workload.kind}/{workload.target}; "
            "give it a selector that matches the target's pod labels"
        )
    labels = _dig(target, "spec", "template", "metadata", "labels")
    labels = labels if isinstance(labels, dict) else {}
    unmatched = {key: value for key, value in selector.items() if labels.get(key) != value}
    if unmatched:
        raise WorkloadError(
            f"{where} selects {_labels(selector)} but {workload.kind}/{workload.target}'s pods are labelled "
            f"{_labels(labels) or 'with nothing'}, so traffic would never reach them; make the selector "
            "a subset of the pod template's labels"
        )


def _dig(obj: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _name(obj: dict[str, Any]) -> object:
    metadata = obj.get("metadata")
    return metadata.get("name") if isinstance(metadata, dict) else None


def _labels(labels: dict[Any, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in labels.items())


def _describe_port(port: dict[str, Any]) -> str:
    name, number = port.get("name"), port.get("port")
    return f"{name} ({number})" if name else str(number)


def _prefix(workload: Workload) -> str:
    return f"{workload.file}: workload {workload.name}: "


def _source(workload: Workload) -> str:
    if workload.helm is not None:
        return f"the helm chart {workload.helm.chart}"
    return str(workload.manifests)
