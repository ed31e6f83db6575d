"""The demo a user runs (scripts/demo): a guest plays through PipeWire.

Boots the tiny guest with `-audiodev pipewire -device virtio-sound-pci`,
has it play a short musical test signal (a tone, a rising sweep, a chord,
a higher tone) while it records from the PipeWire source, into which the
host plays a 1 kHz tone. What reached the sink and what the guest recorded
are analysed with analyze.py, the same code the tests use, and written to a
report directory: WAVs, a spectrogram and a waveform PNG, report.txt and
index.html. Exits non-zero when a stage fails or the sound is not right.
"""

import argparse
import html
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import analyze
import guest
from pipewire import PipeWire

RATE = 48000
MAX_GAP_MS = 5.0
FREQ_TOLERANCE = 0.01


@dataclass
class Segment:
    """One part of the test signal: what it is and what it should measure."""
    name: str
    start: float
    seconds: float
    freqs: tuple             # expected frequencies (Hz); a sweep: from, to
    sweep: bool = False


SEGMENTS = [
    Segment("A4 tone", 0.0, 1.0, (440.0,)),
    Segment("rising sweep", 1.0, 2.0, (220.0, 1760.0), sweep=True),
    Segment("C major chord", 3.0, 1.5, (261.63, 329.63, 392.00)),
    Segment("A5 tone", 4.5, 1.0, (880.0,)),
]
SIGNAL_SECONDS = 5.5
CAPTURE_FREQ = 1000.0
CAPTURE_SECONDS = 4


def stage(n, text):
    print(f"demo: [{n}/6] {text}", flush=True)


def make_signal():
    """The test signal as float samples in [-1, 1], mono."""
    out = np.zeros(int(SIGNAL_SECONDS * RATE))
    for seg in SEGMENTS:
        t = np.arange(int(seg.seconds * RATE)) / RATE
        if seg.sweep:
            f0, f1 = seg.freqs
            k = np.log(f1 / f0) / seg.seconds
            wave = np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)
        else:
            wave = sum(np.sin(2 * np.pi * f * t) for f in seg.freqs)
            wave /= len(seg.freqs)
        # 5 ms fades keep the joins click-free.
        fade = np.minimum(1.0, np.minimum(t, seg.seconds - t) / 0.005)
        i = int(seg.start * RATE)
        out[i:i + len(t)] = 0.5 * wave * fade
    return out


