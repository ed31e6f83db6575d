"""A guest playing into a sound card whose clock is not the host's
(issue #17), for tests/bench/bench-drift and tests/e2e/test_drift.py.

run() boots the tiny guest with a sound device on `-audiodev pipewire`
whose out.name is qpw-drift-sink (tests/tools/qpw-drift-sink.c), a sink
that drives the private graph at 48 kHz offset by --ppm of the host's
monotonic clock; the guest plays a 440 Hz tone with aplay, and figures()
reads what happened from QEMU's trace, the sink's report and its
recording (the keys are listed there).  A capture device ("hda-capture",
"ac97-capture") records instead, with arecord, from the private graph's
source, which is linked to the sink so that the sink's clock drives it
too: a card that records on an off crystal.
"""

import re
import time
from collections import Counter
from pathlib import Path

import numpy as np

import analyze
import guest
import qemutrace
from guest import MARK
from pipewire import (DRIFT_SINK_LATE, DRIFT_SINK_LOSSES, DRIFT_SINK_REPORT,
                      SOURCE, PipeWire, drift_sink_binary, realtime)

RATE = 48000
TONE_HZ = 440                  # a whole number of cycles per second
SINK = "qpw_drift_sink"
HDA = ["-device", "ich9-intel-hda", "-device", "hda-duplex,audiodev=snd0"]
AC97 = ["-device", "AC97,audiodev=snd0"]
DEVICES = {
    "virtio": ["-device", "virtio-sound-pci,audiodev=snd0"],
    "hda": HDA,
    "hda-capture": HDA,
    "ac97": AC97,
    "ac97-capture": AC97,
    # debug=2: QEMU's usb-audio says on stderr when it drops a packet
    # that found its buffer full, which it otherwise does silently.
    "usb": ["-device", "qemu-xhci",
            "-device", "usb-audio,audiodev=snd0,debug=2"],
}
CAPTURE = {"hda-capture", "ac97-capture"}   # they record, not play
STREAMS = {"playback": "qemu-out", "capture": "qemu-in"}
USB_OVERRUN = "usb-audio: output overrun"
TRACE_EVENTS = ("qpw_stream_new", "qpw_enable", "qpw_write", "qpw_read",
                "qpw_xrun",
                "qpw_card_clock", "qpw_stall",
                "qpw_cycle", "qpw_data_thread",
                "virtio_snd_xrun", "hda_audio_overrun", "hda_audio_adjust")
SETTLE_S = 10.0                # the play window starts this long after start
TAIL_S = 2.0                   # and ends this long before the end
EDGE_S = 30.0                  # the first and last fills compared
WINDOW_S = 10.0                # the guest's rate is fitted per window
# A window is left out of the guest's rate when the card found a cycle
# lost within it or this close to its edges: the loss is found at the
# first tick after it that finds its cycle done, a few cycles later.
LOSS_MARGIN_S = 0.2
# A device's drop is put down to the graph when the card found a cycle
# late within this long before it, or just after (the codec drops at the
# first write that finds its buffer full, in the stalled cycle).
STALL_BEFORE_S = 0.1
STALL_AFTER_S = 0.02
# A device's drop is put down to QEMU's main loop when QEMU wrote nothing
# to the ring for this long before it.  The backend takes a graph stall
# up (qpw_stall_room()), so while the codec has audio QEMU writes at
# every run of its side, 10 ms apart, but for one that comes before a
# late cycle is due: more than two runs' time without a write means the
# loop did not run.  The codec's own timer, run first when it comes back,
# fills its buffer then before the backend can take any of it.  (Before
# the backend took stalls up, a graph stall alone made such a gap.)
MAIN_LOOP_GAP_S = 0.025
MIN_SECONDS = SETTLE_S + WINDOW_S + TAIL_S + 1   # the shortest run figured
STALL_FRAMES = re.compile(r"up to (\d+) frames")  # in a qpw_stall event


class DriftRunError(RuntimeError):
    """A run that gave no figures: the guest failed, or the sink did."""


