"""``podlife report``: the run's Allure results and summary as pages a person opens, offline.

- ``index.html``: the Allure report as one self-contained file. Allure 3 (npm ``allure``) makes
  it with its Awesome plugin's ``singleFile`` option; when Allure 3 cannot run, the Allure 2
  command line (npm ``allure-commandline``, which needs Java) does, with ``--single-file``.
  Each is pinned by a ``package-lock.json`` in this package and installed with ``npm ci`` into
  the podlife cache the first time, under a lock, so two reports starting at once install once.
  The generator reads the results of the claims and the users' workloads only, not those of
  podlife's own tests (``selection.py``). The page is then made unable to reach the network
  (``offline.py``) and given a link to:
- ``claims.html``: the claims matrix, the workload scorecard and the trends (``page.py``).

The run is added to the history (``history.py``), and Allure 3 keeps its own history beside it,
so its report shows each test's previous results too. Everything is written into a staging
directory first and moved into place only when all of it succeeded: a failure (no results,
a corrupt summary, npm unreachable) leaves the report directory and the history as they were.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Protocol

from podlife.cluster.local.locks import exclusive
from podlife.cluster.local.paths import cache_root
from podlife.errors import PodlifeError
from podlife.report import catalog, history, matrix, offline, page, selection
from podlife.report.compare import load as load_summary

Progress = Callable[[str], None]
PACKAGES = Path(__file__).parent
INSTALL_TIMEOUT = 900.0
GENERATE_TIMEOUT = 900.0
#: Runs of its own history Allure 3 embeds in the page (each carries every test's result).
ALLURE_HISTORY_RUNS = 20
#: Allure 3 groups tests by these labels (set by the podlife plugin): category, claim, check or control.
GROUP_BY = ["epic", "feature", "story"]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
BANNER = ('<a id="podlife-claims-link" href="claims.html" style="position:fixed;right:18px;bottom:44px;'
          'z-index:2147483647;background:#24292f;color:#fff;padding:9px 16px;border-radius:20px;'
          'font:600 13px system-ui,sans-serif;text-decoration:none;box-shadow:0 2px 8px #0005">'
          'Claims matrix &amp; trends &rarr;</a>')


class GeneratorError(PodlifeError):
    """A generator could not be installed or could not make the page (the next one is tried)."""


#: Lines of npm's error report that name no cause: its codes, the stack, the object dump, where the log is.
_NPM_NOISE = re.compile(r"^(?:code|errno|syscall)\s|^at\s|^[{}]|^[a-z_]+: |^A complete log|^Log files|^If you are behind a proxy")


def _last_error(output: str) -> str:
    """The line of a tool's output that says what went wrong: npm's cause, else the last line."""
    lines = [_ANSI.sub("", line).strip() for line in output.splitlines()]
    npm = [line.split(" ", 2)[-1].strip() if line.startswith("npm ERR!") else line.removeprefix("npm error").strip()
           for line in lines if line.startswith(("npm error", "npm ERR!"))]
    telling = [line for line in npm if line and not _NPM_NOISE.match(line)]
    return (telling or [line for line in lines if line] or ["no output"])[0 if telling else -1][:300]


def install(package: str, progress: Progress, root: Path | None = None) -> Path:
    """The generator ``package`` (a directory of this package) installed with ``npm ci``; its directory.

    Installed per lock file content, into a staging directory renamed into place when complete,
    so a changed pin installs afresh and an interrupted install is never taken for a done one.
    """
    source = PACKAGES / package
    digest = hashlib.sha256((source / "package.json").read_bytes() + (source / "package-lock.json").read_bytes()).hexdigest()[:12]
    base = (root or cache_root()) / "report"
    target = base / f"{package}-{digest}"
    if target.is_dir():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise GeneratorError("npm is not on PATH (install Node.js and npm)")
    with exclusive(base / f"{package}.lock", f"installing {package}", progress):
        if target.is_dir():
            return target
        staging = base / f"{package}-{digest}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(source / name, staging / name)
        progress(f"installing {package} with npm ci into {target} (once)")
        try:
            done = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                                  cwd=staging, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            shutil.rmtree(staging, ignore_errors=True)
            raise GeneratorError(f"npm ci did not finish in {INSTALL_TIMEOUT:.0f}s") from None
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise GeneratorError(f"npm ci failed: {_last_error(done.stderr + done.stdout)}")
        os.rename(staging, target)
    return target


def _run(command: list[str], cwd: Path, what: str) -> None:
    # Allure 2 honours this; Allure 3 does not, so offline.neutralise removes analytics anyway.
    env = {**os.environ, "ALLURE_NO_ANALYTICS": "true"}
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=GENERATE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise GeneratorError(f"{what} did not finish in {GENERATE_TIMEOUT:.0f}s") from None
    if done.returncode != 0:
        raise GeneratorError(f"{what} failed: {_last_error(done.stderr + done.stdout)}")


def _version(tool: Path, package: str) -> str:
    return str(json.loads((tool / "node_modules" / package / "package.json").read_text())["version"])


class Generator(Protocol):
    name: str

    def generate(self, results: list[Path], work: Path, allure_history: Path, progress: Progress) -> tuple[Path, str]:
        """Make the single-file page from ``results`` inside ``work``; its path and the generator's version."""
        ...


