"""Errors that end a podlife command with one clear line instead of a traceback."""


class PodlifeError(Exception):
    """A failure the user can act on; the CLI prints ``str(err)`` on one line and exits non-zero."""
