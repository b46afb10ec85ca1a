"""pytest plugin entry point (``pytest11``); the harness is wired here."""
