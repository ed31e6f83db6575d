"""End-to-end tests of the PipeWire backend (issue #4): the tiny guest
plays and records through `-audiodev pipewire` with an HDA device, into a
private headless PipeWire, and what PipeWire carried is measured.

  playback      guest aplay -> QEMU -> qpw_sink (its monitor recorded)
  capture       host tone -> qpw_source -> QEMU -> guest arecord
  out.name      a second sink is chosen by name (JSON -audiodev form)
  volume        the guest's mixer shows as the stream's channelVolumes and
                mute in pw-dump (cubic mapping) and in the recorded level;
                stream-name shows as node.name and media.name
  no daemon     QEMU exits at once with one line naming the audiodev
  bad latency   out-of-range latencies are rejected with a clear error
  daemon gone   PipeWire stops mid-playback: the guest plays on in silence
  restart       PipeWire stops and comes back: the backend reconnects and
                sound reaches the sink (and the guest's capture) again

Each test starts its own PipeWire (WirePlumber may restore a stream volume
it saw in an earlier test onto a later one). Files are kept in
${QPW_E2E_WORK:-/tmp/qpw-e2e}/pwaudio/<test>/ for inspection.
"""

import math
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))
import analyze  # noqa: E402
import guest  # noqa: E402
from guest import MARK, run_marked  # noqa: E402
import retry  # noqa: E402
import qemutrace  # noqa: E402
from pipewire import SINK, PipeWire  # noqa: E402
from procs import thread_policies  # noqa: E402

WORK = Path(os.environ.get("QPW_E2E_WORK", "/tmp/qpw-e2e")) / "pwaudio"
SINK2 = "qpw_sink2"
RATE = 48000
HDA = ["-device", "ich9-intel-hda", "-device", "hda-duplex,audiodev=snd0"]
# QEMU's HDA codec: amp gain steps 0..74, scaled to QEMU's 0..255 levels.
HDA_AMP_STEPS = 74
# Guest shell helper: print a marker line with Master's current state.
MARK_FN = (f'mark() {{ echo "{MARK} $1 $(amixer -c 0 sget Master | '
           "grep -E 'Front (Left|Right):' | tr -s ' \\n' ' ')\"; }\n")


def cubic(level):
    """The backend's volume mapping: QEMU level 0..255 -> linear gain."""
    return (level / 255) ** 3


def hda_level(raw, on=True):
    """QEMU's level for an HDA amp gain as the guest set it (hda-codec.c:
    gain * 255 / 74, 0 when muted)."""
    return raw * 255 // HDA_AMP_STEPS if on else 0


def qemu_nodes(objects, category=None):
    """pw-dump Node objects of QEMU's streams (application.name QEMU)."""
    nodes = []
    for o in objects:
        props = (o.get("info") or {}).get("props") or {}
        if (o.get("type", "").endswith(":Node") and
                props.get("application.name") == "QEMU" and
                (category is None or props.get("media.category") == category)):
            nodes.append(o)
    return nodes


def node_props(node):
    """(info.props, first Props param) of a pw-dump node."""
    info = node.get("info") or {}
    params = (info.get("params") or {}).get("Props") or [{}]
    return info.get("props") or {}, params[0]


def links_from(objects, node_id):
    """Ids of the nodes node_id's output is linked to."""
    return {o["info"].get("input-node-id") for o in objects
            if o.get("type", "").endswith(":Link") and
            o["info"].get("output-node-id") == node_id}


def node_id(objects, name):
    """Id of the node called name (None if absent)."""
    for o in objects:
        props = (o.get("info") or {}).get("props") or {}
        if o.get("type", "").endswith(":Node") and \
                props.get("node.name") == name:
            return o["id"]
    return None


# The implicit default audiodev is our 7.2 glue's (PipeWire first in the
# driver order); QEMU 10 keeps upstream's, which creates none at all under
# -nodefaults.
ON_QEMU_72 = (os.environ.get("QPW_QEMU") or "7.2") == "7.2"
IMPLICIT_72_ONLY = ("QEMU 7.2's glue: QEMU 10 keeps upstream's implicit "
                    "default audiodev")


def xruns(trace, kind):
    """The backend's last reported (count, frames) of kind ('underrun' or
    'overrun') summed over streams, from qpw_xrun trace lines."""
    return qemutrace.xrun_totals(qemutrace.events(trace), kind)[:2]


def trace_args(path):
    """QEMU args tracing the backend's rare events (not per-buffer ones)."""
    args = ["-msg", "timestamp=on", "-D", str(path)]
    for event in ("qpw_connected", "qpw_stream_new", "qpw_state_changed",
                  "qpw_format_negotiated", "qpw_enable", "qpw_xrun",
                  "qpw_volume", "qpw_silent", "qpw_core_error",
                  "qpw_connection_lost", "qpw_reconnect_failed",
                  "qpw_reconnected", "qpw_stream_published", "qpw_resumed",
                  "qpw_target_gone", "qpw_target_back", "qpw_cycle"):
        args += ["-trace", f"enable={event}"]
    return args


def window_db(wav, t0, start, end):
    """RMS (dBFS, per channel) of wav between start and end seconds after
    host time t0 (the recording's start)."""
    a = int((start - t0) * wav.rate)
    b = int((end - t0) * wav.rate)
    seg = wav.samples[max(a, 0):max(b, 0)]
    return [analyze.dbfs(analyze.rms(seg[:, c])) for c in range(wav.channels)]


