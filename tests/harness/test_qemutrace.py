"""tests/lib/qemutrace.py: the trace log lines of QEMU 7.2 and QEMU 10."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "lib"))
import qemutrace  # noqa: E402


class QemuTraceTest(unittest.TestCase):
    def test_both_versions(self):
        text = ("12345@1796600477.098507:qpw_state_changed snd0: a -> b ()\n"
                "qemu-system-x86_64: a line that is no event\n"
                "2026-12-07T00:04:09.770811Z qpw_connected audiodev snd0: "
                "connected\n")
        got = qemutrace.events(text)
        self.assertEqual([(e, a) for _, e, a in got],
                         [("qpw_state_changed", "snd0: a -> b ()"),
                          ("qpw_connected", "audiodev snd0: connected")])
        self.assertAlmostEqual(got[0][0], 1796600477.098507, places=6)
        # 2026-12-07T00:04:09.770811 UTC
        self.assertAlmostEqual(got[1][0], 1796601849.770811, places=6)

    def test_nothing(self):
        self.assertEqual(qemutrace.events(""), [])


if __name__ == "__main__":
    unittest.main()
