"""Assertions over observed facts, failing with text a person can act on."""
