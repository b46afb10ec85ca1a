"""What the kubelet says about pulling a pod's image: its ``Pulled`` event.

Events carry times to the second only, too coarse to time a pull of a few hundred
milliseconds. The kubelet puts its own measure in the message instead
(``pkg/kubelet/images/image_manager.go``): ``Successfully pulled image "X" in 1.234s (1.3s
including waiting). Image size: 157286400 bytes.``, with Go's duration format, truncated to the
millisecond. An image the node already held is reported as ``already present on machine``:
nothing was pulled, so nothing can be timed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PULLED = re.compile(r'Successfully pulled image "(?P<image>[^"]+)" in (?P<pull>\S+) '
                    r"\((?P<waiting>\S+) including waiting\)(?:\. Image size: (?P<size>\d+) bytes)?")
ALREADY_PRESENT = "already present on machine"
#: Go's duration units (``time.Duration.String``), in seconds.
UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")


def go_duration(text: str) -> float:
    """Seconds of a Go duration as ``String()`` writes it: ``1m2.5s``, ``834ms``, ``0s``."""
    parts = _PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return sum(float(number) * UNITS[unit] for number, unit in parts)


@dataclass(frozen=True)
class Pull:
    """One pull as the kubelet reported it."""

    image: str
    #: The pull itself, and the pull with any wait for other pulls before it (serialized pulls).
    seconds: float
    with_waiting: float
    #: The image's size as the runtime reported it; None from kubelets that do not say.
    size: int | None


def parse_pulled(message: str) -> Pull | None:
    """The pull a ``Pulled`` event's message reports; None when the node already held the image."""
    if ALREADY_PRESENT in message:
        return None
    found = PULLED.search(message)
    if found is None:
        raise ValueError(f"a Pulled event this harness cannot read: {message!r}")
    size = found.group("size")
    return Pull(found.group("image"), go_duration(found.group("pull")), go_duration(found.group("waiting")),
                 int(size) if size else None)
