"""The ``podlife`` command: manage the embedded local cluster, load images into clusters, clean up.

Every failure a user can cause or meet (no root, a component that will not start, a bad
option) ends with one ``podlife: error: ...`` line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from podlife.cluster.providers import node_count
from podlife.errors import HarnessError, PodlifeError
from podlife.observe.clock import now
from podlife.signals import sigterm_unwinds

if TYPE_CHECKING:
    from podlife.observe.traffic import Ledger


def parse_dotted(assignments: list[str]) -> dict[str, Any]:
    """Turn ``a.b=VALUE`` items into nested mappings; VALUE is read as YAML (``60s``, ``true``, ``3``)."""
    result: dict[str, Any] = {}
    for item in assignments:
        path, sep, raw = item.partition("=")
        if not sep or not path:
            raise PodlifeError(f"expected KEY.PATH=VALUE, got {item!r}")
        *parents, leaf = path.split(".")
        if not all(parents) or not leaf:
            raise PodlifeError(f"expected KEY.PATH=VALUE with non-empty keys, got {item!r}")
        node = result
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise PodlifeError(f"{item!r} sets a field below {key!r}, which another value already sets")
        try:
            node[leaf] = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise PodlifeError(f"cannot read the value of {item!r}: {str(err).splitlines()[0]}") from None
    return result


def parse_extra_args(items: list[str]) -> dict[str, list[str]]:
    """``kubelet=--v=4`` -> {"kubelet": ["--v=4"]}, repeatable per component."""
    result: dict[str, list[str]] = {}
    for item in items:
        component, sep, arg = item.partition("=")
        if not sep or not arg.startswith("-"):
            raise PodlifeError(f"expected COMPONENT=--flag[=value], got {item!r}")
        result.setdefault(component, []).append(arg)
    return result


def _cluster_up(args: argparse.Namespace) -> int:
    from podlife.cluster.local.build import resolve_version
    from podlife.cluster.local.components import Settings
    from podlife.cluster.local.provider import LocalCluster

    settings = Settings(
        version=resolve_version(args.version),
        nodes=node_count(args.nodes),
        feature_gates=args.feature_gates,
        extra_args=parse_extra_args(args.extra_arg),
        kubelet_config=parse_dotted(args.kubelet_config),
    )
    result = LocalCluster().up(settings)
    if result.already_running:
        print(f"[podlife] local cluster v{result.version} is already up", file=sys.stderr)
    print(result.kubeconfig)
    return 0


def _cluster_upgrade(args: argparse.Namespace) -> int:
    """Upgrade the running local cluster in place, keeping its pods (see ``LocalCluster.upgrade``)."""
    from podlife.cluster.local.build import resolve_version
    from podlife.cluster.local.provider import LocalCluster

    result = LocalCluster().upgrade(resolve_version(args.version))
    print(f"[podlife] upgraded v{result.from_version} -> v{result.to_version} in {result.seconds:.1f}s "
          f"(per component: {result.restarts_s})", file=sys.stderr)
    return 0


def _cluster_down(args: argparse.Namespace) -> int:
    from podlife.cluster.local.provider import LocalCluster

    leftovers = LocalCluster().down(force=args.force)
    if leftovers:
        raise PodlifeError(f"down left {len(leftovers)} things behind: {', '.join(leftovers)}")
    print("[podlife] local cluster is down", file=sys.stderr)
    return 0


def _cluster_status(args: argparse.Namespace) -> int:
    from podlife.cluster.local.provider import LocalCluster

    status = LocalCluster().status()
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(f"local cluster: {'up' if status['up'] else 'down'}" + (f" (v{status['version']})" if status["version"] else ""))
        for name, pid in status["components"].items():
            print(f"  {name:<24} {'running, pid ' + str(pid) if pid else 'not running'}")
        if status["kubeconfig"]:
            print(f"kubeconfig: {status['kubeconfig']}")
        print(f"state and logs: {status['state_dir']}")
    return 0 if status["up"] else 3


def _cluster_kubeconfig(args: argparse.Namespace) -> int:
    from podlife.cluster.local.provider import LocalCluster

    cluster = LocalCluster()
    if not cluster.is_up():
        raise PodlifeError("the local cluster is not up; run `podlife cluster up`")
    print(cluster.layout.kubeconfig)
    return 0


def _clean(args: argparse.Namespace) -> int:
    """Delete what killed runs left: namespaces carrying the harness's run label, nothing else."""
    from kubernetes import client

    from podlife.cluster.base import RUN_LABEL, describe
    from podlife.cluster.local.provider import LocalCluster
    from podlife.kernel.defaults import TEST_LABEL
    from podlife.namespaces import SharedNamespace, delete_labelled

    kubeconfig = Path(args.kubeconfig) if args.kubeconfig else LocalCluster().layout.kubeconfig
    if args.namespace:
        handle = describe("existing", kubeconfig, args.context, (args.namespace,))
        SharedNamespace(handle.api_client(), args.namespace).clear(None)
        print(f"[podlife] no object labelled {TEST_LABEL} left in {args.namespace}", file=sys.stderr)
        return 0
    handle = describe("existing", kubeconfig, args.context)
    left = delete_labelled(client.CoreV1Api(handle.api_client()), RUN_LABEL, wait=True)
    if left:
        raise PodlifeError(f"namespaces still terminating: {', '.join(left)}")
    print("[podlife] no labelled namespaces left", file=sys.stderr)
    return 0


