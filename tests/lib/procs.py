"""Process-group helpers shared by the test harness (guest.py, pipewire.py).

Every long-running helper process (QEMU, PipeWire, pw-record, ...) is started
in a session of its own, so a Ctrl-C typed at the terminal reaches only the
Python process, which then tears down exactly the groups it started.
"""

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path


def _task_stats(pid):
    """(thread id, name, fields after the name, task dir) of each thread of
    process pid, from /proc/PID/task/TID/stat; [] once it is gone."""
    out = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        out.append((int(stat.parent.name),
                    text[text.index("(") + 1:text.rindex(")")],
                    text[text.rindex(")") + 2:].split(), stat.parent))
    return out


def thread_policies(pid):
    """(thread id, name, scheduling policy: 0 other, 1 FIFO, 2 RR, ...) of
    each thread of process pid, from /proc; [] once it is gone."""
    # pid (comm) state ppid ...: the policy is field 41.
    return [(tid, name, int(fields[38]))
            for tid, name, fields, _ in _task_stats(pid)]


def _cpu_seconds(fields):
    """utime + stime (fields 14 and 15 of a stat line), in seconds, from
    the fields after its name."""
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of process pid (all its threads), in seconds; None
    once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, TypeError):
        return None
    return _cpu_seconds(stat[stat.rindex(")") + 2:].split())


def thread_usage(pid):
    """{thread id: (name, user+system CPU seconds, voluntary context
    switches)} of each thread of process pid, from /proc. A thread that
    blocks in poll() and is woken counts one voluntary switch per
    wake-up."""
    out = {}
    for tid, name, fields, task in _task_stats(pid):
        try:
            status = (task / "status").read_text()
        except OSError:
            continue
        switches = int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)",
                                 status, re.M).group(1))
        out[tid] = (name, _cpu_seconds(fields), switches)
    return out


def start_group(argv, **popen_kwargs):
    """Start argv as the leader of a new process group; returns the Popen."""
    return subprocess.Popen(argv, start_new_session=True, **popen_kwargs)


def group_alive(pgid):
    """True while any process of group pgid still exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(proc, first_signal=signal.SIGTERM, grace=5.0):
    """Stop the process group led by proc: first_signal, then SIGKILL after
    grace seconds.  Reaps the leader and returns its return code."""
    pgid = proc.pid
    if proc.poll() is None or group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, first_signal)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if proc.poll() is not None and not group_alive(pgid):
                break
            time.sleep(0.05)
        if group_alive(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
    return proc.wait()


@contextlib.contextmanager
def sigterm_raises():
    """Within the block, SIGTERM raises KeyboardInterrupt, as Ctrl-C does,
    so that cleanup code in finally/__exit__ runs (and unittest stops).
    Only possible in the main thread; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        """Turn the signal into KeyboardInterrupt."""
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def tail(path, lines=20):
    """The last lines of a text file ('' if it does not exist)."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except FileNotFoundError:
        return ""
