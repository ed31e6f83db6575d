"""WAV analysis shared by the e2e tests and the demo report.

load_wav() reads 8/16/24/32-bit integer and 32/64-bit float WAVs (also
WAVE_FORMAT_EXTENSIBLE), mono or multi-channel, into floats in [-1, 1).
analyze() measures a test tone: dominant frequency, where the tone starts
and ends, gaps (silent runs) and discontinuities inside it, and RMS levels.
xcorr_offset() finds the delay between two recordings.
"""

import struct
import subprocess
from dataclasses import asdict, dataclass, field

import numpy as np

PCM, FLOAT, EXTENSIBLE = 1, 3, 0xFFFE


@dataclass
class Wav:
    """Samples as float64, shape (frames, channels), full scale = 1.0."""
    samples: np.ndarray
    rate: int
    bits: int
    is_float: bool

    @property
    def channels(self):
        """Number of channels."""
        return self.samples.shape[1]

    @property
    def seconds(self):
        """Length in seconds."""
        return len(self.samples) / self.rate


def load_wav(path):
    """Read a RIFF/WAVE file.  A data chunk whose size field is 0 or larger
    than the file (a writer that never finalized its header) extends to the
    end of the file."""
    with open(path, "rb") as f:
        blob = f.read()
    if blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    fmt = data = None
    pos = 12
    while pos + 8 <= len(blob):
        cid, size = struct.unpack_from("<4sI", blob, pos)
        body = pos + 8
        if cid == b"data":
            if size == 0 or body + size > len(blob):
                size = len(blob) - body
            data = blob[body:body + size]
        elif cid == b"fmt ":
            fmt = blob[body:body + size]
        pos = body + size + (size & 1)
    if fmt is None or data is None:
        raise ValueError(f"{path}: missing fmt or data chunk")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]   # sub-format GUID start
    width = bits // 8
    frames = len(data) // (width * channels)
    raw = data[:frames * width * channels]
    if tag == FLOAT and bits in (32, 64):
        x = np.frombuffer(raw, dtype=f"<f{width}").astype(np.float64)
    elif tag == PCM and bits == 8:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128) / 128
    elif tag == PCM and bits in (16, 32):
        x = np.frombuffer(raw, dtype=f"<i{width}") / float(1 << (bits - 1))
    elif tag == PCM and bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)
    else:
        raise ValueError(f"{path}: unsupported WAV format tag {tag}, {bits} bits")
    return Wav(x.reshape(-1, channels), rate, bits, tag == FLOAT)


def write_wav(path, samples, rate, bits=16, is_float=False):
    """Write samples (floats in [-1, 1), shape (frames,) or (frames,
    channels)) as a PCM (8/16/24/32-bit) or IEEE-float (32/64) WAV."""
    x = np.asarray(samples, dtype=np.float64)
    x = x.reshape(len(x), -1)
    channels, width = x.shape[1], bits // 8
    if is_float:
        raw = x.astype(f"<f{width}").tobytes()
    elif bits == 8:
        raw = np.clip(np.round(x * 128 + 128), 0, 255).astype(np.uint8).tobytes()
    else:
        full = 1 << (bits - 1)
        v = np.clip(np.round(x * full), -full, full - 1).astype("<i8")
        raw = v.astype(f"<i{width}").tobytes() if bits != 24 else \
            v.reshape(-1, 1).view(np.uint8)[:, :3].tobytes()
    fmt = struct.pack("<HHIIHH", FLOAT if is_float else PCM, channels, rate,
                      rate * channels * width, channels * width, bits)
    if is_float:
        fmt += struct.pack("<H", 0)   # cbSize, required for non-PCM
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(raw))
                + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
                + b"data" + struct.pack("<I", len(raw)) + raw)


def sox_tone(path, seconds, freq, rate=48000, channels=2, bits=16,
             encoding="signed-integer", volume=0.5):
    """A sine WAV made with sox (half scale unless volume says otherwise);
    returns path."""
    subprocess.run(["sox", "-n", "-r", str(rate), "-b", str(bits), "-e",
                    encoding, "-c", str(channels), str(path), "synth",
                    str(seconds), "sine", str(freq), "vol", str(volume)],
                   check=True)
    return path


