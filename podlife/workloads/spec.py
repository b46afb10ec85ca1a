"""A user's own workload file: what it may say, read and checked into ``Workload`` values.

Users test their own app by writing a workload file (``podlife-workload.yaml``)::

    workloads:
      - name: shop                  # optional; defaults to the target's name
        manifests: deploy/          # a YAML file, a directory of them, or a kustomization
        # or: helm: {chart: charts/shop, release: shop, values: [ci-values.yaml]}
        target: Deployment/shop     # Deployment or StatefulSet
        service: {name: shop, port: http, path: /, expect: 200}
        servedBy: {header: X-Pod-Name}
        images: [build/shop.tar]
        strict: false

Paths are relative to the workload file's directory. ``load_workloads`` reads and checks the
file; turning a workload's manifests into objects is ``podlife.workloads.render``'s job.

Every mistake in a workload file or its manifests is a ``WorkloadError`` with a one-line
message naming the file, the object or field, and what to do: users meet these errors before
any test runs, and a traceback would tell them nothing about their own YAML. ``kind_of`` and
``yaml_problem`` word such messages, here and where the manifests are rendered.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from podlife.errors import PodlifeError


class WorkloadError(PodlifeError):
    """A workload file or its manifests are wrong; the message says where and what to do.

    The CLI prints the message on one line, so line breaks that sneak in from a tool's output
    or a user's value are folded into spaces here rather than at every place that raises.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(part.strip() for part in str(message).splitlines() if part.strip()))


#: The kinds a workload's target may have: the controllers podlife's scenarios know how to drive.
TARGET_KINDS = ("Deployment", "StatefulSet")

#: A workload's name ends up in test ids and namespace names, which must stay DNS-1123 labels
#: (63 characters) after podlife adds its own prefix and suffix; hence the shorter limit.
NAME_MAX = 40
#: Helm refuses release names longer than this.
RELEASE_MAX = 53

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

_TOP_KEYS = ("workloads",)
_WORKLOAD_KEYS = ("name", "manifests", "helm", "target", "service", "servedBy", "images", "strict")
_SERVICE_KEYS = ("name", "port", "path", "expect")
_SERVED_BY_KEYS = ("header",)
_HELM_KEYS = ("chart", "release", "values")


@dataclass(frozen=True)
class Access:
    """How podlife reaches the target from outside: through a Service, and what a healthy answer is."""

    service: str
    #: The Service port by name or number; ``None`` when the Service has exactly one port.
    port: int | str | None
    path: str
    expect: int
    #: The response header that names the pod that served a request, when the app sends one;
    #: it lets podlife tell which pod answered without exec'ing into pods.
    served_by_header: str | None


@dataclass(frozen=True)
class HelmChart:
    """A chart podlife renders with ``helm template`` rather than installing it with helm."""

    chart: Path
    release: str
    values: tuple[Path, ...]


@dataclass(frozen=True)
class Workload:
    """One entry of a workload file, checked and with its paths resolved against the file's directory."""

    name: str
    #: The workload file this entry came from, so every later error can point back at it.
    file: Path
    kind: str
    target: str
    access: Access
    #: Exactly one of ``manifests`` and ``helm`` is set.
    manifests: Path | None
    helm: HelmChart | None
    images: tuple[Path, ...]
    #: Whether advice from static checks fails the run rather than only being reported.
    strict: bool

    @property
    def label(self) -> str:
        """How reports and messages name the workload, e.g. ``shop (podlife-workload.yaml)``."""
        return f"{self.name} ({self.file.name})"


# --------------------------------------------------------------------------- loading the file


def load_workloads(path: Path) -> list[Workload]:
    """Read and check a workload file; every mistake in it is a ``WorkloadError``."""
    path = Path(path)
    if not path.exists():
        raise WorkloadError(f"{path}: no such workload file; check the path")
    if path.is_dir():
        raise WorkloadError(f"{path}: is a directory; point podlife at the workload file inside it")
    data = _load_yaml(path)
    if data is None:
        raise WorkloadError(f"{path}: is empty; it needs a workloads: list")
    if not isinstance(data, dict):
        raise WorkloadError(f"{path}: expected a mapping with a workloads: list at the top, got {kind_of(data)}")
    _check_keys(path, "the top level", data, _TOP_KEYS)
    entries = data.get("workloads")
    if entries is None:
        raise WorkloadError(f"{path}: missing workloads:; list at least one workload under it")
    if not isinstance(entries, list):
        raise WorkloadError(f"{path}: workloads: expected a list of workloads, got {kind_of(entries)}")
    if not entries:
        raise WorkloadError(f"{path}: workloads: is empty; list at least one workload")

    workloads: list[Workload] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        workload = _parse_workload(path, index, entry)
        if workload.name in seen:
            raise WorkloadError(
                f"{path}: workloads[{index}]: the name {workload.name!r} is taken by workloads[{seen[workload.name]}]; "
                "give each workload its own name:"
            )
        seen[workload.name] = index
        workloads.append(workload)
    return workloads


