"""The virtio-sound device end to end: the tiny guest's virtio_snd driver
finds the card, plays test tones through it into QEMU's `wav` backend and
into our PipeWire backend (a private PipeWire's sink monitor is recorded),
and records a tone played into the private PipeWire's source.

Each playback is checked on what came out: frequency within 1 %, tone
length within 5 %, no silent gap of 5 ms or more, level within 1 dB of
the input; discontinuities are reported.  The guest's aplay/arecord must
succeed and its kernel log must hold no virtio_snd error.  The guest-side
duration of aplay (busybox `time`) is checked too: the device returns a
message when the audio layer has taken it, so 5 s of audio must take the
guest about 5 s, not less.

The machine may be shared: a run whose checks fail is run again (once
more for the wav backend, twice for PipeWire, printing why and the load
average) before the test fails, since a host starved of CPU shows as gaps
and underruns too.

Every run traces the device's xruns (the guest was late) and the PipeWire
backend's underruns (the host was late) to trace.log in its directory and
prints how many there were; QEMU_VSND_TRACE=1 traces all `virtio_snd_*`
events there too.  Files are kept in ${QPW_E2E_WORK:-/tmp/qpw-e2e}/virtio-snd/.
"""

import os
import re
import shutil
import sys
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import analyze  # noqa: E402
import guest  # noqa: E402
import retry  # noqa: E402
from pipewire import SINK, SOURCE, PipeWire  # noqa: E402

WORK = Path(os.environ.get("QPW_E2E_WORK", "/tmp/qpw-e2e")) / "virtio-snd"
DEVICE = ["-device", "virtio-sound-pci,audiodev=snd0"]
SECONDS = 5.0
FREQ = 440.0
CAPTURE_FREQ = 1000.0
# The gaps a PipeWire run may have when QEMU counted no fault of its own
# (check_gaps()): how many, and how long each.
GRAPH_GAPS_MAX = 2
GRAPH_GAP_MS_MAX = 25.0

def guest_seconds(output):
    """The `real` time busybox's time printed, in seconds (None if not)."""
    m = re.search(r"^real\s+(\d+)m\s*([\d.]+)s", output, re.M)
    return int(m.group(1)) * 60 + float(m.group(2)) if m else None


def trace_args(workdir):
    """-trace arguments: xruns and the period the backend was told always,
    everything with QEMU_VSND_TRACE."""
    events = ["virtio_snd_xrun", "qpw_xrun", "qpw_no_buffer", "qpw_period_hint"]
    if os.environ.get("QEMU_VSND_TRACE"):
        events += ["virtio_snd_*", "qpw_stream_new"]
    args = ["-msg", "timestamp=on", "-D", str(workdir / "trace.log")]
    for event in events:
        args += ["-trace", event]
    return args


def xrun_counts(workdir):
    """(device xruns, PipeWire backend underruns and overruns, playback
    cycles that found no free buffer) in a run's trace.log; the device's
    xrun at the end of every playback (the drain) counts."""
    try:
        text = (workdir / "trace.log").read_text(errors="replace")
    except OSError:
        return (0, 0, 0)
    no_buffer = re.findall(r":qpw_no_buffer \S+ (\d+) ", text)
    return (len(re.findall(r":virtio_snd_xrun ", text)),
            len(re.findall(r":qpw_xrun .*(underrun|overrun)", text)),
            int(no_buffer[-1]) if no_buffer else 0)


# The formats played: (name, rate, sox bits, sox encoding, channels).
FORMATS = {
    "s16-48k-stereo": (48000, 16, "signed-integer", 2),
    "u8-44k-mono": (44100, 8, "unsigned-integer", 1),
    "s32-96k-stereo": (96000, 32, "signed-integer", 2),
}


