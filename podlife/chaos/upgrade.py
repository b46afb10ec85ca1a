"""A cluster upgrade as the disruption: done by podlife in place (local cluster), or by the user on theirs.

On an existing cluster the user upgrades by their own means (a managed service's button,
kubeadm, a new node pool) while podlife keeps an app under traffic. ``UpgradeWatch`` is how
they say when it is over: every node's kubelet reports the target version, or a file they
create appears.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import urllib3
from kubernetes import client

from podlife.errors import PodlifeError


@dataclass(frozen=True)
class UpgradeWatch:
    """``version:1.37`` or ``file:PATH``, the two ways ``--upgrade-watch`` says the upgrade is done."""

    kind: Literal["version", "file"]
    value: str

    @classmethod
    def parse(cls, text: str) -> "UpgradeWatch":
        kind, _, value = text.partition(":")
        if kind == "version" and re.fullmatch(r"v?1\.\d+(\.\d+)?", value):
            return cls("version", value.lstrip("v"))
        if kind == "file" and value:
            return cls("file", value)
        raise PodlifeError(f"--upgrade-watch: expected version:1.37 or file:PATH, got {text!r}")

    def describe(self) -> str:
        return (f"every node's kubelet reports v{self.value}" if self.kind == "version"
                else f"{self.value} exists")

    def done(self, api: client.ApiClient) -> bool:
        """Whether the upgrade is over; an API server that does not answer is one being upgraded: not yet."""
        if self.kind == "file":
            return Path(self.value).exists()
        try:
            nodes = client.CoreV1Api(api).list_node().items
        except (client.ApiException, urllib3.exceptions.HTTPError):
            return False
        versions = [n.status.node_info.kubelet_version for n in nodes if n.status and n.status.node_info]
        return bool(versions) and all(v == f"v{self.value}" or v.startswith(f"v{self.value}.") for v in versions)