def top_peaks(x, n):
    """The n strongest spectral peaks of x (Hz), interpolated."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = []
    for _ in range(n):
        k = int(np.argmax(spec[1:-1])) + 1
        a, b, c = np.log(spec[k - 1:k + 2] + 1e-12)
        shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c else 0.0
        freqs.append((k + shift) * RATE / len(x))
        spec[max(0, k - 8):k + 9] = 0
    return sorted(freqs)


def measure_segments(x, onset):
    """Expected vs measured frequencies of each segment, from its middle."""
    rows = []
    for seg in SEGMENTS:
        if seg.sweep:
            f0, f1 = seg.freqs
            for frac in (0.1, 0.5, 0.9):
                want = f0 * (f1 / f0) ** frac
                mid = onset + int((seg.start + frac * seg.seconds) * RATE)
                win = x[mid - 480:mid + 480]
                got = analyze.dominant_frequency(win, RATE)
                rows.append((f"{seg.name} at {frac:.0%}", [want], [got]))
            continue
        a = onset + int((seg.start + 0.2 * seg.seconds) * RATE)
        b = onset + int((seg.start + 0.8 * seg.seconds) * RATE)
        got = top_peaks(x[a:b], len(seg.freqs))
        rows.append((seg.name, list(seg.freqs), got))
    return rows


def row_ok(want, got, tolerance):
    return all(abs(g - w) / w <= tolerance for w, g in zip(want, got))


@dataclass
class Report:
    lines: list
    ok: bool


def analyse_played(wav):
    """What reached the sink: onset, length, gaps, per-segment frequencies."""
    x = analyze.load_wav(wav).samples[:, 0].astype(float)
    x /= max(1e-9, np.max(np.abs(x)))
    loud = np.flatnonzero(np.abs(x) > 0.05)
    if len(loud) == 0:
        return Report(["played: the sink received only silence"], False), None
    onset, end = int(loud[0]), int(loud[-1])
    lowest = min(min(seg.freqs) for seg in SEGMENTS)
    gaps = [(round(a / RATE, 4), round((b - a) * 1000 / RATE, 2))
            for a, b in analyze.silent_runs(x, RATE, onset, end, 0.01, lowest)
            if (b - a) * 1000 / RATE > MAX_GAP_MS]
    length = (end - onset) / RATE
    lines = [f"played: signal {length:.3f} s long (sent {SIGNAL_SECONDS:.3f} s),"
             f" starts at {onset / RATE:.3f} s of the recording",
             f"played: {len(gaps)} gaps over {MAX_GAP_MS:g} ms "
             f"(start s, length ms): {gaps}"]
    ok = not gaps and abs(length - SIGNAL_SECONDS) < 0.05 * SIGNAL_SECONDS
    if onset + int(SIGNAL_SECONDS * RATE) > len(x):
        return Report(lines + ["played: the recording ends early"], False), onset
    for name, want, got in measure_segments(x, onset):
        good = row_ok(want, got, FREQ_TOLERANCE)
        ok &= good
        lines.append(f"played: {name:22s} expected "
                     f"{' '.join(f'{w:7.1f}' for w in want)} Hz, measured "
                     f"{' '.join(f'{g:7.1f}' for g in got)} Hz "
                     f"{'ok' if good else 'WRONG'}")
    return Report(lines, ok), onset


def analyse_recorded(wav):
    """What the guest recorded from the PipeWire source."""
    if not wav.exists():
        return Report(["recorded: the guest left no recording"], False)
    a = analyze.analyze(wav, min_gap_ms=MAX_GAP_MS, channel=0)
    good_freq = (a.frequency_hz is not None and
                 abs(a.frequency_hz - CAPTURE_FREQ) / CAPTURE_FREQ <= FREQ_TOLERANCE)
    return Report([f"recorded: {a.summary()}",
                   f"recorded: expected {CAPTURE_FREQ:.1f} Hz "
                   f"{'ok' if good_freq else 'WRONG'}"],
                  good_freq and not a.gaps)


def waveform_png(wav, png, title):
    """A min/max waveform picture drawn by gnuplot."""
    x = analyze.load_wav(wav).samples[:, 0]
    cols = 1600
    step = max(1, len(x) // cols)
    n = len(x) // step
    blocks = x[:n * step].reshape(n, step)
    data = png.with_suffix(".dat")
    with open(data, "w") as f:
        for i, (lo, hi) in enumerate(zip(blocks.min(1), blocks.max(1))):
            f.write(f"{i * step / RATE:.4f} {lo:.4f} {hi:.4f}\n")
    script = (f"set terminal png size 1200,300; set output '{png}';"
              f"set title '{title}'; set xlabel 'seconds'; set yrange [-1:1];"
              f"unset key; plot '{data}' using 1:2:3 with filledcurves "
              f"lc rgb '#2060c0'")
    subprocess.run(["gnuplot", "-e", script], check=True)
    data.unlink()


def spectrogram_png(wav, png, title):
    subprocess.run(["sox", str(wav), "-n", "remix", "1", "spectrogram",
                    "-x", "1200", "-y", "513", "-z", "90", "-t", title,
                    "-o", str(png)], check=True)


def write_html(out, text, cmdline):
    body = html.escape(text)
    (out / "index.html").write_text(f"""<!doctype html>