class VirtioSndCase(unittest.TestCase):
    """Shared helpers: tones, guest runs, checks."""

    sub = "common"
    attempts = 2

    @classmethod
    def setUpClass(cls):
        """The QEMU binary must exist; make the work dir and the tones."""
        guest.qemu_binary()      # an error, not a skip, when QEMU is not built
        cls.work = WORK / cls.sub
        shutil.rmtree(cls.work, ignore_errors=True)
        cls.work.mkdir(parents=True)
        cls.tones, cls.expected = {}, {}
        for name, (rate, bits, enc, ch) in FORMATS.items():
            path = analyze.sox_tone(cls.work / f"tone-{name}.wav", SECONDS,
                                    FREQ, rate=rate, channels=ch, bits=bits,
                                    encoding=enc)
            cls.tones[name] = path
            cls.expected[name] = analyze.analyze(path)

    def retried(self, run):
        """run(attempt), again if its checks fail, up to self.attempts
        times (a loaded host): see tests/lib/retry.py."""
        return retry.retried(self, run, self.attempts)

    def run_guest(self, name, qemu_args, command, inputs=None, env=None):
        """Run command in the guest (with the device and qemu_args); check
        that it succeeded and that the driver logged no error."""
        workdir = self.work / name
        res = guest.run_guest(qemu_args + DEVICE + trace_args(workdir),
                              guest.command_scenario(command), inputs,
                              timeout=90, workdir=workdir, env=env)
        out = res.scenario_output()
        self.assertEqual(res.exit_code, 0, res.describe(40))
        self.assertEqual(guest.driver_errors(out), [], res.describe(40))
        self.assertNotIn("underrun", out, res.describe(40))
        self.assertNotIn("overrun", out, res.describe(40))
        res.xruns = xrun_counts(workdir)
        res.trace_path = workdir / "trace.log"
        return res

    def aplay(self, fmt, qemu_args, name, options="", env=None):
        """The guest plays the tone of format fmt with aplay; returns the
        guest result and aplay's duration as the guest measured it."""
        cmd = f"time aplay -q {options} -D hw:0,0 /in/tone.wav"
        res = self.run_guest(name, qemu_args, cmd,
                             {"tone.wav": self.tones[fmt]}, env)
        took = guest_seconds(res.scenario_output())
        self.assertIsNotNone(took, res.describe(40))
        return res, took

    def check_tone(self, label, path, expected, seconds=SECONDS, freq=FREQ,
                   took=None, res=None, graph=False):
        """The file holds the tone: frequency within 1 %, length within
        5 %, no gap >= 5 ms (with graph, a run through PipeWire: see
        check_gaps()), level within 1 dB; prints the figures."""
        self.assertTrue(Path(path).exists(), f"no {path}")
        a = analyze.analyze(path, min_gap_ms=5)
        extra = ""
        if took is not None:
            extra += f", guest aplay took {took:.2f} s"
        if res is not None:
            extra += (f", boot {res.boot_seconds or 0:.1f} s, QEMU CPU "
                      f"{res.qemu_cpu_seconds:.1f} s of "
                      f"{res.wall_seconds:.1f} s, xruns device/backend "
                      f"{res.xruns[0]}/{res.xruns[1]}, no-buffer cycles "
                      f"{res.xruns[2]}")
        print(f"\n  {label}: {a.frequency_hz:.2f} Hz, tone "
              f"{a.tone_seconds:.3f} s, {a.tone_rms_dbfs:.2f} dBFS "
              f"(input {expected.tone_rms_dbfs:.2f}), gaps {a.gaps}, "
              f"discontinuities {a.discontinuities}{extra}", file=sys.stderr)
        self.assertLess(abs(a.frequency_hz - freq) / freq, 0.01, a.summary())
        self.assertLess(abs(a.tone_seconds - seconds) / seconds, 0.05,
                        a.summary())
        self.check_gaps(a, res if graph else None)
        self.assertLess(abs(a.tone_rms_dbfs - expected.tone_rms_dbfs), 1.0,
                        a.summary())
        return a

    def check_gaps(self, a, res=None):
        """No gap in the analysis a; for a run through PipeWire (res, the
        guest result with its xrun counts), a few short gaps are the
        graph's when QEMU's side counted no fault in the whole run.

        This machine's PipeWire leaves silent cycles at its sink with
        nothing of ours in the graph (docs/testing.md, "Small graph
        cycles": pw-play alone, gaps of 5.3 to 32 ms in 5 s runs, most at
        128- and 256-frame cycles).  QEMU's side counts every cycle it
        could not fill: the device's xruns (the guest was late), the
        backend's underruns (the ring had less than the cycle) and
        overruns, and playback cycles that found no buffer.  When all are
        0, at most GRAPH_GAPS_MAX gaps of up to GRAPH_GAP_MS_MAX each
        pass, printed as the graph's; any count, or more or longer gaps,
        fails.  Audio of ours that is wrong rather than missing is what
        the bit-exact tests (test_fidelity.py) are for."""
        if res is None or not a.gaps:
            self.assertEqual(a.gaps, [], a.summary())
            return
        self.assertEqual(res.xruns, (0, 0, 0),
                         "gaps, and QEMU counted (device xruns, backend "
                         f"xruns, no-buffer cycles) {res.xruns}: "
                         f"{a.summary()}")
        self.assertLessEqual(len(a.gaps), GRAPH_GAPS_MAX, a.summary())
        self.assertLessEqual(max(ms for _, ms in a.gaps), GRAPH_GAP_MS_MAX,
                             a.summary())
        print(f"  gaps {a.gaps} while QEMU counted no fault: the graph's",
              file=sys.stderr)

    def check_duration(self, took, seconds=SECONDS):
        """aplay of `seconds` of audio took about that long in the guest:
        not shorter than the audio less the device's burst and the audio
        layer's buffer (0.3 s), not over 1.5 s longer."""
        self.assertGreater(took, seconds - 0.3)
        self.assertLess(took, seconds + 1.5)