def _image_load(args: argparse.Namespace) -> int:
    """Load image archives into the local cluster (default) or the kind cluster ``--kind`` names."""
    from podlife.cluster.image_load import archive_images, load_into_kind, load_into_local
    from podlife.cluster.kind import kind_binary
    from podlife.cluster.local.components import REGISTRY_ADDRESS
    from podlife.cluster.local.provider import LocalCluster

    archives = [Path(a) for a in args.archive]
    for archive in archives:  # every archive is checked before any is loaded
        archive_images(archive)
    if args.kind:
        binary = kind_binary(Path(args.kind_bin) if args.kind_bin else None)
        loaded = [name for a in archives for name in load_into_kind(a, binary, args.kind)]
    else:
        cluster = LocalCluster()
        if not cluster.is_up():
            raise PodlifeError("the local cluster is not up; run `podlife cluster up` (or name a kind cluster with --kind)")
        loaded = [name for a in archives for name in load_into_local(a, cluster.ctr_commands(), REGISTRY_ADDRESS)]
    print(f"[podlife] loaded {', '.join(loaded)}", file=sys.stderr)
    return 0


def _compare(args: argparse.Namespace) -> int:
    """Print what changed between two runs; exit 1 on a regression (a check that passed and now fails), 2 on bad input."""
    from podlife.report.compare import compare, load, render, save

    base, new = Path(args.base), Path(args.new)
    try:
        rows = compare(load(base), load(new))
    except PodlifeError as err:
        print(f"podlife: error: {err}", file=sys.stderr)
        return 2
    print(json.dumps([r.to_dict() for r in rows], indent=2) if args.json else render(rows, str(base), str(new)))
    out = Path(args.out) if args.out else (new if new.is_dir() else None)
    if out is not None:
        for written in save(rows, str(base), str(new), out):
            print(f"[podlife] wrote {written}", file=sys.stderr)
    return 1 if any(r.regression for r in rows) else 0


def _report(args: argparse.Namespace) -> int:
    """Make the run's HTML report (Allure's page and the claims matrix) and add the run to the history."""
    from podlife.report import catalog, history
    from podlife.report.offline import describe, tally
    from podlife.report.site import build

    results = Path(args.results)
    out = Path(args.out) if args.out else results.parent
    with catalog.packaged() as shipped:
        claims = Path(args.claims) if args.claims else shipped
        built = build(results, Path(args.summary) if args.summary else results.parent / "summary.json", out,
                      Path(args.history) if args.history else history.default_path(), claims,
                      lambda line: print(f"[podlife] {line}", file=sys.stderr, flush=True))
    print(f"[podlife] {built.generator} made {built.index} in {built.seconds:.1f}s"
          + (f" (instead of {'; '.join(built.refused)})" if built.refused else ""))
    if built.left_out:
        junit = results.parent / "junit.xml"  # where pytest's addopts write it, beside the Allure results
        print(f"[podlife] left out of the page: {built.left_out} test(s) of no claim and no workload (podlife's own "
              f"tests); their results are in {junit if junit.is_file() else results}")
    print(f"[podlife] claims matrix and trends: {built.claims}" + ("" if built.catalog else
          f" (no claim catalog at {claims}: only the claims the run tested, give it with --claims)"))
    state = "added" if built.recorded else "already there, not added again"
    skipped = f"; {built.unreadable} unreadable line(s) skipped" if built.unreadable else ""
    print(f"[podlife] history: {built.runs} run(s) in {built.history} (this run {state}{skipped})")
    print("[podlife] offline: the page may load data: and blob: URLs only (Content-Security-Policy), analytics removed; "
          + tally(built.references) + ("" if args.list_urls else " (--list-urls lists them)"))
    if args.list_urls:
        for line in describe(built.references):
            print(f"[podlife]   {line}")
    return 0


