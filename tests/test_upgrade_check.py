"""``podlife upgrade-check``'s own steps, with the runs on the cluster stood in for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podlife.errors import PodlifeError
from podlife.report import upgrade_check
from podlife.report.upgrade_check import DEFAULT_PYTEST_ARGS, compare_runs


def test_each_run_goes_under_its_label_and_the_second_is_compared_with_the_first(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """One version under two labels, as ``bench/upgrade_check.py --smoke`` runs it."""
    ran = []

    def run_on(version: str, args: list[str], out: Path, say: object) -> dict[str, float]:
        ran.append((version, args, out.name))
        out.mkdir(parents=True)
        (out / "summary.json").write_text(json.dumps({"claims": {}}))
        return {"suite_s": 1.0}

    monkeypatch.setattr(upgrade_check, "run_on", run_on)
    assert compare_runs(("1.37.2", "1.37.2"), ("1.37.2-again", "1.37.2"), ["--"], tmp_path, lambda line: None) == 0
    assert ran == [("1.37.2", list(DEFAULT_PYTEST_ARGS), "1.37.2"), ("1.37.2", list(DEFAULT_PYTEST_ARGS), "1.37.2-again")]
    assert json.loads((tmp_path / "timings.json").read_text()) == {"1.37.2": {"suite_s": 1.0}, "1.37.2-again": {"suite_s": 1.0}}
    compared = (tmp_path / "1.37.2-again" / "compare.txt").read_text().splitlines()
    assert compared[:2] == [f"podlife compare: base {tmp_path / '1.37.2'}", f"                 new  {tmp_path / '1.37.2-again'}"]
    assert compared[-1] == "no differences"


def test_an_upgrade_check_needs_two_versions(tmp_path: Path) -> None:
    with pytest.raises(PodlifeError, match=r"same version \(1\.37\.2\): nothing to compare"):
        upgrade_check.upgrade_check("1.37", "v1.37.2", [], tmp_path, lambda line: None)
