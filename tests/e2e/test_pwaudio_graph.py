"""End-to-end tests of the PipeWire backend as one client of a shared
graph (issue #15): what the guest can make it ask of PipeWire, and how it
lives with what the graph really does.

  quantum floor  a virtio-sound guest playing with 64-frame periods: the
                 graph's quantum, as module-profiler reports every cycle
                 to pw-profiler, stays at or above the min-quantum floor
                 (128 frames at 48 kHz by default), and the guest plays
                 to the end without an xrun (load-sensitive); with
                 out.min-quantum=0 the same guest
                 drives the graph below it (so the check can fail); an
                 out-of-range min-quantum stops QEMU with a clear error

Each test starts its own private PipeWire (tests/lib/pipewire.py). Files
are kept in ${QPW_E2E_WORK:-/tmp/qpw-e2e}/pwaudio-graph/<test>/.
"""

import math
import os
import shutil
import subprocess
import sys
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import analyze  # noqa: E402
import guest  # noqa: E402
from pipewire import SINK, PipeWire  # noqa: E402
from test_pwaudio import (MARK, node_props, qemu_nodes, read_trace,  # noqa: E402
                          run_marked, trace_args, xruns)

WORK = Path(os.environ.get("QPW_E2E_WORK", "/tmp/qpw-e2e")) / "pwaudio-graph"
RATE = 48000
VIRTIO = ["-device", "virtio-sound-pci,audiodev=snd0"]
# The backend's default floor (audio/pwaudio-timing.h), in us and in
# frames at the graph's rate.
MIN_QUANTUM_US = 2666
FLOOR_FRAMES = math.ceil(MIN_QUANTUM_US * RATE / 1e6)