def _upgrade_check(args: argparse.Namespace) -> int:
    """Run the profile on two versions of the local cluster and compare the runs."""
    from podlife.cluster.local.progress import default_progress
    from podlife.report.upgrade_check import upgrade_check

    return upgrade_check(args.from_version, args.to_version, args.pytest_args, Path(args.out), default_progress)


def _e2e(args: argparse.Namespace) -> int:
    """Run the upstream e2e suite's lifecycle subset against the running local cluster; exit 1 on a failed spec."""
    from podlife.cluster.local.e2e import run_suite
    from podlife.cluster.local.progress import default_progress
    from podlife.cluster.local.provider import LocalCluster

    cluster = LocalCluster()
    record = cluster.recorded()
    if record is None or not cluster.is_up():
        raise PodlifeError("the local cluster is not up; run `podlife cluster up` first")
    cluster.leases.hold()  # `podlife cluster down` refuses while the suite runs
    try:
        run = run_suite(record["version"], cluster.layout.kubeconfig, Path(args.report_dir), default_progress,
                        args.focus, args.skip, args.serial)
    finally:
        cluster.leases.release()
    for spec in run.failed:
        print(f"FAILED  {spec.name}\n        {spec.failure}")
    built = "cached" if run.build_seconds is None else f"compiled in {run.build_seconds:.0f}s"
    print(f"e2e lifecycle subset on v{record['version']}: {len(run.counted('passed'))} passed, {len(run.failed)} failed, "
          f"{len(run.counted('skipped'))} skipped; run {run.run_seconds:.0f}s, suite {built}; report in {args.report_dir}")
    return 1 if run.failed else 0


def _traffic(args: argparse.Namespace) -> int:
    """Send traffic from this host through the engine, every request recorded, the ledger written as it arrives."""
    from podlife.access import PodNaming, Target
    from podlife.observe.engine import EngineTraffic, answer_time, check_kept_alive_rate, engine_binary
    from podlife.report.ledger_csv import LedgerFile

    parts = urlsplit(args.url)
    if parts.scheme != "http" or not parts.hostname:
        raise PodlifeError(f"not a plain http URL: {args.url!r} (http://HOST[:PORT]/PATH)")
    if args.rate <= 0 or args.seconds <= 0 or args.keepalive < 0 or args.timeout <= 0:
        raise PodlifeError("--rate, --seconds and --timeout must be above 0, --keepalive 0 or more")
    target = Target(args.url, expect=args.expect, naming=PodNaming(body=args.pod_in_body, header=args.pod_header))
    ledger_file = LedgerFile(Path(args.ledger)) if args.ledger else None
    try:
        answer = answer_time(target, args.timeout)
        check_kept_alive_rate(args.rate, args.keepalive, answer)
        if engine_binary() is None:
            raise PodlifeError("the traffic engine needs a Go toolchain on this machine to be built")
        traffic = EngineTraffic(target, rate=args.rate, timeout=args.timeout, limit=math.ceil(args.rate * args.seconds),
                                max_seconds=args.seconds, keepalive=args.keepalive,
                                sink=ledger_file.write if ledger_file else None)
        connections = f"{args.keepalive} kept-alive clients" if args.keepalive else "a new connection per request"
        with traffic:
            print(f"{args.url} at {args.rate:g} req/s for {args.seconds:g}s, {connections}; it answered in "
                  f"{answer * 1000:.1f} ms", flush=True)
            started, interrupted = now(), False
            try:
                while traffic.running(1.0):
                    print(traffic_progress(traffic.ledger, now() - started), flush=True)
            except KeyboardInterrupt:
                print("interrupted: stopping, keeping what was sent", file=sys.stderr)
                interrupted = True
        ledger = traffic.ledger
    except BaseException:
        if ledger_file is not None:
            ledger_file.discard()
        raise
    if ledger_file is not None:
        ledger_file.keep()
    print(traffic_summary(ledger))
    if ledger_file is not None:
        print(f"ledger: {ledger_file.path} ({ledger_file.written} rows)")
    ledger.check_usable()  # a generator that fell behind: the ledger is kept, the run is said to be unusable
    return 130 if interrupted else 0


