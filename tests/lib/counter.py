"""The counter signal: every frame carries its own index, so a recording
shows exactly which frames arrived, how often, in what order and whether
their values were changed on the way.

    write_counter_wav("c.wav", 48000 * 3, 48000, "s16")
    rep = decode_wav("recorded.wav", "s16")
    print(rep.summary())       # lost, repeated, out of order, altered, ...

Encoding (stereo; a 16-bit "word" per channel, index i < 2**22, which
is 87 s at 48 kHz):

    left  word = i & 0xffff                     every 16-bit value occurs
    right word = 0x8000 | check(i) << 6 | i >> 16
                 check(i): 9 bits hashed from all of i

The right word always has its top bit set, so silence (all zero) is never
a counter frame, and the check bits make a changed frame very unlikely to
pass for another index (about 1 in 1000 random S16 frames does; the 16
more hashed bits of s32 make that 1 in 6e7).  A frame is a counter frame
only if it equals the encoding of the index it decodes to, bit for bit.

"s16": the words are the S16 samples.  "s32": each sample's top 24 bits
are word << 8 | 8 more bits hashed from i (a different hash per channel)
and its low 8 bits are 0.  PipeWire converts through 32-bit float, which
keeps 24 bits, so only the top 24 bits of an S32 sample are compared.
"""

import struct
from dataclasses import dataclass, field

import numpy as np

import analyze

MAX_FRAMES = 1 << 22
CHANNELS = 2
# (bits per sample in the file, bits compared: the top ones)
FORMATS = {"s16": (16, 16), "s32": (32, 24)}

_K_CHECK = 0x9E3779B1
_K_EXTRA = (0x85EBCA6B, 0xC2B2AE35)


def _hash_top(i, k, bits):
    """The top `bits` bits of the 32-bit product i * k (uint64 arrays)."""
    return ((i * np.uint64(k)) & np.uint64(0xFFFFFFFF)) >> np.uint64(32 - bits)


def _words(i):
    """The two 16-bit words of frames i (uint64 array), shape (n, 2)."""
    i = np.asarray(i, dtype=np.uint64)
    left = i & np.uint64(0xFFFF)
    right = (np.uint64(0x8000) | (_hash_top(i, _K_CHECK, 9) << np.uint64(6))
             | ((i >> np.uint64(16)) & np.uint64(0x3F)))
    return np.stack([left, right], axis=1)


def payload(i, fmt):
    """The compared bits of frames i, as unsigned ints, shape (n, 2): the
    16-bit words for s16, the top 24 bits of each sample for s32."""
    w = _words(i)
    if fmt == "s16":
        return w
    i = np.asarray(i, dtype=np.uint64)
    extra = np.stack([_hash_top(i, k, 8) for k in _K_EXTRA], axis=1)
    return (w << np.uint64(8)) | extra


def samples(start, count, fmt="s16"):
    """Frames start..start+count-1 of the counter as signed ints (int64),
    shape (count, 2), ready to be written as fmt."""
    if not (0 <= start and start + count <= MAX_FRAMES):
        raise ValueError(f"counter frames must be below {MAX_FRAMES}")
    p = payload(np.arange(start, start + count, dtype=np.uint64), fmt)
    bits, kept = FORMATS[fmt]
    raw = (p << np.uint64(bits - kept)).astype(np.int64)
    return np.where(raw >= 1 << (bits - 1), raw - (1 << bits), raw)


def write_raw_wav(path, ints, rate, bits):
    """Write signed integer samples (frames, channels) as a PCM WAV."""
    ints = np.asarray(ints).reshape(len(ints), -1)
    channels = ints.shape[1]
    raw = ints.astype(f"<i{bits // 8}").tobytes()
    fmt = struct.pack("<HHIIHH", analyze.PCM, channels, rate,
                      rate * channels * bits // 8, channels * bits // 8, bits)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(raw))
                + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
                + b"data" + struct.pack("<I", len(raw)) + raw)


def write_counter_wav(path, frames, rate, fmt="s16", start=0, lead=0):
    """Write the counter, frames start..start+frames-1, as an S16 or S32
    stereo WAV at rate, after `lead` frames of digital silence."""
    ints = samples(start, frames, fmt)
    if lead:
        ints = np.concatenate([np.zeros((lead, 2), dtype=np.int64), ints])
    write_raw_wav(path, ints, rate, FORMATS[fmt][0])


def read_raw_wav(path):
    """(signed integer samples (frames, channels) as int64, rate, bits) of
    a PCM WAV (16, 24 or 32 bits)."""
    wav = analyze.load_wav(path)
    if wav.is_float or wav.bits not in (16, 24, 32):
        raise ValueError(f"{path}: not 16/24/32-bit integer PCM "
                         f"({wav.bits} bits, float {wav.is_float})")
    # load_wav divided by 2**(bits-1): exact in float64, so this is too.
    ints = np.round(wav.samples * float(1 << (wav.bits - 1))).astype(np.int64)
    return ints, wav.rate, wav.bits


