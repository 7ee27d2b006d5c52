"""The app layer's exception and exit code: a problem the user can fix is one line, exit 2."""

from __future__ import annotations

#: The exit code of every error a user can fix (bad arguments, files, straps, screen).
EXIT_ERROR = 2


class UserError(Exception):
    """A problem the user can fix; printed as one line."""
