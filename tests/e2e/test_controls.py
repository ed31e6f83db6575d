"""The virtio-sound device's mixer controls (VIRTIO_SND_F_CTLS) end to end,
in the tiny guest with its 6.12 virtio_snd driver and amixer.

- The guest lists the controls: `PCM Playback Volume`/`Switch`,
  `Capture Volume`/`Switch`, the volumes with ALSA's dB scale (-60 dB to
  0 dB in 0.5 dB steps, min is mute), and amixer shows dB for the values.
- Playback on our PipeWire backend: the guest plays a 440 Hz tone while,
  every 3 s, it sets `PCM` to 50 % (value 60, -30 dB), mutes and unmutes
  it. The QEMU stream node's Props in pw-dump follow (`channelVolumes`
  (81/255)^3 = 0.0320 for level 81, `mute`), and the level recorded at the
  sink's monitor drops by 60 log10(81/255) = -29.88 dB (within 0.5 dB),
  goes silent and comes back.
- Capture: with `Capture` at 50 % the guest records a tone played into the
  PipeWire source -29.88 dB (within 0.5 dB) below what it records at
  100 %, and nothing with the capture switch off.

Each PipeWire run gets its own private PipeWire with fresh state, so that
WirePlumber's stream volume memory (restore-stream) from one run cannot
leak into the next: it would restore the last run's volume or mute onto
the new stream after the device set the guest's (docs/virtio-sound.md). A run whose
checks fail is run again (twice more) before the test fails: the machine
may be shared, and a starved real-time stream shows as gaps. Files are
kept in ${QPW_E2E_WORK:-/tmp/qpw-e2e}/controls/.
"""

import math
import os
import queue
import re
import shutil
import sys
import threading
import time
import unittest
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import analyze  # noqa: E402
import guest  # noqa: E402
import retry  # noqa: E402
from pipewire import SINK, SOURCE, PipeWire  # noqa: E402

WORK = Path(os.environ.get("QPW_E2E_WORK", "/tmp/qpw-e2e")) / "controls"
DEVICE = ["-device", "virtio-sound-pci,audiodev=snd0"]
AUDIODEV = ["-audiodev", f"pipewire,id=snd0,out.name={SINK},in.name={SOURCE}"]

# Value 60 of 120 (amixer's 50 %) is -30 dB; the device gives the voice
# QEMU level round(255 * 10^(-30/60)) = 81, which the PipeWire backend
# makes (81/255)^3 in channelVolumes: 60 log10(81/255) dB.
HALF_LEVEL = 81
HALF_LINEAR = (HALF_LEVEL / 255) ** 3
HALF_DB = 60 * math.log10(HALF_LEVEL / 255)          # -29.88
TOLERANCE_DB = 0.5

