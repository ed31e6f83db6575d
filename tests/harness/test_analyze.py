"""Tests of tests/lib/analyze.py (and scripts/analyze-wav) on generated
signals whose frequency, gaps, level and delay are known."""

import json
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import analyze  # noqa: E402

RATE = 48000


def sine(freq, seconds, rate=RATE, amplitude=0.5, phase=0.3):
    """A sine tone as a float array."""
    n = np.arange(int(round(seconds * rate)))
    return amplitude * np.sin(2 * np.pi * freq * n / rate + phase)


def stereo_wav(x, rate=RATE):
    """A 16-bit stereo Wav (as load_wav would return) of mono signal x."""
    q = np.round(x * 32768) / 32768
    return analyze.Wav(np.stack([q, q], 1), rate, 16, False)


class AnalyzeTest(unittest.TestCase):
    """Measurements on synthetic signals."""

    def test_gap_of_20ms_is_found_and_located(self):
        """A 20 ms silence at 1.0 s inside a 2 s tone is reported there."""
        x = sine(440, 2.0)
        x[RATE:RATE + RATE // 50] = 0
        res = analyze.analyze(stereo_wav(x), min_gap_ms=5)
        self.assertEqual(len(res.gaps), 1, res.gaps)
        start, ms = res.gaps[0]
        self.assertAlmostEqual(start, 1.0, delta=0.001)
        self.assertAlmostEqual(ms, 20.0, delta=1.0)

    def test_gap_of_3ms_is_not_reported_with_5ms_threshold(self):
        """A 3 ms silence is below the 5 ms threshold: no gap, and its edges
        are not reported as discontinuities either."""
        x = sine(440, 2.0)
        x[RATE:RATE + 3 * RATE // 1000] = 0
        res = analyze.analyze(stereo_wav(x), min_gap_ms=5)
        self.assertEqual(res.gaps, [])
        self.assertEqual(res.discontinuities, [])
        self.assertEqual(len(analyze.analyze(stereo_wav(x), min_gap_ms=2).gaps), 1)

    def test_frequency_within_0_1_percent(self):
        """Dominant frequency, several rates; also short tones, where the
        FFT bin alone (0.7 Hz for 0.25 s) would miss 0.1 %."""
        for freq, rate, seconds in [(440, 48000, 3), (997, 44100, 2),
                                    (1234.5, 48000, 2.5), (60, 48000, 3),
                                    (60.3, 48000, 0.25), (1234.5, 44100, 0.3)]:
            res = analyze.analyze(stereo_wav(sine(freq, seconds, rate), rate))
            self.assertLess(abs(res.frequency_hz - freq) / freq, 0.001,
                            f"{freq} Hz at {rate} measured {res.frequency_hz}")

    def test_rms_of_known_amplitude(self):
        """A sine of amplitude 0.5 is 20*log10(0.5/sqrt(2)) = -9.03 dBFS."""
        res = analyze.analyze(stereo_wav(sine(1000, 1.0)))
        self.assertAlmostEqual(res.tone_rms_dbfs, -9.031, delta=0.01)
        self.assertAlmostEqual(res.peak_dbfs, -6.02, delta=0.01)

    def test_tone_extent(self):
        """Silence, 2 s of tone, silence: start and length found."""
        x = np.concatenate([np.zeros(RATE // 2), sine(440, 2.0, phase=0),
                            np.zeros(RATE)])
        res = analyze.analyze(stereo_wav(x))
        self.assertAlmostEqual(res.tone_start_s, 0.5, delta=0.001)
        self.assertAlmostEqual(res.tone_seconds, 2.0, delta=0.002)
        self.assertAlmostEqual(res.seconds, 3.5, delta=1e-6)

    def test_discontinuity_is_found(self):
        """Dropping 3 samples (a small phase jump, no silence) is a
        discontinuity, found within a sample; the clean tone has none."""
        x = sine(440, 2.0)
        self.assertEqual(analyze.analyze(stereo_wav(x)).discontinuities, [])
        for at in (0.5, 0.77, 1.0, 1.5):
            p = int(at * RATE)
            spliced = np.concatenate([x[:p], x[p + 3:]])
            res = analyze.analyze(stereo_wav(spliced))
            self.assertEqual(res.gaps, [])
            self.assertEqual(len(res.discontinuities), 1, (at, res))
            self.assertAlmostEqual(res.discontinuities[0], at, delta=2 / RATE)

    def test_noise_floor_is_not_a_defect(self):
        """A tone with noise 40 dB below it: no gaps, no discontinuities; a
        20 ms gap in it is still found."""
        rng = np.random.default_rng(3)
        x = sine(440, 2.0) + rng.normal(0, 0.003, 2 * RATE)
        res = analyze.analyze(stereo_wav(x))
        self.assertEqual((res.gaps, res.discontinuities), ([], []))
        x[RATE:RATE + RATE // 50] = rng.normal(0, 0.003, RATE // 50)
        self.assertEqual(len(analyze.analyze(stereo_wav(x)).gaps), 1)

    def test_xcorr_finds_known_offset(self):
        """Noise delayed by 1234 samples: +1234, and -1234 the other way."""
        rng = np.random.default_rng(7)
        a = rng.uniform(-0.5, 0.5, RATE)
        b = np.concatenate([np.zeros(1234), a])[:RATE]
        self.assertEqual(analyze.xcorr_offset(a, b), 1234)
        self.assertEqual(analyze.xcorr_offset(b, a), -1234)

    def test_silent_file(self):
        """All zeros: no tone, level -inf, no exception."""
        res = analyze.analyze(stereo_wav(np.zeros(RATE)))
        self.assertEqual(res.tone_seconds, 0.0)
        self.assertIsNone(analyze.as_dict(res)["rms_dbfs"])


class WavFormatTest(unittest.TestCase):
    """load_wav on the formats QEMU, PipeWire and sox write."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="qpw-analyze-")
        self.path = Path(self.dir.name) / "f.wav"

    def tearDown(self):
        self.dir.cleanup()

    def test_formats_agree_with_sox(self):
        """8/16/24/32-bit int and 32/64-bit float, 3 channels, decoded
        exactly as sox decodes them."""
        for enc in (["-b", "8", "-e", "unsigned"], ["-b", "16"], ["-b", "24"],
                    ["-b", "32"], ["-b", "32", "-e", "floating-point"],
                    ["-b", "64", "-e", "floating-point"]):
            subprocess.run(["sox", "-n", "-r", "44100", "-c", "3", *enc,
                            str(self.path), "synth", "0.1", "sine", "1000",
                            "sine", "300", "sine", "50", "vol", "0.7"],
                           check=True, capture_output=True)
            ref = np.frombuffer(subprocess.run(
                ["sox", str(self.path), "-t", "f64", "-"], check=True,
                capture_output=True).stdout, "<f8").reshape(-1, 3)
            wav = analyze.load_wav(self.path)
            self.assertEqual(wav.rate, 44100)
            np.testing.assert_array_equal(wav.samples, ref, err_msg=str(enc))

    def test_extensible_and_unfinished_header(self):
        """WAVE_FORMAT_EXTENSIBLE 24-bit, and a data size field of 0 (a
        writer killed before finalizing the header) reads to end of file."""
        x = np.stack([sine(440, 0.1), -sine(440, 0.1)], 1)
        analyze.write_wav(self.path, x, RATE, bits=24)
        blob = bytearray(self.path.read_bytes())
        fmt = blob[20:36]
        ext = (struct.pack("<H", 0xFFFE) + fmt[2:] +
               struct.pack("<HHI", 22, 24, 3) +
               struct.pack("<H", analyze.PCM) + bytes(14))
        data = blob[36:]
        data[4:8] = bytes(4)                       # data size 0
        riff = b"WAVE" + b"fmt " + struct.pack("<I", len(ext)) + ext + data
        self.path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
        wav = analyze.load_wav(self.path)
        self.assertEqual(wav.samples.shape, x.shape)
        np.testing.assert_allclose(wav.samples, x, atol=2 ** -23)

    def test_cli_prints_json(self):
        """scripts/analyze-wav FILE --ref REF prints the figures as JSON."""
        analyze.write_wav(self.path, np.concatenate([np.zeros(480),
                                                     sine(440, 1.0)]), RATE)
        ref = Path(self.dir.name) / "ref.wav"
        analyze.write_wav(ref, sine(440, 1.0), RATE)
        res = subprocess.run([str(ROOT / "scripts" / "analyze-wav"),
                              str(self.path), "--ref", str(ref)],
                             capture_output=True, text=True, check=True)
        out = json.loads(res.stdout)
        self.assertAlmostEqual(out["frequency_hz"], 440, delta=0.44)
        self.assertEqual(out["offset_samples"], 480)
        self.assertIn("440.00 Hz", res.stderr)


if __name__ == "__main__":
    unittest.main()
