"""Observation on one clock: the timeline of cluster objects, the traffic ledger, hook evidence."""
