"""Traffic sent from a pod inside the cluster, its ledger streamed back while it runs.

For clusters whose Services cannot be reached from where the tests run (a CI runner outside
the cluster, NodePorts firewalled), the requests leave from a pod, through the Service's real
in-cluster data path. The pod runs the reference agnhost image, which every cluster can pull
(or ``--image-repo`` mirrors), so podlife needs no image of its own in any registry.

Where the harness can build the traffic engine (a Go toolchain on the runner: see ``engine``),
it copies the static binary for the node's architecture into the pod over exec (``InPod``), runs
it there over a second exec and reads its lines from that stream as they are written: thousands
of requests a second from one pod. Times come from the node's clock; the engine's conversation
measures its offset from the harness's clock (zero on the local cluster, whose nodes share the
host's), and the ledger is put on the harness's clock.

Without a toolchain, ``InClusterTraffic`` runs a shell schedule: bash schedules request ``i`` at
``start + i / rate`` and starts a ``curl`` for it in the background, and the harness follows the
pods' logs. Each request costs a forked subshell and a curl: on a 2-core machine the pod-kill
scenarios (25 req/s) run, while the rollout scenarios (100 req/s) under ``-n 2`` overload the
node and come out inconclusive.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any, Protocol

from kubernetes import client
from kubernetes.utils import parse_quantity

from podlife.access import Target
from podlife.errors import HarnessError, RateTooHigh
from podlife.kernel.defaults import TRAFFIC_POD_PREFIX
from podlife.kernel.images import AGNHOST
from podlife.kube import exec_session, exit_code, running_pod, unread
from podlife.observe.clock import now
from podlife.observe.engine import BINARY, EngineTraffic, engine_binary, go_arch, no_kept_alive_clients
from podlife.observe.traffic import Ledger, Request
from podlife.served import name_of
from podlife.waiting import wait_for

#: Each traffic pod's CPU request. Without one the pods are BestEffort, whose cgroup weighs 2
#: against roughly 1024 per requested core: whenever a pod with a request is busy, the schedule
#: stalls (a request sent 0.9 s late in a CI run with two workers).
CPU_REQUEST = "100m"
#: Files the harness creates in each traffic pod over exec: the shared start instant (microseconds
#: since the epoch), then the order to stop scheduling and wait for requests in flight.
START_FILE, STOP_FILE = "/tmp/podlife-start", "/tmp/podlife-stop"
#: Pods the schedule is dealt over: pod ``k`` sends requests ``k, k + LANES, ...``. A bash loop
#: forks for every request, so one pod alone falls behind at 100 req/s on a busy 2-core node.
LANES = 4

SCHEDULE = r"""
rate=$1 lanes=$2 lane=$3 count=$4 timeout=$5 url=$6 start_file=$7 stop_file=$8 naming=$9
[[ $naming == header:* ]] && name_format="%header{${naming#header:}}" || name_format=
exec {idle}<> <(:)  # read -t on this never-ready fd sleeps without forking a sleep
until [[ -s $start_file ]]; do read -t 0.05 -u $idle; done
start=$(<"$start_file")
send() {
  local sent=${EPOCHREALTIME/./} out code name
  out=$(curl -s -m "$timeout" -H 'Connection: close' \
        -w "\n%{http_code} %{local_ip}:%{local_port} $name_format" "$url" 2>/dev/null); code=$?
  if [[ $naming == body ]]; then name=${out%$'\n'*}; name=${name//[[:space:]]/}; fi
  echo "R $1 $2 $sent ${EPOCHREALTIME/./} $code ${out##*$'\n'}${name:0:253}"
}
for ((i = lane; i < count; i += lanes)); do
  [[ -e $stop_file ]] && break
  due=$((start + i * 1000000 / rate))
  left=$((due - ${EPOCHREALTIME/./}))
  printf -v fraction %06d $((left % 1000000))
  ((left > 0)) && read -t "$((left / 1000000)).$fraction" -u $idle
  send "$i" "$due" &
done
wait
echo END
"""

#: curl's exit codes, in the words the host generator's ledger uses.
CURL_ERRORS = {7: "Connection refused", 28: "timed out", 56: "Connection reset", 52: "RemoteDisconnected",
               6: "could not resolve host"}


#: How far ahead of the last exec the shared start lies: the four execs that hand it out take
#: well under a second; a pod that got it late would start behind its schedule, which shows.
START_LEAD = 1.0


def parse_line(line: str, expect: int = 200) -> Request | None:
    """One request of the schedule from its log line (times in microseconds); None for other lines.

    The line is ``R seq due sent finished curl-exit http-status local-ip:port [pod name]``.
    """
    parts = line.rstrip("\n").split(" ", 8)
    if len(parts) < 8 or parts[0] != "R":
        return None
    seq, due, sent, finished, code = (int(p) for p in parts[1:6])
    status = int(parts[6]) if code == 0 and parts[6].isdigit() and parts[6] != "000" else None
    source = parts[7] if not parts[7].endswith(":0") else None
    name = parts[8].strip() if len(parts) > 8 else ""
    error = None if code == 0 else CURL_ERRORS.get(code, f"curl exit {code}")
    return Request(seq, due / 1e6, sent / 1e6, (finished - sent) / 1e6, status, error,
                   name if status == expect and name else None, source, expect)


def traffic_pod(name: str, command: list[str], resources: dict[str, Any]) -> dict[str, Any]:
    """A traffic pod of the reference agnhost image running ``command``: never restarted, deleted at once."""
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "podlife-traffic"}},
        "spec": {
            "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "traffic", "image": AGNHOST, "command": command, "resources": resources}],
        },
    }


class Route(Protocol):
    """How the traffic pods reach the cluster: through the test's scene, like every object a test creates.

    So the pods get the run's reference images (``--image-repo``) and the test's labels, and the
    report shows what was applied.
    """

    @property
    def api(self) -> client.ApiClient: ...

    @property
    def namespace(self) -> str: ...

    def apply(self, *manifests: dict[str, Any], source: str = ...) -> None: ...

    def exec(self, pod: str, command: list[str], container: str | None = None, stdin: bytes | None = None) -> str: ...

    def delete_pod(self, name: str, grace_period: int | None = None) -> None: ...


class InClusterTraffic:
    """The same interface as ``traffic.Traffic``, with the requests sent from ``LANES`` pods in the route's namespace."""

    def __init__(self, route: Route, target: Target, rate: float = 20.0, timeout: float = 2.0,
                 limit: int = 100_000) -> None:
        self.route, self.api, self.namespace = route, route.api, route.namespace
        self.url, self.rate = target.url, rate
        self.timeout, self.limit, self.expect, self.naming = timeout, limit, target.expect, target.naming
        self.ledger = Ledger(target.url, rate)
        run = uuid.uuid4().hex[:6]
        self.pods = [f"{TRAFFIC_POD_PREFIX}{run}-{lane}" for lane in range(LANES)]
        self._readers = [threading.Thread(target=self._read, args=(pod,), daemon=True, name=pod) for pod in self.pods]
        self._ended = {pod: threading.Event() for pod in self.pods}

    def manifest(self, lane: int) -> dict[str, Any]:
        args = [str(int(self.rate)), str(LANES), str(lane), str(self.limit), str(self.timeout), self.url, START_FILE, STOP_FILE,
                self.naming.argument]
        return traffic_pod(self.pods[lane], ["bash", "-c", SCHEDULE, "schedule", *args], {"requests": {"cpu": CPU_REQUEST}})

    def __enter__(self) -> "InClusterTraffic":
        self.route.apply(*(self.manifest(lane) for lane in range(LANES)), source="in-cluster traffic")
        for pod in self.pods:
            wait_for(lambda: running_pod(self.api, self.namespace, pod), 120, f"the traffic pod {pod} to run")
        for reader in self._readers:
            reader.start()
        start = int((now() + START_LEAD) * 1e6)
        for pod in self.pods:
            self.route.exec(pod, ["sh", "-c", f"echo {start} > {START_FILE}"])
        # The block's disruption must not begin before the traffic does.
        wait_for(lambda: self.ledger.requests, START_LEAD + self.timeout + 30, "the traffic pods' first request")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> Ledger:
        """Stop scheduling, let requests in flight finish, and return the complete ledger."""
        for pod in self.pods:
            if not self._ended[pod].is_set():
                self.route.exec(pod, ["touch", STOP_FILE])
        for pod, reader in zip(self.pods, self._readers):
            self._ended[pod].wait(self.timeout + 30)
            reader.join(timeout=5)
        for pod in self.pods:
            self.route.delete_pod(pod, grace_period=0)
        self.ledger.requests.sort(key=lambda r: r.seq)
        return self.ledger

    def _read(self, pod: str) -> None:
        stream = unread(client.CoreV1Api(self.api).read_namespaced_pod_log(pod, self.namespace, follow=True,
                                                                           _preload_content=False))
        pending = ""
        try:
            for raw in stream.stream():
                *lines, pending = (pending + raw.decode(errors="replace")).split("\n")
                for line in lines:
                    if line == "END":
                        return
                    record = parse_line(line, self.expect)
                    if record:
                        self.ledger.requests.append(record)
        finally:
            self._ended[pod].set()
            stream.release_conn()


#: Where the engine pod keeps the binary: an emptyDir, so an image with a read-only or noexec
#: ``/tmp`` still runs it.
ENGINE_DIR = "/podlife"
#: The engine pod's CPU request: ``ENGINE_CPU_BASE`` cores (the runtime's own, whatever the rate)
#: and ``ENGINE_CPU_PER_REQUEST`` seconds per request a second it sends (what one request on a new
#: connection costs the engine and its pod's share of the kernel: connect, NAT, close), at least
#: ``ENGINE_CPU_MIN``. Measured here (2026-12-04) with the request as a limit too, the event-loop
#: engine: 500 req/s held with 140m (worst send lag 20-28 ms), 1,000 with 230m (5-18 ms), 2,000 with
#: 410m (3 ms); at 180 us a request alone, 500 req/s lagged 62-68 ms in 100m, using all of it, so
#: the base. The least, 100m: the quota's share of each 100 ms period must leave room for a burst.
#: ``bench/traffic.py`` climbs rates at exactly this request.
ENGINE_CPU_BASE = 0.05
ENGINE_CPU_PER_REQUEST = 0.00018
ENGINE_CPU_MIN = 0.1


def engine_cpu(rate: float) -> str:
    """The engine pod's CPU request for ``rate`` requests a second, in millicores."""
    return f"{round(max(ENGINE_CPU_BASE + rate * ENGINE_CPU_PER_REQUEST, ENGINE_CPU_MIN) * 1000)}m"


class PodExec:
    """The engine running in a pod, talking over the exec stream (the engine's ``Conversation``)."""

    def __init__(self, api: client.ApiClient, namespace: str, pod: str, command: list[str]) -> None:
        self.where = f"{namespace}/{pod}"
        self.session = exec_session(api, namespace, pod, command, stdin=True)

    def send(self, line: str) -> None:
        if self.session.is_open():
            self.session.write_stdin(line + "\n")

    def lines(self) -> Iterator[str]:
        pending = ""
        while True:
            running = self.session.is_open()
            if running:
                self.session.update(timeout=1)
            chunk = self.session.read_stdout(timeout=0)
            if chunk:
                *complete, pending = (pending + chunk).split("\n")
                yield from complete
            elif not running:
                break
        if pending:
            yield pending

    def wait(self) -> None:
        code = exit_code(self.session)
        said = (self.session.read_stderr(timeout=0) or "").strip()
        self.session.close()
        if code != 0:
            raise HarnessError(f"the traffic engine in {self.where} failed ({code}): {said[:300] or 'no word from it'}")


class InPod:
    """A pod of the reference agnhost image in the route's namespace, with the engine copied in and run there (the engine's ``Place``)."""

    def __init__(self, route: Route, rate: float, capped: bool = False) -> None:
        self.route = route
        self.name = f"{TRAFFIC_POD_PREFIX}{uuid.uuid4().hex[:6]}"
        self.cpu = engine_cpu(rate)
        #: The request is the limit too, so the pod can use no more (the bench's proof that the rate
        #: holds at the request); scenarios leave it unlimited, as a throttled period shows as send lag.
        self.capped = capped
        #: The node it runs on, once started: its rules route the engine's requests.
        self.node: str | None = None

    def manifest(self) -> dict[str, Any]:
        pod = traffic_pod(self.name, ["/agnhost", "pause"],
                          {"requests": {"cpu": self.cpu}, **({"limits": {"cpu": self.cpu}} if self.capped else {})})
        pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "engine", "mountPath": ENGINE_DIR}]
        pod["spec"]["volumes"] = [{"name": "engine", "emptyDir": {}}]
        return pod

    def check_rate(self, rate: float, keepalive: int) -> None:
        """A pod requesting more CPU than any node allocates would never be scheduled: say so before creating it.
        Where nodes cannot be listed (namespace-scoped credentials), the pod's scheduling is the check."""
        try:
            nodes = client.CoreV1Api(self.route.api).list_node().items
        except client.ApiException:
            return
        allocatable = {name_of(n): parse_quantity(n.status.allocatable["cpu"]) for n in nodes
                       if n.spec and not n.spec.unschedulable and n.status and n.status.allocatable}
        if not allocatable:
            return
        largest = max(allocatable, key=lambda name: allocatable[name])
        if parse_quantity(self.cpu) > allocatable[largest]:
            raise RateTooHigh(f"{rate:g} requests a second need an engine pod requesting {self.cpu} of CPU "
                              f"({ENGINE_CPU_BASE * 1000:.0f}m and {ENGINE_CPU_PER_REQUEST * 1e6:.0f} us a request), "
                              f"more than any node allocates (the "
                              f"largest, {largest}, {allocatable[largest]} cores): lower the rate")

    def start(self, arguments: list[str]) -> PodExec:
        route = self.route
        route.apply(self.manifest(), source="in-cluster traffic")
        running = wait_for(lambda: running_pod(route.api, route.namespace, self.name), 120, f"the traffic pod {self.name} to run")
        self.node = running.spec.node_name if running.spec else None
        arch = go_arch(route.exec(self.name, ["uname", "-m"]))
        binary = engine_binary(arch)
        if binary is None:
            raise HarnessError(f"the traffic engine for {arch} needs a Go toolchain to be built on this machine")
        path = f"{ENGINE_DIR}/{BINARY}"
        data = binary.read_bytes()
        # head -c ends the copy: the stream has no end of input on API servers older than v5 of its protocol.
        route.exec(self.name, ["sh", "-c", f'head -c {len(data)} > "$0.part" && chmod 755 "$0.part" && mv "$0.part" "$0"', path],
                   stdin=data)
        return PodExec(route.api, route.namespace, self.name, [path, *arguments])

    def close(self) -> None:
        self.route.delete_pod(self.name, grace_period=0)


def cluster_traffic(route: Route, target: Target, rate: float, keepalive: int = 0) -> "EngineTraffic | InClusterTraffic":
    """The generator for traffic sent from a pod: the engine where it can be built, else the shell schedule."""
    if engine_binary() is None:
        return InClusterTraffic(route, target, rate=rate) if not keepalive else no_kept_alive_clients()
    return EngineTraffic(target, rate=rate, keepalive=keepalive, place=InPod(route, rate))
