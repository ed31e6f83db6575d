"""Live migration of the virtio-sound device, end to end.

The tiny guest plays a long tone (8 s, 48 kHz S16 stereo) through
virtio-sound-pci.  Mid-tone the source QEMU migrates (QMP `migrate` to a
unix socket) to a second QEMU started with the same arguments plus
`-incoming`; the source is quit once the migration completed and the
destination runs the guest to its end: aplay must finish successfully,
then a second, short aplay on the same (now released) stream must work
too.  The guest's serial console and output disk come from the
destination.

Two backends:
  - wav: each QEMU writes its own file; both hold the tone, and what the
    source's audio layer still held at the switch is lost.  The tone in
    the two files together is measured against the 8 s played.
  - pipewire: both QEMUs play into one private PipeWire whose sink monitor
    is recorded; the silence at the switch is the gap a listener hears.
The gap (or the audio lost) is printed.

Capture (MigrationCaptureTest): the guest records 8 s with arecord, in
250 ms periods, while a counter signal (tests/lib/counter.py) plays into
the private PipeWire's source; it migrates mid-recording.  The frames a
capture message the device holds already has at the switch travel in the
guest's RAM, so the recording must be bit-exact counter frames in order
on both sides of the switch, with only the frames recorded while the
guest was paused missing (no stale or repeated frames, no silence).

Files are kept in ${QPW_E2E_WORK:-/tmp/qpw-e2e}/migration/.
"""

import os
import re
import shutil
import subprocess
import sys
import time
import unittest
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import analyze  # noqa: E402
import counter  # noqa: E402
import guest  # noqa: E402
from pipewire import SINK, SOURCE, PipeWire  # noqa: E402
from procs import start_group, stop_group  # noqa: E402
from qmp import Qmp  # noqa: E402

WORK = Path(os.environ.get("QPW_E2E_WORK", "/tmp/qpw-e2e")) / "migration"
SECONDS = 8.0
SHORT = 1.0
FREQ = 440.0
# When to migrate, after the tone started (the guest's marker).
MIGRATE_AFTER = 3.0
# What the switch may cost, near what docs/virtio-sound.md documents
# (measured: wav lost 9 ms; through PipeWire 28-60 ms of silence with a
# downtime of 64-90 ms): the most tone lost (never played), and the most
# silence heard beyond QEMU's downtime (while the guest is paused nothing
# can play), with room for a TCG guest on a loaded host.
MAX_LOST_MS = 150.0
MAX_GAP_BEYOND_DOWNTIME_MS = 100.0
# Blocks the tone is classified in: silent, 440 Hz or 880 Hz.
BLOCK_S = 0.005

SCENARIO = """\
echo "QPW: tone start"
time aplay -q -D hw:0,0 /in/tone.wav
rc=$?
echo "QPW: aplay rc $rc"
[ $rc = 0 ] || exit $rc
aplay -q -D hw:0,0 /in/short.wav
rc=$?
echo "QPW: second aplay rc $rc"
dmesg | grep -i virtio | sed 's/^/dmesg: /'
exit $rc
"""


class Vm:
    """One QEMU of the pair: serial to a file, QMP on a unix socket."""

    def __init__(self, name, argv, work, env):
        self.name = name
        self.serial = work / f"serial-{name}.log"
        self.qmp_path = work / f"qmp-{name}.sock"
        argv = argv + ["-serial", f"file:{self.serial}",
                       "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        (work / f"qemu-cmdline-{name}.txt").write_text(" ".join(argv) + "\n")
        self.stderr = open(work / f"qemu-stderr-{name}.txt", "wb")
        self.proc = start_group(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=self.stderr, stderr=self.stderr)
        self.qmp = Qmp(self.qmp_path)

    def log(self):
        try:
            return self.serial.read_text(errors="replace")
        except OSError:
            return ""

    def wait_serial(self, marker, timeout):
        """Wait for marker on the serial console; the time it came."""
        deadline = time.monotonic() + timeout
        while marker not in self.log():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} QEMU exited before "
                                     f"{marker!r}: {self.describe()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {marker!r} from {self.name} in "
                                     f"{timeout} s: {self.describe()}")
            time.sleep(0.02)
        return time.monotonic()

    def describe(self, lines=25):
        self.stderr.flush()
        err = Path(self.stderr.name).read_text(errors="replace")
        tail = "\n".join(self.log().splitlines()[-lines:])
        return (f"\n--- {self.name} stderr ---\n{err}--- {self.name} serial "
                f"---\n{tail}")

    def check_exit(self):
        """QEMU exited 0 and printed no sanitizer report."""
        self.stderr.flush()
        guest.check_qemu_exit(
            self.proc.returncode,
            Path(self.stderr.name).read_text(errors="replace"),
            f"{self.name} QEMU")

    def stop(self):
        try:
            self.qmp.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            stop_group(self.proc)
        self.stderr.close()


