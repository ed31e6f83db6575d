"""Fidelity runs shared by tests/e2e/test_fidelity.py and
tests/bench/bench-fidelity: the tiny guest plays the counter signal
(counter.py) through a sound device into a private PipeWire, and/or
records the counter that the host plays into PipeWire's source.

    with PipeWire(workdir=work / "pw") as pw:
        run = run_guest_counter(pw, work, "virtio", "s16", 48000,
                                play_seconds=3, capture_seconds=3)
    run.played     CounterReport of the sink's monitor: the better of two
                   pw-records of it (run.played_all: both)
    run.captured   CounterReport of the guest's arecord file
    run.reference  CounterReport of the source itself (a host pw-record
                   of qpw_source alongside the guest)
    run.excerpt    the guest's file against that reference, bit for bit
    run.graph      rates pw-dump showed while QEMU's streams ran

Playback: the guest runs `aplay -D hw:0,0 counter.wav` and then sleeps
TAIL_SECONDS before the guest powers off.  aplay returns once the device
has returned its last message (ALSA's drain), when up to the stream's
latency is still queued in the backend; powering off at once resets the
device and ends QEMU, cutting that off.  A guest that lives on hears its
tail; the sleep is that.

Two pw-records record the sink's monitor: on a loaded machine a recorder
whose process callback is late loses a quantum of its own, which the sink
did carry.  Frames missing in one recording but present in the other were
at the sink; run.played is the recording with fewer faults.

Capture: the guest starts `arecord` and, CAPTURE_LEAD_SECONDS later, once
its stream is running, prints a serial console marker; at that marker
pw-play starts playing into qpw_source SOURCE_LEAD_FRAMES of silence (a
player's first quantum can be lost while its link settles: seen here)
and then the counter, so the guest's file holds silence, then the counter
from its first frame (index 0) to the file's end.  A host pw-record records qpw_source itself alongside: the
reference.  On a loaded machine
PipeWire's graph can miss cycles (pw-play's data then arrives late, as
silence, or not at all), mostly seen alike by every consumer of the
source, though a consumer that is late itself loses a quantum of its own.
So the reference helps to tell where a fault came from; the tests do not
assert against it.
"""

import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import counter
import guest
from pipewire import SINK, SOURCE

TAIL_SECONDS = 1
DEVICES = {
    "virtio": ["-device", "virtio-sound-pci,audiodev=snd0"],
    "hda": ["-device", "ich9-intel-hda", "-device",
            "hda-duplex,audiodev=snd0"],
}
ALSA_FORMAT = {"s16": "S16_LE", "s32": "S32_LE"}
# The capture counter outlasts the guest's recording with room to spare.
CAPTURE_COUNTER_SECONDS = 30
# How long the guest records before the counter starts (its stream runs
# well within this, even on a TCG guest).
CAPTURE_LEAD_SECONDS = 1
# Silence before the counter in the file played into the source: a few
# graph cycles (1024 frames each at the test PipeWire's default quantum).
SOURCE_LEAD_FRAMES = 4096
# Trace events kept for every run: lifecycle and faults, not per buffer.
TRACE_EVENTS = ("qpw_stream_new", "qpw_state_changed", "qpw_format_negotiated",
                "qpw_enable", "qpw_xrun", "qpw_volume", "qpw_silent",
                "qpw_core_error", "virtio_snd_pcm_state", "virtio_snd_xrun",
                "virtio_snd_xfer_bad", "hda_audio_running",
                "hda_audio_overrun")
CAPTURE_RUNNING = "QPW: capture running"


def trace_args(path, events=TRACE_EVENTS):
    """QEMU args writing the given trace events to path."""
    args = ["-msg", "timestamp=on", "-D", str(path)]
    for event in events:
        args += ["-trace", f"enable={event}"]
    return args


@dataclass
class TraceFaults:
    """What QEMU's trace says about xruns."""
    underruns: tuple = (0, 0)   # backend playback: (count, frames)
    overruns: tuple = (0, 0)    # backend capture: (count, frames)
    starved: int = 0            # virtio playback: the guest was late
    hda_overruns: int = 0       # HDA codec dropped its buffer
    lines: list = field(default_factory=list)

    def summary(self):
        return (f"backend underruns {self.underruns[0]} ({self.underruns[1]}"
                f" frames), overruns {self.overruns[0]} ({self.overruns[1]}"
                f" frames), virtio starved {self.starved}, HDA overruns "
                f"{self.hda_overruns}")


