"""End-to-end test of the vhost-user sound daemon (contrib/vhost-user-sound,
issue #18): the tiny guest on QEMU 10's vhost-user-snd-pci front end, its
memory shared with the daemon (memory-backend-memfd, share=on).

On the daemon's PipeWire backend, with a private PipeWire:
- a 4 s 440 Hz tone the guest plays reaches the sink (its monitor
  recorded): frequency within 1 %, length within 5 %, no gap of 5 ms;
- a 1 kHz tone played into the source is in the guest's 3 s arecord, the
  same way;
- the counter signal (tests/lib/counter.py, S16 48 kHz, 3 s) reaches the
  sink bit-exact from its first to its last frame, nothing lost,
  repeated or changed (the daemon keeps a released stream until its ring
  has played);
- the VM stopped (QMP) 2 s into a 6 s aplay and started 1.5 s later:
  the guest's aplay ends normally;
- PipeWire stopped 2 s into a 10 s aplay and started 2 s later: the
  daemon reconnects (saying so once), the guest's aplay ends normally,
  and the tone reaches the new PipeWire's sink.

On its null backend (a card on the host's monotonic clock that plays
into nothing and records silence):

- The daemon's socket is created 0600, before QEMU connects.
- The guest's driver finds the card: two PCM streams, the line out and
  mic jacks, and with the daemon's --controls and the front end's
  controls=on, the four mixer controls of QEMU's own device (the same
  control queue core).
- aplay plays 3 s of audio (S16, 48 kHz, stereo) to its end, taken at the
  null card's pace: not in less than 2.5 s of the guest's uptime.
- arecord records 2 s: exactly 2 s of frames, all silence.
- amixer sets the volume to 50 %: -30 dB, as on QEMU's device.
- The guest's driver unbound (a device reset) after a 1 s aplay and bound
  again: the card is back, plays 3 s at its pace and records 2 s.
- When QEMU quits, the daemon exits by itself, with status 0.
- The daemon killed while the guest plays: QEMU neither crashes nor
  hangs; the guest's aplay ends with an error (docs/vhost-user-sound.md).

QEMU 7.2 has no vhost-user-snd front end: there the tests are skipped; the
qemu10 stage of scripts/test runs them on the 10.x build, which builds the
daemon. Files are kept in ${QPW_E2E_WORK:-/tmp/qpw-e2e}/vhost-user-sound/.
"""

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import analyze  # noqa: E402
import fidelity  # noqa: E402
import guest  # noqa: E402
import vhost_user  # noqa: E402
from pipewire import SINK, SOURCE, PipeWire  # noqa: E402
from qmp import Qmp  # noqa: E402

WORK = Path(os.environ.get("QPW_E2E_WORK", "/tmp/qpw-e2e")) / \
    "vhost-user-sound"
PLAY_S = 3
TONE_S = 4
TONE_HZ = 440
CAPTURE_HZ = 1000
RECORD_S = 2
BYTES_PER_SECOND = 48000 * 2 * 2


def start_daemon(test, work, *args, env=None):
    """vhost_user.start() of test's daemon, killed at test's cleanup if it
    is still running; (process, socket)."""
    try:
        proc, sock = vhost_user.start(test.daemon, work, *args, env=env)
    except RuntimeError as e:
        raise test.failureException(str(e)) from None
    test.addCleanup(lambda: proc.poll() is None and proc.kill())
    return proc, sock