def tone_blocks(path):
    """The recording's first channel in BLOCK_S blocks, each classified:
    '.' silent, 'a' the long 440 Hz tone, 'b' the short 880 Hz one (by
    zero crossings: about 4.4 per block at 440 Hz, 8.8 at 880 Hz)."""
    wav = analyze.load_wav(path)
    x = wav.samples[:, 0]
    n = int(BLOCK_S * wav.rate)
    out = []
    for i in range(0, len(x) - n, n):
        b = x[i:i + n]
        if abs(b).max() <= 0.1:
            out.append(".")
        else:
            out.append("a" if int((b[:-1] * b[1:] < 0).sum()) < 6 else "b")
    return "".join(out)


def switch_gap(blocks, start_s, end_s):
    """The longest silence that begins between start_s and end_s of the
    recording: (seconds of the long tone before it, its length in ms,
    seconds of the long tone after it)."""
    runs = [(len(m.group()), m.start()) for m in re.finditer(r"\.+", blocks)
            if start_s <= m.start() * BLOCK_S <= end_s]
    length, at = max(runs, default=(0, int(end_s / BLOCK_S)))
    return (blocks[:at].count("a") * BLOCK_S, length * BLOCK_S * 1000,
            blocks[at + length:].count("a") * BLOCK_S)


class MigrationCase(unittest.TestCase):
    """Migrate a guest mid-tone; subclasses choose the backend."""

    sub = "common"

    @classmethod
    def setUpClass(cls):
        cls.qemu = guest.qemu_binary()      # an error, not a skip, when QEMU is not built
        cls.image = guest.build_guest()
        cls.work = WORK / cls.sub
        shutil.rmtree(cls.work, ignore_errors=True)
        cls.work.mkdir(parents=True)
        cls.tone = analyze.sox_tone(cls.work / "tone.wav", SECONDS, FREQ)
        cls.short = analyze.sox_tone(cls.work / "short.wav", SHORT, 880.0)
        cls.expected = analyze.analyze(cls.tone)

    # The machine type, and the QEMU the guest starts on when it is not
    # the one under test (MigrationFrom72Test).
    machine = "q35"
    src_qemu = None

    # The guest's scenario, what it marks when its sound starts, and what
    # its serial console must say on the destination.
    scenario = SCENARIO
    start_marker = "QPW: tone start"
    expect = (r"QPW: aplay rc 0", r"QPW: second aplay rc 0")

    def base_argv(self, work):
        """The guest run_guest() boots, with a virtio-sound device."""
        initrd = work / "initrd.img"
        initrd.write_bytes(self.image.initrd.read_bytes() + guest.run_cpio(
            self.scenario, {"tone.wav": self.tone, "short.wav": self.short},
            100))
        out_img = work / "out.img"
        with open(out_img, "wb") as f:
            f.truncate(16 << 20)
        return [str(self.qemu), "-accel", "tcg", "-machine", self.machine,
                "-m", "256", "-nodefaults", "-display", "none", "-no-reboot",
                "-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
                "-kernel", str(self.image.vmlinuz), "-initrd", str(initrd),
                "-append", guest.CMDLINE,
                "-drive", f"file={out_img},format=raw,if=virtio",
                "-device", "virtio-sound-pci,audiodev=snd0",
                "-msg", "timestamp=on", "-trace", "virtio_snd_migrate_stream",
                "-trace", "virtio_snd_xrun", "-trace", "qpw_xrun"]

    def migrate_run(self, work, audiodev, env=None):
        """Boot the source, migrate mid-tone to a destination; returns
        (destination serial log, downtime in ms, time.monotonic() when
        the migration began)."""
        argv = self.base_argv(work)
        src_argv = [str(self.src_qemu or self.qemu)] + argv[1:]
        sock = work / "migrate.sock"
        src = Vm("src", src_argv + audiodev("src") +
                 ["-D", str(work / "trace-src.log")], work, env)
        dst = None
        try:
            dst = Vm("dst", argv + audiodev("dst") +
                     ["-D", str(work / "trace-dst.log"),
                      "-incoming", f"unix:{sock}"], work, env)
            src.wait_serial(self.start_marker, 120)
            time.sleep(MIGRATE_AFTER)
            t0 = time.monotonic()
            src.qmp.cmd("migrate", uri=f"unix:{sock}")
            while True:
                info = src.qmp.cmd("query-migrate")
                status = info.get("status")
                if status == "completed":
                    break
                self.assertNotIn(status, ("failed", "cancelled"),
                                 f"{info}{src.describe()}{dst.describe()}")
                self.assertLess(time.monotonic() - t0, 60, str(info))
                time.sleep(0.02)
            switch = time.monotonic() - t0
            downtime = info.get("downtime")
            self.assertEqual(src.qmp.cmd("query-status")["status"],
                             "postmigrate")
            src.qmp.cmd("quit")
            src.proc.wait(10)
            src.check_exit()
            self.assertEqual(dst.qmp.cmd("query-status")["status"],
                             "running", dst.describe())
            print(f"\n  migration took {switch:.2f} s wall, downtime "
                  f"{downtime} ms", file=sys.stderr)
            saved = re.findall(r"virtio_snd_migrate_stream (.*)",
                               (work / "trace-src.log").read_text())
            print("  saved: " + "; ".join(saved), file=sys.stderr)
            dst.proc.wait(120)
            dst.check_exit()
            log = dst.log()
            for expected in self.expect + (r"QPW: scenario exit 0",):
                self.assertRegex(log, expected, dst.describe(40))
            self.assertNotIn(self.start_marker, log)   # it ran on the source
            self.assertIsNone(re.search(r"dmesg: .*virtio_snd.*(error|fail"
                                        r"|timeout|timed out)", log, re.I),
                              dst.describe(40))
            self.assertIn("QPW: out saved", log)
            return log, downtime, t0
        finally:
            if dst:
                dst.stop()
            src.stop()

    def report(self, label, a):
        print(f"  {label}: {a.frequency_hz:.2f} Hz, tone {a.tone_seconds:.3f}"
              f" s, gaps {a.gaps}, discontinuities {a.discontinuities}",
              file=sys.stderr)


