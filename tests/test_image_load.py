"""Which images an archive carries, and the one line for a file that is not an image archive."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from podlife.cluster.image_load import archive_images, normalized, registry_name
from podlife.errors import PodlifeError


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def test_a_docker_save_archive_names_its_tags(tmp_path: Path) -> None:
    manifest = json.dumps([{"Config": "c.json", "RepoTags": ["shop:1.2", "shop:ci"], "Layers": []}]).encode()
    assert archive_images(_tar(tmp_path / "a.tar", {"manifest.json": manifest})) == ["shop:1.2", "shop:ci"]


def test_an_oci_layout_names_its_images_by_annotation(tmp_path: Path) -> None:
    index = {"manifests": [{"annotations": {"io.containerd.image.name": "example.com/shop:1.2",
                                            "org.opencontainers.image.ref.name": "1.2"}}]}
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": json.dumps(index).encode()}
    assert archive_images(_tar(tmp_path / "a.tar", files)) == ["example.com/shop:1.2"]


@pytest.mark.parametrize("files, message", [
    (None, "is not an image archive"),
    ({"README": b"hello"}, "neither manifest.json (docker save) nor index.json"),
    ({"manifest.json": b"[{\"RepoTags\": null}]"}, "an image without a name"),
    ({"manifest.json": b"{not json"}, "is not an image archive"),
])
def test_anything_else_is_one_line(tmp_path: Path, files: dict[str, bytes] | None, message: str) -> None:
    path = tmp_path / "a.tar"
    if files is None:
        path.write_text("just text")
    else:
        _tar(path, files)
    with pytest.raises(PodlifeError, match="^" + str(path)) as failure:
        archive_images(path)
    assert message in str(failure.value) and "\n" not in str(failure.value)
    with pytest.raises(PodlifeError, match="no such image archive"):
        archive_images(tmp_path / "missing.tar")


@pytest.mark.parametrize(("name", "stored", "pushed"), [
    ("shop:1.0", "docker.io/library/shop:1.0", "localhost:5000/shop:1.0"),
    ("team/shop", "docker.io/team/shop:latest", "localhost:5000/team/shop:latest"),
    ("ghcr.io/team/shop:2", "ghcr.io/team/shop:2", "localhost:5000/team/shop:2"),
    ("registry.local:5001/shop:3", "registry.local:5001/shop:3", "localhost:5000/shop:3"),
    ("localhost/shop:4", "localhost/shop:4", "localhost:5000/shop:4"),
])
def test_images_are_pushed_under_their_path_and_tag(name: str, stored: str, pushed: str) -> None:
    """containerd stores ``shop:1.0`` as docker.io/library/shop:1.0; the registry keeps path and tag only."""
    assert normalized(name) == stored
    assert registry_name(name, "localhost:5000") == pushed
