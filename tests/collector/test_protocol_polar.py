"""Polar Verity Sense (PMD): frames decoded per the published layout, against worked examples.

Truth, independent of the decoder: the byte examples Polar's engineers worked out by hand in
their SDK's parser tests (values checked bit by bit in the comments here), a frame a Verity Sense
really sent (posted in polar-ble-sdk issue #443), and frames packed in this file by a plain
one-bit-at-a-time writer from the documented layout.
"""

import math
import struct

import numpy as np
import pytest

from collector.constants import G_MPS2
from collector.protocols import Advertisement, polar, recognise

H = bytes.fromhex


def frame_header(mtype: int, t_ns: int, ftype: int) -> bytes:
    """type u8 | timestamp u64 little endian | frame type u8 — written out by hand."""
    return bytes([mtype]) + t_ns.to_bytes(8, "little") + bytes([ftype])


class BitWriter:
    """The delta layout written the slow way: each value's bits, least significant first, into
    a byte stream filled from its least significant bit."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def put(self, value: int, width: int) -> None:
        for i in range(width):
            self.bits.append((value >> i) & 1)  # two's complement for negatives (Python ints)

    def bytes(self) -> bytes:
        out = bytearray()
        for start in range(0, len(self.bits), 8):
            byte = 0
            for i, b in enumerate(self.bits[start : start + 8]):
                byte |= b << i
            out.append(byte)
        return bytes(out)


def hand_delta_frame(mtype, t_ns, ftype, samples, blocks, ref_bytes=2):
    """A compressed frame: the first sample as the reference, then ``blocks`` of
    ``(width, count)`` holding the differences of the following samples."""
    out = bytearray(frame_header(mtype, t_ns, ftype))
    for v in samples[0]:
        out += (v & ((1 << (8 * ref_bytes)) - 1)).to_bytes(ref_bytes, "little")
    row = 1
    for width, count in blocks:
        w = BitWriter()
        for j in range(count):
            for c in range(3):
                w.put(samples[row + j][c] - samples[row + j - 1][c], width)
        out += bytes([width, count]) + w.bytes()
        row += count
    assert row == len(samples)
    return bytes(out)


# -- the SDK's worked examples ----------------------------------------------------------------


def test_acc_compressed_type_1_worked_example():
    # header 02 | 00 94 35 77 00 00 00 00 (2 000 000 000 ns) | 81: ACC, delta-compressed type 1
    # ref F1 FF, 14 00, F0 03 = −15, 20, 1008 mG; block: 6-bit deltas, 1 sample, bytes 7B 0F 08
    # = bits (LSB first) 110111 101111 000000 → 111011b = −5, 111101b = −3, 0
    data = H("02009435770000000081") + H("F1FF1400F003") + H("0601") + H("7B0F08")
    f = polar.parse_frame(data)
    assert f.mtype == polar.ACC and f.compressed and f.frame_type == 1
    assert f.timestamp_ns == 2_000_000_000
    np.testing.assert_array_equal(f.values, [[-15, 20, 1008], [-20, 17, 1008]])  # mG


def test_acc_compressed_type_0_worked_example_ten_bit_deltas():
    # ref 71 07, F0 6A, 9E 8D = 1905, 27376, −29282; a block of 56 samples of 10-bit deltas;
    # first delta: BE, 5C, BE, BA → 00 1011 1110 = 190, 11 1001 0111 = −105, 11 1010 1011 = −85.
    # Type 0 carries g: values × factor × 1000 are mG (factor 2.44e-4 in the example).
    content = H(
        "7107F06A9E8D0A38BE5CBEBA2F96B3EE4BE5ADFB42B9EBBE4CFEBA2F92BFEE4BE4B1FB12B9ECBD3C3EBB2F8F"
        "D3DE4BE3B5F7D2B8EDBD307E7B2F8BE3CE8BE2BAF7A2B8EEBC20BE7B2F88F3CECBE1BDEF52F8EFBC18FE3B2F"
        "8403BFCBE0C2EF32B8F0BB044EBC2E8113AF0BE0C6EFF2F7F1B9FC7DBC2E7D279F4BDFCAEBC2F7F2B8ECCD7C"
        "2E7B378F4BDECEE392F7F3B8E00DFD2D774B7FCBDDD2DF6237F5B7D44DBD2D745B6FCBDCD7D73237F6B5C88D"
        "7D2D716B4F4BDCDCD3F236F7B4BCDDFD2C6F7B3F4BDBE0CFD236F8B2B02DBE2C6C8F1FCBDAE3C7A276F9"
    )
    assert len(content) == 6 + 2 + math.ceil(56 * 10 * 3 / 8)
    f = polar.parse_frame(H("02009435770000000080") + content, {polar.ACC: 2.44e-4})
    assert len(f) == 57
    np.testing.assert_array_equal(f.counts[0], [1905, 27376, -29282])
    np.testing.assert_array_equal(f.counts[1], [1905 + 190, 27376 - 105, -29282 - 85])
    np.testing.assert_allclose(f.values[0], np.array([1905, 27376, -29282]) * 2.44e-4 * 1000)
    assert (np.abs(f.values) <= 8000).all()  # the example's ±8 g range, in mG


def test_acc_uncompressed_type_1_worked_example():
    # F7 FF, FF FF, E7 03 = −9, −1, 999; F8 FF, FE FF, E5 03 = −8, −2, 997 (int16 mG)
    f = polar.parse_frame(H("02009435770000000001") + H("F7FFFFFFE703F8FFFEFFE503"))
    assert not f.compressed and f.timestamp_ns == 2_000_000_000
    np.testing.assert_array_equal(f.values, [[-9, -1, 999], [-8, -2, 997]])


def test_gyro_compressed_type_0_worked_example():
    # timestamp FF…7F = 2⁶³ − 1; ref EA FF, 08 00, 0D 00 = −22, 8, 13; 3-bit deltas of one
    # sample: DF 00 = bits 111 110 11|0 → 111b = −1, 011b = 3, 011b = 3
    f = polar.parse_frame(H("05FFFFFFFFFFFFFF7F80") + H("EAFF08000D00") + H("0301DF00"))
    assert f.mtype == polar.GYRO and f.timestamp_ns == 2**63 - 1
    np.testing.assert_array_equal(f.values, [[-22, 8, 13], [-23, 11, 16]])  # factor 1: °/s
    g = polar.parse_frame(H("05FFFFFFFFFFFFFF7F80") + H("EAFF08000D00") + H("0301DF00"),
                          {polar.GYRO: 0.5})  # fmt: skip
    np.testing.assert_array_equal(g.values, [[-11, 4, 6.5], [-11.5, 5.5, 8]])


def test_gyro_compressed_type_1_float_worked_example():
    # float32 reference 1.0, 10.0, 20.0; 28-bit deltas added to the bit patterns:
    # 0x01A00000, 0x00800000, 0xFDECCCCD (wrapping at 32 bits) → 10.0, 20.0, 1.1
    content = H("0000803F000020410000A041") + H("1C01") + H("0000A001000008CDCCEC0D")
    f = polar.parse_frame(H("05009435770000000081") + content)
    bits = [0x3F800000 + 0x01A00000, 0x41200000 + 0x00800000, (0x41A00000 + 0xFDECCCCD) % 2**32]
    second = [struct.unpack("<f", struct.pack("<I", b))[0] for b in bits]
    np.testing.assert_array_equal(f.values, [[1.0, 10.0, 20.0], second])
    assert second == [10.0, 20.0, pytest.approx(1.1, abs=1e-6)]


def test_a_frame_a_verity_sense_sent():
    # polar-ble-sdk issue #443: a 227-byte ACC frame from a Verity Sense at 52 Hz, 8 g. Its first
    # 48 bytes are the header, the reference sample and a block of ten 8-bit deltas; the next
    # block header says 47 samples of 10 bits, which ends the frame at exactly 227 bytes.
    posted = H(
        "0200416FC4124593 0A81 EE021FFE82FF 080A 10DA20D6A30BD9CBE7D6F6C4E6F1E1F3E0151AFE281BF837"
        "2C2520131911 0A2F ED4FC07E".replace(" ", "")
    )
    width, count = posted[48], posted[49]
    assert (width, count) == (10, 47) and 50 + math.ceil(width * count * 3 / 8) == 227
    f = polar.parse_frame(posted[:48])
    assert len(f) == 11
    assert f.values[0].tolist() == [0x02EE, 0xFE1F - 0x10000, 0xFF82 - 0x10000]  # 750, −481, −126
    g = np.linalg.norm(f.values, axis=1) / 1000
    assert ((g > 0.5) & (g < 1.5)).all()  # a wrist: about 1 g
    year = 2000 + f.timestamp_s / (365.2425 * 86400)  # ns since 2000-01-01
    assert 2024.0 < year < 2024.2  # the issue was posted in February 2024


# -- frames packed by hand from the layout --------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_hand_packed_delta_frames(seed):
    rng = np.random.default_rng(seed)
    blocks = [(int(w), int(n)) for w, n in zip(rng.integers(1, 18, 6), rng.integers(1, 20, 6),
                                               strict=True)]  # fmt: skip
    blocks.insert(2, (0, 3))  # a block of zero-width deltas: three repeats of the last sample
    rows = [rng.integers(-8000, 8000, 3).tolist()]
    for width, count in blocks:
        lim = (1 << (width - 1)) if width else 0
        for _ in range(count):
            d = rng.integers(-lim, lim, 3) if width else np.zeros(3, int)
            rows.append([int(a + b) for a, b in zip(rows[-1], d, strict=True)])
    t_ns = 790_123_456_789_012_345
    data = hand_delta_frame(polar.ACC, t_ns, 0x81, rows, blocks)
    f = polar.parse_frame(data, limits={polar.ACC: 1e9})
    np.testing.assert_array_equal(f.counts, rows)
    assert f.timestamp_ns == t_ns
    # the sensor side writes the same layout
    sizes = [n for _, n in blocks]
    enc = polar.encode_delta(polar.ACC, t_ns, np.array(rows), sizes, frame_type=1)
    np.testing.assert_array_equal(polar.parse_frame(enc, limits={polar.ACC: 1e9}).counts, rows)


@pytest.mark.parametrize(("ftype", "nbytes"), [(0, 1), (1, 2), (2, 3)])
def test_hand_packed_uncompressed_acc(ftype, nbytes):
    rng = np.random.default_rng(ftype)
    lim = 1 << (8 * nbytes - 1)
    rows = rng.integers(-lim, lim, (7, 3))
    body = b"".join(int(v).to_bytes(nbytes, "little", signed=True) for v in rows.reshape(-1))
    f = polar.parse_frame(frame_header(polar.ACC, 5, ftype) + body, limits={polar.ACC: 1e9})
    np.testing.assert_array_equal(f.values, rows)
    assert polar.encode_raw(polar.ACC, 5, rows, ftype) == frame_header(polar.ACC, 5, ftype) + body


GOOD = hand_delta_frame(polar.ACC, 10**18, 0x81, [[0, 0, 1000], [1, -1, 999], [3, -2, 998]],
                        [(3, 2)])  # fmt: skip


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (GOOD[:10], "shorter than a frame header"),
        (bytes([3]) + GOOD[1:], "neither ACC"),  # PPI
        (GOOD[:9] + bytes([0x82]) + GOOD[10:], "not decoded"),
        (GOOD[:9] + bytes([0x03]) + GOOD[10:], "not decoded"),
        (frame_header(polar.GYRO, 1, 0x00) + bytes(6), "not decoded"),  # no raw GYRO format
        (frame_header(polar.ACC, 1, 0x01) + bytes(7), "not whole 6-byte samples"),
        (frame_header(polar.ACC, 1, 0x81) + bytes(5), "no whole reference sample"),
        (GOOD[:16] + bytes([3]), "header is cut off"),
        (GOOD[:-1], "runs 1 bytes past the end"),
        (GOOD + b"\x00", "header is cut off"),
        (GOOD + bytes([4, 0]), "no samples"),
        (GOOD[:16] + bytes([33, 1]) + bytes(13), "at most 32"),
        (hand_delta_frame(polar.ACC, 1, 0x81, [[0, 0, 32001]], []), "beyond 32000"),
        (hand_delta_frame(polar.ACC, 1, 0x81, [[0, 0, 30000], [0, 0, 32767]], [(13, 1)]),
         "beyond"),
        (frame_header(polar.GYRO, 1, 0x81) + struct.pack("<3f", 0, float("nan"), 0), "non-finite"),
    ],
)  # fmt: skip
def test_a_frame_that_breaks_the_layout_is_rejected_whole(data, why):
    got = polar.parse_frame(data)
    assert isinstance(got, str) and why in got
    assert len(polar.parse_frame(GOOD)) == 3  # the rule, not the frame next to it


def test_limits_follow_the_ranges_set():
    big = hand_delta_frame(polar.GYRO, 1, 0x80, [[0, 0, 1100]], [])
    assert isinstance(polar.parse_frame(big, limits=polar.limits_for(16, 500)), str)  # > 1000 °/s
    assert len(polar.parse_frame(big, limits=polar.limits_for(16, 2000))) == 1


# -- control point --------------------------------------------------------------------------------


def test_start_command_and_answer_as_a_verity_sense_took_them():
    # polar-ble-sdk issue #443: start ACC at 52 Hz, 16 bits, ±8 g, 3 channels; answer F0 02 02 00 00
    cmd = H("0202 00013400 01011000 02010800 040103")
    assert polar.cmd_start(polar.ACC, polar.stream_settings(52, 8)) == cmd
    r = polar.parse_response(H("F002020000"))
    assert (r.opcode, r.mtype, r.ok, r.more, r.params) == (2, polar.ACC, True, False, b"")
    assert polar.cmd_stop(polar.GYRO) == H("0305") and polar.cmd_start(polar.SDK_MODE) == H("0209")
    assert polar.cmd_get_settings(polar.GYRO) == H("0105")


def test_settings_and_factor():
    # sample rates 26, 52, 104 (three u16), resolution 16, range 250 or 2000, factor 0.5 (float32)
    tlv = H("0003 1A00 3400 6800  01011000  0202 FA00 D007  0501 0000003F")
    got = polar.parse_settings(tlv)
    assert got[polar.SAMPLE_RATE] == (26, 52, 104) and got[polar.RANGE] == (250, 2000)
    assert got[polar.FACTOR] == (0.5,)
    assert polar.factor_of(tlv) == 0.5
    assert polar.parse_settings(tlv[:-1]) is None and polar.parse_settings(H("0901")) is None
    assert polar.encode_settings({polar.SAMPLE_RATE: (26, 52, 104)}) == tlv[:8]
    r = polar.parse_response(H("F001050001") + tlv)  # more to come: the params go on
    assert r.ok and r.more and r.params == tlv
    bad = polar.parse_response(H("F002020D"))
    assert not bad.ok and bad.status_name == "device in charger"


def test_features_read():
    # 0F, then byte 1: ACC 0x04 | GYRO 0x20 | PPG 0x02, byte 2: SDK mode 0x02
    assert polar.parse_features(H("0F2602")) == {polar.ACC, polar.GYRO, polar.PPG, polar.SDK_MODE}
    assert polar.parse_features(H("0F0500")) == {polar.ECG, polar.ACC}  # an H10: no GYRO
    assert polar.parse_features(H("0E2602")) == set()
    assert polar.encode_features({polar.ACC, polar.GYRO, polar.SDK_MODE}) == H("0F2402")


def test_recognised_by_name():
    assert recognise(Advertisement("A0:9E:1A:00:00:01", "Polar Sense EC6DBD29")).kind == polar.KIND
    assert recognise(Advertisement("A0:9E:1A:00:00:02", "Polar H10 1A2B3C4D")) is None
    assert recognise(Advertisement("A0:9E:1A:00:00:03", "", manufacturer_data={107: b""})) is None


# -- timing, pairing, records ---------------------------------------------------------------------


def test_frame_times_spread_over_the_time_since_the_previous_frame():
    # the SDK's rule: spacing = (t − t_previous) / n; the last sample at the frame's timestamp
    t, spacing, contiguous = polar.frame_times(10.0, 4, 9.96, 0.01)
    np.testing.assert_allclose(t, [9.97, 9.98, 9.99, 10.0])
    assert contiguous and spacing == pytest.approx(0.01)
    # a frame lost in between (or the first frame): nominal spacing, not spread over the loss
    t, spacing, contiguous = polar.frame_times(10.0, 4, 9.5, 0.01)
    np.testing.assert_allclose(t, [9.97, 9.98, 9.99, 10.0])
    assert not contiguous and spacing == 0.01


def test_pairing_by_nearest_time_leaves_out_what_has_no_partner():
    t_acc = np.arange(10) * 0.01
    t_gyro = np.delete(np.arange(12) * 0.01 + 0.003, [4, 5])  # GYRO 3 ms late, two missing
    ra, rg = polar.pair(t_acc, t_gyro, 0.005)
    np.testing.assert_array_equal(ra, [0, 1, 2, 3, 6, 7, 8, 9])
    np.testing.assert_allclose(t_gyro[rg] - t_acc[ra], 0.003)


def test_records_of_a_recording_decode_to_the_paired_samples():
    rate, t0 = 104, 790_000_000_000_000_000
    acc = np.arange(60).reshape(20, 3) - 30
    gyro = -np.arange(60).reshape(20, 3) * 10
    t_acc = [t0 + round((k + 1) * 1e9 / rate) for k in range(20)]
    start = polar.encode_response(polar.OP_START, polar.GYRO, params=H("0501") + H("0000003F"))
    a1 = polar.encode_delta(polar.ACC, t_acc[9], acc[:10], [9], frame_type=1)
    a2 = polar.encode_delta(polar.ACC, t_acc[19], acc[10:], [4, 5], frame_type=1)
    g1 = polar.encode_delta(polar.GYRO, t_acc[13], gyro[:14], [13])
    g2 = polar.encode_delta(polar.GYRO, t_acc[19], gyro[14:], [5])
    packets = [
        polar.pack_records([(polar.REC_CONTROL, start), (polar.REC_DATA, a1)]),
        b"\x01\x05",  # not records
        polar.pack_records([(polar.REC_DATA, g1), (polar.REC_DATA, g2), (polar.REC_DATA, a2)]),
    ]
    d = polar.decode(packets)
    assert [i for i, _ in d.bad] == [1] and d.packet_n.tolist() == [10, 10]
    np.testing.assert_allclose(d.acc_mps2, acc * G_MPS2 / 1000)
    np.testing.assert_array_equal(d.gyro_dps, gyro * 0.5)  # the factor of the start answer
    np.testing.assert_allclose(d.device_time_s, np.array(t_acc) * 1e-9, rtol=0, atol=1e-6)
