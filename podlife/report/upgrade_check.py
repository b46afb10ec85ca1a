"""``podlife upgrade-check --from A --to B``: the suite on two Kubernetes versions, and what changed.

Each version is built (or taken from the cache), the local cluster is started on it, and the
chosen pytest profile runs against it into a report directory of its own; the two summaries
are then compared (``report.compare``). The time of each phase is kept, so ``bench/`` can say
where an upgrade check spends it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from podlife.cluster.local.build import Builder, resolve_version
from podlife.cluster.local.components import Settings
from podlife.cluster.local.provider import LocalCluster
from podlife.errors import PodlifeError
from podlife.report.compare import compare, load, render, save

#: What runs on each version unless the user names a profile: the quick profile of the scenarios.
DEFAULT_PYTEST_ARGS = ("scenarios", "-m", "not slow")


def run_on(version: str, pytest_args: list[str], out: Path, say: Callable[[str], None]) -> dict[str, float | None]:
    """Build and start ``version``, run the profile into ``out``; return the seconds of each phase.

    ``build_s`` is 0 when the cache held the version; ``cold_build_recorded_s`` is what the build
    that filled the cache took.
    """
    out.mkdir(parents=True, exist_ok=True)
    result = LocalCluster(progress=say).up(Settings(version=version))
    say(f"{version}: running pytest {' '.join(pytest_args)}")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", *pytest_args, "-p", "no:cacheprovider",
                           "--k8s-version", version, "--podlife-summary", str(out / "summary.json"),
                           "--alluredir", str(out / "allure-results"), "--junitxml", str(out / "junit.xml")])
    suite = time.monotonic() - started
    if not (out / "summary.json").exists():
        raise PodlifeError(f"the run on {version} left no summary (pytest exit {proc.returncode}); see its output above")
    say(f"{version}: suite finished in {suite:.0f}s (pytest exit {proc.returncode})")
    return {"build_s": round(result.cold_build_seconds, 1),
            "cold_build_recorded_s": Builder(version).recorded_build_seconds(),
            "cluster_start_s": round(result.seconds_to_ready, 1), "suite_s": round(suite, 1),
            "pytest_exit": proc.returncode}


def upgrade_check(from_version: str, to_version: str, pytest_args: list[str], out: Path,
                  say: Callable[[str], None]) -> int:
    """Run both versions and print the comparison; 1 on a regression, as ``podlife compare``.

    ``pytest_args`` may start with the ``--`` that separates them on a command line.
    """
    versions = [resolve_version(from_version), resolve_version(to_version)]
    if versions[0] == versions[1]:
        raise PodlifeError(f"--from and --to are the same version ({versions[0]}): nothing to compare")
    return compare_runs((versions[0], versions[0]), (versions[1], versions[1]), pytest_args, out, say)


def compare_runs(base: tuple[str, str], new: tuple[str, str], pytest_args: list[str], out: Path,
                 say: Callable[[str], None]) -> int:
    """Run the profile for the base and the new ``(label, version)``, each into ``out/<label>``, and compare them.

    The upgrade check labels each run with its version; ``bench/upgrade_check.py --smoke`` runs one
    version twice under two labels: every step of a check but a second version's build.
    """
    if pytest_args[:1] == ["--"]:
        pytest_args = pytest_args[1:]
    args = pytest_args or list(DEFAULT_PYTEST_ARGS)
    timings = {}
    for step, (label, version) in enumerate((base, new), 1):
        say(f"upgrade-check {step}/2: Kubernetes {version} (built now if not cached: a cold build takes about 17 minutes)")
        timings[label] = run_on(version, args, out / label, say)
    (out / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    base_dir, new_dir = out / base[0], out / new[0]
    rows = compare(load(base_dir), load(new_dir))
    print(render(rows, f"{base[0]} ({base_dir})", f"{new[0]} ({new_dir})"))
    save(rows, str(base_dir), str(new_dir), new_dir)
    say(f"phases: {json.dumps(timings)}; comparison in {new_dir / 'compare.txt'}")
    return 1 if any(r.regression for r in rows) else 0
