"""The manifests in fixtures/ are exactly what the builders produce, so they never drift."""

from __future__ import annotations

from pathlib import Path

import yaml

from podlife.workloads.agnhost import Netexec
from podlife.workloads.witness import Hook, Witness

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_netexec_graceful_matches_builder() -> None:
    app = Netexec("web", replicas=3, readiness_probe=True, pre_stop_sleep=5)
    assert list(yaml.safe_load_all((FIXTURES / "netexec-graceful.yaml").read_text())) == [app.deployment(), app.service()]


def test_witness_matches_builder() -> None:
    witness = Witness(ignore_sigterm=True, pre_stop=Hook(sleep=3), grace_period=8)
    assert yaml.safe_load((FIXTURES / "witness-ignores-sigterm.yaml").read_text()) == witness.pod("witness")