class Allure3:
    """Allure 3's Awesome report as one file, grouped by claim, with Allure's own history."""

    name = "Allure 3"

    def generate(self, results: list[Path], work: Path, allure_history: Path, progress: Progress) -> tuple[Path, str]:
        tool = install("allure3", progress)
        config = {
            "name": "podlife", "output": str(work / "allure3"), "historyPath": str(allure_history),
            "plugins": {"awesome": {"options": {"singleFile": True, "reportName": "podlife", "reportLanguage": "en",
                                                "groupBy": GROUP_BY}}},
        }
        (work / "allurerc.json").write_text(json.dumps(config, indent=2))
        _run([str(tool / "node_modules" / ".bin" / "allure"), "generate", "--config", str(work / "allurerc.json"),
              "--history-limit", str(ALLURE_HISTORY_RUNS), *map(str, results)], work, "allure generate (Allure 3)")
        return work / "allure3" / "index.html", _version(tool, "allure")


class Allure2:
    """The Allure 2 command line's single-file report; it keeps no history in this form."""

    name = "Allure 2"

    def generate(self, results: list[Path], work: Path, allure_history: Path, progress: Progress) -> tuple[Path, str]:
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise GeneratorError("it needs Java, and java is not on PATH")
        tool = install("allure2", progress)
        _run([str(tool / "node_modules" / ".bin" / "allure"), "generate", "--single-file", "--clean", "-o",
              str(work / "allure2"), *map(str, results)], work, "allure generate (Allure 2)")
        return work / "allure2" / "index.html", _version(tool, "allure-commandline")


GENERATORS: tuple[Generator, ...] = (Allure3(), Allure2())


def properties(pairs: list[tuple[str, str]]) -> str:
    """Java properties text (Allure's ``environment.properties``): ASCII, escapes as the format needs."""
    def escape(text: str, key: bool) -> str:
        out = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
        if key:
            out = "".join("\\" + c if c in "=: #!" else c for c in out)
        elif out.startswith(" "):
            out = "\\" + out
        return "".join(c if ord(c) < 128 else f"\\u{ord(c):04x}" for c in out)

    return "".join(f"{escape(k, True)}={escape(v, False)}\n" for k, v in pairs)


@dataclass(frozen=True)
class Built:
    """What ``podlife report`` made, for its closing lines."""

    index: Path
    claims: Path
    generator: str  # e.g. "Allure 3 3.18.0"
    seconds: float
    refused: list[str]  # generators tried before, with why they could not run
    references: list[offline.Reference]
    history: Path
    runs: int
    recorded: bool  # False: this run was already in the history
    unreadable: int  # history lines skipped
    catalog: Path | None  # the claim catalog read, None when there was none
    left_out: int  # results of tests of no claim and no workload (podlife's own), not in the page