def scenario(seconds, capture=False):
    """The guest plays the 1 s tone over and over, as one stream; or
    records for seconds."""
    alsa = f"-q -D hw:0,0 -t raw -f S16_LE -r {RATE} -c 2"
    if capture:
        run = f"arecord {alsa} -d {seconds} >/dev/null"
    else:
        run = (f"i=0; while [ $i -lt {seconds} ]; do cat /in/tone.raw; "
               f"i=$((i + 1)); done | aplay {alsa}")
    # A USB card comes after the guest's init, once the bus is enumerated.
    pcm = "/proc/asound/card0/pcm0" + ("c" if capture else "p")
    return (f"i=0; while [ ! -e {pcm} ] && [ $i -lt 100 ]; do sleep 0.1; "
            "i=$((i + 1)); done\n"
            f"echo '{MARK} start'\n{run}\n"
            f"rc=$?\necho '{MARK} end'\nexit $rc\n")


def tone_raw(path):
    """One second of a 440 Hz stereo tone at half scale, s16le."""
    t = np.arange(RATE) / RATE
    x = np.round(0.5 * 32767 * np.sin(2 * np.pi * TONE_HZ * t))
    path.write_bytes(np.repeat(x[:, None], 2, 1).astype("<i2").tobytes())


def run(device, ppm, seconds, tone, work, sink_args=()):
    """The guest plays the tone for seconds through device into the sink
    at ppm (or records from the source the sink drives), the sink given
    sink_args too (such as --stall-at); returns figures() of the run, or
    raises DriftRunError."""
    capture = device in CAPTURE
    trace = work / "trace.log"
    wav = work / "card.wav"
    # Each voice its own stream name: the trace tells them apart by it.
    qemu_args = ["-audiodev",
                 f"pipewire,id=snd0,out.name={SINK},in.name={SOURCE},"
                 f"out.stream-name={STREAMS['playback']},"
                 f"in.stream-name={STREAMS['capture']}",
                 *DEVICES[device], "-msg", "timestamp=on", "-D", str(trace)]
    for ev in TRACE_EVENTS:
        qemu_args += ["-trace", f"enable={ev}"]
    marks = {}
    with PipeWire(workdir=work / "pw") as pw:
        sink = pw.client(realtime(
            [str(drift_sink_binary()), "--ppm", str(ppm), "--name", SINK,
             "--settle", "2", *sink_args,
             *([] if capture else ["--record", str(wav)])]),
            "drift-sink.log")
        deadline = time.monotonic() + 10
        while pw.find_node(SINK) is None:
            if time.monotonic() > deadline:
                raise DriftRunError(f"no {SINK} node")
            time.sleep(0.1)
        if capture:
            pw.link_ports(SOURCE, SINK)
        try:
            res, _ = guest.run_marked(
                qemu_args, scenario(seconds, capture), {"tone.raw": tone},
                pw.env(),
                work / "guest",
                lambda name, _rest, when: marks.setdefault(name, time.time()),
                seconds + 180)
        except guest.GuestError as e:
            raise DriftRunError(f"{device}, {ppm:+d} ppm: {e}") from None
        finally:
            sink.stop()
    if res.exit_code != 0:
        raise DriftRunError(f"the guest failed ({device}, {ppm:+d} ppm)\n"
                            f"{res.describe()}")
    log = Path(sink.log_path).read_text(errors="replace")
    report = DRIFT_SINK_REPORT.search(log)
    late = DRIFT_SINK_LATE.search(log)
    losses = DRIFT_SINK_LOSSES.search(log)
    if not report or not late or not losses:
        raise DriftRunError(f"no report from the sink in {sink.log_path}")
    if not int(report["cycles"]):
        raise DriftRunError(f"{device}, {ppm:+d} ppm: the sink ran no cycle:"
                            f" QEMU's stream was not linked to it")
    if marks.get("end", 0) - marks.get("start", 0) < MIN_SECONDS:
        raise DriftRunError(f"the guest played for less than {MIN_SECONDS} "
                            f"s (marks {marks})")
    usb_overruns = (work / "guest" / "qemu-stderr.txt").read_text(
        errors="replace").count(USB_OVERRUN)
    return figures(device, ppm, trace, wav, marks, report,
                   {"late": [float(x) for x in late["times"].split()],
                    "lost": [float(x) for x in losses["times"].split()]},
                   usb_overruns)