class MigrationWavTest(MigrationCase):
    """Each QEMU writes its own wav file: deterministic, no host audio."""

    sub = "wav"

    def test_tone_continues_wav(self):
        """The tone is split over the source's and the destination's file:
        together they hold the 8 s tone but for what was lost at the
        switch, and the second tone is in the destination's."""
        work = self.work / "run"
        work.mkdir()

        def audiodev(name):
            return ["-audiodev", f"wav,id=snd0,path={work}/{name}.wav,"
                    "out.frequency=48000,out.channels=2,out.format=s16"]
        self.migrate_run(work, audiodev)
        a_src = analyze.analyze(work / "src.wav", min_gap_ms=1)
        self.report("source wav", a_src)
        # The destination's file: the rest of the long tone (440 Hz), then
        # the short one (880 Hz).
        a_dst = analyze.analyze(work / "dst.wav", min_gap_ms=1)
        self.report("destination wav (both tones)", a_dst)
        blocks = tone_blocks(work / "dst.wav")
        rest = blocks.count("a") * BLOCK_S
        second = blocks.count("b") * BLOCK_S
        played = a_src.tone_seconds + rest
        lost_ms = (SECONDS - played) * 1000
        print(f"  wav: source {a_src.tone_seconds:.3f} s + destination "
              f"{rest:.3f} s = {played:.3f} s of {SECONDS} s: lost at the "
              f"switch {lost_ms:.0f} ms; second tone {second:.2f} s",
              file=sys.stderr)
        self.assertGreater(a_src.tone_seconds, 1.0, a_src.summary())
        self.assertGreater(rest, 1.0, a_dst.summary())
        self.assertLess(abs(lost_ms), MAX_LOST_MS)
        self.assertGreater(second, SHORT * 0.8)


