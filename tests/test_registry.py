"""Pushing a built image over the OCI distribution API, and taking it away again, against an in-process registry."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from podlife.cluster.local.images import ImageSpec
from podlife.cluster.registry import STORAGE_ROOT, Registry, Shelf
from podlife.errors import HarnessError, PodlifeError


class FakeRegistry(BaseHTTPRequestHandler):
    """Blobs by digest, manifests by tag; an upload whose bytes do not match its digest is refused, as registries do."""

    blobs: dict[str, bytes] = {}
    manifests: dict[str, tuple[str, bytes]] = {}
    deletes_allowed = True

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._answer(200 if self.path.rsplit("/", 1)[-1] in self.blobs else 404)

    def do_POST(self) -> None:
        self._answer(202, {"Location": self.path + "session-1?_state=abc"})

    def do_PUT(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if "/manifests/" in url.path:
            self.manifests[url.path.rsplit("/", 1)[-1]] = (self.headers["Content-Type"], body)
            return self._answer(201)
        digest = parse_qs(url.query)["digest"][0]
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest or "_state=abc" not in url.query:
            return self._answer(400)
        self.blobs[digest] = body
        self._answer(201)

    def do_DELETE(self) -> None:
        self._answer(202 if self.deletes_allowed else 405)


@pytest.fixture
def registry() -> Iterator[str]:
    FakeRegistry.blobs, FakeRegistry.manifests, FakeRegistry.deletes_allowed = {}, {}, True
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_address_names_scheme_host_and_path() -> None:
    mirror = Registry("registry.example:5000/ci/")
    assert (mirror.url, mirror.host, mirror.reference("podlife/ns", "1")) == (
        "https://registry.example:5000", "registry.example:5000", "registry.example:5000/ci/podlife/ns:1")
    assert Registry("http://localhost:5000").reference("podlife/ns", "latest") == "localhost:5000/podlife/ns:latest"
    with pytest.raises(PodlifeError, match="expected"):
        Registry("ftp://registry.example")


def test_a_built_image_is_pushed_blob_by_blob_then_its_manifest_under_the_tag(registry: str, tmp_path: Path) -> None:
    shelf = Shelf(Registry(registry), "podlife/ns-1", tmp_path)
    spec = ImageSpec(name=shelf.reference("1"), data={"/answer": b"build-1\n"}, entrypoint=["/answer"])
    pushed = shelf.publish(spec, "1")
    media_type, raw = FakeRegistry.manifests["1"]
    manifest = json.loads(raw)
    assert media_type == "application/vnd.oci.image.manifest.v1+json"
    assert pushed.digest == "sha256:" + hashlib.sha256(raw).hexdigest() and pushed.config == manifest["config"]["digest"]
    assert set(FakeRegistry.blobs) == {pushed.config, *pushed.layers}
    assert pushed.size == sum(len(FakeRegistry.blobs[d]) for d in (pushed.config, *pushed.layers))
    assert pushed.reference == shelf.reference("1") and not list(tmp_path.iterdir())  # the archive went once pushed
    shelf.publish(spec, "again")  # blobs the registry has are not sent again
    assert FakeRegistry.manifests["again"][1] == raw


def test_clearing_deletes_the_manifests_and_the_stored_blobs_or_says_what_stays(registry: str, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    shelf = Shelf(Registry(registry, storage), "podlife/ns-1", tmp_path)
    pushed = shelf.publish(ImageSpec(name=shelf.reference("1"), data={"/a": b"1"}), "1")
    blob_dirs = [storage / STORAGE_ROOT / "blobs/sha256" / d[7:9] / d[7:] for d in pushed.blobs]
    for place in [*blob_dirs, storage / STORAGE_ROOT / "repositories/podlife/ns-1/_layers"]:
        place.mkdir(parents=True)
    other = storage / STORAGE_ROOT / "repositories/podlife/ns-2"
    other.mkdir(parents=True)
    nodes = "what the nodes pulled, until their kubelets collect unused images (podlife cannot reach their runtimes)"
    assert shelf.clear() == [nodes]  # no ctr: the nodes are not this host's
    assert not any(d.exists() for d in blob_dirs) and not (storage / STORAGE_ROOT / "repositories/podlife/ns-1").exists()
    assert other.exists()
    FakeRegistry.deletes_allowed = False
    assert shelf.clear() == [f"{pushed.reference} in the registry, which refuses deletes", nodes]


def test_an_unreachable_registry_is_a_harness_problem(tmp_path: Path) -> None:
    shelf = Shelf(Registry("http://127.0.0.1:9"), "podlife/ns", tmp_path)
    with pytest.raises(HarnessError, match="could not be reached looking up sha256:"):
        shelf.publish(ImageSpec(name="x", data={"/a": b"1"}), "1")