def any_between(times, lo, hi):
    """Whether any of times (a numpy array) is in [lo, hi]."""
    return bool(np.any((times >= lo) & (times <= hi)))


def window_rates(t, frames, t0, t1, losses):
    """Frames per second of host time in each whole WINDOW_S window of
    QEMU's writes (or reads) between t0 and t1 (least-squares fit in
    each), and whether each window is clean: no loss in it (losses:
    wall-clock times of the cycles the card found lost and of the
    device's drops) or within LOSS_MARGIN_S of it."""
    rates, clean = [], []
    losses = np.array(losses)
    for a in np.arange(t0, t1 - WINDOW_S + 1e-9, WINDOW_S):
        w = (t >= a) & (t < a + WINDOW_S)
        if w.sum() > 2:
            rates.append(np.polyfit(t[w], frames[w], 1)[0])
            clean.append(not any_between(losses, a - LOSS_MARGIN_S,
                                         a + WINDOW_S + LOSS_MARGIN_S))
    return np.array(rates), np.array(clean, dtype=bool)


def robust_slope(x, y):
    """The median of the slopes between every two points (Theil-Sen): a
    trend that a few outliers (a second in which the graph lost a cycle,
    or a device threw its buffer away) do not bend, as a least-squares
    fit over a minute would."""
    i, j = np.triu_indices(len(x), 1)
    return float(np.median((y[j] - y[i]) / (x[j] - x[i])))


def clean_rates(f):
    """The guest's rates against the card's in figures f's clean windows,
    ppm (empty when the graph lost a cycle in every window)."""
    return f["guest_ppm"][f["clean"]]


def drops_off_stalls(drops, late):
    """The drops (times) that no cycle the card found late explains."""
    late = np.array(late)
    return [t for t in drops
            if not any_between(late, t - STALL_BEFORE_S, t + STALL_AFTER_S)]


def drops_after_main_loop_gaps(drops, writes):
    """The drops (times) that came more than MAIN_LOOP_GAP_S after QEMU's
    last write (times, sorted) before them."""
    writes = np.asarray(writes)
    out = []
    for t in drops:
        before = writes[writes < t]
        if not len(before) or t - before[-1] > MAIN_LOOP_GAP_S:
            out.append(t)
    return out


