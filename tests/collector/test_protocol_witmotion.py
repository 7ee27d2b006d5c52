"""WitMotion BLE 5.0: the vendor's packet layout, stream reassembly, rate commands, recognition."""

import numpy as np

from collector.constants import G_MPS2
from collector.protocols import Advertisement, recognise, witmotion


def test_vendor_example_layout():
    # 55 61, then ax ay az wx wy wz roll pitch yaw as int16 LE: 1 g on z, 250 °/s on x, 90° roll
    pkt = bytes.fromhex("5561000000000008001000000000004000000000")
    d = witmotion.decode([pkt])
    np.testing.assert_allclose(d.acc_mps2, [[0, 0, 2048 / 32768 * 16 * G_MPS2]])
    np.testing.assert_allclose(d.gyro_dps, [[4096 / 32768 * 2000, 0, 0]])
    rows = witmotion.split_frames(pkt).data
    np.testing.assert_allclose(witmotion.decode_angles_deg(rows), [[90.0, 0, 0]])
    assert np.isnan(d.device_time_s).all() and d.bad == []


def test_split_notifications_junk_and_register_replies():
    rng = np.random.default_rng(1)
    acc = rng.integers(-30000, 30000, (5, 3))
    stream = witmotion.encode(acc, acc, acc)
    reply = witmotion.encode_register_reply(0x03, [0x09])
    blob = b"\x00\x13" + stream[:40] + reply + stream[40:]
    # notifications cut anywhere: what is left over is carried to the next one
    rest, rows = b"", []
    for cut in np.array_split(np.frombuffer(blob, np.uint8), 7):
        f = witmotion.split_frames(rest + cut.tobytes())
        rest = f.rest
        rows.append(f.data)
    got = witmotion.decode_rows(np.vstack(rows))
    np.testing.assert_allclose(got.acc_mps2, acc * 16 * G_MPS2 / 32768)
    f = witmotion.split_frames(blob[:2] + reply)
    assert f.registers == [(0x03, (9, 0, 0, 0, 0, 0, 0, 0))] and f.junk_bytes == 2


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
