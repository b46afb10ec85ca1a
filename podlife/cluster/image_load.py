"""Images built in CI, into the cluster without a registry: ``podlife image load app.tar``.

An archive is what ``docker save`` writes (``manifest.json`` naming its tags) or an OCI image
layout (``index.json``, its images named by annotation). The local cluster imports it into its
containerd, where the kubelet finds it; a kind cluster loads it with kind's own
``kind load image-archive``. An existing cluster pulls from the user's registry: nothing to load.

Pods find a loaded image only if they do not insist on pulling: a ``:latest`` tag, or no tag,
implies ``imagePullPolicy: Always``, so the archive's tags should be versions.
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


def load_into_local(archive: Path, ctr: list[str]) -> list[str]:
    """Import ``archive`` with the local cluster's ``ctr`` command line; return the images it named."""
    names = archive_images(archive)
    proc = subprocess.run([*ctr, "images", "import", str(archive)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise PodlifeError(f"importing {archive} into the local cluster failed: {_last_line(proc.stderr)}")
    return names


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
