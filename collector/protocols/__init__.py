"""Device families the collector speaks: one module per family, pure functions bytes → arrays.

``strap`` is our own open profile (``firmware_specs/``); ``witmotion``, ``movella`` and ``polar``
(Verity Sense) are third-party IMUs people already own. :func:`recognise` tells which family a
scan result is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from collector.protocols import movella, polar, strap, witmotion
from collector.protocols.common import Advertisement, Decoded


@dataclass(frozen=True)
class Family:
    """One supported device family: its kind name, raw format, decoder and recogniser."""

    kind: str
    raw_format: str
    label: str
    decode: Callable[[list[bytes]], Decoded]
    recognise: Callable[[Advertisement], bool]


FAMILIES: tuple[Family, ...] = (
    Family(strap.KIND, strap.RAW_FORMAT, "flossmeter strap", strap.decode, strap.recognise),
    Family(witmotion.KIND, witmotion.RAW_FORMAT, "WitMotion BLE 5.0", witmotion.decode,
           witmotion.recognise),
    Family(movella.KIND, movella.RAW_FORMAT, "Movella DOT", movella.decode, movella.recognise),
    Family(polar.KIND, polar.RAW_FORMAT, "Polar Verity Sense", polar.decode, polar.recognise),
)  # fmt: skip
BY_KIND = {f.kind: f for f in FAMILIES}
BY_RAW_FORMAT = {f.raw_format: f for f in FAMILIES}


def recognise(adv: Advertisement) -> Family | None:
    """The family an advertisement belongs to, or None for a device we do not support."""
    for family in FAMILIES:
        if family.recognise(adv):
            return family
    return None


def decode_raw(raw_format: str, packets: list[bytes]) -> Decoded:
    """Re-decode raw packets stored in a recording under ``raw_format``."""
    family = BY_RAW_FORMAT.get(raw_format)
    if family is None:
        raise ValueError(f"no decoder for raw format {raw_format!r}")
    return family.decode(packets)


__all__ = ["FAMILIES", "Advertisement", "Decoded", "Family", "decode_raw", "recognise"]
