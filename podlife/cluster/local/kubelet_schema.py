"""Check ``--kubelet-config`` overrides against the KubeletConfiguration of the version being run.

The kubelet reads its configuration file leniently: a misspelt field is ignored and the cluster
comes up with the default the user meant to change. The field names are taken from the Go
types of the very ``k8s.io/kubelet`` module the cluster was built from, so a key that version
does not know is refused with one line before anything starts.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from podlife.errors import PodlifeError

ROOT_TYPE = "KubeletConfiguration"
_STRUCT = re.compile(r"^type (\w+) struct \{(.*?)^\}", re.M | re.S)
_FIELD = re.compile(r"^\s+\w+\s+(\*?[\w.\[\]]+)\s+`json:\"([^\",]*)", re.M)


def parse_types(source: str) -> dict[str, dict[str, str]]:
    """Go struct name -> {json field name: Go type without its pointer star}, from a ``types.go``."""
    structs: dict[str, dict[str, str]] = {}
    for name, body in _STRUCT.findall(source):
        structs[name] = {json: gotype.lstrip("*") for gotype, json in _FIELD.findall(body) if json}
    structs.setdefault(ROOT_TYPE, {}).update(apiVersion="string", kind="string")
    return structs


def unknown_keys(overrides: dict[str, Any], structs: dict[str, dict[str, str]], type_name: str = ROOT_TYPE,
                 prefix: str = "") -> list[str]:
    """Dotted paths in ``overrides`` that the struct ``type_name`` (recursively) has no field for.

    Only nested structs are descended into; maps such as ``featureGates`` accept any key.
    """
    fields = structs.get(type_name, {})
    found = []
    for key, value in overrides.items():
        path = f"{prefix}{key}"
        if key not in fields:
            found.append(path)
        elif isinstance(value, dict) and fields[key] in structs:
            found += unknown_keys(value, structs, fields[key], f"{path}.")
    return found


def check(overrides: dict[str, Any], version: str) -> bool:
    """Refuse keys unknown to KubeletConfiguration v1beta1 of ``version``.

    Returns whether the check could be made: False when that version's source is not at hand yet.
    """
    if not overrides:
        return True
    modcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True).stdout.strip()
    source = Path(modcache) / f"k8s.io/kubelet@v0.{version.split('.', 1)[1]}/config/v1beta1/types.go"
    if not source.exists():
        return False
    unknown = unknown_keys(overrides, parse_types(source.read_text()))
    if unknown:
        raise PodlifeError(
            f"--kubelet-config: KubeletConfiguration of Kubernetes {version} has no field {', '.join(unknown)}"
        )
    return True
