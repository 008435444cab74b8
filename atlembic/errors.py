"""The one exception type users see: a clear, one-line message and a non-zero exit."""


class AtlembicError(Exception):
    """A user-facing failure. ``str(exc)`` is printed as ``FAILED: <message>``."""
