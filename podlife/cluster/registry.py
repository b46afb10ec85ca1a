"""A registry the cluster pulls from: podlife pushes its test images there, and takes them away again.

The image claims (OP-01, OP-02) are about what a node pulls, so their images must reach the node
only through the kubelet's own pull. podlife builds them as OCI archives (``cluster.local.images``)
and pushes them itself over the OCI distribution API: each blob, then the manifest under a tag.
(``ctr images push`` pushes only what the node's containerd already holds, which is exactly what
these images must not be.)

The local cluster's registry (``localhost:5000``: plain HTTP, deletes enabled) is the default.
Elsewhere the user names one with ``--image-registry [http://]HOST[:PORT][/PATH]``: this host
must be able to push to it and the nodes to pull from it, both without credentials. What a test
pushed is removed when it ends: its manifests through the API (a registry that refuses deletes
keeps them, and the test's report says so); on the local cluster also the blobs' data, which the
API only unlinks (the registry's garbage collection is not safe while it serves), and the images
the kubelet pulled onto the node.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin

import requests

from podlife.cluster.base import ClusterHandle
from podlife.cluster.local.images import ImageSpec, write_oci_archive
from podlife.errors import HarnessError, PodlifeError

#: Seconds one registry request may take; a 150 MB blob crosses the loopback in a few.
TIMEOUT = 300
#: Where the distribution registry's filesystem storage keeps blobs and repositories.
STORAGE_ROOT = Path("docker/registry/v2")
NO_REGISTRY = ("the image scenarios push images for the cluster to pull: name a registry this host can push to and "
               "the cluster's nodes can pull from, without credentials, with --image-registry [http://]HOST[:PORT][/PATH] "
               "(the local cluster has its own)")


@dataclass(frozen=True)
class Pushed:
    """One image in the registry: the name pods run it by, and what a pull of it fetches."""

    reference: str
    #: The repository's path in the registry, and the tag.
    repository: str
    tag: str
    digest: str
    config: str
    layers: tuple[str, ...]
    #: Bytes a pull downloads besides the manifest: the config and the (compressed) layers.
    size: int

    @property
    def blobs(self) -> tuple[str, ...]:
        return (self.digest, self.config, *self.layers)


class Registry:
    """A registry reached over the OCI distribution API, without credentials."""

    def __init__(self, address: str, storage: Path | None = None) -> None:
        scheme, sep, rest = address.partition("://")
        if not sep:
            scheme, rest = "https", address
        self.host, _, self.prefix = rest.strip("/").partition("/")
        if scheme not in ("http", "https") or not self.host:
            raise PodlifeError(f"--image-registry {address!r}: expected [http://]HOST[:PORT][/PATH]")
        self.url = f"{scheme}://{self.host}"
        #: The registry's filesystem storage, where podlife may reclaim the blobs it pushed (the local cluster's).
        self.storage = storage

    def path(self, repository: str) -> str:
        """The repository's path in the registry, below the address's own path."""
        return f"{self.prefix}/{repository}" if self.prefix else repository

    def reference(self, repository: str, tag: str) -> str:
        return f"{self.host}/{self.path(repository)}:{tag}"

    def push(self, archive: Path, repository: str, tag: str) -> Pushed:
        """Push the image of an OCI archive (one image, as ``write_oci_archive`` writes) under ``repository:tag``."""
        path = self.path(repository)
        with tarfile.open(archive) as tar:
            index = json.load(_member(tar, "index.json"))
            digest = index["manifests"][0]["digest"]
            raw = _member(tar, _blob(digest)).read()
            manifest = json.loads(raw)
            for blob in [manifest["config"], *manifest["layers"]]:
                self._upload(path, blob["digest"], blob["size"], _member(tar, _blob(blob["digest"])))
        self._call("PUT", f"/v2/{path}/manifests/{tag}", f"pushing the manifest of {path}:{tag}", (201,),
                   data=raw, headers={"Content-Type": manifest["mediaType"]})
        layers = tuple(layer["digest"] for layer in manifest["layers"])
        size = manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])
        return Pushed(self.reference(repository, tag), path, tag, digest, manifest["config"]["digest"], layers, size)

    def delete(self, pushed: Pushed) -> bool:
        """Delete the image's manifest (and, in storage podlife may reach, its blobs' data); False where the registry refuses."""
        answer = self._call("DELETE", f"/v2/{pushed.repository}/manifests/{pushed.digest}", f"deleting {pushed.reference}",
                            (202, 404, 405))
        if self.storage is not None:
            stored = self.storage / STORAGE_ROOT
            for digest in pushed.blobs:
                hex_digest = digest.removeprefix("sha256:")
                shutil.rmtree(stored / "blobs" / "sha256" / hex_digest[:2] / hex_digest, ignore_errors=True)
            shutil.rmtree(stored / "repositories" / pushed.repository, ignore_errors=True)
        return answer.status_code != 405

    def _upload(self, path: str, digest: str, size: int, content: IO[bytes]) -> None:
        """One blob, in a single PUT (the distribution API's monolithic upload), unless the repository has it."""
        if self._call("HEAD", f"/v2/{path}/blobs/{digest}", f"looking up {digest}", (200, 404)).status_code == 200:
            return
        started = self._call("POST", f"/v2/{path}/blobs/uploads/", f"starting an upload to {path}", (202,))
        location = urljoin(self.url + "/", started.headers["Location"])
        self._call("PUT", location, f"uploading {size} bytes to {path}", (201,), params={"digest": digest}, data=content,
                   headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)})

    def _call(self, method: str, where: str, doing: str, expect: tuple[int, ...], **kwargs: Any) -> requests.Response:
        """One request; an unreachable registry or an unexpected answer is a harness problem, naming what it was doing."""
        url = where if where.startswith(("http://", "https://")) else self.url + where
        try:
            answer = requests.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as err:
            raise HarnessError(f"the registry {self.url} could not be reached {doing}: {type(err).__name__}") from None
        if answer.status_code not in expect:
            raise HarnessError(f"the registry {self.url} answered {answer.status_code} {doing}: {answer.text.strip()[:200]}")
        return answer