def traffic_progress(ledger: "Ledger", elapsed: float) -> str:
    from podlife.observe.traffic import Ledger

    sofar = Ledger(ledger.target, ledger.rate, ledger.requests[:], keepalive=ledger.keepalive)  # the reader appends meanwhile
    return (f"  {elapsed:4.0f}s: {sofar.sent_count:,} sent, {len(sofar.failures):,} failed, at most "
            f"{sofar.max_send_lag() * 1000:.0f} ms behind the schedule{pool_wait(sofar, 0)}")


def pool_wait(ledger: "Ledger", decimals: int) -> str:
    """How long requests waited for a free kept-alive client, where clients were kept; with a new connection
    each, for one of the connections the engine keeps open at most to close, where any did."""
    waited = ledger.max_pool_wait()
    if not ledger.keepalive and not waited:
        return ""
    what = "a free client" if ledger.keepalive else "a free connection slot (the engine bounds its open connections)"
    return f", waited at most {waited * 1000:.{decimals}f} ms for {what}"


def traffic_summary(ledger: "Ledger") -> str:
    """What a run did, in a few lines: counts, latency, lag, the engine's CPU, and who answered."""
    latencies = sorted(r.latency for r in ledger.requests if r.ok)

    def at(share: float) -> str:
        return f"{latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000:.1f} ms" if latencies else "-"

    cpu = f"; engine CPU {ledger.cpu_per_request * 1e6:.0f} us a request" if ledger.cpu_per_request is not None else ""
    lines = [f"{ledger.sent_count:,} requests, {len(ledger.failures):,} failed (success ratio {ledger.success_ratio:.5f})"
             + (f", {len(ledger.retried):,} sent again after their kept connection was cut off" if ledger.retried else ""),
             f"latency of answered requests: p50 {at(0.5)}, p99 {at(0.99)}, max {at(1.0)}; at most "
             f"{ledger.max_send_lag() * 1000:.1f} ms behind the schedule{pool_wait(ledger, 1)}{cpu}"]
    served = ledger.served_by()
    if served:
        lines.append("answered by: " + ", ".join(f"{pod} {n:,}" for pod, n in sorted(served.items())))
    errors = Counter(r.error or f"HTTP {r.status}" for r in ledger.failures)
    if errors:
        lines.append("failures: " + ", ".join(f"{error} x{n}" for error, n in errors.most_common()))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podlife", description="Kubernetes pod lifecycle conformance harness.")
    commands = parser.add_subparsers(dest="command", required=True)
    cluster = commands.add_parser("cluster", help="manage the embedded local cluster")
    actions = cluster.add_subparsers(dest="action", required=True)

    up = actions.add_parser("up", help="build what is missing and start the local cluster")
    up.add_argument("--version", help="Kubernetes version, e.g. 1.36 or 1.36.3 (default: see docs/local-cluster.md)")
    up.add_argument("--nodes", default="1",
                    help="how many nodes: the first beside the control plane, each other a kubelet and containerd "
                         "of its own in a network namespace (default 1)")
    up.add_argument("--feature-gates", default="", help="feature gates for every component, e.g. A=true,B=false")
    up.add_argument("--extra-arg", action="append", default=[], metavar="COMPONENT=--FLAG",
                    help="extra flag for one component (kube-apiserver, kubelet, ...); repeatable")
    up.add_argument("--kubelet-config", action="append", default=[], metavar="KEY.PATH=VALUE",
                    help="KubeletConfiguration override, e.g. crashLoopBackOff.maxContainerRestartPeriod=60s")
    up.set_defaults(func=_cluster_up)
    upgrade = actions.add_parser("upgrade", help="upgrade the running cluster in place, pods kept (control plane, "
                                                 "then kubelet and kube-proxy)")
    upgrade.add_argument("--version", required=True, help="the version to upgrade to, e.g. 1.37")
    upgrade.set_defaults(func=_cluster_upgrade)
    down = actions.add_parser("down", help="stop the local cluster and remove all it created")
    down.add_argument("--force", action="store_true", help="stop it even while test runs are attached to it")
    down.set_defaults(func=_cluster_down)
    status = actions.add_parser("status", help="show the local cluster's components")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_cluster_status)
    actions.add_parser("kubeconfig", help="print the admin kubeconfig path").set_defaults(func=_cluster_kubeconfig)
    image = commands.add_parser("image", help="get images built in CI into the cluster without a registry")
    image_actions = image.add_subparsers(dest="action", required=True)
    load = image_actions.add_parser("load", help="load image archives (docker save, or an OCI layout tar)")
    load.add_argument("archive", nargs="+")
    load.add_argument("--kind", metavar="CLUSTER", help="load into this kind cluster instead of the local cluster")
    load.add_argument("--kind-bin", help="the kind executable (default: kind on PATH)")
    load.set_defaults(func=_image_load)
    comp = commands.add_parser("compare", help="what changed between two runs (summary.json files or report directories)")
    comp.add_argument("base", help="the run before: reports/summary.json, or its report directory")
    comp.add_argument("new", help="the run after")
    comp.add_argument("--json", action="store_true", help="print the differences as JSON")
    comp.add_argument("--out", help="write compare.txt, compare.json and an Allure result here "
                                    "(default: NEW, when it is a report directory)")
    comp.set_defaults(func=_compare)
    report = commands.add_parser("report", help="the run's HTML report: Allure's page (reports/index.html), the claims "
                                                "matrix with trends across runs (reports/claims.html); works offline")
    report.add_argument("--results", default="reports/allure-results", help="the Allure results of the run")
    report.add_argument("--summary", help="the run's summary.json (default: beside the results)")
    report.add_argument("--out", help="where index.html and claims.html go (default: beside the results)")
    report.add_argument("--history", help="the history file runs are added to "
                                          "(default: $PODLIFE_CACHE/history/runs.jsonl, ~/.cache/podlife/...)")
    report.add_argument("--claims", help="the claim catalog (default: the one podlife ships, docs/claims.md)")
    report.add_argument("--list-urls", action="store_true",
                        help="list the URLs left in the page (names and links, none loaded), not only count them")
    report.set_defaults(func=_report)
    check = commands.add_parser("upgrade-check", help="run the suite on two versions of the local cluster and compare")
    check.add_argument("--from", dest="from_version", required=True, help="the version you run, e.g. 1.36")
    check.add_argument("--to", dest="to_version", required=True, help="the version you upgrade to, e.g. 1.37")
    check.add_argument("--out", default="reports/upgrade-check", help="where each run's report and the comparison go")
    check.add_argument("pytest_args", nargs=argparse.REMAINDER,
                       help="after --: the pytest profile for both runs (default: scenarios -m 'not slow')")
    check.set_defaults(func=_upgrade_check)
    e2e = commands.add_parser("e2e", help="run the upstream e2e suite's node lifecycle subset on the local cluster "
                                          "(compiled from the cluster's own Kubernetes module; opt-in, minutes)")
    e2e.add_argument("--focus", help="a ginkgo focus expression instead of the lifecycle subset")
    e2e.add_argument("--skip", help="skip these specs as well (a ginkgo expression)")
    e2e.add_argument("--serial", action="store_true",
                     help="also run the specs upstream marks [Serial] (taints, scheduling over every node), in one process")
    e2e.add_argument("--report-dir", default="reports/e2e", help="where the suite's log and reports go")
    e2e.set_defaults(func=_e2e)
    traffic = commands.add_parser("traffic", help="send HTTP traffic from this host on a fixed schedule, every request "
                                  "recorded (the scenarios' engine): --ledger writes it as CSV while it runs")
    traffic.add_argument("url", help="http://HOST[:PORT]/PATH to send GET requests to")
    traffic.add_argument("--rate", type=float, default=100.0, help="requests a second (default 100)")
    traffic.add_argument("--seconds", type=float, default=10.0, help="how long (default 10)")
    traffic.add_argument("--keepalive", type=int, default=0, metavar="N",
                         help="N clients each keeping a connection (default 0: a new connection per request)")
    traffic.add_argument("--timeout", type=float, default=2.0, help="a request's limit in seconds (default 2)")
    traffic.add_argument("--expect", type=int, default=200, help="the status a healthy answer has (default 200)")
    naming = traffic.add_mutually_exclusive_group()
    naming.add_argument("--pod-header", metavar="NAME", help="the response header that names the pod that answered")
    naming.add_argument("--pod-in-body", action="store_true", help="the answer's body is the pod's name (agnhost /hostname)")
    traffic.add_argument("--ledger", metavar="FILE", help="write every request to FILE as CSV, as it arrives")
    traffic.set_defaults(func=_traffic)
    clean = commands.add_parser("clean", help="delete what killed runs left (by the podlife labels only)")
    clean.add_argument("--kubeconfig", help="cluster to clean (default: the local cluster)")
    clean.add_argument("--context")
    clean.add_argument("--namespace", help="namespace-scoped mode: delete the objects podlife labelled in this namespace")
    clean.set_defaults(func=_clean)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with sigterm_unwinds():  # a CI job cancelled, `timeout`: builds stop their compilers
            return args.func(args)
    except (PodlifeError, HarnessError) as err:
        print(f"podlife: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("podlife: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
