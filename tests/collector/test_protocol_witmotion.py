"""WitMotion BLE 5.0: the vendor's packet layout, one notification at a time, rate commands,
recognition."""

import numpy as np

from collector.constants import G_MPS2
from collector.protocols import Advertisement, recognise, witmotion


def test_vendor_example_layout():
    # 55 61, then ax ay az wx wy wz roll pitch yaw as int16 LE: 1 g on z, 250 °/s on x, 90° roll
    pkt = bytes.fromhex("5561000000000008001000000000004000000000")
    d = witmotion.decode([pkt])
    np.testing.assert_allclose(d.acc_mps2, [[0, 0, 2048 / 32768 * 16 * G_MPS2]])
    np.testing.assert_allclose(d.gyro_dps, [[4096 / 32768 * 2000, 0, 0]])
    rows = witmotion.parse_notification(pkt).data
    np.testing.assert_allclose(witmotion.decode_angles_deg(rows), [[90.0, 0, 0]])
    assert np.isnan(d.device_time_s).all() and d.bad == []


def packets(k, seed=1):
    rng = np.random.default_rng(seed)
    acc, gyr, ang = (rng.integers(-30000, 30000, (k, 3)) for _ in range(3))
    return acc, gyr, [witmotion.encode(acc[i], gyr[i], ang[i]) for i in range(k)]


def test_a_notification_is_the_unit_never_joined_with_the_next():
    acc, gyr, pkts = packets(6)
    bad = [
        pkts[0][:13],  # truncated: its 55 61 would have swallowed 7 bytes of the next packet
        b"\x55\x62" + pkts[1][2:],  # wrong flag byte
        bytes(range(20)),  # random bytes
        pkts[2] + b"\x55\x61\x00",  # over-long
        b"",
    ]
    for b in bad:
        d = witmotion.decode([b, pkts[3]])  # a malformed notification, then a valid one
        np.testing.assert_array_equal(d.acc_mps2, acc[3:4] * 16 * G_MPS2 / 32768)
        np.testing.assert_array_equal(d.gyro_dps, gyr[3:4] * 2000 / 32768)
        assert [i for i, _ in d.bad] == [0] and list(d.packet_n) == [1]
    d = witmotion.decode([pkts[0][:13], pkts[0][13:], pkts[4]])  # a packet split in two
    assert [i for i, _ in d.bad] == [0, 1] and len(d) == 1
    assert "20-byte" in witmotion.parse_notification(pkts[0][:13]).bad
    assert "55 62" in witmotion.parse_notification(b"\x55\x62" + pkts[1][2:]).bad


def test_whole_packets_back_to_back_and_register_replies():
    acc, _, pkts = packets(3)
    reply = witmotion.encode_register_reply(0x03, [0x09])
    f = witmotion.parse_notification(pkts[0] + reply + pkts[1])
    assert f.bad == "" and f.registers == [(0x03, (9, 0, 0, 0, 0, 0, 0, 0))]
    np.testing.assert_array_equal(witmotion.decode_rows(f.data).acc_mps2,
                                  acc[:2] * 16 * G_MPS2 / 32768)  # fmt: skip
    d = witmotion.decode([reply, pkts[2], pkts[0] + pkts[1]])
    assert list(d.packet_n) == [0, 1, 2] and d.bad == []
    np.testing.assert_array_equal(d.acc_mps2, acc[[2, 0, 1]] * 16 * G_MPS2 / 32768)
    # one bad packet spoils its whole notification
    assert len(witmotion.decode([pkts[0] + pkts[1][:13]])) == 0
    assert len(witmotion.decode([pkts[0] + b"\x00" * 20])) == 0


def test_commands():
    assert witmotion.UNLOCK.hex() == "ffaa6988b5" and witmotion.SAVE.hex() == "ffaa000000"
    assert witmotion.configure_commands(witmotion.rate_codes(100)[0])[1].hex() == "ffaa030900"
    assert witmotion.rate_codes(50) == [0x08]
    assert witmotion.rate_codes(200) == [0x0B, 0x0A]  # the sources disagree: both are tried
    assert witmotion.read_register(0x03).hex() == "ffaa270300"


def test_recognised_by_service_or_name():
    assert recognise(Advertisement("A", "WT901BLE68")).kind == "witmotion"
    assert (
        recognise(Advertisement("A", "", service_uuids=(witmotion.SERVICE_UUID,))).kind
        == "witmotion"
    )
    assert recognise(Advertisement("A", "Mi Band 5")) is None
