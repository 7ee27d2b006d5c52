"""Our strap profile: golden vectors, malformed packets, the C header against the decoder."""

import shutil
import subprocess

import numpy as np
import pytest

from collector.protocols import strap
from firmware_specs import c_header_text, load_golden_vectors, load_profile


def test_profile_is_what_the_decoder_uses():
    prof = load_profile()
    assert prof["uuids"]["data"] == strap.DATA_UUID
    assert strap.HEADER_DTYPE.itemsize == prof["data_packet"]["header_size"] == 16
    assert strap.HEADER_SIZE + strap.MAX_SAMPLES * strap.SAMPLE_SIZE == 247 - 3


@pytest.mark.parametrize("vec", load_golden_vectors(), ids=lambda v: v["name"])
def test_golden_vectors_decode_and_encode(vec):
    raw = bytes.fromhex(vec["hex"])
    d = strap.decode([raw])
    assert d.bad == []
    np.testing.assert_array_equal(d.sample_index, vec["decoded"]["sample_index"])
    np.testing.assert_allclose(d.device_time_s, vec["decoded"]["device_time_s"], atol=1e-9)
    np.testing.assert_allclose(d.acc_mps2, vec["decoded"]["acc_mps2"], atol=1e-8)
    np.testing.assert_allclose(d.gyro_dps, vec["decoded"]["gyro_dps"], atol=1e-8)
    f = vec["fields"]
    again = strap.encode(
        f["seq"],
        f["t_us"],
        f["period_ns"],
        np.array(f["acc_counts"]),
        np.array(f["gyro_counts"]),
        f["acc_code"],
        f["gyro_code"],
        f["status"],
    )
    assert again == raw


def test_malformed_packets_are_listed_never_raised():
    import json
    from importlib import resources

    bad = json.loads(resources.files("firmware_specs").joinpath("golden_vectors.json").read_text())
    good = bytes.fromhex(load_golden_vectors()[1]["hex"])
    packets = [good] + [bytes.fromhex(b["hex"]) for b in bad["malformed"]] + [b"", b"\xff" * 300]
    d = strap.decode(packets)
    assert len(d) == 2 and list(d.packet_n) == [2]
    reasons = dict(d.bad)
    for i, b in enumerate(bad["malformed"], start=1):
        assert b["reason"] in reasons[i]
    assert set(reasons) == set(range(1, len(packets)))


def test_a_truncated_notification_followed_by_a_valid_one_is_only_the_valid_one():
    rng = np.random.default_rng(2)
    acc, gyr = rng.integers(-32768, 32767, (2, 2, 3))
    a = strap.encode(100, 5_000_000, 10_000_000, acc, gyr, 3, 4)
    b = strap.encode(102, 5_020_000, 10_000_000, gyr, acc, 3, 4)
    for broken in (a[:20], a[:28], a + a[16:28], a + b"\x00", b"\x02" + a[1:], a[:1]):
        d = strap.decode([broken, b])
        assert [i for i, _ in d.bad] == [0] and list(d.packet_n) == [2]
        np.testing.assert_array_equal(d.sample_index, [102, 103])
        np.testing.assert_array_equal(d.acc_mps2, gyr * (16 * 9.80665 / 32768))
        np.testing.assert_array_equal(d.gyro_dps, acc * (2000 / 32768))


def test_decode_is_vectorised_and_keeps_packet_order():
    rng = np.random.default_rng(0)
    packets, expect = [], []
    for p in range(200):
        n = 1 + p % 3  # mixed lengths
        acc = rng.integers(-32768, 32767, (n, 3))
        packets.append(strap.encode(p * 10, p * 1000, 10_000_000, acc, acc, 3, 4))
        expect.extend(p * 10 + np.arange(n))
    d = strap.decode(packets)
    np.testing.assert_array_equal(d.sample_index, expect)
    assert list(d.packet_n) == [1 + p % 3 for p in range(200)]


