"""5.1 and 7.1 through virtio-sound and -audiodev pipewire, end to end.

The guest plays a 6- and an 8-channel S16 48 kHz file with `aplay -D
hw:0,0`, each channel a tone of its own frequency.  The device passes the
stream to the PipeWire backend unconverted; pw-record (in a private
PipeWire) takes QEMU's playback stream port by port, by channel name
(FL to FL, ...), so each recorded channel is what PipeWire calls that
position.  Each must carry the tone of the guest's channel that the
device's channel map puts at that position (the guest's channel map
lists, in `amixer contents`, the same layouts).  Files are kept in
${QPW_E2E_WORK:-/tmp/qpw-e2e}/surround/.
"""

import os
import shutil
import sys
import unittest
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import counter  # noqa: E402
import guest  # noqa: E402
from fidelity import SerialTrigger  # noqa: E402
from pipewire import SOURCE, PipeWire  # noqa: E402

WORK = Path(os.environ.get("QPW_E2E_WORK", "/tmp/qpw-e2e")) / "surround"
RATE = 48000
SECONDS = 6
STREAM = "qpw-surround"
# A 7.1 sink, so that PipeWire keeps the stream's channels (it adapts a
# stream to the sink it plays to: into the stereo sink it would downmix).
SURROUND_SINK = "qpw_surround"
# What the device's channel maps say for 6 and 8 channels (and the
# guest's `Playback Channel Map` lists), channel by channel.
LAYOUTS = {
    6: ["FL", "FR", "FC", "LFE", "RL", "RR"],
    8: ["FL", "FR", "FC", "LFE", "RL", "RR", "SL", "SR"],
}
# Guest channel i plays FREQS[i] Hz: none a multiple of another.
FREQS = [300.0, 420.0, 540.0, 660.0, 780.0, 900.0, 1020.0, 1140.0]


def tones(path, channels):
    """A S16 WAV of SECONDS with channel i a FREQS[i] tone at -12 dBFS."""
    t = np.arange(SECONDS * RATE) / RATE
    ints = np.stack([np.round(8192 * np.sin(2 * np.pi * FREQS[i] * t))
                     for i in range(channels)], axis=1).astype(np.int64)
    counter.write_raw_wav(path, ints, RATE, 16)
    return path


def dominant(x):
    """The strongest frequency of samples x (Hz) and its level (dBFS)."""
    x = x.astype(float) / 32768.0
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spec[1:])) + 1
    level = 20 * np.log10(max(np.sqrt(np.mean(x * x)) * np.sqrt(2), 1e-9))
    return k * RATE / len(x), level


class SurroundTest(unittest.TestCase):
    """Each channel of a 5.1 and a 7.1 stream reaches its position."""

    load_sensitive = ("the recording is linked to QEMU's stream while it "
                      "plays; a starved guest may underrun")

    @classmethod
    def setUpClass(cls):
        guest.qemu_binary()      # an error, not a skip, when QEMU is not built
        cls.work = WORK
        shutil.rmtree(cls.work, ignore_errors=True)
        cls.work.mkdir(parents=True)

    def play(self, channels):
        """Play the channels-channel file; returns the recording's
        channels by position {position: samples} and the guest's output."""
        work = self.work / f"ch{channels}"
        layout = LAYOUTS[channels]
        wav = tones(self.work / f"tones-{channels}.wav", channels)
        rec_path = work / "recorded.wav"
        work.mkdir()
        with PipeWire(workdir=work / "pw", extra_sinks=[
                (SURROUND_SINK, " ".join(LAYOUTS[8]))]) as pw:
            rec = []

            def link():
                rec.append(pw.client(
                    ["pw-record", "-P", "node.autoconnect=false",
                     "--format", "s16", "--rate", str(RATE), "--channels",
                     str(channels), "--channel-map", ",".join(layout),
                     str(rec_path)], "pw-record.log"))
                pw.link_ports(STREAM, rec[0], timeout=20)

            trigger = SerialTrigger("QPW: surround start", link)
            try:
                res = guest.run_guest(
                    ["-audiodev", f"pipewire,id=snd0,out.name={SURROUND_SINK},"
                     f"in.name={SOURCE},out.stream-name={STREAM}",
                     "-device", "virtio-sound-pci,audiodev=snd0"],
                    guest.command_scenario(
                        "amixer -c0 contents | grep chmap; "
                        "echo 'QPW: surround start'; "
                        "aplay -D hw:0,0 /in/tones.wav"),
                    {"tones.wav": wav}, timeout=120, workdir=work / "guest",
                    env=pw.env(), echo=trigger)
            finally:
                trigger.join()
                for client in rec:
                    client.stop()
        self.assertIsNone(trigger.error, f"linking pw-record: "
                          f"{trigger.error}")
        self.assertEqual(res.exit_code, 0, res.describe(40))
        ints = counter.read_raw_wav(rec_path)[0]
        self.assertEqual(ints.shape[1], channels)
        return {pos: ints[:, i] for i, pos in enumerate(layout)}, \
            res.scenario_output()

    def check(self, channels):
        got, output = self.play(channels)
        layout = LAYOUTS[channels]
        self.assertIn("chmap-fixed=" + ",".join(layout), output,
                      "the guest's channel map lists no such layout")
        print(f"\n  {channels} channels:", file=sys.stderr)
        wrong = []
        for i, pos in enumerate(layout):
            x = got[pos]
            # One second from the loudest part of the recording.
            start = max(0, int(np.argmax(np.abs(x) > 1000)) + RATE)
            freq, level = dominant(x[start:start + RATE])
            print(f"  {pos:>3}: {freq:7.1f} Hz at {level:6.1f} dBFS "
                  f"(guest channel {i}: {FREQS[i]:.0f} Hz)", file=sys.stderr)
            if abs(freq - FREQS[i]) > 3 or level < -20:
                wrong.append(f"{pos}: {freq:.1f} Hz at {level:.1f} dBFS, "
                             f"expected {FREQS[i]:.0f} Hz")
        self.assertEqual(wrong, [])

    def test_5_1(self):
        """FL FR FC LFE RL RR each carry their own tone."""
        self.check(6)

    def test_7_1(self):
        """FL FR FC LFE RL RR SL SR each carry their own tone."""
        self.check(8)


if __name__ == "__main__":
    unittest.main()
