"""The reference firmware core (firmware_specs/reference/strap_core.c): compiled with the host gcc
warning-free, the golden vectors byte for byte through its own stream path, and its behaviour
(counters, gaps, commands, pings, battery) against hand-computed truth and the collector's decoder.

gcc is required (it is in the Makefile's APT_TEST): without it these tests fail, they never skip.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from collector.constants import G_MPS2
from collector.protocols import strap
from firmware_specs import load_golden_vectors
from tests.ble.firmware_core import (
    BATTERY,
    CONTROL,
    DATA,
    FIRMWARE_REVISION,
    MANUFACTURER,
    MODEL_NUMBER,
    REFERENCE_DIR,
    SPEC_DIR,
    WARNINGS,
    FirmwareCore,
    battery_percent,
)

HERE = Path(__file__).resolve().parent


def need(tool: str) -> str:
    """The path of ``tool``, or a failure that says how to get it."""
    path = shutil.which(tool)
    assert path, f"{tool} is not installed (Debian: it is in the Makefile's APT_TEST)"
    return path


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Path:
    """golden_driver.c + strap_core.c built by the host gcc with every warning an error."""
    exe = tmp_path_factory.mktemp("fw") / "golden_driver"
    sources = [str(HERE / "golden_driver.c"), str(REFERENCE_DIR / "strap_core.c")]
    cmd = [need("gcc"), *WARNINGS, f"-I{SPEC_DIR}", f"-I{REFERENCE_DIR}", *sources, "-o", str(exe)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0 and not done.stderr, done.stderr
    return exe


@pytest.mark.parametrize("vec", load_golden_vectors(), ids=lambda v: v["name"])
def test_core_streams_the_golden_vectors_byte_for_byte(driver, vec):
    f = vec["fields"]
    n = len(f["acc_counts"])
    rate = round(1e9 / f["period_ns"])
    mtu = 3 + 16 + 12 * n  # an MTU that holds exactly the vector's samples
    counts = [str(c) for a, g in zip(f["acc_counts"], f["gyro_counts"], strict=True)
              for c in (*a, *g)]  # fmt: skip
    args = [mtu, rate, f["acc_code"], f["gyro_code"], f["status"], f["seq"], f["t_us"]]
    done = subprocess.run([str(driver), *map(str, args), *counts], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    packet, replies, mismatches = done.stdout.split("\n")[:3]
    assert packet == vec["hex"]
    # set ranges, set rate, (time sync: token 0xC0FFEE, stamped 2 ms before sample 0), start
    expect = ["8400", "8300"]
    if f["status"] & 2:
        t0 = (f["t_us"] - f["seq"] * round(1e6 / rate)) % 2**32
        expect.append(struct.pack("<BBII", 0x86, 0, 0xC0FFEE, (t0 - 2000) % 2**32).hex())
    assert replies.split() == [*expect, "8100"]
    # the core sizes packets as the profile's formula (fm_samples_per_packet) for every rate
    # 25–400 Hz and ATT MTU 23–300
    assert mismatches == "0"


# -- behaviour through ctypes ------------------------------------------------------------------


def started(rate=100, mtu=247, acc=3, gyro=4, t_us=1_000_000) -> FirmwareCore:
    core = FirmwareCore("1.0.0-test", "FM-TEST", "flossmeter")
    core.connected(mtu, t_us - 3000)
    core.write(bytes([4, acc, gyro]), t_us - 2000)
    core.write(struct.pack("<BH", 3, rate), t_us - 1000)
    core.write(b"\x01", t_us - 500)
    assert core.take_all(CONTROL) == [b"\x84\x00", b"\x83\x00", b"\x81\x00"]
    return core


def counts(k):
    """Distinct counts for sample k (acc, gyro), so a sample in the wrong place shows."""
    k = np.asarray(k)
    acc = np.stack([k, -k, 2 * k], axis=1) % 30000
    return acc, (acc[:, ::-1] + 7) % 30000


def push_grid(core, ks, rate, t0=1_000_000, jitter=None):
    ks = np.asarray(ks)
    t = t0 + np.round(ks * 1e6 / rate).astype(np.int64)
    if jitter is not None:
        t = t + jitter
    acc, gyr = counts(ks)
    core.push(acc, gyr, t)


def test_stream_numbers_every_sample_and_packs_n_per_notification():
    core = started(rate=100)
    push_grid(core, range(10), 100)
    packets = core.take_all(DATA)
    assert len(packets) == 5 and all(len(p) == 16 + 2 * 12 for p in packets)  # N = 2 at 100 Hz
    d = strap.decode(packets)
    assert d.bad == []
    np.testing.assert_array_equal(d.sample_index, np.arange(10))
    np.testing.assert_allclose(d.device_time_s, 1.0 + np.arange(10) * 0.01, rtol=0, atol=1e-9)
    acc, gyr = counts(np.arange(10))
    np.testing.assert_allclose(d.acc_mps2, acc * (16 * G_MPS2 / 32768), rtol=1e-12)
    np.testing.assert_allclose(d.gyro_dps, gyr * (2000 / 32768), rtol=1e-12)
    assert core.stats()["samples_sent"] == 10


def test_a_missing_sample_is_a_gap_of_the_counter_never_a_shift():
    core = started(rate=200)  # N = 4
    kept = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15]  # sample 6 never arrived
    push_grid(core, kept, 200)
    packets = core.take_all(DATA)
    d = strap.decode(packets)
    # [0-3], [4 5] (a gap follows: the notification ends), [7-10], [11-14]; 15 waits
    assert [len(p) for p in packets] == [16 + 48, 16 + 24, 16 + 48, 16 + 48]
    np.testing.assert_array_equal(d.sample_index, kept[:-1])
    np.testing.assert_allclose(d.device_time_s, 1.0 + np.array(kept[:-1]) / 200, atol=1e-9)
    np.testing.assert_array_equal(np.rint(d.acc_mps2 / (16 * G_MPS2 / 32768)), counts(kept[:-1])[0])
    assert core.stats()["samples_skipped"] == 1


def test_counter_keeps_counting_across_a_drop_and_a_stop_and_restarts_with_a_new_rate():
    core = started(rate=100, t_us=5_000_000)
    push_grid(core, range(4), 100, t0=5_000_000)
    assert strap.decode(core.take_all(DATA)).sample_index.tolist() == [0, 1, 2, 3]
    core.disconnected(5_035_000)
    push_grid(core, range(4, 100), 100, t0=5_000_000)  # the strap keeps sampling: counted, not sent
    assert core.sampling and core.take_all(DATA) == []
    core.connected(247, 6_000_000)
    core.write(struct.pack("<BH", 3, 100), 6_001_000)  # the same rate: the counter goes on
    core.write(b"\x01", 6_002_000)
    push_grid(core, range(100, 104), 100, t0=5_000_000)
    assert strap.decode(core.take_all(DATA)).sample_index.tolist() == [100, 101, 102, 103]
    # stop: the IMU may stop; restarted 2.5 s later, the counter resumes from the clock
    core.write(b"\x02", 6_045_000)
    assert not core.sampling
    core.write(b"\x01", 8_500_000)
    push_grid(core, range(350, 354), 100, t0=5_000_000)
    assert strap.decode(core.take_all(DATA)).sample_index.tolist() == [350, 351, 352, 353]
    # a new rate starts a new count (the profile: since streaming first started at this rate)
    core.write(b"\x02", 8_600_000)
    core.write(struct.pack("<BH", 3, 50), 8_700_000)
    core.write(b"\x01", 8_800_000)
    push_grid(core, range(2), 50, t0=9_000_000)
    d = strap.decode(core.take_all(DATA))
    assert d.sample_index.tolist() == [0, 1] and d.packet_n.tolist() == [1, 1]  # N = 1 at 50 Hz
    assert [r[:2] for r in core.take_all(CONTROL)] == [b"\x83\x00", b"\x81\x00", b"\x82\x00",
                                                        b"\x81\x00", b"\x82\x00", b"\x83\x00",
                                                        b"\x81\x00"]  # fmt: skip


def test_stop_sends_the_samples_already_taken():
    core = started(rate=400)  # N = 8
    push_grid(core, range(11), 400)
    assert len(core.take_all(DATA)) == 1  # 8; three wait for more
    core.write(b"\x02", 2_000_000)
    rest = core.take_all(DATA)
    assert strap.decode(rest).sample_index.tolist() == [8, 9, 10]


def test_a_full_ring_loses_the_oldest_samples_and_the_counter_shows_it():
    core = started(rate=400)
    push_grid(core, range(300), 400)  # the link took nothing for 0.75 s
    d = strap.decode(core.take_all(DATA))
    np.testing.assert_array_equal(d.sample_index, np.arange(300 - 128, 300))
    assert core.stats()["samples_overwritten"] == 300 - 128


def test_commands_answer_as_the_profile_says():
    core = started(rate=100)
    answers = []
    for cmd in (
        b"\x09",  # unknown opcode
        struct.pack("<BH", 3, 24), struct.pack("<BH", 3, 401), b"\x03\x64",  # bad rates
        struct.pack("<BH", 3, 200),  # while streaming: busy
        bytes([4, 0, 0]),  # ranges while streaming: busy
        bytes([4, 4, 0]),  # unknown accelerometer code
        b"\x06\x01\x02",  # a time sync without its token
        bytes([5, 3]),  # identify 3 s
    ):  # fmt: skip
        core.write(cmd, 2_000_000)
        answers += core.take_all(CONTROL)
    assert answers == [b"\x89\x03", b"\x83\x01", b"\x83\x01", b"\x83\x01", b"\x83\x02",
                       b"\x84\x02", b"\x84\x01", b"\x86\x01", b"\x85\x00"]  # fmt: skip
    core.write(b"", 2_000_000)  # nothing to answer
    assert core.take_all(CONTROL) == []
    # the LED blinks at 2 Hz for 3 s from the identify command
    lit = [core.led(2_000_000 + ms * 1000) for ms in range(0, 3500, 125)]
    assert lit == [True, True, False, False] * 6 + [False] * 4
    # state read: streaming, 100 Hz, ±16 g, ±2000 °/s, not yet synced
    assert strap.parse_state(core.read(CONTROL)) == strap.StrapState(True, 100, 16, 2000, 0)


def test_time_sync_answers_with_the_token_and_the_arrival_time_and_marks_packets_synced():
    core = started(rate=100)
    push_grid(core, range(2), 100)
    (first,) = core.take_all(DATA)
    core.write(strap.cmd_time_sync(0xFFFFFFFF), 4_294_967_000)  # near the clock's wrap
    core.write(strap.cmd_time_sync(7), 123)  # after it
    replies = [strap.parse_response(r) for r in core.take_all(CONTROL)]
    assert [strap.parse_time_sync(r) for r in replies] == [(0xFFFFFFFF, 4_294_967_000), (7, 123)]
    push_grid(core, range(2, 4), 100)
    (pkt,) = core.take_all(DATA)
    assert first[3] == 0x00 and pkt[3] == 0x02  # status bit 1: time synced
    assert strap.parse_state(core.read(CONTROL)).status == 0x02


def test_an_mtu_too_small_for_one_sample_refuses_to_start():
    core = FirmwareCore()
    core.connected(23, 0)
    core.write(b"\x01", 10)
    assert core.take_all(CONTROL) == [b"\x81\x02"] and not core.streaming
    core.set_mtu(31)
    core.write(b"\x01", 20)
    assert core.take_all(CONTROL) == [b"\x81\x00"] and core.samples_per_packet == 1


def test_declared_period_follows_an_imu_whose_rate_is_off_and_ignores_stamp_jitter():
    # an IMU asked for 100 Hz that runs at 99.84 Hz on the device clock
    core = started(rate=100)
    true_period_us = 1e6 / 99.84
    ks = np.arange(1300)  # 13 s
    acc, gyr = counts(ks)
    t_us = 1_000_000 + np.round(ks * true_period_us).astype(np.int64)
    packets = []
    for i in range(0, len(ks), 2):  # the glue drains as the samples come
        core.push(acc[i : i + 2], gyr[i : i + 2], t_us[i : i + 2])
        packets += core.take_all(DATA)
    d = strap.decode(packets)
    assert abs(core.period_ns - 1e9 / 99.84) < 5  # ns
    # within a packet (N = 2): the nominal period for the first 10 s, then the measured one
    declared = np.diff(d.device_time_s)[::2]
    assert np.allclose(declared[: 990 // 2], 0.01, rtol=0, atol=1e-9)
    assert np.allclose(declared[1010 // 2 :], 1 / 99.84, rtol=0, atol=5e-9)
    np.testing.assert_array_equal(d.sample_index, ks)  # no step was mistaken for a gap
    # a 100 Hz IMU stamped with ±0.3 ms of interrupt latency: the period stays nominal
    core = started(rate=100)
    jitter = np.random.default_rng(1).integers(-300, 301, 1300)
    push_grid(core, ks, 100, jitter=jitter)
    assert core.period_ns == 10_000_000
    assert core.stats()["samples_skipped"] == 0  # jitter is never taken for a gap


@pytest.mark.parametrize(
    "mv, pct",
    [(3000, 0), (3270, 0), (3840, 50), (4200, 100), (4300, 100), (3930, 68), (3611, 5), (3700, 13)],
)
def test_battery_percent_of_a_lipo_cell(mv, pct):
    # 3930 mV: halfway 3910 (65 %) → 3950 (70 %) = 67.5 → 68; 3700: 3690 (10) → 3710 (15) = 12.5
    assert battery_percent(mv) == pct


def test_battery_level_is_read_and_notified_when_it_moves_two_points():
    core = FirmwareCore()
    assert core.read(BATTERY) == b""  # not measured yet
    core.set_battery_mv(4200)
    core.connected(247, 0)
    assert core.take_all(BATTERY) == [b"\x64"]  # the level, once, on connecting
    core.set_battery_mv(4190)  # 99 %: one point
    assert core.take_all(BATTERY) == [] and core.read(BATTERY) == b"\x64"
    core.set_battery_mv(4180)  # 98 %
    assert core.take_all(BATTERY) == [b"\x62"] and core.read(BATTERY) == b"\x62"


def test_device_information_strings():
    core = FirmwareCore("1.0.0-test", "FM-TEST", "x" * 40)
    assert core.read(FIRMWARE_REVISION) == b"1.0.0-test"
    assert core.read(MODEL_NUMBER) == b"FM-TEST"
    assert core.read(MANUFACTURER) == b"x" * 23  # cut to FM_CORE_INFO_MAX - 1


def test_random_streams_decode_to_exactly_the_samples_taken():
    """Any rate, MTU and pattern of lost samples: every packet valid, every sample sent once
    with the counter and device time the schedule gives it."""
    rng = np.random.default_rng(7)
    for _ in range(20):
        rate = int(rng.choice([25, 50, 60, 100, 125, 200, 250, 400]))
        mtu = int(rng.integers(31, 248))
        core = started(rate=rate, mtu=mtu)
        ks = np.flatnonzero(rng.random(600) > 0.03)  # 3 % of the samples never arrive
        t_us = 1_000_000 + np.round(ks * 1e6 / rate).astype(np.int64)
        acc, gyr = counts(ks)
        sent = []
        for i in range(0, len(ks), 7):  # the glue drains every few samples
            core.push(acc[i : i + 7], gyr[i : i + 7], t_us[i : i + 7])
            sent += core.take_all(DATA)
        core.write(b"\x02", int(t_us[-1]) + 1000)
        sent += core.take_all(DATA)
        d = strap.decode(sent)
        assert d.bad == []
        # N: round(rate × 20 ms), halves up, as far as the MTU allows (the profile's formula)
        n = min((rate * 2 + 50) // 100, (mtu - 3 - 16) // 12, 19)
        assert max(d.packet_n) == n
        np.testing.assert_array_equal(d.sample_index, ks)
        np.testing.assert_allclose(d.device_time_s, t_us * 1e-6, rtol=0, atol=2e-6)
        np.testing.assert_array_equal(np.rint(d.acc_mps2 / (16 * G_MPS2 / 32768)), acc)


# -- the Cortex-M4F build -----------------------------------------------------------------------

ARM_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os",
             "-ffreestanding")  # fmt: skip


def arm_size(obj: Path) -> dict[str, int]:
    out = subprocess.run([need("arm-none-eabi-size"), str(obj)], capture_output=True, text=True,
                         check=True).stdout.split("\n")[1].split()  # fmt: skip
    return {"text": int(out[0]), "data": int(out[1]), "bss": int(out[2])}


def test_core_builds_for_cortex_m4f_within_its_budget(tmp_path):
    gcc = need("arm-none-eabi-gcc")
    base = [gcc, *WARNINGS, *ARM_FLAGS, f"-I{SPEC_DIR}", f"-I{REFERENCE_DIR}", "-c"]
    core_o = tmp_path / "strap_core.o"
    done = subprocess.run([*base, str(REFERENCE_DIR / "strap_core.c"), "-o", str(core_o)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and not done.stderr, done.stderr
    # the state a board allocates: one static fm_core_t
    (tmp_path / "state.c").write_text('#include "strap_core.h"\nfm_core_t fm_strap;\n')
    state_o = tmp_path / "state.o"
    subprocess.run([*base, "-fno-common", str(tmp_path / "state.c"), "-o", str(state_o)],
                   check=True)  # fmt: skip
    # the board glue may be C++ (the Arduino sketch): the header must compile there too
    (tmp_path / "glue.cpp").write_text('#include "strap_core.h"\nfm_core_t fm_strap;\n')
    done = subprocess.run([need("arm-none-eabi-g++"), "-std=c++11", *WARNINGS[1:], *ARM_FLAGS,
                           f"-I{SPEC_DIR}", f"-I{REFERENCE_DIR}", "-fsyntax-only",
                           str(tmp_path / "glue.cpp")], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and not done.stderr, done.stderr
    code, ram = arm_size(core_o), arm_size(state_o)
    print(
        f"Cortex-M4F -Os: core .text {code['text']} B, .data {code['data']} B, "
        f".bss {code['bss']} B; fm_core_t {ram['bss']} B"
    )
    assert code["data"] == 0 and code["bss"] == 0  # no hidden state: all of it is in fm_core_t
    assert code["text"] <= 4096  # the README reports the measured size
    ring = 128 * 24  # FM_CORE_RING_SAMPLES slots of 12 + 4 + 4 + 1 (+3 padding) bytes
    assert ring < ram["bss"] <= ring + 512


def test_without_gcc_the_emulated_strap_cannot_start_and_says_why(tmp_path, monkeypatch):
    from tests.ble import firmware_core

    monkeypatch.setattr(firmware_core.tempfile, "gettempdir", lambda: str(tmp_path))  # no cache
    monkeypatch.setattr(firmware_core.shutil, "which", lambda _: None)
    with pytest.raises(firmware_core.BuildError, match=r"gcc is needed .* apt-get install gcc"):
        firmware_core.build_library()
    assert list(tmp_path.rglob("*.so")) == []  # nothing half-built is left to load