def dbfs(value):
    """Level in dB relative to full scale (1.0); -inf for 0."""
    return float(20 * np.log10(value)) if value > 0 else float("-inf")


def rms(x):
    """Root mean square of x (all channels together)."""
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def dominant_frequency(x, rate):
    """Frequency (Hz) of the strongest spectral peak of mono signal x.

    Hann window, zero-padded FFT (>= 4x), then a parabola through the log
    magnitudes of the peak bin and its neighbours (for a Hann-windowed tone
    the main lobe is close to a Gaussian, whose log is a parabola, so this
    estimate is good to a small fraction of a bin).  For a tone of a few
    seconds the bin is ~0.05 Hz after padding: far below 0.1 %."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 4:
        return 0.0
    n = 1 << int(np.ceil(np.log2(len(x) * 4)))
    spectrum = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x)), n))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-300)
    denom = a - 2 * b + c
    shift = 0.5 * (a - c) / denom if denom != 0 else 0.0
    return float((k + shift) * rate / n)


def _runs(mask):
    """(start, end) index pairs of the runs of True in a boolean array."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[0::2], edges[1::2]))


def tone_extent(x, threshold_db=-20.0):
    """(start, end) sample indices of mono x from the first to the last
    sample within threshold_db of the loudest one (end exclusive); None if
    x is silent."""
    mag = np.abs(x)
    peak = mag.max() if len(mag) else 0.0
    if peak == 0:
        return None
    above = np.flatnonzero(mag >= peak * 10 ** (threshold_db / 20))
    return int(above[0]), int(above[-1]) + 1


def silent_runs(x, rate, start, end, level, freq):
    """Runs of x[start:end] whose magnitude stays below level, as
    (first, end) sample indices.

    A sine itself dips below level = amplitude/10 only around its zero
    crossings, for 2*asin(0.1)/(2*pi*f) s (0.07 ms at 440 Hz, 1.6 ms at
    20 Hz); runs up to twice that long are those dips, longer ones are
    silence."""
    natural = 2 * np.arcsin(0.1) / (2 * np.pi * max(freq, 1.0)) * rate
    return [(start + a, start + b)
            for a, b in _runs(np.abs(x[start:end]) < level)
            if b - a > 2 * natural]


def find_discontinuities(x, rate, start, end, freq, amplitude, silences):
    """Times (s) of sample jumps that a sine of frequency freq cannot make.

    Any sine of angular step w = 2*pi*freq/rate obeys, whatever its phase
    and amplitude, x[n-1] - 2*cos(w)*x[n] + x[n+1] = 0.  The residual of
    that 3-tap predictor therefore stays at the quantization/noise floor for
    a clean tone and spikes where samples were dropped, repeated or spliced
    (a phase or level jump).  A point is reported when the residual exceeds
    both 10x its median magnitude (the noise floor) and 2 % of the tone
    amplitude.  The tone's edges and the edges of silent runs (2 ms around
    them; silences are reported as gaps) are excluded; hits within 5 ms of
    each other are merged."""
    w = 2 * np.pi * freq / rate
    seg = x[start:end]
    if len(seg) < 3:
        return []
    resid = np.abs(seg[:-2] - 2 * np.cos(w) * seg[1:-1] + seg[2:])
    limit = max(10 * float(np.median(resid)), 0.02 * amplitude)
    hits = np.flatnonzero(resid > limit) + start + 1
    margin = int(0.002 * rate)
    keep = (hits >= start + margin) & (hits < end - margin)
    for a, b in silences:
        keep &= (hits < a - margin) | (hits >= b + margin)
    merged = []
    for h in hits[keep]:
        if not merged or h - merged[-1] > 0.005 * rate:
            merged.append(int(h))
    return [round(h / rate, 6) for h in merged]