@dataclass
class CounterReport:
    """What a recording of the counter holds.  Positions are frame numbers
    in the recording; indices are counter frame numbers.  Everything but
    frames/lead/trail is counted between the first and the last counter
    frame of the recording."""
    fmt: str
    frames: int = 0             # frames in the recording
    counter_frames: int = 0     # frames that are exact counter frames
    first: int | None = None    # index of the first counter frame
    last: int | None = None     # index of the last counter frame
    lowest: int | None = None   # smallest index seen
    highest: int | None = None  # largest index seen
    lead: int = 0               # frames before the first counter frame
    trail: int = 0              # frames after the last counter frame
    lost: int = 0               # indices in lowest..highest never seen
    repeated: int = 0           # counter frames whose index came before
    out_of_order: int = 0       # new indices below one already seen
    altered: int = 0            # frames in the place of a missing index
    inserted: int = 0           # other frames that are no counter frame
    events: list = field(default_factory=list)   # the first few faults

    MAX_EVENTS = 12

    @property
    def found(self):
        """True if the recording holds at least one counter frame."""
        return self.counter_frames > 0

    @property
    def clean(self):
        """Every index from first to last exactly once, in order, bit-exact,
        nothing in between."""
        return (self.found and self.lost == self.repeated ==
                self.out_of_order == self.altered == self.inserted == 0)

    def has_head(self, index=0):
        """The counter's first frame (index) arrived."""
        return self.found and self.lowest <= index

    def has_tail(self, index):
        """The counter's last frame (index) arrived."""
        return self.found and self.highest >= index

    def event(self, text):
        """Note a fault (the first MAX_EVENTS only)."""
        if len(self.events) < self.MAX_EVENTS:
            self.events.append(text)

    def summary(self):
        """One line: the counts, and the first faults if any."""
        if not self.found:
            return (f"{self.fmt}: no counter frame in {self.frames} frames")
        s = (f"{self.fmt}: indices {self.first}..{self.last} "
             f"({self.counter_frames} counter frames of {self.frames}; "
             f"lead {self.lead}, trail {self.trail}): lost {self.lost}, "
             f"repeated {self.repeated}, out of order {self.out_of_order}, "
             f"altered {self.altered}, inserted {self.inserted}")
        if self.events:
            s += "; first faults: " + "; ".join(self.events)
        return s


def _compared(ints, fmt):
    """The compared bits of recorded samples (signed ints, (frames, 2)) as
    unsigned ints: all 16 of s16, the top 24 of s32."""
    bits, kept = FORMATS[fmt]
    ints = np.asarray(ints, dtype=np.int64)
    if ints.ndim != 2 or ints.shape[1] != CHANNELS:
        raise ValueError(f"need {CHANNELS} channels, got shape {ints.shape}")
    return ((ints & ((1 << bits) - 1)) >> (bits - kept)).astype(np.uint64)


def _indices(ints, fmt):
    """(index each frame decodes to (int64), whether it is exactly the
    counter frame of that index (bool)) for recorded samples."""
    p = _compared(ints, fmt)
    w = p >> np.uint64(FORMATS[fmt][1] - 16)
    idx = (w[:, 0] | ((w[:, 1] & np.uint64(0x3F)) << np.uint64(16)))
    valid = ((w[:, 1] & np.uint64(0x8000)) != 0) & \
        np.all(p == payload(idx, fmt), axis=1)
    return idx.astype(np.int64), valid


