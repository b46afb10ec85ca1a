"""Tests for the local cluster's image archives (podlife.cluster.local.images)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from podlife.cluster.local import images
from podlife.cluster.local.images import ImageSpec, InlineFile, busybox_applets, shared_libraries, write_oci_archive
from podlife.errors import PodlifeError

NAME = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


def sha256(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def read_archive(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def blob(members: dict[str, bytes], descriptor: dict) -> bytes:
    """The blob a descriptor points at, checked against the descriptor's digest and size."""
    content = members["blobs/sha256/" + descriptor["digest"].removeprefix("sha256:")]
    assert sha256(content) == descriptor["digest"]
    assert len(content) == descriptor["size"]
    return content


def open_image(path: Path) -> tuple[dict, dict, dict, bytes]:
    """Follow index.json -> manifest -> config and layer; return them with the uncompressed layer."""
    members = read_archive(path)
    assert json.loads(members["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(members["index.json"])
    assert len(index["manifests"]) == 1
    descriptor = index["manifests"][0]
    assert descriptor["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    manifest = json.loads(blob(members, descriptor))
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    config = json.loads(blob(members, manifest["config"]))
    [layer_descriptor] = manifest["layers"]
    assert layer_descriptor["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    layer = gzip.decompress(blob(members, layer_descriptor))
    assert config["rootfs"] == {"type": "layers", "diff_ids": [sha256(layer)]}
    return index, manifest, config, layer


def layer_members(layer: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        return {m.name: m for m in tar.getmembers()}


@pytest.fixture
def spec(tmp_path: Path) -> ImageSpec:
    binary = tmp_path / "agnhost"
    binary.write_bytes(b"\x7fELF" + os.urandom(300_000))
    binary.chmod(0o755)
    secret = tmp_path / "secret"
    secret.write_bytes(b"s3cret\n")
    secret.chmod(0o640)
    return ImageSpec(
        name=NAME,
        files={"/agnhost": binary, "/usr/local/share/secret": secret},
        data={"/etc/hostname": b"agnhost\n", "/usr/local/bin/run": InlineFile(b"#!/bin/sh\n", 0o755)},
        symlinks={"/bin/sh": "/bin/busybox", "/lib64": "lib"},
        directories={"/tmp": 0o1777, "/etc": 0o755},
        entrypoint=["/agnhost"],
        cmd=["netexec"],
        workdir="/",
        user="0:0",
        labels={"org.example": "podlife"},
        exposed_ports=["8080/tcp"],
    )


def test_archive_structure_and_annotations(spec: ImageSpec, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "agnhost.tar"
    digest = write_oci_archive(spec, dest)
    index, _, config, _ = open_image(dest)
    descriptor = index["manifests"][0]
    assert digest == descriptor["digest"]
    assert descriptor["annotations"] == {
        "io.containerd.image.name": NAME,
        "org.opencontainers.image.ref.name": "2.66.1",
    }
    assert descriptor["platform"] == {"architecture": "amd64", "os": "linux"}
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    assert config["config"] == {
        "Entrypoint": ["/agnhost"],
        "Cmd": ["netexec"],
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "WorkingDir": "/",
        "User": "0:0",
        "Labels": {"org.example": "podlife"},
        "ExposedPorts": {"8080/tcp": {}},
    }
    assert [p.name for p in dest.parent.iterdir()] == ["agnhost.tar"]  # no temporary files left


def test_minimal_config_leaves_out_empty_fields(tmp_path: Path) -> None:
    dest = tmp_path / "pause.tar"
    write_oci_archive(ImageSpec(name="localhost:5000/pause", data={"/pause": b"x"}), dest)
    index, _, config, _ = open_image(dest)
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "latest"
    assert config["config"] == {"Env": [images.DEFAULT_PATH]}


def test_layer_contents(spec: ImageSpec, tmp_path: Path) -> None:
    dest = tmp_path / "agnhost.tar"
    write_oci_archive(spec, dest)
    layer = layer_members(open_image(dest)[3])
    assert list(layer) == sorted(layer)
    for member in layer.values():
        assert (member.mtime, member.uid, member.gid) == (0, 0, 0)
    assert layer["agnhost"].isfile() and layer["agnhost"].mode == 0o755
    assert layer["agnhost"].size == spec.files["/agnhost"].stat().st_size
    assert layer["usr/local/share/secret"].mode == 0o640
    assert layer["etc/hostname"].mode == 0o644
    assert layer["usr/local/bin/run"].mode == 0o755
    assert layer["bin/sh"].issym() and layer["bin/sh"].linkname == "/bin/busybox"
    assert layer["lib64"].issym() and layer["lib64"].linkname == "lib"
    assert layer["tmp"].isdir() and layer["tmp"].mode == 0o1777
    for parent in ("bin", "etc", "usr", "usr/local", "usr/local/bin", "usr/local/share"):
        assert layer[parent].isdir() and layer[parent].mode == 0o755, parent
    with tarfile.open(fileobj=io.BytesIO(open_image(dest)[3])) as tar:
        assert tar.extractfile("agnhost").read() == spec.files["/agnhost"].read_bytes()
        assert tar.extractfile("etc/hostname").read() == b"agnhost\n"


def test_same_inputs_same_digest(spec: ImageSpec, tmp_path: Path) -> None:
    first = write_oci_archive(spec, tmp_path / "a.tar")
    os.utime(spec.files["/agnhost"], (12345, 12345))  # host times must not leak into the image
    second = write_oci_archive(spec, tmp_path / "b.tar")
    assert first == second
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    spec.data = {**spec.data, "/etc/hostname": b"other\n"}
    assert write_oci_archive(spec, tmp_path / "c.tar") != first


def test_rewrite_replaces_archive(spec: ImageSpec, tmp_path: Path) -> None:
    dest = tmp_path / "agnhost.tar"
    dest.write_bytes(b"stale")
    digest = write_oci_archive(spec, dest)
    assert open_image(dest)[0]["manifests"][0]["digest"] == digest


@pytest.mark.parametrize(
    "changes",
    [
        {"data": {"/bin/sh": b"x"}, "symlinks": {"/bin/sh": "busybox"}},  # same path twice
        {"symlinks": {"/lib64": "lib"}, "data": {"/lib64/ld.so": b"x"}},  # file under a symlink
        {"data": {"relative/path": b"x"}},
        {"directories": {"/": 0o755}},
    ],
)
def test_invalid_specs_are_rejected(changes: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_oci_archive(ImageSpec(name=NAME, **changes), tmp_path / "x.tar")
    assert not (tmp_path / "x.tar").exists()


def test_missing_source_file(tmp_path: Path) -> None:
    spec = ImageSpec(name=NAME, files={"/agnhost": tmp_path / "missing"})
    with pytest.raises(PodlifeError, match="missing"):
        write_oci_archive(spec, tmp_path / "x.tar")


@pytest.mark.skipif(shutil.which("ldd") is None, reason="needs ldd")
def test_shared_libraries_of_ls() -> None:
    libraries = shared_libraries(Path("/bin/ls"))
    assert "/lib64/ld-linux-x86-64.so.2" in libraries
    assert any(path.endswith("/libc.so.6") for path in libraries)
    assert not any("vdso" in path for path in libraries)
    for host in libraries.values():
        assert host.is_file() and not host.is_symlink()


def fake_run(monkeypatch: pytest.MonkeyPatch, returncode: int, stdout: str, stderr: str = "") -> None:
    def run(argv: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, returncode, stdout, stderr)

    monkeypatch.setattr(images.subprocess, "run", run)


def test_shared_libraries_of_static_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_run(monkeypatch, 1, "\tnot a dynamic executable\n")
    assert shared_libraries(Path("/bin/busybox")) == {}


def test_shared_libraries_parses_ldd_output(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_run(
        monkeypatch,
        0,
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f01)\n"
        "\t/lib64/ld-linux-x86-64.so.2 (0x00007f02)\n",
    )
    assert list(shared_libraries(Path("/usr/bin/curl"))) == [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/lib64/ld-linux-x86-64.so.2",
    ]


def test_shared_libraries_missing_library(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_run(monkeypatch, 0, "\tlibnghttp2.so.14 => not found\n")
    with pytest.raises(PodlifeError, match="libnghttp2.so.14"):
        shared_libraries(Path("/usr/bin/curl"))


def test_busybox_applets(tmp_path: Path) -> None:
    busybox = tmp_path / "busybox"
    busybox.write_text("#!/bin/sh\n[ \"$1\" = --list ] && printf 'ash\\nls\\n\\nsh\\n'\n")
    busybox.chmod(0o755)
    assert busybox_applets(busybox) == ["ash", "ls", "sh"]


def test_busybox_missing(tmp_path: Path) -> None:
    with pytest.raises(PodlifeError):
        busybox_applets(tmp_path / "busybox")
