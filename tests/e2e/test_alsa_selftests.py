"""Linux's own ALSA selftests in the test guest, against the virtio-sound
device, with the Intel HDA path as the reference.

`pcm-test` and `mixer-test` of tools/testing/selftests/alsa, built from
Debian's linux-source-6.12 (the guest kernel's series) by
tests/guest-tools/build-alsa-selftests, run in the tiny guest on
`-audiodev pipewire` (a private PipeWire).  Both print TAP (kselftest):
every `ok` / `not ok` / `# SKIP` line is counted and each subtest that
is not `ok` is printed.  The virtio-sound run fails on any `not ok` but
the subtests listed in NOT_APPLICABLE (each says why), when a program
printed no results at all, or when one with no `not ok` ends with a
status other than 0.  The HDA run is
the reference: it is printed, and fails only if the suite did not run.

Files are kept in ${QPW_E2E_WORK:-/tmp/qpw-e2e}/alsa-selftests/.
"""

import os
import re
import shutil
import subprocess
import sys
import tarfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import guest  # noqa: E402
from pipewire import SINK, SOURCE, PipeWire  # noqa: E402

WORK = Path(os.environ.get("QPW_E2E_WORK", "/tmp/qpw-e2e")) / "alsa-selftests"
PROGRAMS = ("mixer-test", "pcm-test")
DEVICES = {
    "virtio": ["-device", "virtio-sound-pci,audiodev=snd0"],
    "hda": ["-device", "ich9-intel-hda", "-device",
            "hda-duplex,audiodev=snd0"],
}
# The tests load libatest.so and their configuration from the current
# directory; each program's TAP is framed by markers with its exit status.
SCENARIO = """\
mkdir -p /tmp/st && cd /tmp/st && tar xf /in/alsa-selftests.tar || exit 1
for t in {programs}; do
    echo "QPW: selftest $t start"
    ./$t
    echo "QPW: selftest $t rc $?"
done
dmesg | grep -i virtio | sed 's/^/dmesg: /'
exit 0
"""
TAP = re.compile(r"^(not ok|ok) \d+ (.*?)\s*$")
# Subtests that cannot pass on virtio-sound with Linux 6.12's virtio_snd,
# whatever the device does, and why (docs/virtio-sound.md, "Linux's ALSA
# selftests"). They are run and printed, not counted as failures.
NOT_APPLICABLE = {
    # 2 s (88200 frames) written into 22500-frame periods, then drained:
    # the driver queues a message only for a whole period
    # (virtsnd_pcm_msg_send() in sound/virtio/virtio_pcm_msg.c), so the
    # last 20700 frames never reach the device and the drain waits for
    # ALSA's drain timeout (the buffer's time + 10 %).
    "default.time3.SoundCard.0.0.PLAYBACK":
        "the driver never sends the last, partial period",
    # The same: 96000 frames are 187.5 periods of 512, so the last 256
    # never reach the device and the drain ends on ALSA's 100 ms timeout
    # after the last whole period. A device that keeps exact time from
    # START returns that period at 1994.7 ms, which puts the end at
    # 2094.7 ms plus up to a jiffy (4 ms), against a limit of 2100: the
    # verdict is the timeout's. Here PipeWire runs the stream, connected
    # at PREPARE a few ms before, 20 to 28 ms after START; the backend's
    # ring takes two periods meanwhile, so the last whole period returns
    # at 1992 to 2002 ms (traces of three runs, docs/virtio-sound.md).
    "default.time4.SoundCard.0.0.PLAYBACK":
        "the driver never sends the last half period; the drain ends on "
        "ALSA's 100 ms timeout",
}


def selftests_tar(work):
    """Build the selftests (cached) and pack them as one guest input."""
    out = subprocess.run([str(ROOT / "tests" / "guest-tools" /
                              "build-alsa-selftests")],
                         check=True, capture_output=True, text=True)
    folder = Path(out.stdout.strip().splitlines()[-1])
    tar = work / "alsa-selftests.tar"
    with tarfile.open(tar, "w") as t:
        for item in sorted(folder.iterdir()):
            t.add(item, arcname=item.name)
    return tar, (folder / "VERSION").read_text().strip()


