"""Verdicts over how long new pods took to start, against the size of the image they pulled (OP-01).

A new pod's wait for its image is a fixed part (scheduling, the pod sandbox, creating and
starting the container) plus a part that grows with every byte pulled (downloading, checking the
digest, decompressing, unpacking onto the node's disk). The verdict fits seconds = a + b x size
by least squares over all pods, and judges the fitted growth across the sizes measured,
G = b x (largest - smallest), against the noise of the measurement itself.

The noise is sigma, the scatter of repeated starts of images of one size: the pooled standard
deviation of each start from the mean of its size (n - k degrees of freedom for n starts of k
sizes). It is the only figure that says how much one start varies while the size does not.

Tolerance: G must exceed 3 sigma. The difference between one start of the largest image and
one of the smallest then has mean G and standard deviation sigma x sqrt(2), so G > 3 sigma puts
it more than 2.1 of its standard deviations above zero: a single new pod of the largest image
starts later than a single one of the smallest in about 98 of 100 pairs, if the noise is normal.
The negative control starts images all of one size in the same schedule and judges them as if
each had the size of the image it stands in for: there G has mean 0, and the verdict fails
unless the schedule itself (order, caching, a drifting machine) makes starts grow.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

NOISE_FACTOR = 3.0
MB = 2**20


@dataclass(frozen=True)
class Start:
    """One new pod of one image: what it pulled and how long it took."""

    pod: str
    #: Bytes the pull fetched (the kubelet's "Image size", else what was pushed).
    size: int
    #: From the pod's creation to its container running: pull plus start.
    seconds: float
    #: The kubelet's own measure of the pull alone (its Pulled event), when it reported one.
    pull: float | None = None


@dataclass(frozen=True)
class Growth:
    """A least-squares line of seconds over size, and the noise it is judged against."""

    intercept: float
    #: Seconds per byte.
    slope: float
    noise: float
    smallest: int
    largest: int

    @property
    def growth(self) -> float:
        """Seconds the line adds from the smallest image to the largest."""
        return self.slope * (self.largest - self.smallest)

    def summary(self) -> dict[str, float]:
        return {"seconds_per_mb": round(self.slope * MB, 4), "fixed_s": round(self.intercept, 3),
                "growth_s": round(self.growth, 3), "noise_s": round(self.noise, 3),
                "smallest_mb": round(self.smallest / MB, 1), "largest_mb": round(self.largest / MB, 1)}


def fit(points: Sequence[tuple[int, float]]) -> Growth:
    """The line through ``(size, seconds)`` points, and the pooled scatter of the repeats of each size.

    Without a repeat of any size there is no measure of the noise: that is the harness's error
    (too few starts), not a finding, so it is a ``ValueError``.
    """
    by_size: dict[int, list[float]] = defaultdict(list)
    for size, seconds in points:
        by_size[size].append(seconds)
    freedom = len(points) - len(by_size)
    if freedom < 1:
        raise ValueError(f"{len(points)} starts of {len(by_size)} sizes: repeat a size to measure the noise")
    scatter = sum((t - sum(ts) / len(ts)) ** 2 for ts in by_size.values() for t in ts)
    mean_size = sum(s for s, _ in points) / len(points)
    mean_seconds = sum(t for _, t in points) / len(points)
    spread = sum((s - mean_size) ** 2 for s, _ in points)
    slope = sum((s - mean_size) * (t - mean_seconds) for s, t in points) / spread if spread else 0.0
    return Growth(mean_seconds - slope * mean_size, slope, math.sqrt(scatter / freedom), min(by_size), max(by_size))


def assert_grows_with_size(starts: Sequence[Start]) -> Growth:
    """OP-01: pull plus start grows with the image's size by more than the noise of repeated starts."""
    line = fit([(s.size, s.seconds) for s in starts])
    per_size: dict[int, list[float]] = defaultdict(list)
    for s in starts:
        per_size[s.size].append(s.seconds)
    means = ", ".join(f"{size / MB:.1f} MB: {sum(ts) / len(ts):.2f} s" for size, ts in sorted(per_size.items()))
    assert line.growth > NOISE_FACTOR * line.noise, (
        f"pull plus start grew by {line.growth:.2f} s from {line.smallest / MB:.1f} MB to {line.largest / MB:.1f} MB "
        f"({line.slope * MB * 1000:.1f} ms per MB), not beyond {NOISE_FACTOR:g} x the noise of repeated starts "
        f"({line.noise:.3f} s): the image's size did not show in how fast new pods started (mean per size: {means})")
    return line