class MigrationPipeWireTest(MigrationCase):
    """Both QEMUs play into one private PipeWire, whose sink is recorded."""

    sub = "pipewire"
    load_sensitive = ("the silence at the switch and the tone lost grow "
                      "with QEMU's downtime and the graph's missed cycles "
                      "on a busy machine")

    def test_tone_continues_pipewire(self):
        """The tone goes on from the destination into PipeWire; the
        silence at the switch is measured."""
        work = self.work / "run"
        work.mkdir()
        with PipeWire(workdir=self.work / "pw") as pw:
            def audiodev(name):
                return ["-audiodev",
                        f"pipewire,id=snd0,out.name={SINK},in.name={SOURCE}"]
            path = work / "sink.wav"
            rec = pw.record_sink(path)
            rec_start = time.monotonic()
            try:
                _, downtime, t0 = self.migrate_run(work, audiodev,
                                                   env=pw.env())
                time.sleep(0.3)
            finally:
                rec.stop()
        a = analyze.analyze(path, min_gap_ms=5)
        self.report("sink", a)
        blocks = tone_blocks(path)
        # The switch is in the recording after the migration began (the
        # recording started a little after rec_start: the latest it can
        # be), within the seconds a migration takes here.
        switch_s = t0 - rec_start
        before, gap_ms, after = switch_gap(blocks, switch_s - 0.5,
                                           switch_s + 3.0)
        lost_ms = (SECONDS - before - after) * 1000
        second = blocks.count("b") * BLOCK_S
        print(f"  pipewire: migration began at {switch_s:.2f} s of the "
              f"recording (tone from {a.tone_start_s:.2f} s); the tone "
              f"played {before:.3f} s, then {gap_ms:.0f} ms of silence, "
              f"then {after:.3f} s (lost {lost_ms:.0f} ms of {SECONDS} s); "
              f"second tone {second:.2f} s", file=sys.stderr)
        # The destination plays the rest of the tone, to its end.
        self.assertGreater(before, MIGRATE_AFTER - 0.5,
                           "the tone did not play before the switch")
        self.assertLess(abs(lost_ms), MAX_LOST_MS,
                        f"the tone did not continue after the switch for "
                        f"its length: {before:.3f} s before, {after:.3f} s "
                        f"after, of {SECONDS} s")
        self.assertLess(gap_ms, downtime + MAX_GAP_BEYOND_DOWNTIME_MS,
                        f"the silence at the switch, {gap_ms:.0f} ms, is "
                        f"more than {MAX_GAP_BEYOND_DOWNTIME_MS:.0f} ms "
                        f"beyond the downtime of {downtime} ms")
        self.assertGreater(second, SHORT * 0.8)
        self.assertLess(abs(a.frequency_hz - FREQ) / FREQ, 0.05, a.summary())


CAPTURE_SECONDS = 10
# Long periods in a long buffer: a message stays in the device for 500 ms,
# and its pages were last written (and made dirty) 3.5 s before it is
# filled again, so a migration of about a second will most likely have
# copied them before the message now held started to fill.
CAPTURE_PERIOD_FRAMES = 24000
CAPTURE_PERIODS = 8
CAPTURE_SCENARIO = f"""\
echo "QPW: capture start"
arecord -q -D hw:0,0 -f S16_LE -r 48000 -c 2 \\
    --period-size={CAPTURE_PERIOD_FRAMES} \\
    --buffer-size={CAPTURE_PERIODS * CAPTURE_PERIOD_FRAMES} \\
    -d {CAPTURE_SECONDS} /out/captured.wav
rc=$?
echo "QPW: arecord rc $rc"
dmesg | grep -i virtio | sed 's/^/dmesg: /'
exit $rc
"""
# The counter played into the source: long enough for the boot, the
# recording and the migration (at most 87 s at 48 kHz).
COUNTER_SECONDS = 80
# Frames of the destination's recording compared after the switch.
AFTER_FRAMES = 4096
# The most the switch may cost beyond the downtime: what the source's
# backend held and the destination's new stream starts with.
MAX_LOST_BEYOND_DOWNTIME_MS = 300.0


if (os.environ.get("QPW_QEMU") or "7.2") != "7.2":
    class MigrationFrom72Test(MigrationWavTest):
        """Against a QEMU 10.x build ($QPW_QEMU): a guest playing on our
        QEMU 7.2 build migrates to it, both with QEMU 7.2's machine type
        (pc-q35-7.2), as a user upgrading the host would: the tone goes on
        on the destination, as between two 7.2 builds."""

        sub = "from-7.2"
        machine = "pc-q35-7.2"

        @classmethod
        def setUpClass(cls):
            super().setUpClass()
            cls.src_qemu = guest.qemu_binary("7.2")