def window_levels(path, window=0.1):
    """(rate, dBFS of each `window` seconds of the WAV, all channels)."""
    wav = analyze.load_wav(path)
    n = max(1, int(wav.rate * window))
    x = np.asarray(wav.samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    frames = len(x) // n
    levels = [analyze.dbfs(analyze.rms(x[i * n:(i + 1) * n]))
              for i in range(frames)]
    return wav.rate, np.array(levels)


def median_level(levels, start, end, window=0.1):
    """Median dBFS of the windows from start to end seconds (a gap or a
    transition in the span does not move it)."""
    part = levels[int(start / window):int(end / window)]
    if not len(part):
        return float("-inf")
    return float(np.median(part))


def stream_props(objects, media_class):
    """(channelVolumes, mute) of QEMU's stream node snd0 of that class in a
    pw-dump, or None when there is none (yet)."""
    for o in objects:
        info = o.get("info") or {}
        props = info.get("props") or {}
        if not o.get("type", "").endswith(":Node") or \
                props.get("node.name") != "snd0" or \
                props.get("media.class") != media_class:
            continue
        for p in (info.get("params") or {}).get("Props") or []:
            if isinstance(p, dict) and "channelVolumes" in p:
                return list(p["channelVolumes"]), bool(p.get("mute"))
    return None


class MarkerWatch:
    """A serial console sink (run_guest's echo) that takes a pw-dump
    snapshot of the stream's Props each time the guest prints
    "QPW: mark NAME": snapshots[NAME] = (channelVolumes, mute)."""

    def __init__(self, pw, media_class):
        self.pw, self.media_class = pw, media_class
        self.snapshots = {}
        self.marks = queue.Queue()
        self.worker = threading.Thread(target=self._work, daemon=True)
        self.worker.start()

    def write(self, line):
        """Called for every serial line (from run_guest's reader)."""
        m = re.match(r"QPW: mark (\S+)", line)
        if m:
            self.marks.put(m.group(1))

    def flush(self):
        """Nothing buffered."""

    def _work(self):
        while True:
            name = self.marks.get()
            if name is None:
                return
            # The guest waits 2.5 s after each mark: look within 1.5 s.
            deadline = time.monotonic() + 1.5
            props = None
            while time.monotonic() < deadline:
                time.sleep(0.3)
                try:
                    props = stream_props(self.pw.dump(), self.media_class)
                except Exception:       # noqa: BLE001 - keep watching
                    props = None
                if props is not None:
                    break
            self.snapshots[name] = props

    def close(self):
        """Stop the worker after the marks seen so far."""
        self.marks.put(None)
        self.worker.join(10)


class ControlsCase(unittest.TestCase):
    """Guest runs and shared checks."""

    attempts = 3

    @classmethod
    def setUpClass(cls):
        guest.qemu_binary()      # an error, not a skip, when QEMU is not built
        cls.work = WORK
        cls.work.mkdir(parents=True, exist_ok=True)

    def retried(self, run):
        """run(attempt), again if its checks fail, up to self.attempts
        times (a loaded host): see tests/lib/retry.py."""
        return retry.retried(self, run, self.attempts)

    def fresh_dir(self, name):
        """An empty directory under the work dir (for a PipeWire with no
        saved state)."""
        path = self.work / name
        shutil.rmtree(path, ignore_errors=True)
        return path

    def run_guest(self, name, qemu_args, command, inputs=None, env=None,
                  echo=None):
        """Run command in the guest; it and the driver must not fail."""
        workdir = self.work / name
        shutil.rmtree(workdir, ignore_errors=True)
        res = guest.run_guest(qemu_args + DEVICE,
                              guest.command_scenario(command), inputs,
                              timeout=120, workdir=workdir, env=env,
                              echo=echo)
        out = res.scenario_output()
        self.assertEqual(res.exit_code, 0, res.describe(40))
        self.assertEqual(guest.driver_errors(out), [], res.describe(40))
        return res


class ControlsListTest(ControlsCase):
    """What the guest's amixer sees (no host audio needed)."""

    def test_amixer_lists_controls(self):
        """amixer controls/contents list the four controls with their
        types, ranges and dB scale; sget shows dB; 50 % is -30 dB."""
        res = self.run_guest(
            "list", ["-audiodev", "none,id=snd0"],
            "amixer -c0 controls; echo ----; amixer -c0 contents; "
            "echo ----; amixer -c0 sget PCM; amixer -c0 sget Capture; "
            "echo ----; amixer -c0 sset PCM 50% >/dev/null && "
            "amixer -c0 sget PCM && amixer -c0 sset Capture 0 nocap "
            ">/dev/null && amixer -c0 sget Capture")
        out = res.scenario_output()
        controls, contents, sget, after = (out.split("----\n") + [""] * 4)[:4]
        print("\n  " + "\n  ".join(contents.splitlines()[:40]),
              file=sys.stderr)
        for name in ("PCM Playback Volume", "PCM Playback Switch",
                     "Capture Volume", "Capture Switch"):
            self.assertRegex(controls, rf"iface=MIXER,name='{name}'", out)
        volume = re.compile(r"name='(PCM Playback|Capture) Volume'\n"
                            r"\s*; type=INTEGER,access=rw---R--,values=2,"
                            r"min=0,max=120,step=1\n"
                            r"\s*: values=120,120\n"
                            r"\s*\| dBscale-min=-60.00dB,step=0.50dB,"
                            r"mute=1\n")
        self.assertEqual(len(volume.findall(contents)), 2, contents)
        switch = re.compile(r"name='(PCM Playback|Capture) Switch'\n"
                            r"\s*; type=BOOLEAN,access=rw------,values=1\n"
                            r"\s*: values=on\n")
        self.assertEqual(len(switch.findall(contents)), 2, contents)
        self.assertRegex(sget, r"Playback 120 \[100%\] \[0.00dB\] \[on\]",
                         out)
        self.assertRegex(sget, r"Capture 120 \[100%\] \[0.00dB\] \[on\]",
                         out)
        self.assertRegex(after, r"Playback 60 \[50%\] \[-30.00dB\] \[on\]",
                         out)
        self.assertRegex(after, r"Capture 0 \[0%\] \[-99999.99dB\] \[off\]",
                         out)


class ControlsPipeWireTest(ControlsCase):
    """The controls act on the PipeWire streams."""

    load_sensitive = ("levels are measured in windows timed by the guest's "
                      "serial console marks: a busy machine delays the "
                      "marks against the sink's recording")

    def test_playback_volume_and_mute(self):
        """PCM at 50 % lowers the sink's level by 29.88 dB and sets the
        stream's channelVolumes; mute silences it and sets mute."""
        tone = analyze.sox_tone(self.work / "tone-440.wav", 12.5, 440.0)
        # Three seconds per state; the marks make the host dump the Props.
        command = (
            "amixer -q -c0 sset PCM 100% unmute; echo 'QPW: mark full'\n"
            "aplay -q -D hw:0,0 /in/tone.wav & pid=$!\n"
            "sleep 3; amixer -q -c0 sset PCM 50%; echo 'QPW: mark half'\n"
            "sleep 3; amixer -q -c0 sset PCM mute; echo 'QPW: mark muted'\n"
            "sleep 3; amixer -q -c0 sset PCM unmute; "
            "echo 'QPW: mark unmuted'\n"
            "wait $pid")

        def run(attempt):
            name = f"playback-{attempt}"
            with PipeWire(workdir=self.fresh_dir(f"pw-{name}")) as pw:
                path = self.work / f"{name}-sink.wav"
                rec = pw.record_sink(path)
                watch = MarkerWatch(pw, "Stream/Output/Audio")
                try:
                    res = self.run_guest(name, AUDIODEV, command,
                                         {"tone.wav": tone}, pw.env(),
                                         echo=watch)
                    time.sleep(0.3)
                finally:
                    rec.stop()
                    watch.close()
            self.check_playback(path, watch.snapshots, res)
        self.retried(run)

    def check_playback(self, path, snapshots, res):
        """Levels of the four 3 s states, and the Props seen at each."""
        _, levels = window_levels(path)
        loud = np.nonzero(levels > -60)[0]
        self.assertTrue(len(loud), f"nothing reached the sink: {path}")
        t0 = loud[0] * 0.1                  # the tone's onset
        # The middle second and a half of each state.
        full = median_level(levels, t0 + 0.75, t0 + 2.25)
        half = median_level(levels, t0 + 3.75, t0 + 5.25)
        muted = median_level(levels, t0 + 6.75, t0 + 8.25)
        unmuted = median_level(levels, t0 + 9.75, t0 + 11.25)
        print(f"\n  sink: full {full:.2f} dBFS, 50 % {half:.2f} dBFS "
              f"({half - full:+.2f} dB, expected {HALF_DB:+.2f}), muted "
              f"{muted:.1f} dBFS, unmuted {unmuted:.2f} dBFS; Props "
              f"{snapshots}; QEMU CPU {res.qemu_cpu_seconds:.1f} s of "
              f"{res.wall_seconds:.1f} s", file=sys.stderr)
        self.assertAlmostEqual(full, -9.03, delta=1.0)
        self.assertAlmostEqual(half - full, HALF_DB, delta=TOLERANCE_DB)
        self.assertLess(muted, -90.0)
        self.assertAlmostEqual(unmuted - full, HALF_DB, delta=TOLERANCE_DB)

        def props(mark):
            got = snapshots.get(mark)
            self.assertIsNotNone(got, f"no stream Props at {mark}: "
                                      f"{snapshots}")
            return got
        vols, mute = props("half")
        self.assertEqual(len(vols), 2)
        for v in vols:
            self.assertAlmostEqual(v, HALF_LINEAR, delta=1e-4)
        self.assertFalse(mute)
        vols, mute = props("muted")
        self.assertTrue(mute)
        self.assertAlmostEqual(vols[0], HALF_LINEAR, delta=1e-4)
        vols, mute = props("unmuted")
        self.assertFalse(mute)
        self.assertAlmostEqual(vols[0], HALF_LINEAR, delta=1e-4)

    def test_capture_volume_and_switch(self):
        """Capture at 50 % records the source's tone 29.88 dB lower than at
        100 %; with the capture switch off the guest records silence."""
        tone = analyze.sox_tone(self.work / "tone-1k.wav", 60, 1000.0)
        rec = "arecord -q -D hw:0,0 -f S16_LE -r 48000 -c 2 -d 3"
        command = (
            f"{rec} /out/full.wav\n"
            "amixer -q -c0 sset Capture 50%; echo 'QPW: mark half'\n"
            "sleep 1\n"
            f"{rec} /out/half.wav\n"
            "amixer -q -c0 sset Capture nocap; echo 'QPW: mark off'\n"
            "sleep 1\n"
            f"{rec} /out/off.wav")

        def run(attempt):
            name = f"capture-{attempt}"
            with PipeWire(workdir=self.fresh_dir(f"pw-{name}")) as pw:
                player = pw.play_into_source(tone, wait=False)
                watch = MarkerWatch(pw, "Stream/Input/Audio")
                try:
                    res = self.run_guest(name, AUDIODEV, command,
                                         env=pw.env(), echo=watch)
                finally:
                    player.stop()
                    watch.close()
            self.assertIsNotNone(res.out_dir, res.describe(40))
            lv = {}
            for f in ("full", "half", "off"):
                _, levels = window_levels(res.out_dir / f"{f}.wav")
                lv[f] = median_level(levels, 0.5, 3.0)
            print(f"\n  capture: 100 % {lv['full']:.2f} dBFS, 50 % "
                  f"{lv['half']:.2f} dBFS ({lv['half'] - lv['full']:+.2f} "
                  f"dB, expected {HALF_DB:+.2f}), switch off "
                  f"{lv['off']:.1f} dBFS; Props {watch.snapshots}",
                  file=sys.stderr)
            self.assertAlmostEqual(lv["full"], -9.03, delta=1.0)
            self.assertAlmostEqual(lv["half"] - lv["full"], HALF_DB,
                                   delta=TOLERANCE_DB)
            self.assertLess(lv["off"], -90.0)
            vols, mute = watch.snapshots.get("half") or ([], None)
            self.assertTrue(vols, watch.snapshots)
            for v in vols:
                self.assertAlmostEqual(v, HALF_LINEAR, delta=1e-4)
            self.assertFalse(mute)
            self.assertTrue((watch.snapshots.get("off") or ([], False))[1],
                            watch.snapshots)
        self.retried(run)


if __name__ == "__main__":
    unittest.main()
