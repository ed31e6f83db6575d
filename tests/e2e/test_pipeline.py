"""Pipeline proof: our QEMU boots the tiny guest with an HDA device on the
`wav` audiodev, the guest plays a 5 s 440 Hz tone with aplay, and the WAV
QEMU wrote is checked (length, frequency, gaps).

Files are kept in ${QPW_E2E_WORK:-/tmp/qpw-e2e}/pipeline/ for inspection.
"""

import os
import shutil
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import analyze  # noqa: E402
import guest  # noqa: E402

WORK = Path(os.environ.get("QPW_E2E_WORK", "/tmp/qpw-e2e")) / "pipeline"


class PipelineTest(unittest.TestCase):
    """Guest aplay -> QEMU HDA -> wav audiodev."""

    def test_hda_playback_to_wav(self):
        """5 s, 440 Hz, 48 kHz S16 stereo played in the guest comes out of
        QEMU's wav backend: length within 5 %, frequency within 1 %, no
        silent gap over 5 ms."""
        try:
            guest.qemu_binary()
        except FileNotFoundError as e:
            raise self.failureException(str(e)) from None
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
        tone = analyze.sox_tone(WORK / "tone.wav", 5, 440)
        out = WORK / "qemu-out.wav"
        res = guest.run_guest(
            ["-audiodev", f"wav,id=snd0,path={out},out.frequency=48000,"
                          "out.channels=2,out.format=s16",
             "-device", "ich9-intel-hda",
             "-device", "hda-duplex,audiodev=snd0"],
            "aplay -D hw:0,0 /in/tone.wav", {"tone.wav": tone},
            timeout=120, workdir=WORK / "guest")
        self.assertEqual(res.exit_code, 0, res.describe())
        self.assertTrue(out.exists(), f"QEMU wrote no {out}\n{res.describe()}")
        a = analyze.analyze(out, min_gap_ms=5)
        print(f"\n  pipeline: {a.summary()}\n  boot {res.boot_seconds:.1f} s,"
              f" run {res.wall_seconds:.1f} s, QEMU CPU "
              f"{res.qemu_cpu_seconds:.1f} s; gaps {a.gaps}, "
              f"discontinuities {a.discontinuities}", file=sys.stderr)
        self.assertLess(abs(a.tone_seconds - 5.0), 0.25, a.summary())
        self.assertLess(abs(a.frequency_hz - 440) / 440, 0.01, a.summary())
        self.assertEqual(a.gaps, [], a.summary())


if __name__ == "__main__":
    unittest.main()
