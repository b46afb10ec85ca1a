"""Images built in CI, into the cluster without a registry: ``podlife image load app.tar``.

An archive is what ``docker save`` writes (``manifest.json`` naming its tags) or an OCI image
layout (``index.json``, its images named by annotation). The local cluster imports it into its
containerd, where the kubelet finds it; a kind cluster loads it with kind's own
``kind load image-archive``. An existing cluster pulls from the user's registry: nothing to load.

Pods find a loaded image only if they do not insist on pulling: a ``:latest`` tag, or no tag,
implies ``imagePullPolicy: Always``, so the archive's tags should be versions. For manifests
that must pull (``Always``, or a ``:latest`` tag), the local cluster also pushes each image to
its registry (on the control plane's address), as ``10.250.0.1:5000/<path>:<tag>``, where such pulls succeed.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

from podlife.errors import PodlifeError

#: How OCI layouts name an image: containerd's annotation first, then the OCI tag.
NAME_ANNOTATIONS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")


def archive_images(archive: Path) -> list[str]:
    """The image names an archive carries; a file that is not an image archive is a ``PodlifeError``."""
    if not archive.is_file():
        raise PodlifeError(f"{archive}: no such image archive")
    try:
        with tarfile.open(archive) as tar:
            members = {m.name.removeprefix("./"): m for m in tar.getmembers()}
            if "manifest.json" in members:
                manifest = json.load(tar.extractfile(members["manifest.json"]))  # type: ignore[arg-type]
                names = [tag for image in manifest for tag in image.get("RepoTags") or []]
            elif "index.json" in members and "oci-layout" in members:
                index = json.load(tar.extractfile(members["index.json"]))  # type: ignore[arg-type]
                names = [next((m.get("annotations", {})[key] for key in NAME_ANNOTATIONS
                               if key in m.get("annotations", {})), "") for m in index.get("manifests", [])]
            else:
                raise PodlifeError(f"{archive} is not an image archive: it has neither manifest.json (docker save) "
                                   "nor index.json and oci-layout (an OCI image layout)")
    except tarfile.ReadError:
        raise PodlifeError(f"{archive} is not an image archive: not a tar file (docker save or an OCI layout tar)") from None
    except (tarfile.TarError, OSError, ValueError, TypeError, AttributeError) as err:
        raise PodlifeError(f"{archive} is not an image archive: {str(err).splitlines()[0]}") from None
    if not names or not all(names):
        raise PodlifeError(f"{archive} holds an image without a name: tag it when saving (docker save NAME:TAG)")
    return names


def load_into_local(archive: Path, runtimes: list[list[str]], registry: str) -> list[str]:
    """Import ``archive`` into every node (``runtimes`` are their ``ctr`` command lines) and push each image to ``registry``.

    Returns the names the images can be run by: the archive's own, then the registry's.
    """
    names = archive_images(archive)
    for ctr in runtimes:
        _ctr(ctr, f"importing {archive} into the local cluster", "images", "import", str(archive))
    ctr = runtimes[0]
    pushed = []
    for name in names:
        stored, in_registry = normalized(name), registry_name(name, registry)
        if stored != in_registry:
            _ctr(ctr, f"tagging {name} as {in_registry}", "images", "tag", "--force", stored, in_registry)
        _ctr(ctr, f"pushing {in_registry} to the local registry", "images", "push", "--plain-http", in_registry)
        pushed.append(in_registry)
    return names + pushed


def normalized(name: str) -> str:
    """The full reference containerd stores an image under: ``shop:1.0`` is ``docker.io/library/shop:1.0``."""
    host, _, rest = name.partition("/")
    if not rest or ("." not in host and ":" not in host and host != "localhost"):
        host, rest = "docker.io", name
        if "/" not in rest:
            rest = f"library/{rest}"
    if ":" not in rest.rsplit("/", 1)[-1] and "@" not in rest:
        rest = f"{rest}:latest"
    return f"{host}/{rest}"


def registry_name(name: str, registry: str) -> str:
    """The image's name in ``registry``: its path and tag, without its own registry (or docker.io's ``library/``)."""
    path = normalized(name).split("/", 1)[1]
    return f"{registry}/{path.removeprefix('library/')}"


def _ctr(ctr: list[str], doing: str, *args: str) -> None:
    proc = subprocess.run([*ctr, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise PodlifeError(f"{doing} failed: {_last_line(proc.stderr)}")


def load_into_kind(archive: Path, kind_bin: Path, cluster_name: str) -> list[str]:
    """Load ``archive`` into every node of a kind cluster, as ``kind load image-archive`` does."""
    names = archive_images(archive)
    proc = subprocess.run([str(kind_bin), "load", "image-archive", str(archive), "--name", cluster_name],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise PodlifeError(f"kind could not load {archive}: {_last_line(proc.stderr)}")
    return names


def _last_line(output: str) -> str:
    """Where tools put the reason they failed."""
    lines = output.strip().splitlines()
    return lines[-1] if lines else "(no output)"
