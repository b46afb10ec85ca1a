"""A user's workload for the workload tests: manifests, a workload file pointing at them, and helpers.

Shared by the tests of reading the workload file (``test_workload_spec``) and of rendering its
manifests (``test_workload_render``), which start from the same small app.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable

import pytest

from podlife.workloads.spec import Workload, WorkloadError, load_workloads

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: production
  labels: {app: shop}
spec:
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop, tier: web}
    spec:
      containers:
        - name: shop
          image: shop:1
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop}
  ports:
    - name: http
      port: 80
      targetPort: 8080
"""

WORKLOAD = """\
workloads:
  - manifests: deploy.yaml
    target: Deployment/shop
    service: {name: shop}
"""


def write(base: Path, relative: str, text: str = "") -> Path:
    path = base / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def workload_file(base: Path, text: str = WORKLOAD) -> Path:
    return write(base, "podlife-workload.yaml", text)


def only_workload(base: Path, text: str = WORKLOAD) -> Workload:
    [workload] = load_workloads(workload_file(base, text))
    return workload


def error_of(action: Callable[[], object]) -> str:
    """The message of the WorkloadError the action raises, which must fit on one line."""
    with pytest.raises(WorkloadError) as caught:
        action()
    message = str(caught.value)
    assert "\n" not in message, message
    return message