def test_commands_and_state():
    assert strap.cmd_set_rate(100) == b"\x03\x64\x00"
    with pytest.raises(ValueError):
        strap.cmd_set_rate(401)
    assert strap.cmd_set_ranges(8, 500) == b"\x04\x02\x02"
    st = strap.StrapState(True, 200, 4.0, 250.0, 0)
    assert strap.parse_state(strap.encode_state(st)) == st
    assert strap.samples_per_packet(100) == 2 and strap.samples_per_packet(400) == 8
    assert strap.samples_per_packet(400, mtu=23 + 20) == 2
    # round(rate × 0.02) with halves up, as the C header computes it in integers (Python's
    # round() takes halves to even: 125 Hz gave 2 where the firmware sends 3)
    assert [strap.samples_per_packet(r) for r in (125, 175, 225, 325)] == [3, 4, 5, 7]
    for rate in range(25, 401):
        for mtu in (31, 43, 100, 247):
            fit = min((mtu - 3 - 16) // 12, strap.MAX_SAMPLES)
            assert strap.samples_per_packet(rate, mtu) == min(max(1, (rate * 2 + 50) // 100), fit)


C_TEST = r"""
#include <stdio.h>
#include <stdlib.h>
#include "flossmeter_strap.h"
int main(int argc, char **argv) {
    /* args: seq t_us period_ns acc_code gyro_code status then 6 counts per sample */
    fm_sample_t s[FM_MAX_SAMPLES];
    uint8_t out[256];
    int n = (argc - 7) / 6, i, k;
    size_t len;
    for (i = 0; i < n; i++) for (k = 0; k < 3; k++) {
        s[i].acc[k] = (int16_t)atol(argv[7 + 6 * i + k]);
        s[i].gyr[k] = (int16_t)atol(argv[10 + 6 * i + k]);
    }
    len = fm_pack_data(out, sizeof out, (uint32_t)strtoul(argv[1], 0, 10),
                       (uint32_t)strtoul(argv[2], 0, 10), (uint32_t)strtoul(argv[3], 0, 10),
                       (uint8_t)atoi(argv[4]), (uint8_t)atoi(argv[5]), (uint8_t)atoi(argv[6]), s,
                       (uint8_t)n);
    for (i = 0; i < (int)len; i++) printf("%02x", out[i]);
    printf("\n%u %u\n", fm_samples_per_packet(100, 247), fm_samples_per_packet(400, 23));
    {
        fm_command_t c;
        const uint8_t rate[] = {3, 0x90, 0x01}, sync[] = {6, 1, 2, 3, 4};
        uint8_t r = fm_parse_command(rate, 3, &c), resp[10];
        printf("%u %u ", r, c.rate_hz);
        r = fm_parse_command(sync, 5, &c);
        fm_pack_time_sync(resp, c.token, 0xDEADBEEFu);
        for (i = 0; i < 10; i++) printf("%02x", resp[i]);
        printf("\n");
    }
    return 0;
}
"""


def test_c_header_compiles_and_round_trips(tmp_path):
    # no silent skip: without gcc this says what to install (it is in the Makefile's APT_TEST)
    assert shutil.which("gcc"), "gcc is needed to compile the C header (apt-get install gcc)"
    (tmp_path / "flossmeter_strap.h").write_text(c_header_text())
    (tmp_path / "t.c").write_text(C_TEST)
    exe = tmp_path / "t"
    subprocess.run(
        [
            "gcc",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-pedantic",
            "-Werror",
            "-o",
            str(exe),
            str(tmp_path / "t.c"),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    for vec in load_golden_vectors():
        f = vec["fields"]
        counts = [
            str(c) for a, g in zip(f["acc_counts"], f["gyro_counts"], strict=True) for c in (*a, *g)
        ]
        args = [str(f[k]) for k in ("seq", "t_us", "period_ns", "acc_code", "gyro_code", "status")]
        out = subprocess.run(
            [str(exe), *args, *counts], capture_output=True, text=True, check=True
        ).stdout.split("\n")
        assert out[0] == vec["hex"]  # the firmware packs exactly the golden bytes
        d = strap.decode([bytes.fromhex(out[0])])
        np.testing.assert_allclose(d.acc_mps2, vec["decoded"]["acc_mps2"], atol=1e-8)
    assert out[1] == f"{strap.samples_per_packet(100)} 0"  # MTU 23 cannot hold a sample
    rate_ok, rate, resp = out[2].split()
    assert (rate_ok, rate) == ("0", "400")
    r = strap.parse_response(bytes.fromhex(resp))
    assert r is not None and r.ok and strap.parse_time_sync(r) == (0x04030201, 0xDEADBEEF)
