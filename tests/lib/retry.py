"""Running a guest test's checks again, never silently.

A few end-to-end tests are real-time consumers on a machine whose two cores
also run the TCG guest: a loaded host can cost them a gap or an xrun that is
no fault of ours.  They may run their checks again, up to a fixed number of
attempts, through retried().  Every failed attempt is printed at once with
the load average it met, and recorded in RETRIED; tests/run-e2e names every
test that passed only on a later attempt on a `flaky:` line of its summary.
When the last attempt fails too, its failure message carries the load.
QPW_ATTEMPTS=1 in the environment runs every test once, to chase a flake
with the evidence of its first failure kept.

    class MyTest(unittest.TestCase):
        def test_x(self):
            retry.retried(self, lambda attempt: self.check(attempt), 2)

        @retry.attempts(2)
        def test_y(self):
            ...
"""

import functools
import os
import sys

# test id -> one line per failed attempt
RETRIED = {}


def load_note():
    """The load average now, for a failure message."""
    one, five, _ = os.getloadavg()
    return (f"load average {one:.1f} (5 min {five:.1f}) on "
            f"{os.cpu_count()} CPUs")


def retried(test, run, attempts):
    """Call run(attempt) for attempt 1, 2, ... until it returns without a
    failed assertion or `attempts` ran; returns what it returned.  Errors
    other than failed assertions are not retried."""
    attempts = min(attempts, int(os.environ.get("QPW_ATTEMPTS") or attempts))
    for attempt in range(1, attempts + 1):
        try:
            return run(attempt)
        except test.failureException as e:
            first = str(e).splitlines()[0][:300] if str(e) else "failed"
            note = (f"attempt {attempt} of {attempts} failed "
                    f"({load_note()}): {first}")
            RETRIED.setdefault(test.id(), []).append(note)
            last = attempt == attempts
            print(f"\n  {note}{'' if last else '; running again'}",
                  file=sys.stderr, flush=True)
            if last:
                raise test.failureException(
                    f"{e}\n(all {attempts} attempts failed; "
                    f"{load_note()})") from e
    return None


def attempts(n):
    """Decorator: a test method (or a helper a test calls) that is run
    again through retried() when its assertions fail, up to n times."""
    def wrap(method):
        @functools.wraps(method)
        def run(self, *args, **kwargs):
            return retried(self, lambda attempt: method(self, *args, **kwargs),
                           n)
        return run
    return wrap
