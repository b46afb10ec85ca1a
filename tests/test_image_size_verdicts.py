"""OP-01's verdict (growth of pull plus start with image size, beyond the noise of repeats) and the kubelet's Pulled event."""

from __future__ import annotations

import pytest

from podlife.observe.pulls import go_duration, parse_pulled
from podlife.verdicts.image_size import MB, Start, assert_grows_with_size, fit


def starts(*points: tuple[int, float]) -> list[Start]:
    return [Start(f"p{i}", size_mb * MB, seconds) for i, (size_mb, seconds) in enumerate(points)]


def test_the_line_and_the_pooled_scatter_of_repeats() -> None:
    line = fit([(0, 1.0), (0, 1.2), (100, 3.0), (100, 3.2)])
    assert line.slope == pytest.approx(0.02) and line.intercept == pytest.approx(1.1)
    # deviations of 0.1 from each size's mean, 4 starts of 2 sizes: sqrt(4 x 0.01 / 2)
    assert line.noise == pytest.approx(0.1414, abs=1e-4) and line.growth == pytest.approx(2.0)
    with pytest.raises(ValueError, match="repeat a size"):
        fit([(0, 1.0), (100, 3.0)])


def test_growth_beyond_three_times_the_noise_passes() -> None:
    line = assert_grows_with_size(starts((5, 1.0), (5, 1.2), (50, 1.6), (50, 1.5), (150, 2.9), (150, 3.1)))
    assert line.summary()["seconds_per_mb"] == pytest.approx(0.0134, abs=1e-3)


def test_growth_within_the_noise_fails_with_the_figures() -> None:
    noisy = starts((5, 1.0), (5, 2.0), (150, 1.9), (150, 2.6))
    with pytest.raises(AssertionError, match=r"grew by 0\.75 s from 5\.0 MB to 150\.0 MB \(5\.2 ms per MB\), not beyond "
                                             r"3 x the noise of repeated starts \(0\.610 s\).*5\.0 MB: 1\.50 s, 150\.0 MB: 2\.25 s"):
        assert_grows_with_size(noisy)


def test_images_of_one_size_show_no_growth_however_the_times_vary() -> None:
    with pytest.raises(AssertionError, match=r"grew by 0\.00 s from 50\.0 MB to 50\.0 MB"):
        assert_grows_with_size(starts((50, 1.0), (50, 3.0), (50, 2.0)))


@pytest.mark.parametrize(("text", "seconds"), [("1.234s", 1.234), ("834ms", 0.834), ("1m2.5s", 62.5), ("0s", 0.0),
                                               ("12µs", 12e-6), ("1h0m0s", 3600.0)])
def test_go_durations(text: str, seconds: float) -> None:
    assert go_duration(text) == pytest.approx(seconds)


def test_a_go_duration_this_harness_cannot_read_is_an_error() -> None:
    with pytest.raises(ValueError):
        go_duration("1.2 seconds")


def test_the_pulled_event_gives_the_kubelets_pull_time_and_the_size() -> None:
    pull = parse_pulled('Successfully pulled image "localhost:5000/podlife/ns/app:r0-5mb" in 412ms (1.05s including '
                        "waiting). Image size: 7340032 bytes.")
    assert pull is not None and (pull.image, pull.with_waiting, pull.size) == (
        "localhost:5000/podlife/ns/app:r0-5mb", 1.05, 7340032)
    assert pull.seconds == pytest.approx(0.412)
    assert parse_pulled('Container image "busybox:1.35.0" already present on machine') is None
    with pytest.raises(ValueError, match="cannot read"):
        parse_pulled("Pulled it")
