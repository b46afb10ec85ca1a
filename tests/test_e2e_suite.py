"""The upstream e2e subset's plumbing: its command line, its report, the image names it needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podlife.cluster.local.e2e import FOCUS, SKIP_LABELS, read_report, suite_command
from podlife.cluster.local.local_images import e2e_image_tags
from podlife.errors import PodlifeError


def _spec(leaf: str, state: str, seconds: float, failure: str = "", kind: str = "It") -> dict[str, object]:
    spec: dict[str, object] = {"ContainerHierarchyTexts": ["[sig-node] Container Lifecycle Hook", "when create a pod"],
                               "LeafNodeText": leaf, "LeafNodeType": kind, "State": state, "RunTime": int(seconds * 1e9)}
    if failure:
        spec["Failure"] = {"Message": failure}
    return spec


def test_the_report_names_each_spec_as_upstream_does_with_its_state_time_and_first_failure_line(tmp_path: Path) -> None:
    report = tmp_path / "e2e.json"
    report.write_text(json.dumps([{"SpecReports": [
        _spec("should execute poststart exec hook properly", "passed", 6.5),
        _spec("should execute prestop https hook properly", "failed", 32.0, "open /localhost.crt: no such file\nstack"),
        _spec("", "passed", 0.1, kind="SynchronizedBeforeSuite"),
        _spec("needs two nodes", "skipped", 0.0),
    ]}]))
    specs = read_report(report)
    assert [(s.state, s.seconds) for s in specs] == [("passed", 6.5), ("failed", 32.0), ("skipped", 0.0)]
    assert specs[1].name == "[sig-node] Container Lifecycle Hook when create a pod should execute prestop https hook properly"
    assert specs[1].failure == "open /localhost.crt: no such file"


def test_a_missing_or_broken_report_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PodlifeError, match="left no readable report"):
        read_report(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(PodlifeError, match="left no readable report"):
        read_report(tmp_path / "broken.json")


def test_the_command_line_focuses_the_lifecycle_areas_and_skips_what_upstream_labels_unsuitable(tmp_path: Path) -> None:
    cmd = suite_command(Path("/bins"), Path("/k"), tmp_path, None, "extra")
    runner, suite = cmd[:cmd.index("--")], cmd[cmd.index("--") + 1:]
    assert runner[:2] == ["/bins/ginkgo", "run"] and runner[-1] == "/bins/e2e.test"
    focus = next(a for a in runner if a.startswith("--focus="))
    skip = next(a for a in runner if a.startswith("--skip="))
    assert focus.removeprefix("--focus=") == "|".join(FOCUS)
    assert all(label in skip for label in SKIP_LABELS) and skip.endswith("|extra")
    assert f"--json-report={tmp_path / 'e2e.json'}" in runner
    assert suite == ["--kubeconfig=/k", "--provider=local", f"--report-dir={tmp_path}"]
    assert "--focus=Pods" in suite_command(Path("/b"), Path("/k"), tmp_path, "Pods", None)


def test_the_e2e_image_tags_come_from_the_versions_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "test/utils/image/manifest.go"
    manifest.parent.mkdir(parents=True)
    manifest.write_text('''
	configs[AgnhostPrev] = Config{list.PromoterE2eRegistry, "agnhost", "2.55"}
	configs[Agnhost] = Config{list.PromoterE2eRegistry, "agnhost", "2.66.1"}
	configs[BusyBox] = Config{list.PromoterE2eRegistry, "busybox", "1.37.0-2"}
	configs[Nginx] = Config{list.PromoterE2eRegistry, "nginx", "1.27.0-2"}
	configs[NginxNew] = Config{list.PromoterE2eRegistry, "nginx", "1.28.0-2"}
	configs[Pause] = Config{list.GcRegistry, "pause", "3.10.2"}
''')
    assert e2e_image_tags(tmp_path) == [("agnhost", "2.55"), ("agnhost", "2.66.1"), ("busybox", "1.37.0-2"),
                                        ("nginx", "1.27.0-2"), ("nginx", "1.28.0-2")]


def test_serial_specs_run_alone_in_one_process(tmp_path: Path) -> None:
    cmd = suite_command(Path("/b"), Path("/k"), tmp_path, "Taint", None, serial=True)
    skip = next(a for a in cmd if a.startswith("--skip="))
    assert r"\[Serial\]" not in skip and r"\[Disruptive\]" in skip and "--procs=1" in cmd
    assert "--procs=1" not in suite_command(Path("/b"), Path("/k"), tmp_path, "Taint", None)
