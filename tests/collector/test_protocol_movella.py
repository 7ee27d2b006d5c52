"""Movella DOT: mode-21 payloads, timestamps, output-rate command, recognition."""

import struct

import numpy as np
import pytest

from collector.protocols import Advertisement, movella, recognise


def test_rate_quantities_payload():
    body = struct.pack("<I6f", 123456789, 0.1, -0.2, 9.81, 10.0, -20.0, 30.5)
    d = movella.decode([body + bytes(12), body])  # zero-padded to 40 bytes, or not
    np.testing.assert_allclose(d.acc_mps2[0], [0.1, -0.2, 9.81], rtol=1e-6)
    np.testing.assert_allclose(d.gyro_dps[1], [10.0, -20.0, 30.5])
    np.testing.assert_allclose(d.device_time_s, [123.456789] * 2)
    assert movella.encode(123456789, [0.1, -0.2, 9.81], [10, -20, 30.5]) == body + bytes(12)


def test_malformed_counted():
    good = movella.encode(5, [0, 0, 9.8], [0, 0, 0])
    nan = struct.pack("<I6f", 6, float("nan"), 0, 0, 0, 0, 0)
    d = movella.decode([good, good[:20], nan, good + b"x" * 30])
    assert len(d) == 1 and [i for i, _ in d.bad] == [1, 2, 3]


def test_a_truncated_payload_followed_by_a_valid_one_is_only_the_valid_one():
    good = movella.encode(7_000_000, [0.5, -1.0, 9.75], [12.5, 0, -3.25])
    for broken in (good[:13], good[:27], good[:29], good[:39], good + b"\x00", b"",
                   good[:4] + struct.pack("<f", 1e30) + good[8:],  # beyond twice full scale
                   good[:24] + struct.pack("<f", 5000.0) + good[28:]):  # fmt: skip
        d = movella.decode([broken, good])
        assert [i for i, _ in d.bad] == [0] and len(d) == 1
        np.testing.assert_array_equal(d.acc_mps2, [np.float32([0.5, -1.0, 9.75])])
        np.testing.assert_array_equal(d.gyro_dps, [np.float32([12.5, 0, -3.25])])
        np.testing.assert_array_equal(d.device_time_s, [7.0])


def test_commands():
    assert movella.cmd_start() == b"\x01\x01\x15" and movella.cmd_stop() == b"\x01\x00\x15"
    ctl = movella.cmd_set_output_rate(30)
    assert len(ctl) == 32 and ctl[0] == 0x10 and movella.parse_output_rate(ctl) == 30
    with pytest.raises(ValueError):
        movella.cmd_set_output_rate(100)
    info = movella.parse_device_info(movella.encode_device_info("D4:22:CD:00:11:22", (2, 6, 0), 7))
    assert info.address == "D4:22:CD:00:11:22" and info.firmware == "2.6.0" and info.serial == 7


def test_recognised_by_company_id_or_name():
    assert (
        recognise(Advertisement("A", "", manufacturer_data={2182: b"\x01"})).kind == "movella-dot"
    )
    assert recognise(Advertisement("A", "Xsens DOT")).kind == "movella-dot"
