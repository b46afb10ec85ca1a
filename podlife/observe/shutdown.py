"""One pod's deletion as the harness watched it: when it was deleted, and the timeline that followed.

The observation verdicts (``verdicts.shutdown``), the workload checks and the report's shutdown
picture all read; it lives below them so each can take it without importing the others.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from podlife.observe.records import parse_records
from podlife.observe.snapshots import Termination
from podlife.observe.timeline import Timeline
from podlife.served import present


class DeclaredPreStop(Protocol):
    """A container's preStop hook as its spec declares it (``verdicts.workload.PreStop``): action, and length if a sleep."""

    @property
    def action(self) -> str | None: ...

    @property
    def seconds(self) -> float | None: ...


@dataclass(frozen=True)
class Shutdown:
    """What the harness observed of one pod's deletion."""

    pod: str
    container: str
    deleted_at: float
    timeline: Timeline
    #: The grace period in force (the pod's, or what the delete sent instead), when the harness deleted it.
    grace: float | None = None
    #: The preStop hook the container's spec declares, so a picture can place SIGTERM for an app
    #: that records nothing of its own.
    pre_stop: DeclaredPreStop | None = None

    def final_state(self) -> Termination:
        """The container's terminated state as last reported before the pod vanished."""
        state = self.timeline.terminations(self.pod).get(self.container)
        if state is None:
            raise AssertionError(f"pod {self.pod} vanished without ever reporting {self.container} terminated")
        return state

    def stopped_after(self) -> float:
        """Seconds from the harness's delete call to the container's finish (``finishedAt``, whole seconds)."""
        finished = present(self.final_state().finished, f"finishedAt of {self.container}'s termination in pod {self.pod}")
        return finished - self.deleted_at

    def of(self, container: str) -> "Shutdown":
        """The same deletion, seen from another container of the pod."""
        return replace(self, container=container)

    def records(self) -> list[tuple[str, float]]:
        return parse_records(self.final_state().message)