def _parse_workload(file: Path, index: int, entry: object) -> Workload:
    where = f"workloads[{index}]"
    if not isinstance(entry, dict):
        raise WorkloadError(
            f"{file}: {where}: expected a mapping with target:, service: and manifests: or helm:, got {kind_of(entry)}"
        )
    _check_keys(file, where, entry, _WORKLOAD_KEYS)
    base = file.parent

    kind, target = _parse_target(file, where, _required(file, where, entry, "target", "Deployment/shop"))

    if "name" in entry:
        name = _string(file, f"{where}.name", entry["name"])
        if not _is_name(name):
            raise WorkloadError(
                f"{file}: {where}.name: {name!r} is not a DNS-1123 label of at most {NAME_MAX} characters "
                "(lowercase letters, digits and '-', starting and ending with a letter or digit); rename it"
            )
    else:
        name = target
        if not _is_name(name):
            raise WorkloadError(
                f"{file}: {where}: the target's name {name!r} cannot name the workload (it needs a DNS-1123 label "
                f"of at most {NAME_MAX} characters); set name: explicitly"
            )

    access = _parse_access(file, where, entry)

    has_manifests, has_helm = "manifests" in entry, "helm" in entry
    if has_manifests and has_helm:
        raise WorkloadError(f"{file}: {where}: has both manifests: and helm:; keep exactly one of them")
    if not has_manifests and not has_helm:
        raise WorkloadError(f"{file}: {where}: needs manifests: (a file or directory) or helm: (a chart); add one")
    manifests: Path | None = None
    helm: HelmChart | None = None
    if has_manifests:
        manifests = _existing_path(file, f"{where}.manifests", entry["manifests"], base)
    else:
        helm = _parse_helm(file, f"{where}.helm", entry["helm"], base, default_release=name)

    images: tuple[Path, ...] = ()
    if "images" in entry:
        images = tuple(
            _existing_path(file, f"{where}.images[{i}]", item, base, want_file=True)
            for i, item in enumerate(_list(file, f"{where}.images", entry["images"]))
        )

    strict = False
    if "strict" in entry:
        strict = entry["strict"]
        if not isinstance(strict, bool):
            raise WorkloadError(f"{file}: {where}.strict: expected true or false, got {_show(strict)}")

    return Workload(
        name=name,
        file=file,
        kind=kind,
        target=target,
        access=access,
        manifests=manifests,
        helm=helm,
        images=images,
        strict=strict,
    )


def _parse_target(file: Path, where: str, value: object) -> tuple[str, str]:
    text = _string(file, f"{where}.target", value)
    kind, sep, name = text.partition("/")
    if not sep or not kind or not name:
        raise WorkloadError(f"{file}: {where}.target: expected KIND/NAME such as Deployment/shop, got {text!r}")
    if kind not in TARGET_KINDS:
        raise WorkloadError(f"{file}: {where}.target: the kind must be one of {', '.join(TARGET_KINDS)}, got {kind!r}")
    if len(name) > 253 or not _SUBDOMAIN.match(name):
        raise WorkloadError(f"{file}: {where}.target: {name!r} is not a valid object name (lowercase DNS-1123 subdomain)")
    return kind, name


def _parse_access(file: Path, where: str, entry: dict[Any, Any]) -> Access:
    service = _mapping(file, f"{where}.service", _required(file, where, entry, "service", "{name: shop}"))
    _check_keys(file, f"{where}.service", service, _SERVICE_KEYS)
    service_name = _string(
        file, f"{where}.service.name", _required(file, f"{where}.service", service, "name", "the Service's name")
    )

    port: int | str | None = None
    if "port" in service:
        port = service["port"]
        if isinstance(port, bool) or not isinstance(port, (int, str)):
            raise WorkloadError(f"{file}: {where}.service.port: expected a port name or number, got {_show(port)}")
        if isinstance(port, int) and not 1 <= port <= 65535:
            raise WorkloadError(f"{file}: {where}.service.port: {port} is not a port number (1-65535)")
        if isinstance(port, str) and not port.strip():
            raise WorkloadError(f"{file}: {where}.service.port: is empty; give the port's name or number, or leave it out")

    path = "/"
    if "path" in service:
        path = _string(file, f"{where}.service.path", service["path"])
        if not path.startswith("/"):
            raise WorkloadError(f"{file}: {where}.service.path: {path!r} must start with '/'")

    expect = 200
    if "expect" in service:
        expect = service["expect"]
        if isinstance(expect, bool) or not isinstance(expect, int) or not 100 <= expect <= 599:
            raise WorkloadError(f"{file}: {where}.service.expect: expected an HTTP status such as 200, got {_show(expect)}")

    header: str | None = None
    if "servedBy" in entry:
        served_by = _mapping(file, f"{where}.servedBy", entry["servedBy"])
        _check_keys(file, f"{where}.servedBy", served_by, _SERVED_BY_KEYS)
        header = _string(
            file, f"{where}.servedBy.header", _required(file, f"{where}.servedBy", served_by, "header", "X-Pod-Name")
        )
        if any(c.isspace() or c == ":" for c in header):
            raise WorkloadError(f"{file}: {where}.servedBy.header: {header!r} is not a header name (no spaces or ':')")

    return Access(service=service_name, port=port, path=path, expect=expect, served_by_header=header)


