"""The test clock that is not the host's (issue #17): qpw-drift-sink
(tests/tools/qpw-drift-sink.c) is a sink that drives the private graph at
its nominal rate offset by --ppm.  Played into, it must take the stream at
that rate by the host's monotonic clock, cycle after cycle, and record it
unbroken; offsets it cannot be are refused.  Files are kept in
${QPW_E2E_WORK:-/tmp/qpw-e2e}/drift-sink/.
"""

import os
import re
import shutil
import subprocess
import sys
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import analyze  # noqa: E402
from pipewire import PipeWire  # noqa: E402
import retry  # noqa: E402

WORK = Path(os.environ.get("QPW_E2E_WORK", "/tmp/qpw-e2e")) / "drift-sink"
SINK = "qpw_drift_sink"
SECONDS = 10
SETTLE = 2
# The measured rate may differ from the asked one by this much: the fit
# over 8 s of 21 ms cycles, each timed to within a scheduling latency.
TOLERANCE_PPM = 20
REPORT = re.compile(r"ppm ([-+.\d]+) asked, (\d+) cycles, (\d+) frames, "
                    r"(\d+) ticks late, (\d+) not driving, measured "
                    r"([.\d]+) frames/s = ([-+.\d]+) ppm")


def drift_sink_binary():
    """The tool, built by tests/run-unit into the unit-build directory."""
    cache = Path(os.environ.get("QPW_CACHE") or "/var/tmp/qemu-pipewire")
    path = cache / "unit-build" / "tests" / "tools" / "qpw-drift-sink"
    if not path.exists():
        raise FileNotFoundError(f"{path} is not built: run tests/run-unit")
    return path


def realtime(argv):
    """argv under SCHED_FIFO where we may (root): the tool's clock and
    process callback share its main thread."""
    return ["chrt", "-f", "20", *argv] if os.geteuid() == 0 else argv


class DriftSinkTest(unittest.TestCase):
    """qpw-drift-sink against a private PipeWire."""

    load_sensitive = ("the tool's clock ticks on its main thread: a busy "
                      "machine can delay a cycle past the next tick")

    def setUp(self):
        try:
            self.tool = drift_sink_binary()
        except FileNotFoundError as e:
            raise self.failureException(str(e)) from None

    def test_refuses_offsets_it_cannot_be(self):
        """More than 0.5 % off, or no number: refused with a message."""
        for ppm in ("5001", "-6000", "nan", "300x", ""):
            res = subprocess.run([str(self.tool), "--ppm", ppm],
                                 capture_output=True, text=True, timeout=10)
            self.assertEqual(res.returncode, 2, (ppm, res.stderr))
            self.assertIn("--ppm", res.stderr)
            self.assertIn("not a number from -5000 to 5000", res.stderr)

    @retry.attempts(2)
    def test_rate_follows_the_offset(self):
        """At -300, 0 and +300 ppm, a tone played into the sink is taken
        at the nominal rate offset by that much against the host's
        monotonic clock (within 20 ppm, from the first 2 s on), the sink
        driving the graph at every tick, and recorded unbroken.  Ticks
        that found a peer late are printed."""
        work = WORK / "rate"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        tone = analyze.sox_tone(work / "tone.wav", SECONDS + 5, 440)
        results = []
        with PipeWire(workdir=work / "pw") as pw:
            for ppm in (-300, 0, 300):
                results.append((ppm, self.run_at(pw, ppm, tone, work)))
        problems = []
        for ppm, (m, rec) in results:
            print(f"\n  {ppm:+d} ppm: {m.group(0)}; recording: "
                  f"{rec.summary()}", file=sys.stderr, end="")
            measured = float(m.group(7))
            if int(m.group(5)):
                problems.append(f"{ppm:+d} ppm: not the driver at "
                                f"{m.group(5)} ticks")
            if abs(measured - ppm) > TOLERANCE_PPM:
                problems.append(f"{ppm:+d} ppm asked, {measured:+.1f} "
                                f"measured")
            if rec.gaps or abs(rec.frequency_hz - 440) > 0.5:
                problems.append(f"{ppm:+d} ppm: recording {rec.summary()}")
        print(file=sys.stderr)
        self.assertEqual(problems, [])

    def run_at(self, pw, ppm, tone, work):
        """Run the sink at ppm for SECONDS with the tone played into it;
        returns (its report line's match, the recording's analysis)."""
        wav = work / f"sink{ppm:+d}.wav"
        sink = pw.client(realtime(
            [str(self.tool), "--ppm", str(ppm), "--seconds", str(SECONDS),
             "--settle", str(SETTLE), "--name", SINK, "--record", str(wav)]),
            f"drift-sink{ppm:+d}.log")
        deadline = time.monotonic() + 10
        while pw.find_node(SINK) is None:
            self.assertLess(time.monotonic(), deadline, "no sink node")
            time.sleep(0.1)
        # The player runs realtime too: a late one delays the sink's
        # cycles.
        player = pw.client(realtime(["pw-play", "--target", SINK,
                                     str(tone)]), f"pw-play{ppm:+d}.log")
        pw.wait_linked(player, SINK)
        rc = sink.wait(SECONDS + 20)
        player.stop()
        log = Path(sink.log_path).read_text(errors="replace")
        self.assertEqual(rc, 0, log)
        m = REPORT.search(log)
        self.assertIsNotNone(m, log)
        return m, analyze.analyze(wav)


if __name__ == "__main__":
    unittest.main()
