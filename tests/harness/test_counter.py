"""The counter signal's decoder (tests/lib/counter.py) on synthetic
recordings with known faults: drops, repeats, reordering, alterations,
inserted silence, lost head and tail.  Fast: no QEMU, no PipeWire."""

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import counter  # noqa: E402

N = 20000


def silence(n):
    return np.zeros((n, 2), dtype=np.int64)


class CounterEncodingTest(unittest.TestCase):
    """What the signal looks like."""

    def test_every_frame_decodes_to_its_index(self):
        for fmt in counter.FORMATS:
            with self.subTest(fmt=fmt):
                x = counter.samples(0, 70000, fmt)
                rep = counter.decode(x, fmt)
                self.assertTrue(rep.clean, rep.summary())
                self.assertEqual((rep.first, rep.last, rep.counter_frames),
                                 (0, 69999, 70000))

    def test_samples_fit_the_format_and_use_its_range(self):
        x = counter.samples(0, 1 << 17, "s16")
        self.assertEqual((x.min(), x.max()), (-32768, 32767))
        self.assertEqual(len(np.unique(x[:, 0])), 65536)
        y = counter.samples(0, 1 << 17, "s32")
        self.assertGreaterEqual(y.min(), -(1 << 31))
        self.assertLess(y.max(), 1 << 31)
        self.assertFalse(np.any(y & 0xFF), "low 8 bits of s32 must be 0")

    def test_silence_and_constant_frames_are_no_counter_frames(self):
        for fmt in counter.FORMATS:
            rep = counter.decode(silence(1000), fmt)
            self.assertFalse(rep.found)
            self.assertEqual(rep.frames, 1000)

    def test_start_offset(self):
        x = counter.samples(1000, 500, "s16")
        rep = counter.decode(x, "s16")
        self.assertEqual((rep.first, rep.last), (1000, 1499))
        self.assertTrue(rep.clean)
        self.assertFalse(rep.has_head(0))
        self.assertTrue(rep.has_tail(1499))

    def test_index_limit(self):
        with self.assertRaises(ValueError):
            counter.samples(counter.MAX_FRAMES - 10, 11)
        rep = counter.decode(counter.samples(counter.MAX_FRAMES - 10, 10))
        self.assertEqual(rep.last, counter.MAX_FRAMES - 1)
        self.assertTrue(rep.clean)