def decode(ints, fmt="s16"):
    """Analyse recorded samples (signed ints, shape (frames, 2), as
    read_raw_wav gives them) against the counter; returns a
    CounterReport.

    Between the first and the last counter frame (by position): a counter
    frame whose index was seen before is repeated; one whose index is new
    but below the highest seen so far is out of order.  Non-counter frames
    standing between counter frames a and b (b > a) take the places of the
    missing indices a+1..b-1 (altered) up to their number; any more of
    them are inserted.  Indices between the lowest and the highest seen
    that neither arrived nor were replaced by an altered frame are lost."""
    ints = np.asarray(ints, dtype=np.int64)
    rep = CounterReport(fmt=fmt, frames=len(ints))
    idx, valid = _indices(ints, fmt)
    pos = np.flatnonzero(valid)
    rep.counter_frames = len(pos)
    if not len(pos):
        return rep
    vidx = idx[pos]
    rep.first, rep.last = int(vidx[0]), int(vidx[-1])
    rep.lowest, rep.highest = int(vidx.min()), int(vidx.max())
    rep.lead, rep.trail = int(pos[0]), int(len(ints) - 1 - pos[-1])

    span = rep.highest - rep.lowest + 1
    seen = np.zeros(span, dtype=bool)
    covered = np.zeros(span, dtype=bool)     # replaced by an altered frame

    # Runs: counter frames at consecutive positions with consecutive
    # indices.  Only the (few) boundaries between runs need a loop.
    gaps = np.diff(pos) - 1                  # non-counter frames between
    breaks = np.flatnonzero((np.diff(vidx) != 1) | (gaps != 0))
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(vidx) - 1]])
    high = -1                                # highest index seen so far
    for r, (s, e) in enumerate(zip(starts, ends)):
        a, b = int(vidx[s]), int(vidx[e])
        run = seen[a - rep.lowest:b - rep.lowest + 1]
        dup = int(run.sum())
        late = int((~run[:max(0, min(b, high) - a + 1)]).sum())
        rep.repeated += dup
        rep.out_of_order += late
        if dup or late:
            rep.event(f"at frame {int(pos[s])}: indices {a}..{b} after "
                      f"{high} ({dup} repeated, {late} out of order)")
        run[:] = True
        high = max(high, b)
        if r + 1 == len(starts):
            break
        # Between this run and the next one.
        nxt, gap = int(vidx[e + 1]), int(gaps[e])
        missing = max(0, nxt - b - 1)
        alt = min(gap, missing)
        rep.altered += alt
        rep.inserted += gap - alt
        covered[b + 1 - rep.lowest:b + 1 + alt - rep.lowest] = True
        if gap:
            rep.event(f"at frame {int(pos[e]) + 1}: {gap} non-counter frames "
                      f"between indices {b} and {nxt}")
        elif missing:
            rep.event(f"at frame {int(pos[e]) + 1}: indices {b + 1}.."
                      f"{nxt - 1} missing")
    rep.lost = int((~seen & ~covered).sum())
    return rep


def decode_wav(path, fmt=None):
    """Read a recording and decode it; fmt defaults to the file's (16 bits:
    s16, 32 bits: s32)."""
    ints, _, bits = read_raw_wav(path)
    if fmt is None:
        fmt = {16: "s16", 32: "s32"}.get(bits)
        if fmt is None:
            raise ValueError(f"{path}: {bits}-bit samples: no counter format")
    if FORMATS[fmt][0] != bits:
        raise ValueError(f"{path}: {bits}-bit samples, expected {fmt}")
    return decode(ints, fmt)


@dataclass
class Excerpt:
    """A recording compared with a reference recording of the same stream
    (e.g. the guest's capture against a host recording of the source):
    from the recording's first counter frame on, frame for frame."""
    found: bool = False         # the first counter frame is in the reference
    rec_start: int = 0          # its position in the recording
    ref_start: int = 0          # and in the reference
    compared: int = 0           # frames compared
    mismatched: int = 0         # of those, frames that differ
    first_mismatch: int | None = None   # position in the recording
    short: int = 0              # recording frames past the reference's end

    @property
    def exact(self):
        """The recording is a bit-exact, unbroken excerpt of the
        reference from its first counter frame to its end."""
        return self.found and self.mismatched == 0 and self.short == 0

    def summary(self):
        if not self.found:
            return "its first counter frame is not in the reference"
        s = (f"from frame {self.rec_start} ({self.compared} frames, at "
             f"reference frame {self.ref_start}): {self.mismatched} differ")
        if self.first_mismatch is not None:
            s += f", the first at frame {self.first_mismatch}"
        if self.short:
            s += f"; {self.short} frames past the reference's end"
        return s


def match_reference(rec, ref, fmt="s16"):
    """Compare recording rec with reference ref (signed ints, (frames,
    2)): find rec's first counter frame in ref and compare the rest of rec
    with ref from there, frame for frame (the compared bits only)."""
    out = Excerpt()
    idx, valid = _indices(rec, fmt)
    first = np.flatnonzero(valid)
    if not len(first):
        return out
    ridx, rvalid = _indices(ref, fmt)
    at = np.flatnonzero(rvalid & (ridx == idx[first[0]]))
    if not len(at):
        return out
    out.found = True
    out.rec_start, out.ref_start = int(first[0]), int(at[0])
    a = _compared(rec, fmt)[out.rec_start:]
    b = _compared(ref, fmt)[out.ref_start:]
    n = min(len(a), len(b))
    out.compared, out.short = n, len(a) - n
    differ = np.flatnonzero(np.any(a[:n] != b[:n], axis=1))
    out.mismatched = len(differ)
    if len(differ):
        out.first_mismatch = out.rec_start + int(differ[0])
    return out
