"""The collector layer's exception: every message says what went wrong and what to do about it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike


class CollectorError(Exception):
    """A problem with a device, a recording or an input file; its message is one line for a user."""


@contextmanager
def reading(path: str | PathLike[str], what: str = "text file") -> Iterator[None]:
    """Reading the text file ``path``: bytes that are not text, or a file that cannot be read,
    become a one-line :class:`CollectorError` naming it (``what`` says what it should be)."""
    try:
        yield
    except UnicodeDecodeError:
        raise CollectorError(f"{path}: not a {what}") from None
    except OSError as e:
        raise CollectorError(f"{path}: cannot read ({e.strerror or e})") from None


def last_line(e: BaseException) -> str:
    """The last line of an exception's text, or its class name if it has none: the part of a
    library's error that fits a one-line :class:`CollectorError`."""
    lines = str(e).strip().splitlines()
    return lines[-1] if lines else type(e).__name__