def trace_faults(path):
    """Parse the xrun events of a trace log."""
    try:
        text = Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return TraceFaults(lines=["(no trace)"])
    f = TraceFaults()
    last = {}
    for m in re.finditer(r"qpw_xrun (\S+): (underrun|overrun) #(\d+), "
                         r"(\d+) frames", text):
        last[(m.group(1), m.group(2))] = (int(m.group(3)), int(m.group(4)))
    for kind in ("underrun", "overrun"):
        vals = [v for (_, k), v in last.items() if k == kind]
        setattr(f, kind + "s", (sum(c for c, _ in vals),
                                sum(n for _, n in vals)))
    f.starved = len(re.findall(r"virtio_snd_xrun stream \d+ starved", text))
    f.hda_overruns = len(re.findall(r"hda_audio_overrun", text))
    f.lines = [ln for ln in text.splitlines() if re.search(
        r"qpw_xrun|virtio_snd_xrun|hda_audio_overrun|qpw_silent|error", ln)]
    return f


def _props(obj):
    return (obj.get("info") or {}).get("props") or {}


def _format_rates(obj):
    """Rates of a pw-dump node's negotiated Format params."""
    params = ((obj.get("info") or {}).get("params") or {}).get("Format") or []
    return tuple(p.get("rate") for p in params if isinstance(p, dict))


class GraphWatcher:
    """Polls pw-dump while the guest runs.  Whenever one of QEMU's streams
    is running it notes the rate of that stream's negotiated format and
    that of the null node it is linked to (qpw_sink or qpw_source, the
    graph's driver: the adapter sets its format to the rate the graph
    runs at)."""

    def __init__(self, pw, interval=0.4):
        self.pw, self.interval = pw, interval
        self.seen = {}           # media.class -> {(stream rates, node rates)}
        self.log = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                objects = self.pw.dump()
            except Exception as e:      # noqa: BLE001 (best effort)
                self.log.append(f"pw-dump: {e}")
                continue
            nodes = [o for o in objects if o.get("type", "").endswith(":Node")]
            named = {_props(o).get("node.name"): o for o in nodes}
            for q in nodes:
                props = _props(q)
                if props.get("application.name") != "QEMU" or \
                        (q.get("info") or {}).get("state") != "running":
                    continue
                cls = props.get("media.class", "?")
                node = SINK if "Output" in cls else SOURCE
                entry = (_format_rates(q), _format_rates(named.get(node, {})))
                if entry not in self.seen.setdefault(cls, set()):
                    self.log.append(f"{time.strftime('%H:%M:%S')} QEMU {cls}"
                                    f" format rate {list(entry[0])}, {node} "
                                    f"(graph driver) format rate "
                                    f"{list(entry[1])}")
                self.seen[cls].add(entry)

    def stop(self):
        self._stop.set()
        self._thread.join(15)

    def rates(self, media_class):
        """(rates QEMU's stream of that class ran at, rates the graph ran
        at meanwhile), as sets; empty if it was never seen running."""
        seen = self.seen.get(media_class, set())
        return ({r for s, _ in seen for r in s},
                {r for _, g in seen for r in g})


class SerialTrigger:
    """run_guest's echo: runs action() in a thread once a serial line
    starts with marker."""

    def __init__(self, marker, action):
        self.marker, self.action = marker, action
        self.thread = None
        self.error = None

    def write(self, line):
        if self.thread is None and line.startswith(self.marker):
            self.thread = threading.Thread(target=self._go, daemon=True)
            self.thread.start()

    def _go(self):
        try:
            self.action()
        except Exception as e:      # noqa: BLE001 (reported by the caller)
            self.error = e

    def flush(self):
        pass

    def join(self):
        if self.thread:
            self.thread.join(30)


@dataclass
class CounterRun:
    """What one guest run gave."""
    device: str
    fmt: str
    rate: int
    result: guest.GuestResult
    work: Path
    frames_played: int = 0
    played: counter.CounterReport | None = None
    played_all: list = field(default_factory=list)
    captured: counter.CounterReport | None = None
    reference: counter.CounterReport | None = None
    excerpt: counter.Excerpt | None = None
    faults: TraceFaults | None = None
    graph: GraphWatcher | None = None

    def tail_lost(self):
        """Counter frames missing after the last one the sink got."""
        if not self.played or not self.played.found:
            return self.frames_played
        return max(0, self.frames_played - 1 - self.played.highest)


