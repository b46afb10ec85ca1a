"""Builders for agnhost-based workloads: Deployments, StatefulSets and Services as plain dicts.

Plain dicts (not client model objects) keep manifests readable in failure output and let
the same structure be dumped to YAML under ``fixtures/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from podlife.access import PodNaming, ServiceAccess
from podlife.kernel.images import AGNHOST

HTTP_PORT = 8080
#: netexec answers this path with the name of the pod that served it.
HOSTNAME_PATH = "/hostname"
WAIT_FOR_DEPENDENCY = "wait-for-dependency"
#: How a preStop hook can sleep: an exec of ``sleep``, or the kubelet's own sleep action.
PreStopAction = Literal["exec", "sleep"]


#: Seconds netexec's graceful shutdown (``close_connections``) waits for requests in flight.
GRACEFUL_EXIT_TIMEOUT = 10


@dataclass
class Netexec:
    """An agnhost ``netexec`` server: ``/hostname`` names the serving pod, ``/readyz`` and ``/exit`` exist too."""

    name: str
    replicas: int = 1
    labels: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    #: Seconds before the server listens: a slow-starting app (a shell sleeps, then execs netexec).
    startup_delay: float = 0
    #: Gate Service traffic on an HTTP readiness probe of ``/hostname``.
    readiness_probe: bool = False
    #: Seconds the preStop hook sleeps, delaying SIGTERM; None for no hook.
    pre_stop_sleep: float | None = None
    #: How the preStop hook sleeps: an ``exec`` of ``sleep``, or the kubelet's native ``sleep`` action.
    pre_stop_action: PreStopAction = "exec"
    #: netexec's ``--delay-shutdown``: seconds it keeps serving after SIGTERM.
    delay_shutdown: int | None = None
    grace_period: int | None = None
    #: A Service this app needs (LC-08), checked by its readiness probe (``readiness``) or
    #: waited for by an init container before it starts (``init``, the bad variant).
    depends_on: str | None = None
    dependency_check: str = "readiness"
    #: Pod-spec fields that place the pods across nodes (``placement``): affinity, spread, tolerations.
    scheduling: dict[str, Any] = field(default_factory=dict)
    #: The Service's ``publishNotReadyAddresses``: its endpoints stay ready whatever the pods' state,
    #: terminating ones too (RQ-02's negative control).
    publish_not_ready: bool = False
    #: Seconds each answer takes (the Service is reached at ``/shell``, which runs a ``sleep``): real
    #: requests are in flight for a while, and those are what an exit with kept-alive connections
    #: open cuts off. The answers do not name the pod (connection tracking does, on the local cluster).
    answer_after: float = 0
    #: After the preStop sleep, shut down as Go's ``Server.Shutdown`` does (netexec's ``/exit`` with a
    #: timeout): close idle kept-alive connections, answer requests in flight with ``Connection:
    #: close``, then exit. Without it netexec exits at SIGTERM with its connections open.
    close_connections: bool = False

    @property
    def selector(self) -> dict[str, str]:
        return {"app": self.name}

    # What ``jig.App`` asks: a Deployment behind a Service of the same name, whose ``/hostname``
    # answer names the pod that served it.
    kind = "Deployment"

    @property
    def access(self) -> ServiceAccess:
        if self.answer_after:
            return ServiceAccess(self.name, f"/shell?cmd=sleep+{self.answer_after:g}")
        return ServiceAccess(self.name, HOSTNAME_PATH, naming=PodNaming(body=True))

    @property
    def source(self) -> str:
        return f"the reference app {self.name}"

    def manifests(self) -> list[dict[str, Any]]:
        return [self.deployment(), self.service()]

    def container(self) -> dict[str, Any]:
        server = ["netexec", f"--http-port={HTTP_PORT}", *self.args]
        if self.delay_shutdown is not None:
            server.append(f"--delay-shutdown={self.delay_shutdown}")
        elif self.close_connections:
            # The hook ends as soon as /exit has begun the shutdown, and the kubelet's SIGTERM follows:
            # netexec would exit at once, cutting off the requests the shutdown is waiting for.
            server.append(f"--delay-shutdown={GRACEFUL_EXIT_TIMEOUT}")
        container: dict[str, Any] = {
            "name": "app",
            "image": AGNHOST,
            "ports": [{"name": "http", "containerPort": HTTP_PORT}],
        }
        if self.startup_delay:
            container["command"] = ["sh", "-c", f"sleep {self.startup_delay}; exec /agnhost {' '.join(server)}"]
        else:
            container["args"] = server
        if self.readiness_probe:
            container["readinessProbe"] = {
                "httpGet": {"path": HOSTNAME_PATH, "port": HTTP_PORT},
                "periodSeconds": 1,
                "failureThreshold": 1,
            }
        if self.depends_on and self.dependency_check == "readiness":
            container["readinessProbe"] = {
                "exec": {"command": ["sh", "-c", self._dependency_answers()]},
                "periodSeconds": 1,
                "failureThreshold": 1,
            }
        if self.close_connections:
            # The grace period bounds the hook: the shutdown may take what is left of it after the sleep.
            sleep = self.pre_stop_sleep or 0
            exit_url = f"http://127.0.0.1:{HTTP_PORT}/exit?code=0&timeout={GRACEFUL_EXIT_TIMEOUT}s"
            container["lifecycle"] = {"preStop": {"exec": {"command": [
                "sh", "-c", f"sleep {sleep:g}; curl -s -m {GRACEFUL_EXIT_TIMEOUT + 1} -o /dev/null '{exit_url}'"]}}}
        elif self.pre_stop_sleep is not None:
            actions = {
                "exec": {"exec": {"command": ["sleep", str(self.pre_stop_sleep)]}},
                "sleep": {"sleep": {"seconds": int(self.pre_stop_sleep)}},
            }
            container["lifecycle"] = {"preStop": actions[self.pre_stop_action]}
        return container

    def _dependency_answers(self) -> str:
        # curl, not busybox wget: upstream agnhost ships curl, and the local image's static
        # busybox cannot resolve names through glibc.
        return f"curl -fsS -m 1 -o /dev/null http://{self.depends_on}/hostname"

    def pod_template(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"containers": [self.container()]}
        if self.depends_on and self.dependency_check == "init":
            spec["initContainers"] = [{
                "name": WAIT_FOR_DEPENDENCY,
                "image": AGNHOST,
                "command": ["sh", "-c", f"until {self._dependency_answers()}; do sleep 1; done"],
            }]
        if self.grace_period is not None:
            spec["terminationGracePeriodSeconds"] = self.grace_period
        spec.update(self.scheduling)
        return {"metadata": {"labels": {**self.selector, **self.labels}}, "spec": spec}

    def deployment(self) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": self.name, "labels": self.selector},
            "spec": {
                "replicas": self.replicas,
                "selector": {"matchLabels": self.selector},
                "template": self.pod_template(),
            },
        }

    def statefulset(self, claim_size: str | None = None) -> dict[str, Any]:
        """A StatefulSet governed by the headless Service of the same name; optionally one claim per member at /data."""
        template = self.pod_template()
        spec: dict[str, Any] = {
            "serviceName": self.name,
            "replicas": self.replicas,
            "selector": {"matchLabels": self.selector},
            "template": template,
        }
        if claim_size:
            template["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
            spec["volumeClaimTemplates"] = [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": claim_size}}},
            }]
        return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": self.name}, "spec": spec}

    def service(self, port: int = 80, headless: bool = False) -> dict[str, Any]:
        """A Service for the app, of the same name."""
        return service(self.name, self.selector, port, headless, self.publish_not_ready)


def service(name: str, selector: dict[str, str], port: int = 80, headless: bool = False,
            publish_not_ready: bool = False) -> dict[str, Any]:
    """A Service sending to netexec's port of the pods ``selector`` picks.

    NodePort unless headless, so clients off the cluster reach it too.
    """
    spec: dict[str, Any] = {
        "selector": selector,
        "ports": [{"name": "http", "port": port, "targetPort": HTTP_PORT}],
    }
    if publish_not_ready:
        spec["publishNotReadyAddresses"] = True
    if headless:
        spec["clusterIP"] = "None"
    else:
        spec["type"] = "NodePort"
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def client_pod(name: str) -> dict[str, Any]:
    """An idle agnhost pod with a shell, curl and nslookup, to act as an in-cluster client."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "client", "image": AGNHOST, "args": ["pause"]}],
        },
    }
