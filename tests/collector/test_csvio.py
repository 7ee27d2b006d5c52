"""Long CSV: round trips with unequal rates, irregular times and gaps; bad rows named by line."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.csvio import CSV_COLUMNS, read_samples_csv, write_samples_csv
from collector.errors import CollectorError
from collector.recording import SAMPLE_COLUMNS, Recording, load_recording, write_blocks
from tests.conftest import cached_session


def _recording(samples):
    events = pd.DataFrame(columns=["time_s", "sensor", "kind", "detail"])
    return Recording(None, {}, {}, samples, events)


def _frame(t, values):
    df = pd.DataFrame({"time_s": t, "device_time_s": t, "sample_index": np.arange(len(t))})
    for i, c in enumerate(SAMPLE_COLUMNS):
        df[c] = values[:, i]
    return df


@st.composite
def sensor_stream(draw, min_rate=25.0, max_rate=400.0):
    rate = draw(st.floats(min_rate, max_rate))
    n = draw(st.integers(2, 300))
    start = draw(st.floats(0.0, 5.0))
    jitter = draw(st.floats(0.0, 0.3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dt = (1 + jitter * rng.uniform(-1, 1, n - 1)) / rate
    gaps = rng.random(n - 1) < 0.05
    dt[gaps] *= rng.integers(2, 20, gaps.sum())
    t = start + np.concatenate(([0.0], np.cumsum(dt)))
    values = np.concatenate(
        [rng.normal(0, 9.81, (n, 3)), rng.normal(0, 200, (n, 3))], axis=1
    ).astype(np.float32)
    return _frame(t, values.astype(float))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(shin=sensor_stream(), head=st.one_of(st.none(), sensor_stream()))
def test_round_trip_takes_times_as_given(tmp_path, shin, head):
    samples = {"shin": shin} if head is None else {"shin": shin, "head": head}
    path = tmp_path / "x.csv"
    write_samples_csv(_recording(samples), path)
    back = read_samples_csv(path)
    assert list(back.samples) == list(samples)
    for role, df in samples.items():
        got = back.samples[role]
        np.testing.assert_allclose(got["time_s"], df["time_s"], atol=5e-7, rtol=0)
        np.testing.assert_allclose(
            got[list(SAMPLE_COLUMNS)], df[list(SAMPLE_COLUMNS)], rtol=1e-6, atol=1e-5
        )
    text = path.read_text().splitlines()
    assert text[0] == ",".join(CSV_COLUMNS)
    times = np.array([float(line.split(",")[0]) for line in text[1:]])
    assert (np.diff(times) >= 0).all(), "rows are sorted by time"


def test_recording_to_csv_and_back(tmp_path):
    s = cached_session(seed=3, sets=1, reps_per_set=2, loss=0.03)
    rec_path = tmp_path / "s.flossrec"
    write_blocks(rec_path, (it for _, it in s.timeline()), s.sensors)
    rec = load_recording(rec_path)
    csv = tmp_path / "s.csv"
    write_samples_csv(rec, csv)
    back = read_samples_csv(csv)
    for role in ("shin", "head"):
        a, b = rec.samples[role], back.samples[role]
        np.testing.assert_allclose(b["time_s"], a["time_s"], atol=5e-7, rtol=0)
        np.testing.assert_allclose(
            b[list(SAMPLE_COLUMNS)], a[list(SAMPLE_COLUMNS)], rtol=1e-6, atol=1e-5
        )
        # gaps are recovered from the timestamps alone
        assert back.gaps(role)["lost"].sum() == rec.gaps(role)["lost"].sum()


GOOD = "time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n" + "".join(
    f"{i * 0.01:.2f},shin,0,0,9.81,0,0,0\n" for i in range(6)
)


@pytest.mark.parametrize(
    "text,match",
    [
        (
            GOOD.replace("0.03,shin,0,0,9.81", "0.03,shin,0,abc,9.81"),
            "line 5: acc_y is 'abc', not a number",
        ),
        (GOOD.replace("0.02,shin", "0.02,knee"), "line 4: sensor is 'knee', not 'shin' or 'head'"),
        (
            GOOD.replace("0.04,shin,0,0,9.81,0,0,0", "0.04,shin,0,0,9.81,0,0,0,7"),
            "line 6: expected 8 fields, saw 9",
        ),
        (GOOD.replace("0.04,shin", "0.01,shin"), "line 6: shin time 0.01 s does not come after"),
        (
            GOOD.replace("0.05,shin,0,0,9.81,0,0,0", "0.05,shin,0,0,9.81,0,0,"),
            "line 7: gyr_z is '', not a number",
        ),
        (
            GOOD.replace("0.01,shin,0,0,9.81,0,0,0", "0.01,shin,0,0,inf,0,0,0"),
            "line 3: acc_z is 'inf', not a number",
        ),
        (GOOD.replace("shin", "head"), "no shin samples"),
        ("time_s,sensor,acc_x\n1,shin,2\n", "line 1: missing column"),
        ("time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n", "no samples"),
        ("", "empty file"),
    ],
)
def test_bad_rows_are_named_by_line(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CollectorError, match=match) as e:
        read_samples_csv(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_binary_file_is_not_a_csv(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(CollectorError, match="not a text CSV"):
        read_samples_csv(path)


def test_good_file_parses_with_columns_in_any_order(tmp_path):
    path = tmp_path / "ok.csv"
    cols = ["sensor", "gyr_z", "time_s", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y"]
    rows = [f"shin,1.5,{i / 50:.3f},0,0,9.81,0,0" for i in range(10)]
    path.write_text(",".join(cols) + "\n" + "\n".join(rows) + "\n")
    rec = read_samples_csv(path)
    assert rec.samples["shin"]["gyr_z"].tolist() == [1.5] * 10
    assert rec.sensors["shin"]["rate_hz"] == pytest.approx(50.0)