def _blob(digest: str) -> str:
    """Where an OCI layout keeps a blob."""
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise HarnessError(f"an image archive names a blob by {digest!r}, not a sha256 digest")
    return "blobs/sha256/" + digest.removeprefix("sha256:")


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    content = tar.extractfile(name)
    if content is None:
        raise HarnessError(f"an image archive holds no file {name}")
    return content


def node_images(ctr: list[str]) -> list[str]:
    """Every image name the node's containerd holds (the kubelet's namespace)."""
    listing = subprocess.run([*ctr, "images", "ls", "-q"], capture_output=True, text=True)
    if listing.returncode != 0:
        raise HarnessError(f"listing the node's images failed: {listing.stderr.strip()[:200]}")
    return listing.stdout.split()


@dataclass
class Shelf:
    """The images one test pushes, into a repository of its own, and their removal when it ends."""

    registry: Registry
    repository: str
    #: Where archives are written before they are pushed (each is deleted once pushed).
    workdir: Path
    #: Each node's ``ctr`` (the local cluster): the images the kubelets pulled are removed from the nodes too.
    #: Empty where podlife cannot reach the nodes' runtimes.
    runtimes: list[list[str]] = field(default_factory=list)
    pushed: list[Pushed] = field(default_factory=list)

    def reference(self, tag: str) -> str:
        return self.registry.reference(self.repository, tag)

    def publish(self, spec: ImageSpec, tag: str) -> Pushed:
        """Build ``spec`` and push it as ``tag`` of the test's repository (a tag pushed again moves to the new image)."""
        archive = self.workdir / f"{tag}.tar"
        write_oci_archive(spec, archive)
        try:
            pushed = self.registry.push(archive, self.repository, tag)
        finally:
            archive.unlink(missing_ok=True)
        self.pushed.append(pushed)
        return pushed

    def on_node(self, ctr: list[str]) -> list[str]:
        """A node's names of the test's images: the kubelet's pull names each by tag, by digest and by its config's digest."""
        names = tuple(f"{self.registry.host}/{self.registry.path(self.repository)}{sep}" for sep in (":", "@"))
        configs = {p.config for p in self.pushed}
        return [name for name in node_images(ctr) if name.startswith(names) or name in configs]

    def clear(self) -> list[str]:
        """Remove what the test pushed, from the registry and (where reachable) the node; return what is left behind."""
        kept = [p.reference for p in self.pushed if not self.registry.delete(p)]
        left = [f"{name} in the registry, which refuses deletes" for name in dict.fromkeys(kept)]
        if not self.runtimes and self.pushed:
            left.append("what the nodes pulled, until their kubelets collect unused images (podlife cannot reach their runtimes)")
        for ctr in self.runtimes:
            if names := self.on_node(ctr):
                removal = subprocess.run([*ctr, "images", "rm", *names], capture_output=True, text=True)
                if removal.returncode != 0:
                    left.append(f"{', '.join(names)} on a node: {removal.stderr.strip()[:200]}")
        return left


def cluster_shelf(cluster: ClusterHandle, named: str | None, repository: str, workdir: Path) -> Shelf | None:
    """A shelf in the registry ``named`` (``--image-registry``), else the local cluster's own; None elsewhere."""
    runtimes: list[list[str]] = []
    storage = None
    if cluster.provider == "local":
        from podlife.cluster.local.components import REGISTRY_ADDRESS
        from podlife.cluster.local.provider import LocalCluster

        local = LocalCluster()
        runtimes = local.ctr_commands()
        storage = None if named else local.layout.registry_data
        named = named or f"http://{REGISTRY_ADDRESS}"
    if named is None:
        return None
    return Shelf(Registry(named, storage), repository, workdir, runtimes)
