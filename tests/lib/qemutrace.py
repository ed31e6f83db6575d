"""QEMU's trace log (`-D FILE -msg timestamp=on`), as each QEMU writes it.

The log backend starts every event line with its wall-clock time, in a
form that changed between the versions we build: QEMU 7.2 writes
`PID@SECONDS.MICROSECONDS:event args`, QEMU 10 writes
`YYYY-MM-DDTHH:MM:SS.MICROSECONDSZ event args` (UTC).
"""

import re
from datetime import datetime, timezone
from pathlib import Path

LINE = re.compile(r"^(?:\d+@(\d+\.\d+):|"
                  r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z )(\w+) (.*)$",
                  re.M)


def events(text):
    """[(wall time in seconds since the epoch, event, args)] of each event
    line of a trace log's text, in order."""
    out = []
    for m in LINE.finditer(text):
        if m.group(1):
            when = float(m.group(1))
        else:
            when = datetime.fromisoformat(m.group(2)).replace(
                tzinfo=timezone.utc).timestamp()
        out.append((when, m.group(3), m.group(4)))
    return out


def file_text(path):
    """The trace log at path, '' if QEMU wrote none."""
    try:
        return Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""


def file_events(path):
    """events() of the trace log at path; [] if QEMU wrote none."""
    return events(file_text(path))


# The PipeWire backend's events (audio/trace-events).

def voice_stream(events, direction="playback"):
    """(name, rate, channels, bytes per frame, node.latency) of the
    stream of direction ("playback" or "capture") from qpw_stream_new;
    the first one if several."""
    sizes = {"u8": 1, "s8": 1, "u16": 2, "s16": 2, "u32": 4, "s32": 4,
             "f32": 4}
    for _, ev, args in events:
        m = re.match(r"(\S+) \(" + direction + r"\): (\w+) (\d+) Hz "
                     r"x(\d+), node.latency (\S+),", args)
        if ev == "qpw_stream_new" and m:
            ch = int(m.group(4))
            return (m.group(1), int(m.group(3)), ch, sizes[m.group(2)] * ch,
                    m.group(5))
    raise RuntimeError(f"no {direction} stream in the trace")


# What QEMU moved through a stream's ring: its qpw_write (playback) or
# qpw_read (capture) events, bytes moved and the ring's fill after.
MOVES = {"qpw_write": re.compile(r"(\d+) queued, fill (\d+)"),
         "qpw_read": re.compile(r"(\d+) read, fill (\d+)")}


def moves_since_start(events, name):
    """[(time, cumulative bytes)] that QEMU wrote into (or read from)
    stream name's ring after its first activation, and the fills after
    each (bytes)."""
    started, cum, out, fills = False, 0, [], []
    for t, ev, args in events:
        if ev == "qpw_enable" and args == f"{name}: active 1" and not started:
            started = True
        elif ev in MOVES and started and args.startswith(name + ":"):
            m = MOVES[ev].search(args)
            cum += int(m.group(1))
            out.append((t, cum))
            fills.append(int(m.group(2)))
    return out, fills


def xrun_totals(events, kind):
    """Last reported (count, frames) of each stream's xruns of kind, summed;
    and how many were reported within 0.2 s of a stream start."""
    last, at_start, starts = {}, 0, {}
    for t, ev, args in events:
        if ev == "qpw_enable" and args.endswith("active 1"):
            starts[args.split(":")[0]] = t
        m = re.match(r"(\S+): " + kind + r" #(\d+), (\d+) frames", args)
        if ev == "qpw_xrun" and m:
            prev = last.get(m.group(1), (0, 0))[0]
            if t - starts.get(m.group(1), -1e9) < 0.2:
                at_start += int(m.group(2)) - prev
            last[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return (sum(c for c, _ in last.values()),
            sum(f for _, f in last.values()), at_start)


def last_cycle(events, name):
    """The last graph cycle (frames) stream name's process callback got
    (qpw_cycle), 0 if none was traced."""
    frames = [int(m.group(1)) for _, ev, args in events
              if ev == "qpw_cycle" and args.startswith(name + ":")
              for m in [re.search(r"is now (\d+) frames", args)] if m]
    return frames[-1] if frames else 0


def card_clock(events, name):
    """The card clock offsets (ppm) stream name's backend resampled it to
    follow (qpw_card_clock), in order, repeated when only the nudge on
    it changed: [] if it was never resampled."""
    out = []
    for _, ev, args in events:
        m = re.match(r"(\S+): resampled to follow a card ([-+]\d+) ppm",
                     args)
        if ev == "qpw_card_clock" and m and m.group(1) == name:
            out.append(int(m.group(2)))
    return out
