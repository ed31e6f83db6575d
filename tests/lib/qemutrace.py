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


def file_events(path):
    """events() of the trace log at path; [] if QEMU wrote none."""
    try:
        return events(Path(path).read_text(errors="replace"))
    except FileNotFoundError:
        return []
