"""End-to-end test of the vhost-user sound daemon (contrib/vhost-user-sound,
issue #18): the tiny guest on QEMU 10's vhost-user-snd-pci front end, its
memory shared with the daemon (memory-backend-memfd, share=on), the
daemon on its null backend (a card on the host's monotonic clock that
plays into nothing and records silence).

- The daemon's socket is created 0600, before QEMU connects.
- The guest's driver finds the card: two PCM streams, the line out and
  mic jacks, and with the daemon's --controls and the front end's
  controls=on, the four mixer controls of QEMU's own device (the same
  control queue core).
- aplay plays 3 s of audio (S16, 48 kHz, stereo) to its end, taken at the
  null card's pace: not in less than 2.5 s of the guest's uptime.
- arecord records 2 s: exactly 2 s of frames, all silence.
- amixer sets the volume to 50 %: -30 dB, as on QEMU's device.
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
import guest  # noqa: E402

WORK = Path(os.environ.get("QPW_E2E_WORK", "/tmp/qpw-e2e")) / \
    "vhost-user-sound"
MEMORY = ["-object", "memory-backend-memfd,id=mem,size=256M,share=on",
          "-machine", "memory-backend=mem"]
PLAY_S = 3
RECORD_S = 2
BYTES_PER_SECOND = 48000 * 2 * 2


def daemon_binary():
    """The daemon of the QEMU under test's build; SkipTest where that QEMU
    has no vhost-user-snd front end (7.2)."""
    qemu = guest.qemu_binary()
    devices = subprocess.run([str(qemu), "-device", "help"],
                             capture_output=True, text=True,
                             timeout=30).stdout
    if '"vhost-user-snd-pci"' not in devices:
        raise unittest.SkipTest(f"{qemu} has no vhost-user-snd-pci (QEMU "
                                f"7.2): the qemu10 stage runs these tests")
    daemon = qemu.parent / "contrib" / "vhost-user-sound" / "vhost-user-sound"
    if not os.access(daemon, os.X_OK):
        raise AssertionError(f"no daemon at {daemon}: scripts/build-qemu "
                             f"--qemu 10.2 builds it")
    return daemon


def start_daemon(test, work, *args):
    """The daemon listening on work/snd.sock, stopped at test's cleanup;
    (process, socket)."""
    sock = work / "snd.sock"
    log = open(work / "daemon.log", "w")
    proc = subprocess.Popen([str(test.daemon), "--socket-path", str(sock),
                             *args], stdout=log, stderr=subprocess.STDOUT)
    test.addCleanup(log.close)
    test.addCleanup(lambda: proc.poll() is None and proc.kill())
    deadline = time.monotonic() + 10
    while not sock.exists():
        test.assertIsNone(proc.poll(), "the daemon exited")
        test.assertLess(time.monotonic(), deadline, "no socket")
        time.sleep(0.05)
    return proc, sock


class VhostUserSoundTest(unittest.TestCase):
    """The guest on the daemon's null card."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = daemon_binary()

    def run_guest(self, name, command, daemon_args=(), device_opts=""):
        """Run command in the guest on the daemon; it must not fail, and
        the daemon must exit with 0 when QEMU has gone. The result."""
        work = WORK / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        proc, sock = start_daemon(self, work, *daemon_args)
        self.assertEqual(stat.S_IMODE(sock.stat().st_mode), 0o600)
        qemu_args = MEMORY + [
            "-chardev", f"socket,id=vus,path={sock}",
            "-device", f"vhost-user-snd-pci,chardev=vus{device_opts}"]
        res = guest.run_guest(qemu_args, guest.command_scenario(command),
                              timeout=120, workdir=work / "guest")
        out = res.scenario_output()
        self.assertEqual(res.exit_code, 0, res.describe(40))
        self.assertEqual(guest.driver_errors(out), [], res.describe(40))
        try:
            status = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("the daemon did not exit when QEMU went")
        self.assertEqual(status, 0, (work / "daemon.log").read_text())
        return res

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

    def test_mixer_controls(self):
        """--controls and controls=on: QEMU's device's four controls and
        two jacks; 50 % is -30 dB."""
        res = self.run_guest(
            "controls",
            "amixer -c0 controls; amixer -c0 sset PCM 50% >/dev/null && "
            "amixer -c0 sget PCM",
            ["--controls"], ",controls=on")
        out = res.scenario_output()
        for name in ("PCM Playback Volume", "PCM Playback Switch",
                     "Capture Volume", "Capture Switch"):
            self.assertRegex(out, rf"iface=MIXER,name='{name}'", out)
        for name in ("Line Out Jack", "Mic Jack"):
            self.assertRegex(out, rf"iface=CARD,name='{name}'", out)
        self.assertRegex(out, r"Playback 60 \[50%\] \[-30.00dB\] \[on\]",
                         out)


class VhostUserSoundKilledTest(unittest.TestCase):
    """The daemon killed while the guest plays."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = daemon_binary()

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
        daemon, sock = start_daemon(self, work)

        def on_mark(name, _rest, _when):
            if name == "playing":
                time.sleep(2)
                daemon.kill()

        qemu_args = MEMORY + [
            "-chardev", f"socket,id=vus,path={sock}",
            "-device", "vhost-user-snd-pci,chardev=vus"]
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


class VhostUserSoundOptionsTest(unittest.TestCase):
    """The daemon's command line, without a guest."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = daemon_binary()

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
        proc, sock = start_daemon(self, work)
        proc.terminate()
        self.assertEqual(proc.wait(timeout=10), 0)
        self.assertFalse(sock.exists())


if __name__ == "__main__":
    unittest.main()
