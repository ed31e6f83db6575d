"""End-to-end test of a sound card whose clock is not the host's (issue
#17): a virtio-sound guest plays a 440 Hz tone for 60 s into
qpw-drift-sink (tests/tools/qpw-drift-sink.c) running 300 ppm fast, the
crystal error of a real card, through the same run as
tests/bench/bench-drift (tests/lib/drift.py).

virtio-sound has no clock of its own that the backend would have to
resample from: the device completes the guest's messages at the pace
PipeWire takes audio, so the guest follows the card by itself, and this
checks that it does.  Were the guest on the host's clock, the card would
take 14.4 frames a second more than it gets: 18 ms a minute out of a ring
whose low point, one graph cycle before QEMU tops it up, is about 10.7
ms, so an underrun within a minute.  Checked:

  - the card is what it should be: the sink measured 300 ppm within 20,
    driving the graph at every tick;
  - the guest follows it: the median of its rate against the card's, in
    the 10 s windows in which the card lost no graph cycle, is within 100
    ppm.  A cycle the card loses is a quantum the stream never took,
    about -1070 ppm in its window whatever the guest's clock, and the
    2-core test machine's graph loses some without QEMU too (see
    docs/pipewire.md), so those windows are left out; with none left the
    guest's rate cannot be told, and that fails;
  - no xrun: none in the backend (qpw_xrun), none in the device
    (virtio_snd_xrun: no message from the guest for a period);
  - the ring's low point before each write does not creep: its fitted
    trend is under 2 ms per minute.

HDA is
not tested here: its codec follows the card too (by moving its DMA clock,
hda_audio_adjust), but it throws its 8 KiB buffer away whenever the graph
stalls for longer than half of it, which on the 2-core test machine
happened in 3 of 4 one-minute runs (docs/pipewire.md, "A card with a
clock of its own").  Files are kept in
${QPW_E2E_WORK:-/tmp/qpw-e2e}/drift/.
"""

import os
import shutil
import sys
import unittest
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import drift  # noqa: E402
import retry  # noqa: E402

WORK = Path(os.environ.get("QPW_E2E_WORK", "/tmp/qpw-e2e")) / "drift"
PPM = 300
SECONDS = 60
SLOPE_MS_PER_MIN = 2.0  # the ring's low point may creep this much at most
CARD_PPM_TOLERANCE = 20  # the sink's measured offset vs PPM (its own test's)
FOLLOW_PPM = 100        # the guest's median window rate vs the card's


class DriftTest(unittest.TestCase):
    """A virtio-sound guest follows a card 300 ppm fast, with no xrun."""

    load_sensitive = ("a TCG guest feeding a real-time consumer: a busy "
                      "machine can starve the guest for a period (a "
                      "device xrun)")

    def run_at_fast_card(self, attempt):
        work = WORK / f"attempt-{attempt}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        tone = work / "tone.raw"
        drift.tone_raw(tone)
        try:
            f = drift.run("virtio", PPM, SECONDS, tone, work)
        except drift.DriftRunError as e:
            raise self.failureException(str(e)) from None
        line = (f"virtio at {PPM:+d} ppm (measured {f['card_ppm']:+.1f}): "
                f"guest vs card per 10 s {np.round(f['guest_ppm'])} ppm, "
                f"windows without a lost cycle {f['clean']}, "
                f"backend underruns {f['underruns']}, device xruns "
                f"{f['device_xruns']['virtio_snd_xrun']}, card cycles late "
                f"{f['late']} lost {f['lost']}, not driving "
                f"{f['not_driving']}, ring low "
                f"{f['low_first']:.1f} -> {f['low_last']:.1f} ms "
                f"({f['low_slope']:+.2f} ms/min); data thread: "
                f"{f['data_thread']}")
        print(f"\n  {line}", file=sys.stderr)
        rates = drift.clean_rates(f)
        problems = []
        if abs(f["card_ppm"] - PPM) > CARD_PPM_TOLERANCE or f["not_driving"]:
            problems.append("the card is not 300 ppm fast, or not the "
                            "graph's driver")
        if not len(rates):
            problems.append("the card lost a graph cycle in every window")
        elif abs(np.median(rates)) > FOLLOW_PPM:
            problems.append(f"the guest does not follow the card: median "
                            f"{np.median(rates):+.0f} ppm")
        if f["underruns"] or f["device_xruns"]["virtio_snd_xrun"]:
            problems.append("xruns")
        if abs(f["low_slope"]) > SLOPE_MS_PER_MIN:
            problems.append("the ring's low point creeps")
        self.assertEqual(problems, [], line)

    def test_virtio_follows_a_fast_card(self):
        retry.retried(self, self.run_at_fast_card, 2)


if __name__ == "__main__":
    unittest.main()