def results(serial, program):
    """(exit status or None, [(result, name)]) of one program's run:
    result is 'ok', 'not ok' or 'skip'."""
    m = re.search(rf"QPW: selftest {program} start\n(.*?)"
                  rf"QPW: selftest {program} rc (\d+)", serial, re.S)
    if not m:
        return None, []
    found = []
    for line in m.group(1).splitlines():
        t = TAP.match(line)
        if t:
            skip = re.search(r"#\s*SKIP", t.group(2), re.I)
            found.append(("skip" if skip else t.group(1), t.group(2)))
    return int(m.group(2)), found


class AlsaSelftestsTest(unittest.TestCase):
    """pcm-test and mixer-test in the guest, per device."""

    load_sensitive = ("pcm-test times 2 s of playback to +-100 ms: a TCG "
                      "guest starved of CPU is late")

    @classmethod
    def setUpClass(cls):
        guest.qemu_binary()      # an error, not a skip, when QEMU is not built
        cls.image = guest.build_guest()
        cls.work = WORK
        shutil.rmtree(cls.work, ignore_errors=True)
        cls.work.mkdir(parents=True)
        cls.tar, cls.version = selftests_tar(cls.work)

    def run_suite(self, device):
        """Both programs in one guest run on `device`; returns
        {program: (status, [(result, name)])} and prints every subtest."""
        work = self.work / device
        with PipeWire(workdir=work / "pw") as pw:
            res = guest.run_guest(
                ["-audiodev",
                 f"pipewire,id=snd0,out.name={SINK},in.name={SOURCE}",
                 *DEVICES[device]],
                SCENARIO.format(programs=" ".join(PROGRAMS)),
                {"alsa-selftests.tar": self.tar}, timeout=400,
                workdir=work / "guest", env=pw.env(), image=self.image)
        self.assertEqual(res.exit_code, 0, res.describe(40))
        got = {}
        print(f"\n  {device} ({self.version}):", file=sys.stderr)
        for program in PROGRAMS:
            status, found = results(res.serial_log, program)
            got[program] = (status, found)
            counts = {k: sum(1 for r, _ in found if r == k)
                      for k in ("ok", "not ok", "skip")}
            print(f"  {program}: {counts['ok']} ok, {counts['not ok']} not "
                  f"ok, {counts['skip']} skip (exit status {status})",
                  file=sys.stderr)
            for result, name in found:
                if result != "ok":
                    why = NOT_APPLICABLE.get(name) if device == "virtio" \
                        else None
                    print(f"    {result}: {name}" +
                          (f" (does not apply: {why})" if why else ""),
                          file=sys.stderr)
            self.assertIsNotNone(status, f"{program} did not run: "
                                 + res.describe(60))
            self.assertTrue(found, f"{program} printed no results: "
                            + res.describe(60))
        return got, res

    def test_virtio_sound(self):
        """Every subtest passes or is skipped on the virtio-sound device."""
        got, res = self.run_suite("virtio")
        for program, (status, found) in got.items():
            bad = [name for result, name in found if result == "not ok"
                   and name not in NOT_APPLICABLE]
            self.assertEqual(bad, [], f"{program} failed: " +
                             res.describe(60))
            if not any(result == "not ok" for result, _ in found):
                self.assertEqual(status, 0, f"{program} ended with status "
                                 f"{status}: " + res.describe(60))
        self.assertEqual(guest.driver_errors(res.scenario_output()), [],
                         res.describe(40))

    def test_hda_reference(self):
        """The same suite on ich9-intel-hda + hda-duplex, for comparison:
        printed, not judged."""
        self.run_suite("hda")


if __name__ == "__main__":
    unittest.main()