class DaemonCase(unittest.TestCase):
    """A test of the daemon of the QEMU under test's build."""

    @classmethod
    def setUpClass(cls):
        try:
            cls.daemon = vhost_user.daemon_binary()
        except vhost_user.NoFrontEnd as e:
            raise unittest.SkipTest(f"{e} (QEMU 7.2): the qemu10 stage runs "
                                    f"these tests") from None

    def run_guest(self, name, command, daemon_args=("--backend", "null"),
                  device_opts="", inputs=None, env=None):
        """Run command in the guest (with inputs) on the daemon (with
        daemon_args, in env); it must not fail, and the daemon must exit
        with 0 when QEMU has gone. The result."""
        work = WORK / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        proc, sock = start_daemon(self, work, *daemon_args, env=env)
        self.assertEqual(stat.S_IMODE(sock.stat().st_mode), 0o600)
        qemu_args = vhost_user.qemu_args(sock, device_opts)
        res = guest.run_guest(qemu_args, guest.command_scenario(command),
                              inputs, timeout=120, workdir=work / "guest")
        out = res.scenario_output()
        self.assertEqual(res.exit_code, 0, res.describe(40))
        self.assertEqual(guest.driver_errors(out), [], res.describe(40))
        try:
            status = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("the daemon did not exit when QEMU went")
        self.assertEqual(status, 0, (work / "daemon.log").read_text())
        return res