class PwAudioGraphTest(unittest.TestCase):
    """The backend in a private PipeWire graph, driven by a virtio-sound
    guest."""

    load_sensitive = ("a TCG guest with 64-frame periods feeding a "
                      "real-time graph: a busy machine delays the guest "
                      "past its buffer")

    @classmethod
    def setUpClass(cls):
        try:
            cls.qemu = guest.qemu_binary()
        except FileNotFoundError as e:
            raise AssertionError(str(e)) from None
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)

    def setUp(self):
        self.work = WORK / self._testMethodName.removeprefix("test_")
        self.work.mkdir(parents=True, exist_ok=True)

    def report(self, text):
        """Print measured figures under the test's result line, with the
        machine's load."""
        load = os.getloadavg()[0]
        print(f"\n  {self._testMethodName}: {text}\n    (load average "
              f"{load:.2f} on {os.cpu_count()} CPUs)", file=sys.stderr,
              flush=True)

    def play_tiny_periods(self, audiodev, name):
        """The guest aplays 6 s of 440 Hz with 64-frame periods (4096
        frames of buffer) through virtio-sound; 0.2 s in, the graph's
        quanta are sampled for 1 s and the stream's node.latency read.
        Returns (guest result, guest output, quanta, node.latency,
        backend underruns, sink analysis)."""
        work = self.work / name
        work.mkdir(parents=True, exist_ok=True)
        tone = analyze.sox_tone(work / "tone.wav", 6, 440)
        trace = work / "trace.log"
        seen = {}
        with PipeWire(workdir=work / "pw", profiler=True) as pw:
            rec = pw.record_sink(work / "sink.wav")

            def on_mark(mark, rest, when):
                if mark != "playing":
                    return
                seen["quanta"] = pw.graph_quanta(1.0)
                nodes = qemu_nodes(pw.dump(), "Playback")
                seen["latency"] = (node_props(nodes[0])[0].get("node.latency")
                                   if nodes else None)

            res, _ = run_marked(
                ["-audiodev", audiodev, *VIRTIO, *trace_args(trace),
                 "-trace", "enable=qpw_period_hint"],
                "aplay -D hw:0,0 --period-size=64 --buffer-size=4096 "
                "/in/tone.wav 2>&1 & p=$!\n"
                f"sleep 0.2; echo '{MARK} playing'; wait $p; "
                "echo \"aplay rc $?\"",
                {"tone.wav": tone}, pw.env(), work / "guest", on_mark,
                timeout=120)
            time.sleep(0.3)
            rec.stop()
        self.assertEqual(res.exit_code, 0, res.describe())
        out = res.scenario_output()
        under = xruns(read_trace(trace), "underrun")
        a = analyze.analyze(work / "sink.wav", min_gap_ms=5)
        return res, out, seen.get("quanta"), seen.get("latency"), under, a

    def test_quantum_floor(self):
        """64-frame guest periods: every graph cycle is at least the floor
        (128 frames) and node.latency is 128/48000."""
        res, out, quanta, latency, under, a = self.play_tiny_periods(
            "pipewire,id=snd0", "default")
        self.assertTrue(quanta, f"pw-profiler saw no cycle\n{out}")
        self.report(f"{len(quanta)} graph cycles in 1 s, quanta "
                    f"{sorted(set(quanta))} frames, node.latency {latency}; "
                    f"backend underruns {under[0]} ({under[1]} frames); "
                    f"guest: {out.strip()!r}; sink: {a.summary()}")
        self.assertGreaterEqual(min(quanta), FLOOR_FRAMES, sorted(set(quanta)))
        self.assertEqual(latency, f"{FLOOR_FRAMES}/{RATE}")

    def test_quantum_floor_plays(self):
        """The same guest, at the floor's 128-frame cycles, plays its 6 s
        to the end: aplay reports no underrun and ends with status 0, and
        the tone reaches the sink (1 % frequency). Load-sensitive: the TCG
        guest has to turn round 750 periods a second."""
        res, out, quanta, latency, under, a = self.play_tiny_periods(
            "pipewire,id=snd0", "plays")
        self.report(f"guest: {out.strip()!r}; backend underruns {under[0]} "
                    f"({under[1]} frames); sink: {a.summary()}")
        self.assertIn("aplay rc 0", out, out)
        self.assertNotIn("underrun", out, out)
        self.assertGreater(a.frequency_hz, 0, a.summary())
        self.assertLess(abs(a.frequency_hz - 440) / 440, 0.01, a.summary())

    def test_quantum_floor_off(self):
        """out.min-quantum=0: the same guest's period reaches the graph
        (64-frame quanta), which is what the floor prevents."""
        res, out, quanta, latency, under, a = self.play_tiny_periods(
            "pipewire,id=snd0,out.min-quantum=0", "off")
        self.assertTrue(quanta, f"pw-profiler saw no cycle\n{out}")
        self.report(f"{len(quanta)} graph cycles in 1 s, quanta "
                    f"{sorted(set(quanta))} frames, node.latency {latency}; "
                    f"backend underruns {under[0]}; guest: "
                    f"{'underrun' in out and 'underruns' or 'no underrun'}")
        self.assertEqual(latency, f"64/{RATE}")
        self.assertLess(min(quanta), FLOOR_FRAMES, sorted(set(quanta)))

    def test_bad_min_quantum(self):
        """An out-of-range min-quantum stops QEMU at start-up with one line
        naming the audiodev, the option and the range."""
        argv = [str(self.qemu), "-nodefaults", "-display", "none", "-S",
                "-machine", "q35", "-accel", "tcg", "-audiodev",
                "pipewire,id=snd0,in.min-quantum=10000001", *VIRTIO]
        res = subprocess.run(argv, capture_output=True, text=True,
                             timeout=20, stdin=subprocess.DEVNULL)
        self.report(f"rc {res.returncode}; stderr {res.stderr.strip()!r}")
        self.assertGreater(res.returncode, 0)
        self.assertEqual(guest.sanitizer_reports(res.stderr), [])
        named = [l for l in res.stderr.splitlines() if "'snd0'" in l]
        self.assertEqual(len(named), 1, res.stderr)
        self.assertIn("in.min-quantum=10000001", named[0])
        self.assertIn("maximum of 10000000 us", named[0])


if __name__ == "__main__":
    unittest.main()