def switch_frame(ints, done_frames):
    """Where the source stopped writing the guest's recording: the frame
    after the done_frames the held message had (it began on a period
    boundary; the guest's recording starts at the stream's frame 0),
    taken at the period nearest to where the counter jumps forward the
    most (what was recorded while the guest was paused is missing)."""
    idx, valid = counter._indices(ints, "s16")
    pos = np.flatnonzero(valid)
    at = int(pos[int(np.argmax(np.diff(idx[pos])))]) + 1
    period = round((at - done_frames) / CAPTURE_PERIOD_FRAMES)
    return period * CAPTURE_PERIOD_FRAMES + done_frames


class MigrationCaptureTest(MigrationCase):
    """The guest records a counter signal through PipeWire while it
    migrates."""

    sub = "capture"
    scenario = CAPTURE_SCENARIO
    start_marker = "QPW: capture start"
    expect = (r"QPW: arecord rc 0",)
    load_sensitive = ("a graph cycle missed on a busy machine makes the "
                      "guest's recording differ from the source's")

    def test_capture_continues_pipewire(self):
        """Around the switch the guest's recording is an unbroken, bit-exact
        excerpt of what the source played (recorded on the host too):
        the frames the message held at the switch got on the source are
        the source's (nothing stale or silent), and the destination goes
        on with the source's; only what was recorded while the guest was
        paused is missing.  (Only there is it compared: a graph cycle
        missed elsewhere, on a busy machine, is not the device's.)"""
        work = self.work / "run"
        work.mkdir()
        source_wav, reference = work / "counter.wav", work / "reference.wav"
        counter.write_counter_wav(source_wav, 48000 * COUNTER_SECONDS, 48000,
                                  "s16")
        with PipeWire(workdir=self.work / "pw") as pw:
            def audiodev(name):
                return ["-audiodev",
                        f"pipewire,id=snd0,out.name={SINK},in.name={SOURCE}"]
            ref = pw.record_source(reference)
            player = pw.play_into_source(source_wav, wait=False)
            try:
                _, downtime, _ = self.migrate_run(work, audiodev,
                                                  env=pw.env())
            finally:
                player.stop()
                ref.stop()
        out = work / "out"
        self.assertTrue(guest._extract_out(work / "out.img", out),
                        "the destination saved no /out")
        rec = counter.read_raw_wav(out / "captured.wav")[0]
        ref_ints = counter.read_raw_wav(reference)[0]
        rep = counter.decode(rec, "s16")
        print(f"  capture: {rep.summary()}", file=sys.stderr)
        self.assertGreater(rep.counter_frames, 48000 * (CAPTURE_SECONDS - 2),
                           rep.summary())
        # The message held at the switch and how much of it was filled.
        held = re.search(r"stream 1 running with (\d+) messages, (\d+) "
                         r"bytes to go", (work / "trace-src.log").read_text())
        self.assertIsNotNone(held, "no capture stream was migrated")
        done = (int(held.group(1)) * CAPTURE_PERIOD_FRAMES * 4 -
                int(held.group(2))) // 4
        at = switch_frame(rec, done)
        # Compared: what the held message got on the source (at least 1024
        # frames), where stale frames would be, and 4096 frames after.
        window = max(done, 1024)
        last = counter.match_reference(rec[at - window:at], ref_ints, "s16")
        nxt = counter.match_reference(rec[at:at + AFTER_FRAMES], ref_ints,
                                      "s16")
        lost_ms = ((nxt.ref_start - last.ref_start - last.compared) / 48.0
                   if last.found and nxt.found else float("nan"))
        print(f"  capture: the held message had {done} frames at the "
              f"switch, recording frame {at}; before it: "
              f"{last.summary()}; after it: {nxt.summary()}; "
              f"{lost_ms:.0f} ms of the source skipped, downtime "
              f"{downtime} ms", file=sys.stderr)
        # What the source wrote: the source's frames up to the switch.
        self.assertTrue(last.exact and last.rec_start == 0 and
                        last.compared == window,
                        f"before the switch: {last.summary()}; "
                        + rep.summary())
        # What the destination wrote: the source's frames, after at most
        # one graph quantum the destination's new capture stream may
        # start with.
        self.assertTrue(nxt.exact and nxt.rec_start <= 1024,
                        f"after the switch: {nxt.summary()}; "
                        + rep.summary())
        self.assertLess(lost_ms, downtime + MAX_LOST_BEYOND_DOWNTIME_MS,
                        rep.summary())


if __name__ == "__main__":
    unittest.main()