class VhostUserSoundTest(DaemonCase):
    """The guest on the daemon's null card."""

    def test_plays_and_records_on_the_null_card(self):
        """aplay to its end at the card's pace; arecord gets silence."""
        res = self.run_guest(
            "play-record",
            f"aplay -l; cat /proc/uptime; "
            f"aplay -D hw:0,0 -t raw -f S16_LE -r 48000 -c 2 "
            f"-d {PLAY_S} /dev/zero || exit 1; cat /proc/uptime; "
            f"arecord -D hw:0,0 -t raw -f S16_LE -r 48000 -c 2 "
            f"-d {RECORD_S} /tmp/rec.raw || exit 1; "
            f"echo recorded $(wc -c < /tmp/rec.raw) bytes, "
            f"$(tr -d '\\000' < /tmp/rec.raw | wc -c) not zero")
        out = res.scenario_output()
        self.assertRegex(out, r"card 0: .*device 0", out)
        uptimes = [float(m) for m in re.findall(r"^(\d+\.\d+) \d+\.\d+$",
                                                out, re.M)]
        self.assertEqual(len(uptimes), 2, out)
        played = uptimes[1] - uptimes[0]
        print(f"\n  aplay of {PLAY_S} s took {played:.2f} s of the guest's "
              f"uptime", file=sys.stderr)
        self.assertGreaterEqual(played, PLAY_S - 0.5, out)
        m = re.search(r"recorded (\d+) bytes, (\d+) not zero", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(int(m[1]), RECORD_S * BYTES_PER_SECOND, out)
        self.assertEqual(int(m[2]), 0, out)

    def test_guest_resets_the_device(self):
        """The guest's driver unbound (which resets the device) in the
        middle of its use and bound again: the card comes back and plays
        at its pace and records as before."""
        drv = "/sys/bus/virtio/drivers/virtio_snd"
        res = self.run_guest(
            "reset",
            f"d=$(basename $(ls -d {drv}/virtio* | head -1)); "
            f"aplay -D hw:0,0 -t raw -f S16_LE -r 48000 -c 2 -d 1 /dev/zero "
            f"|| exit 1; echo $d > {drv}/unbind || exit 1; "
            f"aplay -l 2>&1 | grep -c '^card' ; "
            f"echo $d > {drv}/bind || exit 1; sleep 0.5; aplay -l; "
            f"cat /proc/uptime; "
            f"aplay -D hw:0,0 -t raw -f S16_LE -r 48000 -c 2 "
            f"-d {PLAY_S} /dev/zero || exit 1; cat /proc/uptime; "
            f"arecord -D hw:0,0 -t raw -f S16_LE -r 48000 -c 2 "
            f"-d {RECORD_S} /tmp/rec.raw || exit 1; "
            f"echo recorded $(wc -c < /tmp/rec.raw) bytes")
        out = res.scenario_output()
        self.assertRegex(out, r"(?m)^0$", out)      # no card while unbound
        self.assertRegex(out, r"card 0: .*device 0", out)
        uptimes = [float(m) for m in re.findall(r"^(\d+\.\d+) \d+\.\d+$",
                                                out, re.M)]
        self.assertEqual(len(uptimes), 2, out)
        played = uptimes[1] - uptimes[0]
        print(f"\n  after the reset, aplay of {PLAY_S} s took {played:.2f} s",
              file=sys.stderr)
        self.assertGreaterEqual(played, PLAY_S - 0.5, out)
        m = re.search(r"recorded (\d+) bytes", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(int(m[1]), RECORD_S * BYTES_PER_SECOND, out)

    def test_mixer_controls(self):
        """--controls and controls=on: QEMU's device's four controls and
        two jacks; 50 % is -30 dB."""
        res = self.run_guest(
            "controls",
            "amixer -c0 controls; amixer -c0 sset PCM 50% >/dev/null && "
            "amixer -c0 sget PCM",
            ["--backend", "null", "--controls"], ",controls=on")
        out = res.scenario_output()
        for name in ("PCM Playback Volume", "PCM Playback Switch",
                     "Capture Volume", "Capture Switch"):
            self.assertRegex(out, rf"iface=MIXER,name='{name}'", out)
        for name in ("Line Out Jack", "Mic Jack"):
            self.assertRegex(out, rf"iface=CARD,name='{name}'", out)
        self.assertRegex(out, r"Playback 60 \[50%\] \[-30.00dB\] \[on\]",
                         out)


class VhostUserSoundPipeWireTest(DaemonCase):
    """The daemon's PipeWire backend, on a private PipeWire."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.work = WORK / "pipewire"
        shutil.rmtree(cls.work, ignore_errors=True)
        cls.work.mkdir(parents=True)
        cls.tone = analyze.sox_tone(cls.work / "tone.wav", TONE_S, TONE_HZ)
        cls.capture_tone = analyze.sox_tone(cls.work / "tone-1k.wav", 60,
                                            CAPTURE_HZ)
        cls.pw = PipeWire(workdir=cls.work / "pw")
        cls.pw.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.pw.__exit__(None, None, None)

    def check_tone(self, label, path, freq, seconds):
        """Frequency within 1 %, length within 5 %, no gap of 5 ms."""
        a = analyze.analyze(path, min_gap_ms=5)
        print(f"\n  {label}: {a.frequency_hz:.2f} Hz, tone "
              f"{a.tone_seconds:.3f} s, {a.tone_rms_dbfs:.2f} dBFS, gaps "
              f"{a.gaps}, discontinuities {a.discontinuities}",
              file=sys.stderr)
        self.assertLess(abs(a.frequency_hz - freq) / freq, 0.01, a.summary())
        self.assertLess(abs(a.tone_seconds - seconds) / seconds, 0.05,
                        a.summary())
        self.assertEqual(a.gaps, [], a.summary())
        return a

    def test_plays_a_tone(self):
        """A 440 Hz tone the guest plays reaches the PipeWire sink (its
        monitor recorded), whole and with no gap."""
        path = self.work / "sink.wav"
        rec = self.pw.record_sink(path)
        try:
            self.run_guest("pipewire/play", "aplay -q -D hw:0,0 /in/tone.wav",
                           ["--backend", "pipewire", "--out-target", SINK],
                           inputs={"tone.wav": self.tone}, env=self.pw.env())
            time.sleep(0.3)
        finally:
            rec.stop()
        self.check_tone("daemon to PipeWire", path, TONE_HZ, TONE_S)

    def test_counter_bit_exact(self):
        """The counter signal (tests/lib/counter.py, S16 48 kHz stereo, 3
        s) the guest plays reaches the sink bit-exact: every index from
        the first to the last, once each, in order, nothing between."""
        work = self.work / "counter"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        daemon, sock = start_daemon(self, work, "--backend", "pipewire",
                                    env=self.pw.env())
        run = fidelity.run_guest_counter(
            self.pw, work, "vhost-user", "s16", 48000, play_seconds=3,
            device_args=vhost_user.qemu_args(sock))
        self.assertEqual(run.result.exit_code, 0, run.result.describe(40))
        self.assertEqual(daemon.wait(timeout=10), 0)
        rep = run.played
        self.assertIsNotNone(rep, "nothing recorded at the sink's monitor")
        print(f"\n  counter through the daemon: {rep.summary()}",
              file=sys.stderr)
        self.assertTrue(rep.clean, rep.summary())
        self.assertEqual(rep.first, 0, rep.summary())
        self.assertEqual(run.tail_lost(), 0, rep.summary())

    def test_records_a_tone(self):
        """A 1 kHz tone played into the PipeWire source is in what the
        guest's arecord writes (3 s)."""
        player = self.pw.play_into_source(self.capture_tone, wait=False)
        try:
            res = self.run_guest(
                "pipewire/record", "arecord -q -D hw:0,0 -f S16_LE -r 48000 "
                "-c 2 -d 3 /out/capture.wav",
                ["--backend", "pipewire", "--in-target", SOURCE],
                env=self.pw.env())
        finally:
            player.stop()
        self.assertIsNotNone(res.out_dir, res.describe(40))
        self.check_tone("PipeWire to the daemon", res.out_dir / "capture.wav",
                        CAPTURE_HZ, 3.0)


class VhostUserSoundPipeWireRestartTest(DaemonCase):
    """PipeWire restarted under the daemon while the guest plays."""

    def test_pipewire_restart(self):
        """PipeWire stopped 2 s into a 10 s aplay and started again 2 s
        later: the daemon says once that it lost PipeWire and once that it
        is back; the guest's aplay ends normally; the tone reaches the new
        PipeWire's sink (at least 3 s of it, no gap)."""
        work = WORK / "pipewire-restart"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        tone = analyze.sox_tone(work / "tone.wav", 10, TONE_HZ)
        after = work / "sink-after.wav"
        with PipeWire(workdir=work / "pw") as pw:
            daemon, sock = start_daemon(self, work, "--backend", "pipewire",
                                        env=pw.env())
            recs = []

            def on_mark(name, _rest, _when):
                if name != "start":
                    return
                time.sleep(2)
                pw.stop_daemon()
                time.sleep(2)
                pw.start()
                recs.append(pw.record_sink(after))

            qemu_args = vhost_user.qemu_args(sock)
            try:
                res, _ = guest.run_marked(
                    qemu_args, guest.command_scenario(
                        "echo QPW-MARK start; aplay -q -D hw:0,0 "
                        "/in/tone.wav"),
                    {"tone.wav": tone}, None, work / "guest", on_mark)
                time.sleep(0.3)
            finally:
                for rec in recs:
                    rec.stop()
        self.assertEqual(daemon.wait(timeout=10), 0)
        log = (work / "daemon.log").read_text()
        print(f"\n  daemon: {log.strip()!r}", file=sys.stderr)
        self.assertEqual(res.exit_code, 0, res.describe(40))
        self.assertEqual(log.count("lost the connection to PipeWire"), 1,
                         log)
        self.assertEqual(log.count("reconnected to PipeWire"), 1, log)
        a = analyze.analyze(after, min_gap_ms=5)
        print(f"  after the restart: {a.summary()}", file=sys.stderr)
        self.assertLess(abs(a.frequency_hz - TONE_HZ) / TONE_HZ, 0.01,
                        a.summary())
        self.assertGreater(a.tone_seconds, 3.0, a.summary())
        self.assertEqual(a.gaps, [], a.summary())


class VhostUserSoundVmStopTest(DaemonCase):
    """The VM stopped and started again while the guest plays."""

    def test_vm_stop_and_cont(self):
        """QMP stop 2 s into a 6 s aplay on the PipeWire backend, cont
        1.5 s later: the front end stops and restarts the queues, the
        daemon keeps its streams and messages, and the guest's aplay ends
        normally (the first version gave the messages back at the stop,
        a completion the guest was never told of: write error,
        Input/output error)."""
        work = WORK / "vm-stop"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        qmp_path = work / "qmp.sock"
        with PipeWire(workdir=work / "pw") as pw:
            daemon, sock = start_daemon(self, work, "--backend", "pipewire",
                                        env=pw.env())

            def on_mark(name, _rest, _when):
                if name == "start":
                    time.sleep(2)
                    qmp = Qmp(qmp_path)
                    try:
                        qmp.cmd("stop")
                        time.sleep(1.5)
                        qmp.cmd("cont")
                    finally:
                        qmp.close()

            res, _ = guest.run_marked(
                vhost_user.qemu_args(sock) +
                ["-qmp", f"unix:{qmp_path},server=on,wait=off"],
                guest.command_scenario(
                    "echo QPW-MARK start; aplay -D hw:0,0 -t raw -f S16_LE "
                    "-r 48000 -c 2 -d 6 /dev/zero"),
                None, None, work / "guest", on_mark)
        self.assertEqual(res.exit_code, 0, res.describe(40))
        self.assertEqual(daemon.wait(timeout=10), 0)


class VhostUserSoundKilledTest(DaemonCase):
    """The daemon killed while the guest plays."""

    def test_daemon_killed_while_playing(self):
        """SIGKILL to the daemon 2 s into a 6 s aplay: QEMU neither
        crashes nor hangs (the guest runs to its poweroff, QEMU exits 0);
        the guest's aplay ends with an error, and so does the next one.
        QEMU 10.2's vhost-user-snd cannot take a new daemon: its
        vhost-user-base front end fails at start-up with a chardev that
        reconnects (reconnect-ms), so a dead daemon is not replaced."""
        work = WORK / "killed"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        daemon, sock = start_daemon(self, work, "--backend", "null")

        def on_mark(name, _rest, _when):
            if name == "playing":
                time.sleep(2)
                daemon.kill()

        qemu_args = vhost_user.qemu_args(sock)
        play = "aplay -D hw:0,0 -t raw -f S16_LE -r 48000 -c 2"
        res, _ = guest.run_marked(
            qemu_args, guest.command_scenario(
                f"echo QPW-MARK playing; {play} -d 6 /dev/zero; "
                f"echo first aplay $?; {play} -d 1 /dev/zero; "
                f"echo second aplay $?; true"),
            None, None, work / "guest", on_mark)
        out = res.scenario_output()
        print("\n  " + "\n  ".join(line for line in out.splitlines()
                                    if "aplay" in line),
              file=sys.stderr)
        self.assertEqual(daemon.wait(timeout=10), -signal.SIGKILL)
        self.assertIsNone(res.qemu_failure, res.describe(40))
        self.assertFalse(res.timed_out, res.describe(40))
        self.assertRegex(out, r"first aplay [1-9]", res.describe(40))
        self.assertRegex(out, r"second aplay [1-9]", res.describe(40))


class VhostUserSoundOptionsTest(DaemonCase):
    """The daemon's command line, without a guest."""

    def daemon_run(self, *args):
        return subprocess.run([str(self.daemon), *args], capture_output=True,
                              text=True, timeout=10)

    def test_refuses_bad_options(self):
        """A wrong option value is refused with exit status 2 and says
        which."""
        for args, what in ((["--streams", "0", "--socket-path", "/tmp/x"],
                            "--streams"),
                           (["--backend", "alsa", "--socket-path", "/tmp/x"],
                            "--backend"),
                           ([], "--socket-path")):
            res = self.daemon_run(*args)
            self.assertEqual(res.returncode, 2, (args, res.stderr))
            self.assertIn(what, res.stderr)

    def test_print_capabilities(self):
        res = self.daemon_run("--print-capabilities")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertRegex(res.stdout, r'"type": "sound"')

    def test_sigterm_before_a_front_end(self):
        """SIGTERM while waiting for a front end: exit 0, socket gone."""
        work = WORK / "sigterm"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        proc, sock = start_daemon(self, work, "--backend", "null")
        proc.terminate()
        self.assertEqual(proc.wait(timeout=10), 0)
        self.assertFalse(sock.exists())


if __name__ == "__main__":
    unittest.main()