<meta charset="utf-8"><title>QEMU virtio-sound through PipeWire</title>
<h1>QEMU virtio-sound through PipeWire</h1>
<h2>What reached the PipeWire sink</h2>
<img src="spectrogram.png" alt="spectrogram"><br>
<img src="waveform.png" alt="waveform">
<p><a href="played.wav">played.wav</a> &middot;
<a href="recorded.wav">recorded.wav</a> (what the guest recorded)</p>
<h2>Summary</h2><pre>{body}</pre>
<h2>QEMU command line</h2><pre>{html.escape(cmdline)}</pre>
""")


def device_args(device):
    if device == "hda":
        return ["-device", "ich9-intel-hda", "-device",
                "hda-duplex,audiodev=snd0"]
    return ["-device", "virtio-sound-pci,audiodev=snd0"]


SCENARIO = f"""
arecord -D hw:0,0 -f S16_LE -r {RATE} -c 2 -d {CAPTURE_SECONDS} /out/recorded.wav &
rec=$!
aplay -D hw:0,0 /in/signal.wav
wait $rec
"""


def run(args, pw, out):
    """Boot, play and record; returns (GuestResult, played wav)."""
    played = out / "played.wav"
    tone = out / "capture-input.wav"
    analyze.write_wav(tone, 0.5 * np.sin(2 * np.pi * CAPTURE_FREQ *
                                         np.arange(30 * RATE) / RATE), RATE)
    recorder = pw.record_sink(played) if pw else None
    player = pw.play_into_source(tone, wait=False) if pw else None
    env = pw.env() if pw else dict(os.environ)
    stage(4, f"booting the guest and playing ({args.device})")
    try:
        res = guest.run_guest(
            ["-audiodev", "pipewire,id=snd0,out.stream-name=qemu-demo-playback,"
                          "in.stream-name=qemu-demo-capture",
             *device_args(args.device)],
            SCENARIO, {"signal.wav": out / "signal.wav"}, timeout=120,
            workdir=out / "guest", env=env)
    finally:
        if player:
            player.stop()
        if recorder:
            time.sleep(0.3)
            recorder.stop()
    return res, played


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user-pipewire", action="store_true",
                        help="play through your own PipeWire session")
    parser.add_argument("--device", choices=["virtio", "hda"], default="virtio")
    parser.add_argument("--out", type=Path,
                        default=Path.cwd() / "report")
    args = parser.parse_args()
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    stage(2, "building the tiny guest (cached)")
    guest.build_guest(log=lambda *a: None)
    x = make_signal()
    analyze.write_wav(out / "signal.wav", np.stack([x, x], axis=1), RATE)

    if args.user_pipewire:
        stage(3, "using your own PipeWire session (listen!)")
        res, played = run(args, None, out)
    else:
        stage(3, "starting a private headless PipeWire")
        with PipeWire(workdir=out / "pipewire") as pw:
            res, played = run(args, pw, out)

    stage(5, "analysing")
    if res.exit_code != 0:
        print(f"demo: the guest failed\n{res.describe()}", file=sys.stderr)
        return 1
    shutil.copyfile(res.out_dir / "recorded.wav", out / "recorded.wav")
    cmdline = (out / "guest" / "qemu-cmdline.txt").read_text().strip()
    lines = [f"QEMU {os.environ.get('QPW_QEMU') or '7.2'} with our files "
             f"({guest.qemu_binary()}); device: {args.device}, "
             "audiodev: pipewire"]
    ok = True
    if args.user_pipewire:
        lines.append("played: not recorded (your own PipeWire session)")
    else:
        played_report, _ = analyse_played(played)
        lines += played_report.lines
        ok &= played_report.ok
    recorded_report = analyse_recorded(out / "recorded.wav")
    if not args.user_pipewire:
        lines += recorded_report.lines
        ok &= recorded_report.ok
    lines.append(f"QEMU: {res.qemu_cpu_seconds:.1f} s CPU over "
                 f"{res.wall_seconds:.1f} s, boot {res.boot_seconds or 0:.1f} s")
    lines.append(f"verdict: {'the sound arrived intact' if ok else 'PROBLEMS FOUND'}")
    text = "\n".join(lines) + "\n"
    (out / "report.txt").write_text(text + "\nQEMU command line:\n" +
                                    cmdline + "\n")

    stage(6, "drawing the pictures")
    if played.exists():
        spectrogram_png(played, out / "spectrogram.png",
                        "What reached the PipeWire sink")
        waveform_png(played, out / "waveform.png",
                     "What reached the PipeWire sink")
    write_html(out, text, cmdline)
    print(text, end="")
    print(f"demo: report in {out}/index.html")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
