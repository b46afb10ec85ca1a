"""Verdict over a deleted pod's lines: gone from the API, kept by the central log store (OP-06).

``kubectl logs`` reads the kubelet's files of a pod that exists; once the pod is deleted, the
kubelet removes them and the API answers that the pod is not found. Only a node-level collector
that shipped the lines to a store keeps them. The verdict holds the store to what the pod wrote:
every line, each once, in the order written (the store orders by the lines' own timestamps, so
a wrong order means timestamps were lost or replaced), and each with the namespace, pod and
container it came from, without which nobody can find them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from podlife.observe.logstore import StoredLine


@dataclass(frozen=True)
class Shipped:
    """What the story observed of one pod's lines."""

    namespace: str
    pod: str
    container: str
    #: The lines the pod wrote, as its log returned them while it existed.
    written: tuple[str, ...]
    #: What the API answered a log read after the pod was deleted (its refusal).
    after_deletion: str
    #: What the store returned for the lines' marker, in its order.
    stored: tuple[StoredLine, ...]


def assert_logs_outlive_the_pod(shipped: Shipped) -> None:
    """OP-06: every line of the deleted pod is in the store, once, in order, with the pod's identity."""
    where = f"{shipped.namespace}/{shipped.pod} (container {shipped.container})"
    written = set(shipped.written)
    messages = [line.message for line in shipped.stored if line.message in written]
    missing = [line for line in shipped.written if line not in set(messages)]
    assert not missing, (
        f"{len(missing)} of the {len(shipped.written)} lines {where} wrote are gone: the API no longer returns them "
        f"(the pod is deleted: {shipped.after_deletion}) and the log store does not hold them (first missing: "
        f"{missing[0]!r}). A deleted pod's logs survive only where a node-level collector ships container logs to "
        "a store: run one (a DaemonSet reading the kubelet's pod log directory) and check it reads this namespace."
    )
    repeated = [line for line, times in Counter(messages).items() if times > 1]
    assert not repeated, (
        f"the log store holds {len(repeated)} of {where}'s lines more than once (first: {repeated[0]!r}): the "
        "collector shipped them again (a restart without a saved read position?), so counts and searches over "
        "them are wrong."
    )
    assert messages == list(shipped.written), (
        f"the log store returns {where}'s lines out of the order they were written (first out of place: "
        f"{next(m for m, w in zip(messages, shipped.written) if m != w)!r}): their timestamps are not the ones "
        "the container runtime recorded, so the store's time order cannot be trusted for them."
    )
    identity = (shipped.namespace, shipped.pod, shipped.container)
    unnamed = [line for line in shipped.stored if line.message in written
               and (line.namespace, line.pod, line.container) != identity]
    assert not unnamed, (
        f"{len(unnamed)} of {where}'s lines are stored without that identity (first: {unnamed[0].message!r} "
        f"kept as namespace={unnamed[0].namespace}, pod={unnamed[0].pod}, container={unnamed[0].container}): "
        "nobody looking for the pod's logs finds them. Take them from the log file's path (the filelog "
        "receiver's container parser) or from the API."
    )
