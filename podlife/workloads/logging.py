"""Central logging as OP-06 installs it: a log store, a node-level collector, and a pod that writes lines.

The store (VictoriaLogs) and the collector (the OpenTelemetry Collector's filelog receiver, as a
DaemonSet reading the kubelet's pod log directory from the host) are the pair
``cluster.local.logging_build`` builds; they run in the test's namespace and go with it.

The collector is configured the way node collectors are, with two narrowings that keep parallel
tests apart: it reads only the log files of its own namespace's pods (a node collector reads
every pod's; other tests' pods have no business in this test's store), and not its own (a
collector that ships its own output feeds on itself). It reads each file from its beginning, so
lines written before its first look at the directory are shipped too.
"""

from __future__ import annotations

from typing import Any

import yaml

from podlife.cluster.local.logging_build import STORE_PORT

STORE = "log-store"
COLLECTOR = "log-collector"
WRITER_CONTAINER = "writer"
#: Where the collector sees the node's pod log directory. The filelog receiver's container parser
#: takes namespace, pod, uid and container from the last path components, so any mount point works.
LOGS_MOUNT = "/var/log/pods"
#: How often the collector looks for new lines: the filelog receiver's default.
POLL_INTERVAL_S = 0.2


def store_url(host: str) -> str:
    return f"http://{host}:{STORE_PORT}"


def log_store(image: str) -> list[dict[str, Any]]:
    """The store as a Deployment of one, its data in an emptyDir: it outlives the pods whose lines it keeps."""
    labels = {"app": STORE}
    container = {
        "name": "store",
        "image": image,
        "args": ["-storageDataPath=/storage", f"-httpListenAddr=:{STORE_PORT}", "-loggerLevel=WARN"],
        "ports": [{"containerPort": STORE_PORT, "name": "http"}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": STORE_PORT}, "periodSeconds": 1},
        "volumeMounts": [{"name": "storage", "mountPath": "/storage"}],
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": STORE, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [container], "volumes": [{"name": "storage", "emptyDir": {}}]},
        }},
    }
    # NodePort, like the apps' Services: off the local cluster the harness queries it through a node.
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": STORE},
        "spec": {"type": "NodePort", "selector": labels,
                 "ports": [{"name": "http", "port": STORE_PORT, "targetPort": STORE_PORT}]},
    }
    return [deployment, service]


def collector_config(namespace: str) -> dict[str, Any]:
    """Tail this namespace's container logs, parse them as CRI lines with the pod's identity, ship them as OTLP."""
    pods = f"{LOGS_MOUNT}/{namespace}_"
    return {
        "receivers": {"filelog": {
            "include": [f"{pods}*/*/*.log"],
            "exclude": [f"{pods}{COLLECTOR}-*/*/*.log"],
            "start_at": "beginning",
            "include_file_path": True,
            "poll_interval": f"{int(POLL_INTERVAL_S * 1000)}ms",
            "operators": [{"type": "container", "id": "container-parser"}],
        }},
        "exporters": {"otlphttp": {
            "logs_endpoint": f"http://{STORE}:{STORE_PORT}/insert/opentelemetry/v1/logs",
            # The pod's identity makes the store's log streams, as a Kubernetes log pipeline would.
            "headers": {"VL-Stream-Fields": "k8s.namespace.name,k8s.pod.name,k8s.container.name"},
        }},
        "service": {
            "telemetry": {"metrics": {"level": "none"}},
            "pipelines": {"logs": {"receivers": ["filelog"], "exporters": ["otlphttp"]}},
        },
    }


def log_collector(image: str, namespace: str, pod_logs_dir: str) -> list[dict[str, Any]]:
    """The collector as a DaemonSet: the node's pod log directory mounted read-only from the host."""
    labels = {"app": COLLECTOR}
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": COLLECTOR},
                  "data": {"config.yaml": yaml.safe_dump(collector_config(namespace), sort_keys=False)}}
    container = {
        "name": "collector",
        "image": image,
        "args": ["--config=/etc/otelcol/config.yaml"],
        "volumeMounts": [{"name": "config", "mountPath": "/etc/otelcol"},
                         {"name": "pod-logs", "mountPath": LOGS_MOUNT, "readOnly": True}],
    }
    daemon_set = {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": COLLECTOR, "labels": labels},
        "spec": {"selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [container], "terminationGracePeriodSeconds": 5, "volumes": [
                {"name": "config", "configMap": {"name": COLLECTOR}},
                {"name": "pod-logs", "hostPath": {"path": pod_logs_dir, "type": "Directory"}},
            ]},
        }},
    }
    return [config_map, daemon_set]


def numbered_line(marker: str, number: int, count: int) -> str:
    return f"{marker} line {number:03d} of {count:03d}"


def log_writer(name: str, image: str, marker: str, count: int) -> dict[str, Any]:
    """A pod that prints ``count`` numbered lines carrying ``marker`` to stdout, then waits to be deleted.

    The lines are spaced (20 ms) so each has a timestamp of its own and the store's time order is
    the order they were written in; SIGTERM ends the pod at once.
    """
    script = (f'trap "exit 0" TERM; i=1; while [ $i -le {count} ]; do '
              f'printf "{marker} line %03d of {count:03d}\\n" $i; i=$((i+1)); sleep 0.02; done; '
              f'while true; do sleep 1; done')
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 5,
                 "containers": [{"name": WRITER_CONTAINER, "image": image, "command": ["sh", "-c", script]}]},
    }