class VirtioSndWavTest(VirtioSndCase):
    """The device on QEMU's wav backend (no host audio involved)."""

    sub = "wav"

    def test_cards_listed(self):
        """aplay -l and arecord -l show the virtio card, with one playback
        and one capture device (the default streams)."""
        res = self.run_guest("list", ["-audiodev", "none,id=snd0"],
                             "aplay -l; arecord -l; cat /proc/asound/pcm")
        out = res.scenario_output()
        play, _, rec = out.partition("List of CAPTURE")
        card = r"^card \d+: \w+ \[VirtIO SoundCard\], device \d+: virtio-snd"
        print("\n  aplay -l / arecord -l:\n    " + "\n    ".join(
            line for line in out.splitlines()
            if line.startswith(("card", "**", "0"))), file=sys.stderr)
        self.assertRegex(play, re.compile(card, re.M), out)
        self.assertRegex(rec, re.compile(card, re.M), out)
        self.assertRegex(out, r"virtio-snd : VirtIO PCM \d+ : playback 1 : "
                              r"capture 1", out)

    def play_to_wav(self, fmt):
        """Play format fmt into the wav backend at the tone's own rate (so
        that the audio layer does not resample) in stereo S16; check."""
        rate, _, _, _ = FORMATS[fmt]

        def run(attempt):
            out = self.work / f"qemu-{fmt}-{attempt}.wav"
            args = ["-audiodev", f"wav,id=snd0,path={out},"
                                 f"out.frequency={rate},out.channels=2,"
                                 "out.format=s16"]
            res, took = self.aplay(fmt, args, f"wav-{fmt}-{attempt}")
            self.check_tone(f"wav {fmt}", out, self.expected[fmt],
                            took=took, res=res)
            self.check_duration(took)
        self.retried(run)

    def test_s16_48k_stereo(self):
        """48 kHz S16 stereo reaches the wav file."""
        self.play_to_wav("s16-48k-stereo")

    def test_u8_44k_mono(self):
        """44.1 kHz U8 mono reaches the wav file (both channels)."""
        self.play_to_wav("u8-44k-mono")

    def test_s32_96k_stereo(self):
        """96 kHz S32 stereo reaches the wav file."""
        self.play_to_wav("s32-96k-stereo")