def _parse_helm(file: Path, where: str, value: object, base: Path, default_release: str) -> HelmChart:
    helm = _mapping(file, where, value)
    _check_keys(file, where, helm, _HELM_KEYS)
    chart = _existing_path(file, f"{where}.chart", _required(file, where, helm, "chart", "charts/shop"), base)
    release = default_release
    if "release" in helm:
        release = _string(file, f"{where}.release", helm["release"])
        if len(release) > RELEASE_MAX or not _LABEL.match(release):
            raise WorkloadError(
                f"{file}: {where}.release: {release!r} is not a helm release name "
                f"(lowercase letters, digits and '-', at most {RELEASE_MAX} characters)"
            )
    values: tuple[Path, ...] = ()
    if "values" in helm:
        values = tuple(
            _existing_path(file, f"{where}.values[{i}]", item, base, want_file=True)
            for i, item in enumerate(_list(file, f"{where}.values", helm["values"]))
        )
    return HelmChart(chart=chart, release=release, values=values)


# --------------------------------------------------------------------------- small checks


def _check_keys(file: Path, where: str, mapping: dict[Any, Any], allowed: tuple[str, ...]) -> None:
    """Reject keys the format does not have: a misspelt optional key would otherwise be silently ignored."""
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise WorkloadError(
                f"{file}: {where}: unknown key {_show(key)}{hint}; allowed keys: {', '.join(allowed)}"
            )


def _required(file: Path, where: str, mapping: dict[Any, Any], key: str, example: str) -> object:
    if key not in mapping or mapping[key] is None:
        raise WorkloadError(f"{file}: {where}: missing {key}: (e.g. {key}: {example}); add it")
    return mapping[key]


def _string(file: Path, where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise WorkloadError(f"{file}: {where}: expected a non-empty string, got {_show(value)}")
    return value


def _mapping(file: Path, where: str, value: object) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise WorkloadError(f"{file}: {where}: expected a mapping, got {kind_of(value)}")
    return value


def _list(file: Path, where: str, value: object) -> list[Any]:
    if not isinstance(value, list):
        raise WorkloadError(f"{file}: {where}: expected a list, got {kind_of(value)}; write [item, ...] even for one item")
    return value


def _existing_path(file: Path, where: str, value: object, base: Path, want_file: bool = False) -> Path:
    """A path from the workload file, relative to its directory, that must exist now rather than fail mid-run."""
    text = _string(file, where, value)
    path = base / text
    if not path.exists():
        raise WorkloadError(f"{file}: {where}: {path} does not exist (paths are relative to the workload file's directory)")
    if want_file and not path.is_file():
        raise WorkloadError(f"{file}: {where}: {path} is not a file")
    return path


def _is_name(name: str) -> bool:
    return len(name) <= NAME_MAX and bool(_LABEL.match(name))


def _show(value: object) -> str:
    """A value as a message shows it: on one line and short, whatever the user wrote."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def kind_of(value: object) -> str:
    """What a user wrote where something else was expected, e.g. ``a list ['a']``, for a message."""
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    if value is None:
        return "nothing"
    return f"{names.get(type(value), type(value).__name__)} {_show(value)}"


def _load_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise WorkloadError(f"{path}: cannot read it: {err}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise WorkloadError(f"{path}: {yaml_problem(err)}") from None


def yaml_problem(err: yaml.YAMLError) -> str:
    """What is wrong with a YAML text, and on which line, from what PyYAML knows of it."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or (str(err).splitlines() or ["unknown error"])[0]
    if mark is not None:
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}; fix the syntax there"
    return f"invalid YAML: {problem}; fix the syntax"