class PwAudioCase(unittest.TestCase):
    """What the backend's end-to-end tests share: the built QEMU, a work
    directory per test under work_root, and the report of figures."""

    work_root = WORK

    @classmethod
    def setUpClass(cls):
        try:
            cls.qemu = guest.qemu_binary()
        except FileNotFoundError as e:
            raise AssertionError(str(e)) from None
        shutil.rmtree(cls.work_root, ignore_errors=True)
        cls.work_root.mkdir(parents=True)

    def setUp(self):
        self.work = self.work_root / self._testMethodName.removeprefix(
            "test_")
        self.work.mkdir(parents=True, exist_ok=True)

    def report(self, text):
        """Print measured figures under the test's result line, with the
        machine's load (gaps under heavy load come from CPU starvation)."""
        load = os.getloadavg()[0]
        print(f"\n  {self._testMethodName}: {text}\n    (load average "
              f"{load:.2f} on {os.cpu_count()} CPUs)", file=sys.stderr,
              flush=True)


class PwAudioTest(PwAudioCase):
    """The guest's sound through `-audiodev pipewire` into a private
    PipeWire."""

    def check_tone(self, a, freq, seconds=None, gaps=True):
        """Frequency within 1 %, length within 5 %, no gap over 5 ms
        (unless gaps=False)."""
        self.assertGreater(a.frequency_hz, 0, f"no tone: {a.summary()}")
        self.assertLess(abs(a.frequency_hz - freq) / freq, 0.01, a.summary())
        if seconds is not None:
            self.assertLess(abs(a.tone_seconds - seconds) / seconds, 0.05,
                            a.summary())
        if gaps:
            self.assertEqual(a.gaps, [], a.summary())

    # -- (a) playback -------------------------------------------------------

    @retry.attempts(2)
    def test_playback(self):
        """A 5 s 440 Hz tone aplay'd in the guest reaches the default sink:
        1 % frequency, 5 % length, no gap over 5 ms; and no dropout at all
        in its first 200 ms (a stream start must not underrun)."""
        tone = analyze.sox_tone(self.work / "tone.wav", 5, 440)
        rec_path = self.work / "sink.wav"
        trace = self.work / "trace.log"
        with PipeWire(workdir=self.work / "pw") as pw:
            rec = pw.record_sink(rec_path)
            res = guest.run_guest(
                ["-audiodev", "pipewire,id=snd0", *HDA, *trace_args(trace)],
                "aplay -D hw:0,0 /in/tone.wav", {"tone.wav": tone},
                timeout=120, workdir=self.work / "guest", env=pw.env())
            time.sleep(0.3)
            rec.stop()
        self.assertEqual(res.exit_code, 0, res.describe())
        a = analyze.analyze(rec_path, min_gap_ms=5)
        under = xruns(qemutrace.file_text(trace), "underrun")
        wav = analyze.load_wav(rec_path)
        x = wav.samples[:, a.channel]
        start = int(a.tone_start_s * wav.rate)
        amp = float(np.percentile(np.abs(x[start:start + wav.rate]), 99.9))
        early = analyze.silent_runs(x, wav.rate, start,
                                    start + int(0.2 * wav.rate), amp / 10, 440)
        dropouts = [(round((p - start) / wav.rate, 4), int(q - p))
                    for p, q in early]
        self.report(f"{a.summary()}; gaps {a.gaps}, discontinuities "
                    f"{a.discontinuities}; dropouts in the first 200 ms "
                    f"(s, frames) {dropouts}; backend underruns {under[0]} "
                    f"({under[1]} frames); QEMU CPU "
                    f"{res.qemu_cpu_seconds:.1f} s")
        self.check_tone(a, 440, 5.0)
        self.assertEqual(early, [], "dropout right after the stream started")

    def test_data_thread_realtime(self):
        """While the guest plays, the thread that runs the backend's process
        callbacks inside QEMU is realtime (module-rt, as root may), and no
        other thread of QEMU is: exactly one thread is realtime, neither the
        main thread nor the PipeWire loop thread, and the process callback
        found its own thread realtime (the qpw_data_thread trace)."""
        tone = analyze.sox_tone(self.work / "tone.wav", 3, 440)
        trace = self.work / "trace.log"
        seen = {}
        with PipeWire(workdir=self.work / "pw") as pw:
            def on_mark(name, rest, when):
                # This run's QEMU: the one writing this test's trace.
                for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                    try:
                        argv = cmdline.read_bytes().split(b"\0")
                    except OSError:
                        continue
                    if str(trace).encode() in argv:
                        seen["pid"] = int(cmdline.parent.name)
                        seen["threads"] = thread_policies(seen["pid"])

            res, _ = run_marked(
                ["-audiodev", "pipewire,id=snd0", *HDA, *trace_args(trace),
                 "-trace", "enable=qpw_data_thread"],
                "aplay -D hw:0,0 /in/tone.wav &\n"
                f"sleep 1; echo '{MARK} playing'; wait",
                {"tone.wav": tone}, pw.env(), self.work / "guest", on_mark)
        self.assertEqual(res.exit_code, 0, res.describe())
        self.assertIn("threads", seen, "no QEMU playback stream seen")
        realtime = [(tid, name) for tid, name, policy in seen["threads"]
                    if policy in (1, 2)]
        self.report(f"QEMU's threads: {sorted(seen['threads'])}; realtime: "
                    f"{realtime}")
        if os.geteuid() != 0:
            self.skipTest("only root may be given realtime scheduling here")
        self.assertEqual(len(realtime), 1, seen["threads"])
        self.assertNotEqual(realtime[0][0], seen["pid"], "the main thread")
        self.assertNotEqual(realtime[0][1], "qemu-pipewire", "the loop thread")
        self.assertRegex(qemutrace.file_text(trace),
                         r"qpw_data_thread audiodev snd0: .* realtime 1")

    # -- (b) capture --------------------------------------------------------

    @retry.attempts(2)
    def test_capture(self):
        """A 1 kHz tone played into the PipeWire source is what the guest's
        arecord gets: 1 % frequency, and in its steady middle part (first
        and last 0.5 s left out) no gap over 5 ms that the source did not
        have too.  A host recording of the source made alongside is the
        witness: pw-play, an ordinary client, sometimes misses a graph
        cycle on this busy 2-core machine, and the source then carries
        silence that the guest must get as it is."""
        tone = analyze.sox_tone(self.work / "tone1k.wav", 60, 1000)
        trace = self.work / "trace.log"
        with PipeWire(workdir=self.work / "pw") as pw:
            player = pw.play_into_source(tone, wait=False)
            source = pw.record_source(self.work / "source.wav")
            source_t0 = time.time()
            res = guest.run_guest(
                ["-audiodev", "pipewire,id=snd0", *HDA, *trace_args(trace)],
                "arecord -D hw:0,0 -f S16_LE -r 48000 -c 2 -d 4 cap.wav",
                timeout=120, workdir=self.work / "guest", env=pw.env())
            still_playing = player.proc.poll() is None
            source.stop()
            player.stop()
        self.assertEqual(res.exit_code, 0, res.describe())
        self.assertTrue(still_playing, "the host's tone ended too early")
        self.assertIsNotNone(res.out_dir, res.describe())
        cap = res.out_dir / "cap.wav"
        shutil.copyfile(cap, self.work / "cap.wav")
        wav = analyze.load_wav(cap)
        whole = analyze.analyze(wav)
        mid = analyze.Wav(wav.samples[int(0.5 * wav.rate):
                                      len(wav.samples) - int(0.5 * wav.rate)],
                          wav.rate, wav.bits, wav.is_float)
        a = analyze.analyze(mid, min_gap_ms=5)
        src = analyze.analyze(self.work / "source.wav", min_gap_ms=5)
        over = xruns(qemutrace.file_text(trace), "overrun")
        self.report(f"{wav.seconds:.2f} s recorded at {wav.rate} Hz; middle "
                    f"{mid.seconds:.2f} s: {a.frequency_hz:.2f} Hz, "
                    f"{a.tone_rms_dbfs:.2f} dBFS, gaps {a.gaps}, "
                    f"discontinuities {a.discontinuities}; whole file: tone "
                    f"{whole.tone_start_s:.3f}-{whole.tone_end_s:.3f} s; "
                    f"backend overruns {over[0]} ({over[1]} frames); the "
                    f"host's recording of the source: gaps {src.gaps}")
        self.assertGreater(wav.seconds, 3.5, "arecord stopped early")
        self.check_tone(a, 1000, gaps=False)
        notes = self.where_gaps_were(a.gaps, 0.5, src, trace, source_t0)
        if any(not upstream for _, upstream in notes):
            self.fail(f"{a.summary()}; " + "; ".join(n for n, _ in notes))
        if notes:
            self.report("gaps the source had too, not ours: "
                        + "; ".join(n for n, _ in notes))
        # Played at half scale (-9.03 dBFS) and recorded at 0 dB gain.
        self.assertLess(abs(a.tone_rms_dbfs + 9.03), 1.0, a.summary())

    @staticmethod
    def where_gaps_were(gaps, lead, src, trace, source_t0):
        """For each gap of a guest capture (times from `lead` seconds into
        the guest's file, which starts with the capture stream, by QEMU's
        trace), a note and whether the host's recording of the source
        (started at wall-clock time source_t0) has one at most 0.1 s away
        and no shorter by more than the graph cycle the capture stream ran
        (qpw_cycle) plus 1 ms: then the source itself lacked the sound (the
        player missed cycles: it is an ordinary, not realtime, client on a
        busy machine) and the guest was right to get silence; else it was
        lost on its way to the guest."""
        if not gaps:
            return []
        events = qemutrace.file_events(trace)
        starts = [t for t, event, text in events
                  if event == "qpw_enable" and text.endswith("active 1")]
        name = qemutrace.voice_stream(events, "capture")[0]
        cycle_ms = qemutrace.last_cycle(events, name) * 1000 / RATE
        if not starts or not cycle_ms:
            return [("no capture start or cycle in QEMU's trace", False)]
        notes = []
        for at, ms in gaps:
            t = starts[0] + lead + at - source_t0
            same = [g for g in src.gaps
                    if abs(g[0] - t) < 0.1 and g[1] + cycle_ms + 1 >= ms]
            notes.append((f"the gap at {at:.3f} s ({ms:.1f} ms) is "
                          f"{'also' if same else 'not'} in the host's "
                          f"recording of the source (near {t:.3f} s there"
                          f"{f': {same}' if same else ''})", bool(same)))
        return notes

    # -- (c) out.name, JSON form --------------------------------------------

    def test_out_name_json(self):
        """`-audiodev '{"driver": "pipewire", "out": {"name": SINK2,
        "latency": 20000}}'`: the stream links to SINK2 only, with
        node.latency a quarter of 20 ms; the tone (1 % frequency, 5 %
        length) is recorded at SINK2's monitor and the default sink's
        monitor stays silent."""
        tone = analyze.sox_tone(self.work / "tone.wav", 3, 440)
        dev = ('{"id": "snd0", "driver": "pipewire", "out": {"name": "%s", '
               '"stream-name": "qemu-json", "latency": 20000}}' % SINK2)
        seen = {}
        trace = self.work / "trace.log"
        with PipeWire(extra_sinks=[SINK2], workdir=self.work / "pw") as pw:
            rec1 = pw.record_sink(self.work / "sink1.wav")
            rec2 = pw.record_sink(self.work / "sink2.wav", sink=SINK2)
            rec_t0 = time.monotonic()

            def on_mark(name, rest, when):
                """While aplay runs: the stream node and its links."""
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    objects = pw.dump()
                    nodes = qemu_nodes(objects, "Playback")
                    if nodes and links_from(objects, nodes[0]["id"]):
                        seen.update(
                            props=node_props(nodes[0])[0],
                            links=links_from(objects, nodes[0]["id"]),
                            sink1=node_id(objects, SINK),
                            sink2=node_id(objects, SINK2),
                            when=(when, time.monotonic()))
                        return
                    time.sleep(0.1)

            res, _ = run_marked(
                ["-audiodev", dev, *HDA, *trace_args(trace)],
                "aplay -D hw:0,0 /in/tone.wav &\n"
                f"sleep 1; echo '{MARK} playing'; wait",
                {"tone.wav": tone}, pw.env(), self.work / "guest", on_mark)
            time.sleep(0.3)
            rec1.stop()
            rec2.stop()
        self.assertEqual(res.exit_code, 0, res.describe())
        self.assertIn("props", seen, "no linked QEMU playback stream seen")
        props = seen["props"]
        rate = int(props["node.latency"].split("/")[1])
        quantum = math.ceil(20000 * rate / 1e6) // 4
        a2 = analyze.analyze(self.work / "sink2.wav")
        a1 = analyze.analyze(self.work / "sink1.wav")
        under = xruns(qemutrace.file_text(trace), "underrun")
        self.report(f"pw-dump at {seen['when'][0] - rec_t0:.2f}-"
                    f"{seen['when'][1] - rec_t0:.2f} s of the recording; "
                    f"backend underruns {under[0]} ({under[1]} frames); "
                    f"gaps {a2.gaps}, discontinuities {a2.discontinuities}")
        self.report(f"stream {props.get('node.name')!r} target.object "
                    f"{props.get('target.object')!r} node.latency "
                    f"{props.get('node.latency')}, linked to "
                    f"{sorted(seen['links'])} ({SINK2} is {seen['sink2']}, "
                    f"{SINK} is {seen['sink1']}); {SINK2}: {a2.summary()}; "
                    f"{SINK}: rms {a1.rms_dbfs} dBFS, peak {a1.peak_dbfs} "
                    f"dBFS")
        self.assertEqual(props.get("target.object"), SINK2)
        self.assertEqual(props.get("node.name"), "qemu-json")
        self.assertEqual(props.get("node.latency"), f"{quantum}/{rate}")
        self.assertEqual(seen["links"], {seen["sink2"]})
        # Where the sound goes is tested here, not how smoothly: 20 ms
        # asks PipeWire for a 5 ms quantum (it runs 128 frames, 2.7 ms),
        # which a loaded 2-core machine without realtime scheduling does
        # not always keep up with (test_playback checks gaps).
        self.check_tone(a2, 440, 3.0, gaps=False)
        self.assertEqual(a1.peak_dbfs, float("-inf"),
                         f"{SINK} got sound: {a1.summary()}")

    # -- (d) volume and names -----------------------------------------------

    def test_volume_and_names(self):
        """The guest's Master control, changed while it plays, shows in
        pw-dump as the stream's channelVolumes = (level/255)^3 and mute,
        and in the recorded level; stream-name is node.name/media.name."""
        tone = analyze.sox_tone(self.work / "tone.wav", 15, 440)
        rec_path = self.work / "sink.wav"
        states = []
        with PipeWire(workdir=self.work / "pw") as pw:
            rec = pw.record_sink(rec_path)
            rec_t0 = time.monotonic()
            pat = re.compile(r"Front (Left|Right): Playback (\d+) \[\d+%\]"
                             r"(?: \[[^]]*dB\])? \[(on|off)\]")

            def on_mark(name, rest, when):
                """Poll pw-dump until the stream shows the mixer state."""
                raw = {ch: (int(g), on == "on") for ch, g, on in
                       pat.findall(rest)}
                want = [cubic(hda_level(*raw[ch])) for ch in ("Left", "Right")]
                mute = not (raw["Left"][1] or raw["Right"][1])
                got = None
                deadline = time.monotonic() + 2.0
                while time.monotonic() < deadline:
                    nodes = qemu_nodes(pw.dump(), "Playback")
                    if nodes:
                        got = node_props(nodes[0])
                        vols = got[1].get("channelVolumes") or []
                        if (len(vols) == 2 and got[1].get("mute") == mute and
                                np.allclose(vols, want, rtol=1e-4, atol=1e-6)):
                            break
                    time.sleep(0.1)
                states.append(dict(name=name, when=when, raw=raw, want=want,
                                   mute=mute, got=got))

            scenario = MARK_FN + (
                "aplay -q -D hw:0,0 /in/tone.wav & p=$!\n"
                "sleep 0.5; mark full; sleep 2.5\n"
                "amixer -q -c 0 sset Master 50%; mark half; sleep 2.5\n"
                "amixer -q -c 0 sset Master 80%,40%; mark unbalanced; "
                "sleep 2.5\n"
                "amixer -q -c 0 sset Master mute; mark muted; sleep 2.5\n"
                "amixer -q -c 0 sset Master 100% unmute; mark restored; "
                "sleep 2.5\n"
                "wait $p\n")
            res, _ = run_marked(
                ["-audiodev", "pipewire,id=snd0,out.stream-name=qemu-guest",
                 *HDA], scenario, {"tone.wav": tone}, pw.env(),
                self.work / "guest", on_mark)
            time.sleep(0.3)
            rec.stop()
        self.assertEqual(res.exit_code, 0, res.describe())
        self.assertEqual([s["name"] for s in states],
                         ["full", "half", "unbalanced", "muted", "restored"],
                         res.describe())
        wav = analyze.load_wav(rec_path)
        lines = []
        for s in states:
            s["db"] = window_db(wav, rec_t0, s["when"] + 0.7, s["when"] + 2.0)
        ref = states[0]["db"]
        for s in states:
            props, vol = s["got"] or ({}, {})
            rel = [d - r for d, r in zip(s["db"], ref)]
            s["rel"] = rel
            lines.append(
                f"{s['name']}: guest gain {s['raw']['Left'][0]}/"
                f"{s['raw']['Right'][0]} -> levels "
                f"{[hda_level(*s['raw'][c]) for c in ('Left', 'Right')]}, "
                f"expect {[round(w, 6) for w in s['want']]} mute "
                f"{s['mute']}; pw-dump channelVolumes "
                f"{vol.get('channelVolumes')} mute {vol.get('mute')}; "
                f"recorded {[round(r, 2) for r in rel]} dB vs full")
        self.report("\n    ".join([""] + lines))
        for s in states:
            self.assertIsNotNone(s["got"], f"{s['name']}: no QEMU stream")
            props, vol = s["got"]
            self.assertEqual(props.get("node.name"), "qemu-guest")
            self.assertEqual(props.get("media.name"), "qemu-guest")
            self.assertEqual(props.get("application.name"), "QEMU")
            self.assertEqual(props.get("media.class"), "Stream/Output/Audio")
            self.assertEqual(vol.get("mute"), s["mute"], s["name"])
            np.testing.assert_allclose(vol.get("channelVolumes"), s["want"],
                                       rtol=1e-4, atol=1e-6,
                                       err_msg=s["name"])
            if s["mute"]:
                self.assertTrue(all(d < -80 for d in s["db"]), s["name"])
            else:
                want_db = [20 * math.log10(w) for w in s["want"]]
                np.testing.assert_allclose(s["rel"], want_db, atol=1.0,
                                           err_msg=s["name"])
        half = next(s for s in states if s["name"] == "half")
        self.assertEqual(half["raw"]["Left"][0], 37)   # 50 % of 74

    # -- (e) failures at start ----------------------------------------------

    def run_qemu(self, audiodev, env=None):
        """QEMU with an HDA on audiodev and nothing to boot (-S): returns
        (returncode or None if still running after 20 s, seconds, stderr)."""
        argv = [str(self.qemu), "-nodefaults", "-display", "none", "-S",
                "-machine", "q35", "-accel", "tcg", "-audiodev", audiodev,
                *HDA]
        t0 = time.monotonic()
        try:
            res = subprocess.run(argv, env=env, capture_output=True,
                                 text=True, timeout=20,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            return None, time.monotonic() - t0, (e.stderr or b"").decode()
        # Refusing to start is an exit status, never a crash or a report.
        self.assertGreaterEqual(res.returncode, 0, res.stderr)
        self.assertEqual(guest.sanitizer_reports(res.stderr), [])
        return res.returncode, time.monotonic() - t0, res.stderr

    def env_without_daemon(self):
        """The environment with an empty runtime dir: no PipeWire there."""
        empty = self.work / "empty-runtime"
        empty.mkdir(exist_ok=True)
        env = dict(os.environ)
        for var in ("PIPEWIRE_REMOTE", "PIPEWIRE_DEBUG"):
            env.pop(var, None)
        env.update(XDG_RUNTIME_DIR=str(empty), PIPEWIRE_RUNTIME_DIR=str(empty))
        return env

    def test_no_daemon(self):
        """No PipeWire at the runtime dir: QEMU exits non-zero within a
        few seconds, with one line naming the audiodev and PipeWire."""
        env = self.env_without_daemon()
        rc, took, err = self.run_qemu("pipewire,id=snd0", env)
        named = [l for l in err.splitlines() if "'snd0'" in l]
        self.report(f"rc {rc} after {took:.2f} s; stderr: {err.strip()!r}")
        self.assertIsNotNone(rc, "QEMU kept running without a daemon")
        self.assertNotEqual(rc, 0)
        self.assertLess(took, 5.0)
        self.assertEqual(len(named), 1, err)
        self.assertIn("PipeWire", named[0])

    def test_bad_latency(self):
        """out.latency=10 (keyval) and in.latency 20000000 (JSON) are
        refused before any connection, naming the option and the range."""
        results = []
        for dev, opt, bound in (
                ("pipewire,id=snd0,out.latency=10", "out.latency=10",
                 "minimum of 1000 us"),
                ('{"id": "snd0", "driver": "pipewire", '
                 '"in": {"latency": 20000000}}', "in.latency=20000000",
                 "maximum of 10000000 us")):
            rc, took, err = self.run_qemu(dev)
            results.append((dev, rc, took, err))
            self.report(f"{dev}: rc {rc} after {took:.2f} s; "
                        f"stderr: {err.strip()!r}")
            self.assertIsNotNone(rc, f"{dev}: QEMU kept running")
            self.assertNotEqual(rc, 0)
            named = [l for l in err.splitlines() if "'snd0'" in l]
            self.assertEqual(len(named), 1, err)
            self.assertIn(opt, named[0])
            self.assertIn(bound, named[0])

    def implicit_audiodevs(self, env):
        """Run QEMU with a sound card and no -audiodev in env; check it
        exits 0 and return (its stderr, the drivers query-audiodevs lists,
        the first audiodev)."""
        env = dict(env)
        env.pop("QEMU_AUDIO_DRV", None)
        argv = [str(self.qemu), "-nodefaults", "-display", "none", "-S",
                "-machine", "q35", "-accel", "tcg", "-device",
                "ich9-intel-hda", "-device", "hda-duplex", "-qmp", "stdio"]
        res = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=20,
            input='{"execute": "qmp_capabilities"}\n'
                  '{"execute": "query-audiodevs"}\n'
                  '{"execute": "quit"}\n')
        self.report(f"rc {res.returncode}; stderr {res.stderr.strip()!r}")
        guest.check_qemu_exit(res.returncode, res.stderr)
        replies = [json.loads(l) for l in res.stdout.splitlines() if l.strip()]
        devs = next(r["return"] for r in replies
                    if isinstance(r.get("return"), list))
        return res.stderr, [d["driver"] for d in devs], devs[0]

    @unittest.skipIf(not ON_QEMU_72, IMPLICIT_72_ONLY)
    def test_implicit_default(self):
        """A sound card and no -audiodev: QEMU 7.2 validates the implicit
        audiodev twice, and the pass-through default for PipeWire must not
        make the second pass abort. With a daemon, PipeWire is the default
        driver (first in the priority list) and keeps the mixing engine."""
        with PipeWire(workdir=self.work / "pw-default") as pw:
            _, drivers, dev = self.implicit_audiodevs(pw.env())
        self.assertEqual(drivers, ["pipewire"])
        self.assertTrue(dev["out"]["mixing-engine"])

    @unittest.skipIf(not ON_QEMU_72, IMPLICIT_72_ONLY)
    def test_implicit_default_no_daemon(self):
        """A sound card, no -audiodev and no daemon: PipeWire, tried first
        as the implicit default, fails without a word and QEMU falls back
        (here to `none`, the only other driver built)."""
        env = self.env_without_daemon()
        stderr, drivers, _ = self.implicit_audiodevs(env)
        self.assertNotIn("pipewire", stderr.lower())
        self.assertEqual(drivers, ["none"])

    # -- the daemon goes away -------------------------------------------------

    def test_daemon_goes_away(self):
        """PipeWire is stopped 2 s into a 6 s aplay: QEMU says so once,
        the guest's aplay still finishes in about 6 s (paced silence) and
        QEMU powers off normally."""
        tone = analyze.sox_tone(self.work / "tone.wav", 6, 440)
        times = {}
        with PipeWire(workdir=self.work / "pw") as pw:

            def on_mark(name, rest, when):
                times[name] = when
                if name == "start":
                    time.sleep(max(0.0, when + 2.0 - time.monotonic()))
                    times["killed"] = time.monotonic()
                    pw.stop()

            res, _ = run_marked(
                ["-audiodev", "pipewire,id=snd0", *HDA],
                f"echo '{MARK} start'; aplay -q -D hw:0,0 /in/tone.wav; "
                f"rc=$?; echo '{MARK} end'; exit $rc",
                {"tone.wav": tone}, pw.env(), self.work / "guest", on_mark)
        lost = [l for l in res.qemu_stderr.splitlines()
                if "lost the connection" in l]
        took = times.get("end", 0) - times.get("start", 0)
        killed = times.get("killed", 0) - times.get("start", 0)
        self.report(f"aplay took {took:.2f} s (6 s of audio), daemon "
                    f"stopped after {killed:.2f} s; "
                    f"scenario exit {res.exit_code}, QEMU rc "
                    f"{res.qemu_returncode}; stderr "
                    f"{res.qemu_stderr.strip()!r}")
        self.assertEqual(res.exit_code, 0, res.describe())
        self.assertEqual(res.qemu_returncode, 0, res.describe())
        self.assertEqual(len(lost), 1, res.qemu_stderr)
        self.assertIn("'snd0'", lost[0])
        self.assertLess(abs(took - 6.0), 1.5)

    def restart_daemon(self, pw, t0, down_at, up_at, times, wall):
        """Stop pw's daemons down_at s after host time t0 and start them
        again up_at s after it; fills times (monotonic) and wall (wall
        clock, as QEMU's trace) with 'killed', 'restart', 'up' and 'back'
        (the new socket's creation: when the daemon is back for clients)."""
        time.sleep(max(0.0, t0 + down_at - time.monotonic()))
        times["killed"] = time.monotonic()
        pw.stop_daemon()
        time.sleep(max(0.0, t0 + up_at - time.monotonic()))
        times["restart"] = time.monotonic()
        wall["restart"] = time.time()
        pw.start()
        times["up"] = time.monotonic()
        wall["back"] = os.stat(pw.runtime_dir / "pipewire-0").st_ctime

    def check_reported_once(self, res):
        """QEMU said once that it lost the daemon and once that it is back,
        and the guest's scenario and QEMU ended normally."""
        self.assertEqual(res.exit_code, 0, res.describe())
        self.assertEqual(res.qemu_returncode, 0, res.describe())
        err = res.qemu_stderr.splitlines()
        lost = [l for l in err if "lost the connection" in l]
        back = [l for l in err if "reconnected to PipeWire" in l]
        self.assertEqual(len(lost), 1, res.qemu_stderr)
        self.assertIn("'snd0'", lost[0])
        self.assertEqual(len(back), 1, res.qemu_stderr)
        self.assertIn("'snd0'", back[0])

    @staticmethod
    def after_back(trace, wall, event, text=""):
        """Seconds from the daemon's return to QEMU's first trace event
        of that name (whose text contains text) after it; None if none."""
        hits = [w - wall["back"] for w, e, rest in
                qemutrace.file_events(trace)
                if e == event and text in rest and w >= wall["back"]]
        return hits[0] if hits else None

    @retry.attempts(2)
    def test_daemon_restarts(self):
        """PipeWire is stopped 2 s into a 10 s aplay (and arecord) and
        started again 2 s later on the same runtime dir: QEMU reports the
        loss and the reconnection once each, the guest's aplay finishes in
        about 10 s, the tone is back at the sink within 2 s of the daemon's
        return, and the guest's capture gets the host's tone again."""
        tone = analyze.sox_tone(self.work / "tone.wav", 10, 440)
        tone1k = analyze.sox_tone(self.work / "tone1k.wav", 60, 1000)
        trace = self.work / "trace.log"
        rec_path = self.work / "sink-after.wav"
        times, wall, box = {}, {}, {}
        with PipeWire(workdir=self.work / "pw") as pw:
            pw.play_into_source(tone1k, wait=False)

            def on_mark(name, rest, when):
                times[name] = when
                if name == "start":
                    self.restart_daemon(pw, when, 2.0, 4.0, times, wall)
                    box["rec"] = pw.record_sink(rec_path)
                    wall["rec"] = time.time()
                    pw.play_into_source(tone1k, wait=False)
                    wall["player"] = time.time()

            res, _ = run_marked(
                ["-audiodev", "pipewire,id=snd0,out.stream-name=qpw-out,"
                 "in.stream-name=qpw-in", *HDA, *trace_args(trace)],
                f"echo '{MARK} start'\n"
                "arecord -q -D hw:0,0 -f S16_LE -r 48000 -c 2 -d 10 cap.wav &"
                " r=$!\n"
                "aplay -q -D hw:0,0 /in/tone.wav; rc=$?\n"
                f"echo '{MARK} end'\n"
                "wait $r || rc=$?\n"
                "exit $rc\n",
                {"tone.wav": tone}, pw.env(), self.work / "guest", on_mark)
            time.sleep(0.3)
            if "rec" in box:
                box["rec"].stop()
        self.assertIn("back", wall, "PipeWire was not restarted")
        took = times.get("end", 0) - times.get("start", 0)

        # QEMU's side, from its trace: when it reconnected, and when each
        # voice went back to its ring.
        reconnected = self.after_back(trace, wall, "qpw_reconnected")
        out_back = self.after_back(trace, wall, "qpw_resumed", "qpw-out:")
        in_back = self.after_back(trace, wall, "qpw_resumed", "qpw-in:")

        # The sink, recorded from once the restarted daemon was ready. The
        # recording starts a little before record_sink() returns, so the
        # onset found is late if anything; a tone there from the
        # recording's first samples was back before it started.
        a = analyze.analyze(rec_path, min_gap_ms=5)
        onset = (wall["rec"] + a.tone_start_s - wall["back"]
                 if a.frequency_hz else None)

        # The guest's capture: arecord started with the start mark and ran
        # on paced silence while the daemon was away, so its position is
        # roughly the time since the mark.
        self.assertIsNotNone(res.out_dir, res.describe())
        shutil.copyfile(res.out_dir / "cap.wav", self.work / "cap.wav")
        cap = analyze.load_wav(self.work / "cap.wav")
        down = (times["killed"] - times["start"] + 0.3,
                times["restart"] - times["start"])
        loud = np.flatnonzero(
            np.abs(cap.samples[int(down[1] * cap.rate):, 0]) > 0.1)
        cap_back = (loud[0] / cap.rate - (wall["back"] - wall["restart"])
                    if len(loud) else None)
        late = cap.samples[int((cap.seconds - 2.0) * cap.rate):
                           int((cap.seconds - 0.3) * cap.rate)]
        cap_late = analyze.analyze(analyze.Wav(late, cap.rate, cap.bits,
                                               cap.is_float))
        down_db = window_db(cap, 0, *down)

        def s(v):
            return "none" if v is None else f"{v:.3f} s"

        self.report(
            f"aplay took {took:.2f} s (10 s of audio); daemon stopped at "
            f"{times['killed'] - times['start']:.2f} s, restarted at "
            f"{times['restart'] - times['start']:.2f} s: socket back "
            f"{wall['back'] - wall['restart']:.3f} s later, ready (with "
            f"WirePlumber) {times['up'] - times['restart']:.2f} s later. "
            f"After the socket: QEMU reconnected {s(reconnected)}, playback "
            f"back on its ring {s(out_back)}, capture {s(in_back)}; sink "
            f"recorded from {wall['rec'] - wall['back']:.3f} s, tone from "
            f"{s(onset)}: {a.summary()}, gaps {a.gaps}; guest capture: "
            f"silent while away ({down_db} dBFS), host tone back about "
            f"{s(cap_back)} after the socket (host player restarted at "
            f"{wall['player'] - wall['back']:.3f} s), last 2 s "
            f"{cap_late.summary()}")
        self.check_reported_once(res)
        self.assertLess(abs(took - 10.0), 1.5, "aplay did not keep time")

        # Sound reaches the sink again within 2 s of the daemon's return,
        # and stays until aplay's end.
        self.assertIsNotNone(out_back, "playback never went back to its "
                             "ring")
        self.assertLess(out_back, 2.0)
        self.check_tone(a, 440, gaps=False)
        self.assertLess(onset, 2.0, "tone back at the sink too late")
        self.assertGreater(wall["rec"] + a.tone_end_s - wall["back"],
                           times["end"] - times["up"] - 0.5)

        # The guest's capture: silence while PipeWire was away, the host's
        # tone again at the end, at its level.
        self.assertIsNotNone(in_back, "capture never went back to its ring")
        self.assertLess(in_back, 2.0)
        self.assertTrue(all(d < -60 for d in down_db), down_db)
        self.check_tone(cap_late, 1000, gaps=False)
        self.assertLess(abs(cap_late.tone_rms_dbfs + 9.03), 1.0,
                        cap_late.summary())

    def test_voice_opened_while_daemon_away(self):
        """The guest starts playing while PipeWire is away, at 44.1 kHz (a
        new format: a new voice, and the old one closed, without a daemon),
        and plays on through the daemon's return: the new voice gets its
        stream on reconnect and the tone reaches the sink within 2 s."""
        tone = analyze.sox_tone(self.work / "tone.wav", 6, 660, rate=44100)
        trace = self.work / "trace.log"
        rec_path = self.work / "sink-after.wav"
        times, wall, box = {}, {}, {}
        with PipeWire(workdir=self.work / "pw") as pw:

            def on_mark(name, rest, when):
                times[name] = when
                if name == "start":
                    self.restart_daemon(pw, when, 0.0, 3.0, times, wall)
                    box["rec"] = pw.record_sink(rec_path)
                    wall["rec"] = time.time()

            res, _ = run_marked(
                ["-audiodev", "pipewire,id=snd0", *HDA, *trace_args(trace)],
                f"echo '{MARK} start'; sleep 1; echo '{MARK} play'\n"
                "aplay -q -D hw:0,0 /in/tone.wav; rc=$?\n"
                f"echo '{MARK} end'; exit $rc\n",
                {"tone.wav": tone}, pw.env(), self.work / "guest", on_mark)
            time.sleep(0.3)
            if "rec" in box:
                box["rec"].stop()
        self.assertIn("back", wall, "PipeWire was not restarted")
        took = times.get("end", 0) - times.get("play", 0)
        trace_text = qemutrace.file_text(trace)
        # The voice for the 44.1 kHz tone, made while disconnected; its
        # time in seconds after the start mark.
        opened = [w - wall["restart"] + times["restart"] - times["start"]
                  for w, e, rest in qemutrace.events(trace_text)
                  if e == "qpw_stream_new" and "44100 Hz x2" in rest]
        down = (times["killed"] - times["start"],
                times["restart"] - times["start"])
        out_back = self.after_back(trace, wall, "qpw_resumed")
        a = analyze.analyze(rec_path, min_gap_ms=5)
        onset = (wall["rec"] + a.tone_start_s - wall["back"]
                 if a.frequency_hz else None)
        self.report(
            f"aplay took {took:.2f} s (6 s of audio); daemon stopped at "
            f"{down[0]:.2f} s, the guest opened its voice at "
            f"{opened[0] if opened else float('nan'):.2f} s, daemon "
            f"restarted at {down[1]:.2f} s; after the socket "
            f"({wall['back'] - wall['restart']:.3f} s later): back on the "
            f"ring {out_back if out_back is None else round(out_back, 3)} "
            f"s, sink recorded from {wall['rec'] - wall['back']:.3f} s, "
            f"tone from {onset if onset is None else round(onset, 3)} s: "
            f"{a.summary()}; stderr {res.qemu_stderr.strip()!r}")
        self.check_reported_once(res)
        self.assertTrue(opened, "no 44.1 kHz voice was opened")
        self.assertTrue(down[0] < opened[0] < down[1],
                        "the voice was not opened while PipeWire was away")
        self.assertLess(abs(took - 6.0), 1.5, "aplay did not keep time")
        self.assertIsNotNone(out_back, "the new voice never got a stream")
        self.assertLess(out_back, 2.0)
        self.check_tone(a, 660, gaps=False)
        self.assertLess(onset, 2.0, "tone at the sink too late")


if __name__ == "__main__":
    unittest.main()
