"""A minimal XDF 1.0 writer for tests, written from the format's specification (not from a reader).

File: the magic ``XDF:``, then chunks. Chunk: ``[NumLengthBytes u8: 1, 4 or 8][Length, that
many bytes, little-endian: bytes of Tag + Content][Tag u16][Content]``. Tags: 1 FileHeader
(XML), 2 StreamHeader (StreamID u32 + XML), 3 Samples (StreamID u32 + samples), 4 ClockOffset
(StreamID u32, CollectionTime f64, OffsetValue f64), 5 Boundary (a 16-byte UUID), 6 StreamFooter
(StreamID u32 + XML). Samples: ``[NumSampleBytes][NumSamples]`` (a variable-length integer as
above), then per sample ``[TimeStampBytes u8: 0 or 8][TimeStamp f64]`` and the values,
little-endian in the channel format; a string value is ``[NumLengthBytes][Length][bytes]``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

FORMATS = {"float32": "<f4", "double64": "<f8", "int16": "<i2", "int32": "<i4"}
BOUNDARY_UUID = bytes.fromhex("43A546DCCBF5410FB30ED5467383CBE4")


def varlen(n: int) -> bytes:
    """A variable-length integer: the smallest of 1, 4 or 8 bytes that holds ``n``."""
    if n < 256:
        return b"\x01" + struct.pack("<B", n)
    if n < 2**32:
        return b"\x04" + struct.pack("<I", n)
    return b"\x08" + struct.pack("<Q", n)


def chunk(tag: int, content: bytes) -> bytes:
    """One chunk: its length (tag + content), tag and content."""
    return varlen(len(content) + 2) + struct.pack("<H", tag) + content


@dataclass
class Stream:
    """A stream to write: header fields, optional channels (label, unit) and extra desc XML,
    timestamps (s) and values (N × channels, or N strings for a string stream)."""

    name: str
    type: str
    channel_format: str
    nominal_srate: float
    time_stamps: np.ndarray
    values: np.ndarray | Sequence[str]
    source_id: str = ""
    channels: Sequence[tuple[str, str]] = ()
    desc_xml: str = ""
    clock_offsets: Sequence[tuple[float, float]] = ()  # (collection time, offset value) s
    chunk_size: int = 50
    stream_id: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    header: str = ""  # the whole header XML as an outlet sent it (LabRecorder stores that)

    @property
    def channel_count(self) -> int:
        if self.channel_format == "string":
            return 1
        return int(np.asarray(self.values).shape[1])

    def header_xml(self) -> bytes:
        if self.header:
            return self.header.encode()
        chans = "".join(
            f"<channel><label>{escape(lab)}</label><unit>{escape(unit)}</unit></channel>"
            for lab, unit in self.channels
        )
        desc = (f"<channels>{chans}</channels>" if chans else "") + self.desc_xml
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in self.extra.items())
        return (
            '<?xml version="1.0"?><info>'
            f"<name>{escape(self.name)}</name><type>{escape(self.type)}</type>"
            f"<channel_count>{self.channel_count}</channel_count>"
            f"<nominal_srate>{self.nominal_srate!r}</nominal_srate>"
            f"<channel_format>{self.channel_format}</channel_format>"
            f"<source_id>{escape(self.source_id)}</source_id>{extra}"
            f"<desc>{desc}</desc></info>"
        ).encode()

    def footer_xml(self) -> bytes:
        t = self.time_stamps
        offsets = "".join(
            f"<offset><time>{c!r}</time><value>{v!r}</value></offset>"
            for c, v in self.clock_offsets
        )
        return (
            '<?xml version="1.0"?><info>'
            f"<first_timestamp>{float(t[0])!r}</first_timestamp>"
            f"<last_timestamp>{float(t[-1])!r}</last_timestamp>"
            f"<sample_count>{len(t)}</sample_count>"
            f"<clock_offsets>{offsets}</clock_offsets></info>"
        ).encode()

    def sample_chunks(self) -> list[bytes]:
        """Samples chunks of ``chunk_size`` samples, every sample with its timestamp."""
        out = []
        sid = struct.pack("<I", self.stream_id)
        for a in range(0, len(self.time_stamps), self.chunk_size):
            b = min(a + self.chunk_size, len(self.time_stamps))
            body = bytearray(varlen(b - a))
            for k in range(a, b):
                body += b"\x08" + struct.pack("<d", float(self.time_stamps[k]))
                if self.channel_format == "string":
                    raw = str(self.values[k]).encode()
                    body += varlen(len(raw)) + raw
                else:
                    row = np.asarray(self.values[k], dtype=FORMATS[self.channel_format])
                    body += row.tobytes()
            out.append(chunk(3, sid + bytes(body)))
        return out


def write_xdf(path: Path, streams: Sequence[Stream], *, interleave: bool = True) -> Path:
    """Write ``streams`` as an XDF file: header, stream headers, samples (chunks interleaved
    across streams, as a recorder writes them), a boundary, clock offsets, footers."""
    out = bytearray(b"XDF:")
    out += chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    for i, s in enumerate(streams):
        s.stream_id = i + 1
        out += chunk(2, struct.pack("<I", s.stream_id) + s.header_xml())
    queues = [s.sample_chunks() for s in streams]
    if interleave:
        while any(queues):
            for q in queues:
                if q:
                    out += q.pop(0)
    else:
        for q in queues:
            out.extend(b"".join(q))
    out += chunk(5, BOUNDARY_UUID)
    for s in streams:
        for collected, value in s.clock_offsets:
            out += chunk(4, struct.pack("<Idd", s.stream_id, collected, value))
    for s in streams:
        out += chunk(6, struct.pack("<I", s.stream_id) + s.footer_xml())
    path.write_bytes(bytes(out))
    return path