@dataclass
class Analysis:
    """Figures measured on one WAV file."""
    path: str
    rate: int
    channels: int
    bits: int
    seconds: float
    channel: int
    frequency_hz: float = 0.0
    tone_start_s: float = 0.0
    tone_end_s: float = 0.0
    tone_seconds: float = 0.0
    rms_dbfs: float = float("-inf")
    tone_rms_dbfs: float = float("-inf")
    peak_dbfs: float = float("-inf")
    gaps: list = field(default_factory=list)
    discontinuities: list = field(default_factory=list)

    def summary(self):
        """One human-readable line."""
        return (f"{self.path}: {self.frequency_hz:.2f} Hz, tone "
                f"{self.tone_seconds:.3f} s ({self.tone_start_s:.3f}-"
                f"{self.tone_end_s:.3f}) of {self.seconds:.3f} s, "
                f"{self.tone_rms_dbfs:.2f} dBFS, {len(self.gaps)} gaps, "
                f"{len(self.discontinuities)} discontinuities")


def analyze(source, min_gap_ms=5.0, threshold_db=-20.0, channel=None):
    """Measure a test tone in a WAV (a path or a Wav).

    channel: which channel to examine (default: the loudest).  The tone is
    the part within threshold_db of the loudest sample; gaps are silent runs
    (below threshold_db of the tone amplitude) at least min_gap_ms long, as
    (start_s, length_ms); shorter silences are ignored.  RMS is in dBFS
    relative to a full-scale square wave: a full-scale sine reads -3.01."""
    wav = source if isinstance(source, Wav) else load_wav(source)
    if channel is None:
        channel = int(np.argmax(np.mean(np.square(wav.samples), 0)))
    x = wav.samples[:, channel]
    res = Analysis("<wav>" if isinstance(source, Wav) else str(source),
                   wav.rate, wav.channels, wav.bits, round(wav.seconds, 6),
                   channel, rms_dbfs=round(dbfs(rms(wav.samples)), 3))
    extent = tone_extent(x, threshold_db)
    if extent is None:
        return res
    start, end = extent
    rate = wav.rate
    amplitude = float(np.percentile(np.abs(x[start:end]), 99.9))
    res.frequency_hz = round(dominant_frequency(x[start:end], rate), 4)
    res.tone_start_s = round(start / rate, 6)
    res.tone_end_s = round(end / rate, 6)
    res.tone_seconds = round((end - start) / rate, 6)
    res.tone_rms_dbfs = round(dbfs(rms(wav.samples[start:end])), 3)
    res.peak_dbfs = round(dbfs(float(np.abs(wav.samples).max())), 3)
    silences = silent_runs(x, rate, start, end,
                           amplitude * 10 ** (threshold_db / 20),
                           res.frequency_hz)
    res.gaps = [(round(a / rate, 6), round((b - a) * 1000 / rate, 3))
                for a, b in silences if (b - a) * 1000 / rate >= min_gap_ms]
    res.discontinuities = find_discontinuities(
        x, rate, start, end, res.frequency_hz, amplitude, silences)
    return res


def xcorr_offset(a, b, max_lag=None):
    """Lag in samples by which b is delayed relative to a (b[n] ~ a[n-lag];
    negative: b is early), from the peak of their FFT cross-correlation.
    a, b: mono arrays, or Wavs (channels are summed).  A pure steady tone is
    periodic, so its lag is only defined modulo the period: use signals
    with an onset or noise.  max_lag limits the search (samples)."""
    a, b = (np.asarray(v.samples.sum(1) if isinstance(v, Wav) else v,
                       dtype=np.float64) for v in (a, b))
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)
    lags = np.concatenate((np.arange(0, n // 2), np.arange(-n // 2, 0)))
    if max_lag is not None:
        corr = np.where(np.abs(lags) <= max_lag, corr, -np.inf)
    # Exact ties (a signal periodic in a whole number of samples): the
    # smallest lag wins, so the answer does not hinge on rounding noise.
    best = np.flatnonzero(corr >= corr.max() - 1e-9 * abs(corr.max()))
    return int(lags[best[np.argmin(np.abs(lags[best]))]])


def as_dict(analysis):
    """JSON-ready dict of an Analysis (-inf levels become None)."""
    d = asdict(analysis)
    return {k: (None if isinstance(v, float) and np.isinf(v) else v)
            for k, v in d.items()}