class VirtioSndPipeWireTest(VirtioSndCase):
    """The device on our PipeWire backend, with a private PipeWire."""

    sub = "pipewire"
    attempts = 3
    load_sensitive = ("a TCG guest feeding a real-time consumer: a busy "
                      "machine delays the guest and PipeWire's graph, whose "
                      "own gaps pass only within a small budget and only "
                      "while QEMU counts no fault (docs/testing.md, Small "
                      "graph cycles)")
    audiodev = ["-audiodev",
                f"pipewire,id=snd0,out.name={SINK},in.name={SOURCE}"]

    @classmethod
    def setUpClass(cls):
        """Tones, plus one private PipeWire for the class."""
        super().setUpClass()
        cls.capture_tone = analyze.sox_tone(cls.work / "tone-1k.wav", 60,
                                            CAPTURE_FREQ)
        cls.pw = PipeWire(workdir=cls.work / "pw")
        cls.pw.__enter__()

    @classmethod
    def tearDownClass(cls):
        """Stop PipeWire."""
        cls.pw.__exit__(None, None, None)

    def play_to_sink(self, name, options="", check=None):
        """The guest plays 48 kHz S16 stereo while the sink monitor is
        recorded; check the recording, and the guest result with check."""
        fmt = "s16-48k-stereo"

        def run(attempt):
            path = self.work / f"{name}-{attempt}-sink.wav"
            rec = self.pw.record_sink(path)
            try:
                res, took = self.aplay(fmt, self.audiodev,
                                       f"{name}-{attempt}", options,
                                       env=self.pw.env())
                time.sleep(0.3)
            finally:
                rec.stop()
            self.check_tone(f"pipewire {name}", path, self.expected[fmt],
                            took=took, res=res, graph=True)
            self.check_duration(took)
            if check:
                check(res)
        self.retried(run)

    def test_s16_48k_stereo(self):
        """48 kHz S16 stereo (aplay's default 125 ms periods) reaches the
        PipeWire sink."""
        self.play_to_sink("default-periods")

    def test_s16_48k_stereo_10ms_periods(self):
        """Four 10 ms periods, a guest buffer (40 ms) shorter than the
        backend's (46 ms): the device must not complete the whole buffer
        at START (the guest then saw an I/O error at once)."""
        self.play_to_sink("10ms-periods",
                          "--period-time=10000 --buffer-time=40000")

    def test_s16_48k_stereo_5ms_periods(self):
        """Four 5 ms periods: the device tells the backend the guest's
        period, the stream asks PipeWire for a quantum of it (240/48000,
        which PipeWire runs as 128-frame cycles), and the tone plays with
        no backend underrun.  Four, not two: with a 10 ms buffer this TCG
        guest's own aplay reported underruns in 2 of 5 runs (2026-12-06,
        load 0.5), the guest kernel refilling late, whatever the host
        did; test_forced_quantum_small_buffer covers a guest buffer
        shorter than the graph's cycle."""
        def check(res):
            trace = res.trace_path.read_text(errors="replace")
            self.assertIn("qpw_period_hint snd0 (playback): the user's "
                          "period is 5000 us, node.latency 240/48000", trace)
            self.assertEqual(res.xruns[1], 0, "backend underruns")
        self.play_to_sink("5ms-periods",
                          "--period-time=5000 --buffer-time=20000", check)

    def test_capture(self):
        """A 1 kHz tone played into the PipeWire source is in the file the
        guest's arecord writes (3 s of 48 kHz S16 stereo)."""
        expected = analyze.analyze(self.capture_tone)

        def run(attempt):
            player = self.pw.play_into_source(self.capture_tone, wait=False)
            try:
                res = self.run_guest(
                    f"capture-{attempt}", self.audiodev,
                    "arecord -q -D hw:0,0 -f S16_LE -r 48000 -c 2 -d 3 "
                    "/out/capture.wav", env=self.pw.env())
            finally:
                player.stop()
            self.assertIsNotNone(res.out_dir, res.describe(40))
            a = self.check_tone("capture", res.out_dir / "capture.wav",
                                expected, seconds=3.0, freq=CAPTURE_FREQ,
                                res=res, graph=True)
            self.assertEqual(a.seconds, 3.0, a.summary())
        self.retried(run)


if __name__ == "__main__":
    unittest.main()
