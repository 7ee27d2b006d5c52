"""``flossmeter assign`` against the emulated BlueZ: roles by tapping, then used by scan and record.

The command runs as a subprocess; the test reads its prompts line by line and taps the emulated
straps (``Tap``: a 3 g, 60 ms jolt) as a user would.
"""

import os
import queue
import subprocess
import threading
import time

import pytest

from collector.recording import load_recording
from collector.roles import (
    StrapConfig,
    StrapEntry,
    config_path,
    load_strap_config,
    save_strap_config,
)
from tests.ble.harness import HEAD, SHIN, device

OTHER = {"kind": "other", "address": "C0:FF:EE:00:00:09", "name": "Mi Band 5"}


class Conversation:
    """A running command whose stdout we read line by line (and whose stdin we may feed)."""

    def __init__(self, cmd: list[str], stdin: str = ""):
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=os.environ.copy(),
        )  # fmt: skip
        self.proc.stdin.write(stdin)
        self.proc.stdin.close()
        self.lines: queue.Queue = queue.Queue()
        self.transcript: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, text: str, timeout_s: float = 20.0) -> str:
        """The next line containing ``text`` (fails on exit or timeout, with the transcript)."""
        while True:
            try:
                line = self.lines.get(timeout=timeout_s)
            except queue.Empty:
                pytest.fail(f"no {text!r} within {timeout_s} s: {self.transcript}")
            if line is None:
                pytest.fail(f"exited before {text!r}: {self.transcript} {self.proc.stderr.read()}")
            self.transcript.append(line)
            if text in line:
                return line

    def finish(self, timeout_s: float = 30.0) -> tuple[int, str]:
        """Exit code and stderr, once the command has ended."""
        rc = self.proc.wait(timeout_s)
        while (line := self.lines.get(timeout=5)) is not None:
            self.transcript.append(line)
        return rc, self.proc.stderr.read()


def assign(cmd, *args, stdin=""):
    return Conversation([*cmd, "assign", "--scan-s", "1", *args], stdin)


def tap(bluez, *addresses):
    """Tap straps as a person reacting to a prompt (not within the first 0.3 s)."""
    time.sleep(0.3)
    bluez.sync("tap", *addresses)


def test_assign_by_tapping_then_scan_and_record_use_it(bluez, flossmeter_cmd, tmp_path):
    bluez.start([device("strap", SHIN, "shin"), device("strap", HEAD, "head"), OTHER])
    talk = assign(flossmeter_cmd, "--yes")
    assert "FLOSS-0001" in talk.expect("connecting 2 strap(s)")  # the band is not a strap
    talk.expect("tap the SHIN strap")
    tap(bluez, HEAD)  # the patient wears FLOSS-0002 on the shin
    assert talk.expect("shin:") == f"shin: FLOSS-0002 ({HEAD})"
    talk.expect("tap the HEAD strap")
    tap(bluez, SHIN)
    assert talk.expect("head:") == f"head: FLOSS-0001 ({SHIN})"
    talk.expect(f"saved to {config_path()}")
    rc, err = talk.finish()
    assert rc == 0, err
    cfg = load_strap_config()
    assert cfg.straps == {
        "shin": StrapEntry(HEAD, "FLOSS-0002", "flossmeter-strap"),
        "head": StrapEntry(SHIN, "FLOSS-0001", "flossmeter-strap"),
    }

    out = subprocess.run([*flossmeter_cmd, "scan", "--timeout-s", "1"], capture_output=True,
                         text=True, timeout=30)  # fmt: skip
    rows = {ln.split()[0]: ln.split() for ln in out.stdout.splitlines()[1:]}
    assert out.stdout.splitlines()[0].split()[-1] == "role"
    assert rows["FLOSS-0001"][-1] == "head" and rows["FLOSS-0002"][-1] == "shin"

    path = tmp_path / "r.flossrec"
    out = subprocess.run([*flossmeter_cmd, "record", "-o", str(path), "--duration-s", "3"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    rec = load_recording(path)
    assert rec.sensors["shin"]["address"] == HEAD and rec.sensors["head"]["address"] == SHIN
    assert rec.meta["ble"]["roles_from"] == str(config_path())
    assert len(rec.samples["shin"]) > 50 and len(rec.samples["head"]) > 50


def test_assign_asks_again_then_times_out_with_one_line(bluez, flossmeter_cmd):
    bluez.start([device("strap", SHIN, "shin"), device("strap", HEAD, "head")])
    talk = assign(flossmeter_cmd, "--yes", "--tap-timeout-s", "2")
    talk.expect("tap the SHIN strap")
    tap(bluez, SHIN, HEAD)  # both at once (a knock on the chair)
    talk.expect("2 straps moved at once: tap only the SHIN strap")
    talk.expect("tap the SHIN strap")
    tap(bluez, SHIN)
    talk.expect("shin: FLOSS-0001")
    talk.expect("tap the HEAD strap")
    tap(bluez, SHIN)  # the wrong strap
    talk.expect(f"that is the SHIN strap (FLOSS-0001 ({SHIN}))")
    talk.expect("tap the HEAD strap")
    rc, err = talk.finish()  # and then nothing
    assert rc == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "flossmeter: error: no tap in 2 s: tap the head strap firmly with a fingertip "
        "(or give --shin/--head to 'flossmeter record')"
    )
    assert not config_path().exists()


def test_assign_a_third_party_pair_confirmed_on_stdin(bluez, flossmeter_cmd):
    bluez.start([device("strap", SHIN, "shin"), device("movella", HEAD, "head")])
    save_strap_config(StrapConfig({"shin": StrapEntry("C0:FF:EE:00:00:07", "FLOSS-0007")}))
    talk = assign(flossmeter_cmd, stdin="y\n")
    talk.expect("tap the SHIN strap")
    tap(bluez, HEAD)  # a Movella DOT at 60 Hz on the shin
    talk.expect("shin: Movella DOT")
    talk.expect("tap the HEAD strap")
    tap(bluez, SHIN)
    talk.expect("head: FLOSS-0001")
    talk.expect("replaces: shin FLOSS-0007")
    assert talk.expect("saved to").endswith(f"? [Y/n] saved to {config_path()}")
    assert talk.finish()[0] == 0
    assert load_strap_config().straps["shin"] == StrapEntry(HEAD, "Movella DOT", "movella-dot")


def test_assign_one_strap_declined_saves_nothing(bluez, flossmeter_cmd):
    bluez.start([device("strap", SHIN, "shin"), OTHER])
    talk = assign(flossmeter_cmd, stdin="n\n")
    talk.expect("tap the SHIN strap")
    tap(bluez, SHIN)
    talk.expect("shin: FLOSS-0001")
    talk.expect("only one strap found: head not assigned")
    assert talk.expect("not saved").endswith("? [Y/n] not saved")
    assert talk.finish()[0] == 1
    assert not config_path().exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no supported straps found in 1 s"),
        (["AA:BB:CC:DD:EE:FF"], "no device 'AA:BB:CC:DD:EE:FF' found in 1 s"),
        ([OTHER["address"]], "Mi Band 5 (C0:FF:EE:00:00:09) is not a supported sensor"),
    ],
)
def test_assign_errors_are_one_line(bluez, flossmeter_cmd, args, message):
    bluez.start([OTHER])
    rc, err = assign(flossmeter_cmd, *args).finish()
    assert rc == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("flossmeter: error: ") and message in last