class CounterFaultTest(unittest.TestCase):
    """Known faults are counted exactly, in both formats."""

    def check(self, rec, fmt, **want):
        rep = counter.decode(rec, fmt)
        got = {k: getattr(rep, k) for k in want}
        self.assertEqual(got, want, rep.summary())
        return rep

    def each_format(self):
        for fmt in counter.FORMATS:
            with self.subTest(fmt=fmt):
                yield fmt, counter.samples(0, N, fmt)

    def test_lead_and_trail_silence_are_not_faults(self):
        for fmt, x in self.each_format():
            rec = np.concatenate([silence(333), x, silence(44)])
            rep = self.check(rec, fmt, lead=333, trail=44, first=0,
                             last=N - 1, lost=0, inserted=0)
            self.assertTrue(rep.clean)
            self.assertTrue(rep.has_head(0) and rep.has_tail(N - 1))

    def test_lost_head_and_tail(self):
        for fmt, x in self.each_format():
            rep = self.check(x[480:N - 960], fmt, first=480,
                             last=N - 961, lost=0)
            self.assertTrue(rep.clean)
            self.assertFalse(rep.has_head(0))
            self.assertFalse(rep.has_tail(N - 1))

    def test_drops(self):
        for fmt, x in self.each_format():
            rec = np.concatenate([x[:1000], x[1480:5000], x[5001:]])
            rep = self.check(rec, fmt, lost=481, repeated=0, out_of_order=0,
                             altered=0, inserted=0)
            self.assertFalse(rep.clean)
            self.assertEqual(len(rep.events), 2, rep.events)

    def test_repeats(self):
        for fmt, x in self.each_format():
            # A period played twice (an underrun refilled with old audio)
            # and one frame doubled.
            rec = np.concatenate([x[:2000], x[1520:7000], x[6999:]])
            self.check(rec, fmt, lost=0, repeated=481, out_of_order=0,
                       altered=0, inserted=0)

    def test_out_of_order(self):
        for fmt, x in self.each_format():
            # Two blocks swapped: the later one arrives first.
            rec = np.concatenate([x[:3000], x[4000:5000], x[3000:4000],
                                  x[5000:]])
            self.check(rec, fmt, lost=0, repeated=0, out_of_order=1000,
                       altered=0, inserted=0)

    def test_altered_values(self):
        for fmt, x in self.each_format():
            lsb = 1 if fmt == "s16" else 1 << 8     # lowest compared bit
            rec = x.copy()
            rec[100, 0] += lsb           # off by one in the left channel
            rec[101, 1] ^= lsb << 3      # a bit flipped on the right
            rec[5000:5010] = 0           # a burst of zeros
            rec[9000:9004] = rec[9000:9004] // 2    # scaled by 0.5
            self.check(rec, fmt, lost=0, repeated=0, out_of_order=0,
                       altered=16, inserted=0, first=0, last=N - 1)

    def test_s32_ignores_the_low_8_bits_only(self):
        x = counter.samples(0, N, "s32")
        noise = np.random.default_rng(1).integers(0, 256, size=x.shape)
        rep = counter.decode(x | noise, "s32")
        self.assertTrue(rep.clean, rep.summary())
        rec = x.copy()
        rec[10:20] += 1 << 8             # bit 8: the 24th bit from the top
        self.check(rec, "s32", altered=10, lost=0)

    def test_s16_truncated_to_8_bits_is_altered(self):
        x = counter.samples(0, N, "s16")
        rec = x & ~0xFF
        same = int(np.all(rec == x, axis=1).sum())   # low bytes were 0
        rep = counter.decode(rec, "s16")
        self.assertFalse(rep.clean)
        # A changed frame passes for another index about once in 1000.
        self.assertLess(rep.counter_frames - same, N // 200, rep.summary())
        self.assertGreater(rep.altered + rep.inserted, N * 9 // 10,
                           rep.summary())

    def test_inserted_silence(self):
        for fmt, x in self.each_format():
            # An underrun padded with silence: nothing lost, 96 frames extra.
            rec = np.concatenate([x[:3000], silence(96), x[3000:]])
            self.check(rec, fmt, lost=0, repeated=0, altered=0, inserted=96)

    def test_drop_replaced_by_silence(self):
        for fmt, x in self.each_format():
            # 50 frames replaced by 50 zeros (altered), then 200 dropped
            # and 120 zeros in their place (altered 120, lost 80).
            rec = np.concatenate([x[:1000], silence(50), x[1050:3000],
                                  silence(120), x[3200:]])
            self.check(rec, fmt, lost=80, altered=170, inserted=0,
                       repeated=0, out_of_order=0)

    def test_channels_swapped(self):
        for fmt, x in self.each_format():
            rep = counter.decode(x[:, ::-1], fmt)
            self.assertEqual(rep.counter_frames, 0, rep.summary())

    def test_byte_shifted_stream(self):
        # A stream misaligned by one byte (a framing bug) holds no frame.
        x = counter.samples(0, N, "s16").astype("<i2").tobytes()[1:-1]
        y = np.frombuffer(x[:(len(x) // 4) * 4], "<i2").reshape(-1, 2)
        rep = counter.decode(y.astype(np.int64))
        self.assertFalse(rep.clean)
        self.assertLess(rep.counter_frames, N // 200, rep.summary())


class ReferenceMatchTest(unittest.TestCase):
    """A recording compared with a reference recording of the stream."""

    def setUp(self):
        x = counter.samples(0, N, "s16")
        # The reference has an upstream glitch: 500 frames of silence
        # instead of 3000..3499, and 200 frames lost at 8000.
        self.ref = np.concatenate([silence(700), x[:3000], silence(500),
                                   x[3500:8000], x[8200:]])

    def test_exact_excerpt(self):
        rec = np.concatenate([silence(64), self.ref[1500:15000]])
        ex = counter.match_reference(rec, self.ref)
        self.assertTrue(ex.exact, ex.summary())
        self.assertEqual((ex.rec_start, ex.ref_start, ex.compared),
                         (64, 1500, 13500))
        # Against the pure counter, the same recording has the glitches.
        rep = counter.decode(rec)
        self.assertEqual((rep.altered, rep.lost), (500, 200), rep.summary())

    def test_differences(self):
        rec = self.ref[1500:15000].copy()
        rec[100] = 0
        rec = np.concatenate([rec[:5000], rec[5100:]])   # 100 dropped
        ex = counter.match_reference(rec, self.ref)
        self.assertFalse(ex.exact)
        self.assertEqual(ex.first_mismatch, 100)
        self.assertGreater(ex.mismatched, 8000)

    def test_past_the_reference(self):
        rec = self.ref[-1000:]
        rec = np.concatenate([rec, rec[:10]])
        ex = counter.match_reference(rec, self.ref)
        self.assertEqual((ex.compared, ex.short, ex.mismatched), (1000, 10, 0))
        self.assertFalse(ex.exact)

    def test_not_in_the_reference(self):
        rec = counter.samples(N + 5, 100)
        self.assertFalse(counter.match_reference(rec, self.ref).found)
        self.assertFalse(counter.match_reference(silence(9), self.ref).found)

    def test_s32_compares_the_top_24_bits(self):
        x = counter.samples(0, N, "s32")
        rec = x[100:900] | 0x7F
        ex = counter.match_reference(rec, x, "s32")
        self.assertTrue(ex.exact, ex.summary())
        rec[5, 1] ^= 1 << 8
        self.assertEqual(counter.match_reference(rec, x, "s32").mismatched, 1)


class CounterWavTest(unittest.TestCase):
    """Round trips through WAV files."""

    def test_round_trip(self):
        with tempfile.TemporaryDirectory() as d:
            for fmt in counter.FORMATS:
                for rate in (44100, 48000):
                    with self.subTest(fmt=fmt, rate=rate):
                        path = os.path.join(d, f"{fmt}-{rate}.wav")
                        counter.write_counter_wav(path, 4800, rate, fmt)
                        ints, r, bits = counter.read_raw_wav(path)
                        self.assertEqual((r, bits, ints.shape),
                                         (rate, counter.FORMATS[fmt][0],
                                          (4800, 2)))
                        np.testing.assert_array_equal(
                            ints, counter.samples(0, 4800, fmt))
                        rep = counter.decode_wav(path)
                        self.assertEqual(rep.fmt, fmt)
                        self.assertTrue(rep.clean, rep.summary())
                        self.assertEqual((rep.first, rep.last), (0, 4799))

    def test_lead_of_silence(self):
        """write_counter_wav(lead=n): n silent frames, then the counter
        from its first index."""
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "lead.wav")
            counter.write_counter_wav(path, 4800, 48000, "s16", lead=1000)
            ints, _, _ = counter.read_raw_wav(path)
            self.assertEqual(ints.shape, (5800, 2))
            self.assertFalse(ints[:1000].any())
            rep = counter.decode_wav(path)
            self.assertTrue(rep.clean, rep.summary())
            self.assertEqual((rep.lead, rep.first, rep.last), (1000, 0, 4799))

    def test_sox_widened_s16_is_no_s32_counter(self):
        """An independent WAV tool (sox) widening S16 to S32 gives the
        counter's words in the top 16 bits: not an s32 counter frame,
        proving the s32 decoder really checks the 8 hashed bits."""
        with tempfile.TemporaryDirectory() as d:
            a, b = os.path.join(d, "a.wav"), os.path.join(d, "b.wav")
            counter.write_counter_wav(a, 4800, 48000, "s16")
            subprocess.run(["sox", a, "-b", "32", b], check=True)
            self.assertTrue(counter.decode_wav(b, "s32").counter_frames < 48)
            ints, _, _ = counter.read_raw_wav(b)
            self.assertTrue(counter.decode(ints >> 16, "s16").clean)


if __name__ == "__main__":
    unittest.main()
