"""A busybox container that fails once with last words: in its termination-message file, its log, or both (OP-05)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podlife.kernel.images import BUSYBOX

FAREWELL_FILE = "/dev/termination-log"


@dataclass
class Farewell:
    #: Written to the termination-message file before exiting; None writes nothing there.
    message: str | None = None
    #: Printed to standard output (the log) before exiting.
    log_lines: tuple[str, ...] = ()
    #: ``File`` (the default) or ``FallbackToLogsOnError``.
    policy: str = "File"

    def pod(self, name: str) -> dict[str, Any]:
        steps = [f"echo '{line}'" for line in self.log_lines]
        if self.message is not None:
            steps.append(f"echo -n '{self.message}' > {FAREWELL_FILE}")
        container = {
            "name": "app",
            "image": BUSYBOX,
            "command": ["sh", "-c", "; ".join([*steps, "exit 1"])],
            "terminationMessagePolicy": self.policy,
        }
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"containers": [container], "restartPolicy": "Never"}}
