"""One loader for every session file we read: ``load(path)`` → :class:`Recording`.

Like ``mne.io.read_raw``, every reader returns the same :class:`~collector.recording.Recording`
(samples per strap, metadata, events). The format is chosen from the file's name, then checked
against its first bytes: a file whose bytes say another format we read is read as that (a
recording renamed ``.bak`` still loads), a file of a kind we do not read (an image, an
archive) is named as such. New formats add a row to :data:`READERS`. Formats that hold
streams, sensors or tracked points of their own naming (BIDS-Motion, XDF, Movella DOT CSV)
take ``roles``: which of them is which strap (``--map shin=NAME,head=NAME``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from collector.bids import read_motion, sniff_motion_tsv
from collector.csvio import read_samples_csv
from collector.errors import CollectorError
from collector.movella_csv import is_dot_csv, read_dot_csv
from collector.recording import SUFFIX, Recording, load_recording
from collector.xdf import XDF_MAGIC, read_xdf

log = logging.getLogger(__name__)

#: How much of a file is read to tell its format.
HEAD_BYTES = 512
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Reader:
    """One format ``load`` reads: its name, file name endings, a test of its first bytes and
    the function that reads it (raising :class:`CollectorError` with a one-line message).
    A ``mapped`` format's reader also takes ``roles`` (role → its stream or sensor name)."""

    name: str
    suffixes: tuple[str, ...]
    sniff: Callable[[bytes], bool]
    read: Callable[..., Recording]
    text: bool = False  # a text format: binary content is refused before reading
    mapped: bool = False


def _is_sqlite(head: bytes) -> bool:
    """An SQLite database (or what is left of one cut inside its header)."""
    return head.startswith(SQLITE_MAGIC.rstrip(b"\x00"))


def _is_text(head: bytes) -> bool:
    """No NUL byte and valid UTF-8 (a character cut at the end of the head is allowed)."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.reason == "unexpected end of data" and e.start >= len(head) - 3
    return True


def _is_sample_csv(head: bytes) -> bool:
    """Text whose first line names the long CSV's key columns."""
    if not _is_text(head):
        return False
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    names = {h.strip() for h in first.split(",")}
    return {"time_s", "sensor"} <= names


def _is_dot_csv(head: bytes) -> bool:
    """Text that starts like a Movella DOT app export."""
    return _is_text(head) and is_dot_csv(head)


#: Every format ``load`` reads; the first whose bytes match wins when the name says nothing.
READERS: tuple[Reader, ...] = (
    Reader("flossmeter recording", (SUFFIX,), _is_sqlite, load_recording),
    Reader("long sample CSV", (".csv",), _is_sample_csv, read_samples_csv, text=True),
    Reader("BIDS-Motion file", (".tsv",), sniff_motion_tsv, read_motion, text=True, mapped=True),
    Reader("XDF file", (".xdf",), lambda head: head.startswith(XDF_MAGIC), read_xdf, mapped=True),
    Reader("Movella DOT CSV export", (".csv",), _is_dot_csv, read_dot_csv, text=True, mapped=True),
)

#: What ``load`` reads, by file name ending (lower case).
READABLE_SUFFIXES = tuple(dict.fromkeys(s for r in READERS for s in r.suffixes))

#: Formats we do not read, by their first bytes: named in the error so the user knows what
#: the file is.
FOREIGN: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (unpack it first)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\x1f\x8b", "a gzip-compressed file (unpack it first)"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"PAR1", "a Parquet file"),
    (b"ARROW1", "an Arrow file"),
)


def _what_we_read() -> str:
    *others, last = [f"{r.name}s ({', '.join(r.suffixes)})" for r in READERS]
    return (
        f"flossmeter reads {', '.join(others)} and {last}" if others else f"flossmeter reads {last}"
    )


def _head(p: Path) -> bytes:
    """The first bytes of ``p``, or a one-line error for a path that is not a readable file."""
    if not p.exists():
        raise CollectorError(f"{p}: no such file")
    if p.is_dir():
        raise CollectorError(f"{p}: a folder, not a session file")
    if not p.is_file():
        raise CollectorError(f"{p}: not a regular file")
    try:
        with open(p, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as e:
        raise CollectorError(f"{p}: cannot read ({e.strerror or e})") from None
    if not head:
        raise CollectorError(f"{p}: empty file (0 bytes), nothing to load")
    return head


def _choose(p: Path, head: bytes) -> Reader:
    """The reader for file ``p`` whose first bytes are ``head``: the name's, unless the bytes
    say another format we read; a foreign or unknown file raises :class:`CollectorError`."""
    for magic, what in FOREIGN:
        if head.startswith(magic):
            raise CollectorError(f"{p}: {what}, not a session file; {_what_we_read()}")
    suffix = p.suffix.lower()
    by_name = next((r for r in READERS if suffix in r.suffixes), None)
    if by_name is not None and by_name.sniff(head):
        return by_name
    by_bytes = next((r for r in READERS if r.sniff(head)), None)
    if by_bytes is not None:
        log.info("%s: read as a %s (from its contents)", p, by_bytes.name)
        return by_bytes
    if by_name is not None:
        if by_name.text and not _is_text(head):
            raise CollectorError(f"{p}: binary data, not a text {by_name.name}")
        return by_name  # its reader says precisely what is wrong
    kind = f"'{p.suffix}'" if p.suffix else "no file name ending"
    raise CollectorError(f"{p}: unknown kind of file ({kind}); {_what_we_read()}")


def load(path: str | os.PathLike[str], *, roles: Mapping[str, str] | None = None) -> Recording:
    """Read a session file of any format we read (see :data:`READERS`); ``roles`` says which
    tracked point (BIDS-Motion), stream (XDF) or sensor (DOT CSV) is which strap (role →
    name). A bad, foreign or missing file
    raises :class:`CollectorError` with a one-line message."""
    p = Path(path)
    reader = _choose(p, _head(p))
    if reader.mapped:
        return reader.read(p, roles=roles)
    if roles:
        raise CollectorError(
            f"{p}: a {reader.name} names its straps shin and head itself; --map is for "
            "BIDS-Motion, XDF and Movella DOT CSV files"
        )
    return reader.read(p)