def _badness(rep):
    """How far a recording of the counter is from clean (for picking the
    better of two recordings)."""
    if not rep.found:
        return float("inf")
    return (rep.lost + rep.repeated + rep.out_of_order + rep.altered +
            rep.inserted)


def run_guest_counter(pw, work, device, fmt, rate, play_seconds=0.0,
                      capture_seconds=0, timeout=150,
                      trace_events=TRACE_EVENTS, audiodev="pipewire,id=snd0",
                      env=None, device_args=None):
    """One guest run: play the counter for play_seconds (0: no playback)
    and/or record capture_seconds of it (0: no capture), at once if both.
    device_args, if given, are QEMU's sound card and its backend instead
    of -audiodev audiodev and device's DEVICES entry (device then only
    names the run). Files go to work: counter.wav / played.wav,
    source.wav / reference.wav / captured.wav, trace.log, graph.txt,
    guest/."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    inputs, lines = {}, []
    frames = int(round(rate * play_seconds))
    if capture_seconds:
        lines.append(f"arecord -D hw:0,0 -f {ALSA_FORMAT[fmt]} -r {rate} "
                     f"-c 2 -d {capture_seconds} /out/captured.wav &")
        lines.append(f"sleep {CAPTURE_LEAD_SECONDS}; echo '{CAPTURE_RUNNING}'")
    if frames:
        counter.write_counter_wav(work / "counter.wav", frames, rate, fmt)
        inputs["counter.wav"] = work / "counter.wav"
        lines.append("aplay -D hw:0,0 /in/counter.wav")
    if capture_seconds:
        lines.append("wait")
    if frames:
        lines.append(f"sleep {TAIL_SECONDS}")
    trace = work / "trace.log"
    played = [work / "played.wav", work / "played-2.wav"]
    source_wav, reference = work / "source.wav", work / "reference.wav"

    recs, ref, trigger = [], None, None
    if frames:
        recs = [pw.record_sink(path, fmt=fmt, rate=rate) for path in played]
    if capture_seconds:
        counter.write_counter_wav(source_wav, rate * CAPTURE_COUNTER_SECONDS,
                                  rate, fmt, lead=SOURCE_LEAD_FRAMES)
        ref = pw.record_source(reference, fmt=fmt, rate=rate)
        trigger = SerialTrigger(CAPTURE_RUNNING, lambda: pw.play_into_source(
            source_wav, wait=False))
    watcher = GraphWatcher(pw)
    try:
        res = guest.run_guest(
            [*(device_args or ["-audiodev", audiodev, *DEVICES[device]]),
             *trace_args(trace, trace_events)],
            "\n".join(lines) + "\n", inputs, timeout=timeout,
            workdir=work / "guest", env=env or pw.env(), echo=trigger)
    finally:
        if trigger:
            trigger.join()
        watcher.stop()
        time.sleep(0.3)             # the last quantum reaches the recorders
        for client in recs + [ref]:
            if client:
                client.stop()
    (work / "graph.txt").write_text("\n".join(watcher.log) + "\n")
    run = CounterRun(device, fmt, rate, res, work, frames_played=frames,
                     faults=trace_faults(trace), graph=watcher)
    if trigger and trigger.error:
        raise RuntimeError(f"pw-play into the source: {trigger.error}")
    if frames:
        run.played_all = [counter.decode_wav(path, fmt) for path in played
                          if path.exists()]
        if run.played_all:
            run.played = min(run.played_all, key=_badness)
    if capture_seconds and res.out_dir and \
            (res.out_dir / "captured.wav").exists():
        shutil.copyfile(res.out_dir / "captured.wav", work / "captured.wav")
        run.captured = counter.decode_wav(work / "captured.wav", fmt)
        if reference.exists():
            run.reference = counter.decode_wav(reference, fmt)
            run.excerpt = counter.match_reference(
                counter.read_raw_wav(work / "captured.wav")[0],
                counter.read_raw_wav(reference)[0], fmt)
    return run
