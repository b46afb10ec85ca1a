"""Busybox StatefulSets whose members run a small script against their storage.

Every member gets ``/data`` (its own claim from the volumeClaimTemplate, or an emptyDir as
the bad variant), a pod-scoped emptyDir at ``/scratch``, and its pod UID in ``$POD_UID``, so
scripts can tell apart two pods that share one identity (SD-05). Scripts have a ``record
EVENT`` function appending ``<event> <epoch>`` to ``/data/records`` (see ``witness``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from podlife.kernel.images import BUSYBOX
from podlife.workloads.witness import recording

DATA, SCRATCH = "/data", "/scratch"
RECORDS = f"{DATA}/records"
CLAIM_SIZE = "16Mi"


@dataclass
class Members:
    name: str
    script: list[str] = field(default_factory=list)
    replicas: int = 1
    #: Keep /data on a PersistentVolumeClaim per member (the claim) or on an emptyDir (the bad variant).
    data_on_claim: bool = True
    grace_period: int | None = None
    #: Pod-spec fields that place the members across nodes (``placement``).
    scheduling: dict[str, Any] = field(default_factory=dict)

    @property
    def selector(self) -> dict[str, str]:
        return {"app": self.name}

    def pod_name(self, ordinal: int) -> str:
        return f"{self.name}-{ordinal}"

    def claim_name(self, ordinal: int) -> str:
        return f"data-{self.pod_name(ordinal)}"

    def statefulset(self) -> dict[str, Any]:
        container = {
            "name": "member",
            "image": BUSYBOX,
            "command": recording(*self.script, into=RECORDS),
            "env": [{"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}],
            "volumeMounts": [{"name": "data", "mountPath": DATA}, {"name": "scratch", "mountPath": SCRATCH}],
        }
        pod_spec: dict[str, Any] = {"containers": [container], "volumes": [{"name": "scratch", "emptyDir": {}}]}
        if self.grace_period is not None:
            pod_spec["terminationGracePeriodSeconds"] = self.grace_period
        pod_spec.update(self.scheduling)
        spec: dict[str, Any] = {
            "serviceName": self.name,
            "replicas": self.replicas,
            "selector": {"matchLabels": self.selector},
            "template": {"metadata": {"labels": self.selector}, "spec": pod_spec},
        }
        if self.data_on_claim:
            spec["volumeClaimTemplates"] = [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": CLAIM_SIZE}}},
            }]
        else:
            pod_spec["volumes"].append({"name": "data", "emptyDir": {}})
        return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": self.name}, "spec": spec}

    def service(self) -> dict[str, Any]:
        """The headless Service that governs the members' DNS names."""
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": self.name},
                "spec": {"clusterIP": "None", "selector": self.selector, "ports": [{"name": "none", "port": 1}]}}

    def migration_job(self, source: int, target: int) -> dict[str, Any]:
        """A Job that appends member ``source``'s records (from its left-behind claim) to member ``target``'s (SD-06)."""
        mounts = [{"name": "source", "mountPath": "/source"}, {"name": "target", "mountPath": "/target"}]
        script = "cat /source/records >> /target/records && mv /source/records /source/records.migrated"
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": f"migrate-{self.pod_name(source)}"},
            "spec": {"backoffLimit": 2, "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "migrate", "image": BUSYBOX,
                                "command": ["sh", "-c", script], "volumeMounts": mounts}],
                "volumes": [
                    {"name": "source", "persistentVolumeClaim": {"claimName": self.claim_name(source)}},
                    {"name": "target", "persistentVolumeClaim": {"claimName": self.claim_name(target)}},
                ],
            }}},
        }
