"""The one clock every observation is stamped with.

Kubernetes stamps pod status, events and deletion with the wall clock of the control plane,
so the harness uses wall-clock seconds too; on the local cluster both are this host's clock.
Object timestamps carry whole seconds only (``metav1.Time``), which is why verdicts comparing
them with harness stamps allow one second of resolution.
"""

from __future__ import annotations

import time
from datetime import datetime

#: Resolution of ``metav1.Time`` timestamps in pod status and object metadata.
K8S_TIMESTAMP_RESOLUTION = 1.0


def now() -> float:
    return time.time()


def epoch(stamp: datetime | None) -> float | None:
    """A Kubernetes timestamp (timezone-aware datetime from the client) as epoch seconds."""
    return stamp.timestamp() if stamp is not None else None