def figures(device, ppm, trace, wav, marks, report, found, usb_overruns):
    """What a run's trace, its sink's report (and the times it found
    cycles late and lost: found) and its recording (wav; none is made in
    capture) say: card_ppm (the sink's measured offset), not_driving (its
    ticks that were not the graph's driver), guest_ppm (the guest's rate
    against the card's, in each WINDOW_S window), clean (per window: no
    cycle lost by the graph in it, whose quantum the stream never took,
    about -1070 ppm in a 10 s window at 512 frames, and no HDA codec drop,
    2048 frames thrown away), xruns (the backend's: underruns in playback,
    overruns in capture), device_xruns (virtio_snd_xrun,
    hda_audio_overrun and hda_audio_adjust events, and usb_overruns:
    usb-audio's dropped packets), late and lost (the sink's cycles), gaps
    and jumps (the recording's silences and discontinuities; None in
    capture), quantum (the stream's last cycle, qpw_cycle: in a resampled
    capture stream the resampler's output, 511 to 513 frames),
    data_thread (the scheduling of the thread that runs the backend's
    process callback, as the backend reports it), card_clocks (the card
    offsets, ppm, the backend resampled the stream to follow, in order,
    repeated when only the nudge changed: qpw_card_clock) and card_clock
    (the last; 0: a pass-through), drops_off_stalls (HDA codec drops with
    no cycle found late just before: not the graph's), drops_main_loop
    (HDA codec drops with no write of QEMU's in the MAIN_LOOP_GAP_S
    before: QEMU's main loop held up), stalls (per graph
    stall the backend let the ring take up, in playback on QEMU's clock:
    its time, s, and the most it let the ring hold above its mark, ms:
    qpw_stall), low_first, low_last and low_slope
    (the ring's low point, ms: before each write in playback, after each
    read in capture; and its trend in ms per minute: robust_slope() of
    the lowest of each second), series (that low point, per second of
    the play window) and fills (the times of QEMU's writes or reads and
    the ring's fill after each, ms)."""
    capture = device in CAPTURE
    events = qemutrace.file_events(trace)
    direction = "capture" if capture else "playback"
    name, srate, _, bpf, _ = qemutrace.voice_stream(events, direction)
    if name != STREAMS[direction]:
        raise DriftRunError(f"the {direction} stream is {name}, not "
                            f"{STREAMS[direction]}")
    moves, fills = qemutrace.moves_since_start(events, name)
    t0, t1 = marks["start"] + SETTLE_S, marks["end"] - TAIL_S
    t = np.array([w[0] for w in moves])
    frames = np.array([w[1] for w in moves]) / bpf
    fill_ms = np.array(fills) / bpf / srate * 1000
    # Playback: the ring just before each write, the lowest it gets
    # between two.  Capture: just after each read.
    low_ms = fill_ms
    if not capture:
        low_ms = fill_ms - np.diff(frames, prepend=0) / srate * 1000
    card_rate = float(report["rate"])
    drops = [t for t, ev, _ in events if ev == "hda_audio_overrun"]
    rates, clean = window_rates(t, frames, t0, t1, found["lost"] + drops)
    guest_ppm = (rates / card_rate - 1) * 1e6
    window = (t >= t0) & (t <= t1)
    secs = np.floor(t[window] - t0)
    series = [(s, float(low_ms[window][secs == s].min()))
              for s in np.unique(secs)]
    x = np.array([s for s, _ in series])
    y = np.array([f for _, f in series])
    edge = min(EDGE_S, (t1 - t0) / 3)
    seen = Counter(ev for _, ev, _ in events)
    counts = {ev: seen[ev] for ev in ("virtio_snd_xrun", "hda_audio_overrun",
                                      "hda_audio_adjust")}
    counts["usb_overruns"] = usb_overruns
    rec = None if capture else analyze.analyze(wav)
    clocks = qemutrace.card_clock(events, name)
    return {
        "device": device, "ppm": ppm,
        "card_ppm": float(report["ppm"]),
        "not_driving": int(report["not_driving"]),
        "guest_ppm": guest_ppm, "clean": clean,
        "quantum": qemutrace.last_cycle(events, name),
        "data_thread": next((args.split(": ", 1)[1] for _, ev, args in events
                             if ev == "qpw_data_thread"), "not reported"),
        "xruns": qemutrace.xrun_totals(
            events, "overrun" if capture else "underrun")[0],
        "device_xruns": counts,
        "card_clocks": clocks,
        "card_clock": clocks[-1] if clocks else 0,
        "drops_off_stalls": len(drops_off_stalls(drops, found["late"])),
        "drops_main_loop": len(drops_after_main_loop_gaps(drops, t)),
        "stalls": [(when, int(STALL_FRAMES.search(args)[1]) / srate * 1000)
                   for when, ev, args in events
                   if ev == "qpw_stall" and args.startswith(name + ":")],
        "late": int(report["late"]), "lost": int(report["lost"]),
        "gaps": rec and len(rec.gaps),
        "jumps": rec and len(rec.discontinuities),
        "low_first": float(y[x < edge].mean()),
        "low_last": float(y[x >= x.max() - edge].mean()),
        "low_slope": robust_slope(x / 60, y),
        "series": series,
        "fills": (t, fill_ms),
    }

