"""Helpers for the tests of bad input files: the one-line error, and files of other kinds."""

import sqlite3
from contextlib import closing

import pytest

from collector.errors import CollectorError


def assert_one_line_error(read, path, match):
    """``read(path)`` raises :class:`CollectorError` matching ``match``, in one line naming
    ``path``; returns the message."""
    with pytest.raises(CollectorError, match=match) as e:
        read(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def write_other_sqlite(path):
    """An SQLite database that is not a recording (one unrelated table) at ``path``."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE t (x)")
        db.commit()
    return path