def build(results: Path, summary_path: Path, out: Path, history_path: Path, catalog_path: Path,
          progress: Progress, generators: tuple[Generator, ...] | None = None) -> Built:
    """Make ``index.html`` and ``claims.html`` in ``out`` and add the run to the history; all or nothing.

    ``generators`` are tried in turn (default: Allure 3, then Allure 2). A file that cannot be
    read or written (a history in a directory without write access, say) is one line too.
    """
    try:
        return _build(results.absolute(), summary_path, out.absolute(), history_path, catalog_path, progress,
                      GENERATORS if generators is None else generators)
    except OSError as err:
        raise PodlifeError(f"{err.filename or 'report'}: {err.strerror or err}") from None


def _build(results: Path, summary_path: Path, out: Path, history_path: Path, catalog_path: Path,
           progress: Progress, generators: tuple[Generator, ...]) -> Built:
    if not results.is_dir():
        raise PodlifeError(f"{results}: no Allure results directory (pytest writes one with --alluredir; run the suite first)")
    if not any(results.glob("*-result.json")):
        raise PodlifeError(f"{results} holds no test results (*-result.json)")
    summary = load_summary(summary_path)
    if not isinstance(summary.get("workloads", {}), dict) or not all(
            isinstance(c, dict) and isinstance(c.get("tests"), list) for c in summary["claims"].values()):
        raise PodlifeError(f"{summary_path} is not a run summary: its claims have no tests")
    claims = catalog.load(catalog_path)
    past = history.load(history_path)
    at = datetime.fromtimestamp(summary_path.stat().st_mtime, timezone.utc)
    run = history.entry(summary, history.run_key(json.dumps(summary, sort_keys=True)), at)
    runs, recorded = history.with_run(past, run)
    allure_history = history_path.with_name(history_path.stem + ".allure.jsonl")

    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".podlife-report-", dir=out))
    try:
        selected = selection.select(results, set(summary["claims"]), staging / "allure-results")
        if not selected.shown:
            raise PodlifeError(f"{results} holds no results of the claims or workloads in {summary_path} "
                               f"(only {selected.left_out} of tests of no claim and no workload, such as podlife's own)")
        extra = staging / "podlife-results"
        extra.mkdir()
        (extra / "environment.properties").write_text(properties(matrix.environment(summary.get("cluster"))))
        (staging / "claims.html").write_text(page.render(summary, claims, catalog_path, runs, run), encoding="utf-8")
        staged_history = staging / "allure-history.jsonl"
        if allure_history.exists():
            shutil.copyfile(allure_history, staged_history)
        refused: list[str] = []
        for generator in generators:
            started = time.monotonic()
            try:
                generated, version = generator.generate([selected.directory, extra], staging, staged_history, progress)
                if not generated.is_file():
                    raise GeneratorError(f"it wrote no {generated.relative_to(staging)}")
                break
            except GeneratorError as err:
                refused.append(f"{generator.name}: {err}")
                progress(f"{generator.name} could not make the report: {err}")
        else:
            raise PodlifeError("no report generator could run: " + "; ".join(refused))
        seconds = time.monotonic() - started
        page_html = offline.neutralise(generated.read_text(encoding="utf-8"), BANNER)
        (staging / "index.html").write_text(page_html, encoding="utf-8")
        if recorded:
            history.append(history_path, run)
            if staged_history.exists():
                _replace(staged_history, allure_history)
        for name in ("index.html", "claims.html"):
            os.replace(staging / name, out / name)
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Built(out / "index.html", out / "claims.html", f"{generator.name} {version}", seconds, refused,
                 offline.references(page_html), history_path, len(runs), recorded, past.unreadable,
                 catalog_path if claims else None, selected.left_out)


def _replace(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` atomically (through a file beside the target)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.copyfile(source, partial)
    os.replace(partial, target)
