"""Manifest builders for the reference workloads (agnhost netexec, busybox)."""
