"""Container images for the embedded cluster, assembled from host files.

The local cluster has no registry to pull from, so every image a test needs (agnhost, busybox, a
curl client, ...) is assembled here from files already on the host and handed to containerd as an
OCI image-layout tarball with ``ctr -n k8s.io images import``. The archives are deterministic
(fixed times and owners, sorted entries, canonical JSON), so unchanged inputs keep their digest
and the build cache can tell that an image does not need to be imported again.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import io
import json
import os
import posixpath
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from podlife.errors import PodlifeError

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
PLATFORM = {"architecture": "amd64", "os": "linux"}

# Tar member name -> (header, opener of the member's content, or None for content-less members).
_Entries = dict[str, tuple[tarfile.TarInfo, Callable[[], BinaryIO] | None]]


@dataclass(frozen=True)
class InlineFile:
    """Generated file content (a config file, a passwd) with a mode other than the usual 0644."""

    content: bytes
    mode: int = 0o644


@dataclass
class ImageSpec:
    """Everything that goes into one single-layer image; all paths are absolute in-image paths.

    ``files`` maps to host paths and keeps the host file's mode; ``data`` holds generated content
    (plain bytes get mode 0644); ``directories`` maps to the mode of each directory to create.
    Parent directories of every entry are added with mode 0755 when not listed.
    ``exposed_ports`` entries look like ``"8080/tcp"``.
    """

    name: str
    files: dict[str, Path] = field(default_factory=dict)
    data: dict[str, bytes | InlineFile] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)
    directories: dict[str, int] = field(default_factory=dict)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: list[str] = field(default_factory=lambda: [DEFAULT_PATH])
    workdir: str = ""
    user: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    exposed_ports: Sequence[str] = ()
    #: gzip level of the layer: 0 stores content that does not compress (random bytes) at copying speed.
    compresslevel: int = 1


class _DigestingWriter:
    """Forwards writes while hashing and counting them, so one streaming pass yields the digest."""

    def __init__(self, out: Any) -> None:
        self._out = out
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._sha.update(data)
        self.size += len(data)
        return self._out.write(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self._sha.hexdigest()


def write_oci_archive(spec: ImageSpec, dest: Path) -> str:
    """Write ``spec`` as an OCI image-layout tarball at ``dest``; return the manifest digest.

    The layer goes to an anonymous temporary file first because its digest and size must be
    known before the manifest can be written; the archive itself is renamed into place only when
    complete, so an interrupted build never leaves a truncated archive for ``ctr`` to import.
    """
    entries = _layer_entries(spec)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=dest.parent) as layer:
        diff_id, layer_digest, layer_size = _write_layer(entries, layer, spec.compresslevel)
        config = _canonical_json({
            **PLATFORM,
            "config": _container_config(spec),
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        })
        manifest = _canonical_json({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": _descriptor(CONFIG_MEDIA_TYPE, config),
            "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": layer_digest, "size": layer_size}],
        })
        manifest_descriptor = _descriptor(MANIFEST_MEDIA_TYPE, manifest)
        manifest_descriptor["platform"] = PLATFORM
        # ctr names the imported image after io.containerd.image.name; ref.name is the OCI tag.
        manifest_descriptor["annotations"] = {
            "io.containerd.image.name": spec.name,
            "org.opencontainers.image.ref.name": _tag(spec.name),
        }
        index = _canonical_json(
            {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": [manifest_descriptor]}
        )
        layout = _canonical_json({"imageLayoutVersion": "1.0.0"})
        layer.seek(0)
        members: list[tuple[str, int, BinaryIO]] = [
            ("oci-layout", len(layout), io.BytesIO(layout)),
            (_blob_name(layer_digest), layer_size, layer),
            (_blob_name(_sha256(config)), len(config), io.BytesIO(config)),
            (_blob_name(manifest_descriptor["digest"]), len(manifest), io.BytesIO(manifest)),
            ("index.json", len(index), io.BytesIO(index)),
        ]
        _write_atomically(dest, members)
    return manifest_descriptor["digest"]


def shared_libraries(binary: Path) -> dict[str, Path]:
    """Map in-image path -> host file for every shared object ``binary`` loads, loader included.

    The in-image path is the one ``ldd`` prints, which is where the image's dynamic loader will
    look (it has no ld.so.cache); the host side is resolved because distributions reach the real
    file through soname symlinks, and the image needs the file itself. A static binary needs none.
    """
    result = _run(["ldd", str(binary)])
    if "not a dynamic executable" in result.stdout + result.stderr or "statically linked" in result.stdout:
        return {}
    if result.returncode != 0:
        raise PodlifeError(f"ldd {binary} failed: {(result.stderr or result.stdout).strip()}")
    libraries: dict[str, Path] = {}
    for line in result.stdout.splitlines():
        soname, arrow, resolved = line.partition("=>")
        location = (resolved if arrow else soname).split("(")[0].strip()
        if location == "not found":
            raise PodlifeError(f"{binary} needs {soname.strip()}, which is not installed on this host")
        if location.startswith("/"):  # skips the kernel-provided vDSO, which has no file
            libraries[location] = Path(location).resolve()
    return libraries


def busybox_applets(busybox: Path) -> list[str]:
    """The applets ``busybox`` was built with, so an image can link exactly the commands it has."""
    result = _run([str(busybox), "--list"])
    if result.returncode != 0:
        raise PodlifeError(f"{busybox} --list failed: {result.stderr.strip()}")
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def _layer_entries(spec: ImageSpec) -> _Entries:
    """Collect the rootfs as tar headers, failing early (before any writing) on bad input."""
    entries: _Entries = {}

    def add(path: str, info: tarfile.TarInfo, opener: Callable[[], BinaryIO] | None = None) -> None:
        if info.name in entries:
            raise ValueError(f"{spec.name}: {path} is listed more than once")
        entries[info.name] = (info, opener)

    for path, mode in spec.directories.items():
        add(path, _tarinfo(_member_name(path), tarfile.DIRTYPE, mode))
    for path, source in spec.files.items():
        try:
            st = os.stat(source)
        except OSError as err:
            raise PodlifeError(f"{spec.name}: cannot read {source} for {path}: {err}") from err
        if not stat.S_ISREG(st.st_mode):
            raise PodlifeError(f"{spec.name}: {source} (for {path}) is not a regular file")
        info = _tarinfo(_member_name(path), tarfile.REGTYPE, stat.S_IMODE(st.st_mode), st.st_size)
        add(path, info, _reader(source))
    for path, content in spec.data.items():
        inline = content if isinstance(content, InlineFile) else InlineFile(content)
        info = _tarinfo(_member_name(path), tarfile.REGTYPE, inline.mode, len(inline.content))
        add(path, info, functools.partial(io.BytesIO, inline.content))
    for path, target in spec.symlinks.items():
        add(path, _tarinfo(_member_name(path), tarfile.SYMTYPE, 0o777, linkname=target))

    for name in list(entries):
        parent = posixpath.dirname(name)
        while parent:
            existing = entries.setdefault(parent, (_tarinfo(parent, tarfile.DIRTYPE, 0o755), None))
            if existing[0].type != tarfile.DIRTYPE:
                raise ValueError(f"{spec.name}: /{parent} holds /{name} but is not a directory")
            parent = posixpath.dirname(parent)
    return entries


def _reader(path: Path) -> Callable[[], BinaryIO]:
    """Opens ``path`` when its member is written (a partial of ``open`` would be typed as opening text)."""
    return lambda: open(path, "rb")


def _write_layer(entries: _Entries, out: BinaryIO, compresslevel: int) -> tuple[str, str, int]:
    """Stream the layer into ``out``; return (diff_id of the tar, digest and size of the gzip)."""
    blob = _DigestingWriter(out)
    # mtime=0 and no file name keep the gzip header, and so the digest, independent of the build.
    # The writers are write-only: typeshed's file protocols also ask for flush, or for read and
    # seek, which neither gzip's writer nor tarfile's stream mode ("w|") calls.
    with gzip.GzipFile(filename="", mode="wb", fileobj=blob, compresslevel=compresslevel, mtime=0) as gz:  # type: ignore[call-overload]
        plain = _DigestingWriter(gz)
        with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            for name in sorted(entries):  # a parent's name sorts before its children's
                info, opener = entries[name]
                if opener is None:
                    tar.addfile(info)
                else:
                    with opener() as content:
                        tar.addfile(info, content)
    return plain.digest, blob.digest, blob.size


def _write_atomically(dest: Path, members: list[tuple[str, int, BinaryIO]]) -> None:
    """Write the outer tar next to ``dest`` and rename it over ``dest`` only once it is complete."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name, size, content in members:
                    tar.addfile(_tarinfo(name, tarfile.REGTYPE, 0o644, size), content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _container_config(spec: ImageSpec) -> dict[str, Any]:
    """The image config's ``config`` object; empty fields are left out, as Docker and Go do."""
    config: dict[str, Any] = {"Env": list(spec.env)}
    if spec.entrypoint is not None:
        config["Entrypoint"] = list(spec.entrypoint)
    if spec.cmd is not None:
        config["Cmd"] = list(spec.cmd)
    if spec.workdir:
        config["WorkingDir"] = spec.workdir
    if spec.user:
        config["User"] = spec.user
    if spec.labels:
        config["Labels"] = dict(spec.labels)
    if spec.exposed_ports:
        config["ExposedPorts"] = {port: {} for port in spec.exposed_ports}
    return config


def _tarinfo(name: str, kind: bytes, mode: int, size: int = 0, linkname: str = "") -> tarfile.TarInfo:
    """A header owned by root with time 0, so the host's owners and times never reach a digest."""
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, linkname
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def _member_name(path: str) -> str:
    """The layer member name for an absolute in-image path: normalised, relative to the root."""
    name = posixpath.normpath(path).lstrip("/")
    if not path.startswith("/") or not name:
        raise ValueError(f"in-image path must be absolute and not the root: {path!r}")
    return name


def _tag(reference: str) -> str:
    """The tag of an image reference; a colon before the last slash is a registry port."""
    last = reference.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def _descriptor(media_type: str, content: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": _sha256(content), "size": len(content)}


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.removeprefix("sha256:")


def _sha256(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a host tool in the C locale, whose messages the callers match on."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False, env={**os.environ, "LC_ALL": "C"})
    except OSError as err:
        raise PodlifeError(f"cannot run {argv[0]}: {err}") from err
