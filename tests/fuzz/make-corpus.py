#!/usr/bin/python3
"""Write the seed corpus of tests/fuzz/fuzz-vsnd-req.c into tests/fuzz/corpus.

Each seed is a device description followed by messages on the control, tx
and rx queues and what happens around them, in the encoding described at
the top of fuzz-vsnd-req.c: one valid request of every code, whole
playback and capture lifecycles, requests cut into many pieces, a few the
device must refuse, and the ways a stream's messages go back: played or
recorded by an audio that takes all or half of it, after an xrun or a
capture overrun, filled with the capture lead's silence, given back by
SET_PARAMS, RELEASE or the home, or forgotten at a device reset.

    tests/fuzz/make-corpus.py [OUTPUT_DIR]

SPDX-License-Identifier: GPL-2.0-or-later
"""
import os
import struct
import sys

# virtio_snd.h
JACK_INFO, JACK_REMAP = 1, 2
PCM_INFO, PCM_SET_PARAMS, PCM_PREPARE, PCM_RELEASE, PCM_START, PCM_STOP = \
    range(0x100, 0x106)
CHMAP_INFO = 0x200
(CTL_INFO, CTL_ENUM_ITEMS, CTL_READ, CTL_WRITE, CTL_TLV_READ, CTL_TLV_WRITE,
 CTL_TLV_COMMAND) = range(0x300, 0x307)
FMT_S8, FMT_U8, FMT_S16, FMT_U16 = 3, 4, 5, 6
FMT_S32, FMT_U32, FMT_FLOAT = 17, 18, 19
RATE_8000, RATE_44100, RATE_48000, RATE_384000 = 1, 6, 7, 13
F_MSG_POLLING, F_EVT_XRUNS = 2, 4
JACK_INFO_SIZE, PCM_INFO_SIZE, CHMAP_INFO_SIZE, CTL_INFO_SIZE = 24, 32, 24, 92
CTL_VALUE_SIZE, CTL_TLV_SIZE = 512, 8
PCM_STATUS_SIZE = 8

# Fuzzer op kinds (kind % 3), and what else happens (kind / 3): the audio
# is stingy, does not run, or PREPARE fails / the held messages go back
# first; kind 252 resets the device first.
OP_CTRL, OP_TX, OP_RX = 0, 1, 2
STINGY, QUIET, OTHER = 1, 2, 4
RESET = 252


def u16(v):
    return struct.pack('<H', v)


def u32(v):
    return struct.pack('<I', v)


def config(streams, jacks, chmaps, ctls, controls):
    """The device byte: controls is 0 or 2."""
    assert 1 <= streams <= 4 and jacks < 4 and chmaps < 4
    assert controls in (0, 2)
    return bytes([(streams - 1) | jacks << 2 | chmaps << 4 |
                  int(ctls) << 6 | (controls == 2) << 7])


def caps(direction, features=0, formats=0x04, rates=1 << RATE_48000,
         ch_min=1, ch_max=2, bounded=False):
    """One stream: formats is the fuzzer's 7-bit S8 U8 S16 U16 S32 U32
    FLOAT mask (0x04 is S16 alone); bounded: its audio bounds itself, as
    the daemon's (the whole buffer as the pacer's first burst)."""
    return (bytes([direction | features << 1 | int(bounded) << 6,
                   formats]) + u16(rates) +
            bytes([ch_min | ch_max << 4]))


# Two streams (playback, capture) offering S16 and FLOAT at 44.1/48 kHz,
# two jacks, two channel maps, control elements with two controls.
DEVICE = (config(2, 2, 2, True, 2) +
          caps(0, 1 << F_EVT_XRUNS, 0x44, 1 << RATE_44100 | 1 << RATE_48000) +
          caps(1, 0, 0x44, 1 << RATE_44100 | 1 << RATE_48000))
DEVICE_NO_CTLS = config(2, 2, 2, False, 0) + DEVICE[1:]
# Four streams at the extremes: everything offered (playback, capture),
# S8 mono 8 kHz only, FLOAT 8 channels 384 kHz only.
DEVICE_WIDE = (config(4, 3, 3, True, 2) +
               caps(0, 1 << F_MSG_POLLING | 1 << F_EVT_XRUNS, 0x7f, 0xffff,
                    1, 8) +
               caps(1, 1 << F_MSG_POLLING, 0x7f, 0xffff, 1, 8) +
               caps(0, 0, 0x01, 1 << RATE_8000, 1, 1) +
               caps(0, 0, 0x40, 1 << RATE_384000, 8, 8))


def layout(cuts):
    assert len(cuts) < 16 and all(0 <= c < 256 for c in cuts)
    return bytes([len(cuts)]) + bytes(cuts)


def msg(out, in_len, out_cuts=(), in_cuts=(), out_len=None):
    return (u16(len(out) if out_len is None else out_len) +
            layout(out_cuts) + u16(in_len) + layout(in_cuts) + out)


def kind(op, mods=0):
    return bytes([op + 3 * mods])


def ctrl(out, in_len=4, out_cuts=(), in_cuts=(), mods=0):
    return kind(OP_CTRL, mods) + msg(out, in_len, out_cuts, in_cuts)


def reset(out, in_len=4):
    """A control request right after a device reset."""
    return bytes([RESET]) + msg(out, in_len)


AUTO_SIZE = 0xffff


def ctrl_auto(out, in_len=4):
    """A control request whose length the fuzzer works out itself."""
    return bytes([OP_CTRL]) + msg(out, in_len, out_len=AUTO_SIZE)


def tx(stream, data, us=10000, in_cuts=(), mods=0):
    return (kind(OP_TX, mods) + u16(us) +
            msg(u32(stream) + data, PCM_STATUS_SIZE, (), in_cuts))


def rx(stream, room, captured, mods=0, in_len=None):
    """A message with room bytes of frames, after the audio of the stream
    recorded captured bytes (and the time they take passed); in_len
    overrides the writable length (below 8: a message the core refuses)."""
    return (kind(OP_RX, mods) + u16(captured) +
            msg(u32(stream), room + PCM_STATUS_SIZE if in_len is None
                else in_len))


def wait(us, mods=0):
    """Time passes: a tx message the device refuses (stream 1 captures)."""
    return tx(1, b'', us, mods=mods)


def query(code, start, count, size):
    return u32(code) + u32(start) + u32(count) + u32(size)


def pcm(code, stream):
    return u32(code) + u32(stream)


def set_params(stream, buffer_bytes=7680, period_bytes=1920, features=0,
               channels=2, fmt=FMT_S16, rate=RATE_48000):
    return (pcm(PCM_SET_PARAMS, stream) + u32(buffer_bytes) +
            u32(period_bytes) + u32(features) +
            bytes([channels, fmt, rate, 0]))


def ctl(code, control):
    return u32(code) + u32(control)


def tlv(code, control, tlv_type, value):
    return ctl(code, control) + u32(tlv_type) + u32(len(value)) + value


def seeds():
    s = {}
    # One valid request of every code.
    s['jack-info'] = ctrl(query(JACK_INFO, 0, 2, JACK_INFO_SIZE),
                          4 + 2 * JACK_INFO_SIZE)
    s['jack-remap'] = ctrl(u32(JACK_REMAP) + u32(1) + u32(0) + u32(0))
    s['pcm-info'] = ctrl(query(PCM_INFO, 0, 2, PCM_INFO_SIZE),
                         4 + 2 * PCM_INFO_SIZE)
    s['pcm-info-longer-size'] = ctrl(query(PCM_INFO, 1, 1, 40), 4 + 40)
    s['pcm-set-params'] = ctrl(set_params(0))
    s['pcm-prepare'] = ctrl(set_params(0)) + ctrl(pcm(PCM_PREPARE, 0))
    s['pcm-release'] = (ctrl(set_params(0)) + ctrl(pcm(PCM_PREPARE, 0)) +
                        ctrl(pcm(PCM_RELEASE, 0)))
    s['pcm-start'] = (ctrl(set_params(0)) + ctrl(pcm(PCM_PREPARE, 0)) +
                      ctrl(pcm(PCM_START, 0)))
    s['pcm-stop'] = s['pcm-start'] + ctrl(pcm(PCM_STOP, 0))
    s['chmap-info'] = ctrl(query(CHMAP_INFO, 0, 2, CHMAP_INFO_SIZE),
                           4 + 2 * CHMAP_INFO_SIZE)
    s['ctl-info'] = ctrl(query(CTL_INFO, 0, 2, CTL_INFO_SIZE),
                         4 + 2 * CTL_INFO_SIZE)
    s['ctl-enum-items'] = ctrl(ctl(CTL_ENUM_ITEMS, 0), 4 + 64)
    s['ctl-read'] = ctrl(ctl(CTL_READ, 1), 4 + CTL_VALUE_SIZE)
    # out of range for the switch: refused
    s['ctl-write'] = ctrl(ctl(CTL_WRITE, 1) + bytes(range(256)) * 2)
    s['ctl-tlv-read'] = ctrl(ctl(CTL_TLV_READ, 0), 4 + CTL_TLV_SIZE + 16)
    s['ctl-tlv-write'] = ctrl(tlv(CTL_TLV_WRITE, 0, 1, u32(0) + u32(100)))
    s['ctl-tlv-command'] = ctrl(tlv(CTL_TLV_COMMAND, 1, 2, u32(7)))
    for name in list(s):
        s[name] = DEVICE + s[name]
    s['ctl-not-negotiated'] = DEVICE_NO_CTLS + ctrl(ctl(CTL_READ, 0),
                                                    4 + CTL_VALUE_SIZE)

    # Whole lifecycles: playback on stream 0, capture on stream 1.
    frames = bytes(i & 0xff for i in range(480))
    s['playback'] = DEVICE + (
        ctrl(set_params(0)) + ctrl(pcm(PCM_PREPARE, 0)) +
        tx(0, frames, 0) + ctrl(pcm(PCM_START, 0)) +
        tx(0, frames) + tx(0, frames, 5000) + tx(0, frames, 20000) +
        ctrl(pcm(PCM_STOP, 0)) + tx(0, frames[:4], 1000) +
        ctrl(pcm(PCM_START, 0)) + tx(0, frames) +
        ctrl(pcm(PCM_STOP, 0)) + ctrl(pcm(PCM_RELEASE, 0)) +
        ctrl(pcm(PCM_PREPARE, 0)))
    s['capture'] = DEVICE + (
        ctrl(set_params(1, 3840, 960, 0, 1)) + ctrl(pcm(PCM_PREPARE, 1)) +
        ctrl(pcm(PCM_START, 1)) + rx(1, 960, 960) + rx(1, 960, 500) +
        ctrl(pcm(PCM_STOP, 1)) + ctrl(pcm(PCM_RELEASE, 1)))

    # Every format this device converts, and the pacer at its extremes:
    # a 2-byte buffer of S8 mono and the largest buffer at the highest rate,
    # with a clock that jumps by seconds and goes back.
    wide = b''
    for fmt, size in ((FMT_S8, 1), (FMT_U8, 1), (FMT_S16, 2), (FMT_U16, 2),
                      (FMT_S32, 4), (FMT_U32, 4), (FMT_FLOAT, 4)):
        frame = 3 * size
        wide += (ctrl(set_params(0, 8 * 64 * frame, 64 * frame,
                                 1 << F_EVT_XRUNS, 3, fmt, RATE_44100)) +
                 ctrl(pcm(PCM_PREPARE, 0)) + ctrl(pcm(PCM_START, 0)) +
                 tx(0, frames[:2 * frame], 1000) + ctrl(pcm(PCM_STOP, 0)) +
                 ctrl(pcm(PCM_RELEASE, 0)))
    s['formats'] = DEVICE_WIDE + wide
    s['pacer-extremes'] = DEVICE_WIDE + (
        ctrl(set_params(2, 2, 1, 0, 1, FMT_S8, RATE_8000)) +
        ctrl(pcm(PCM_PREPARE, 2)) + ctrl(pcm(PCM_START, 2)) +
        tx(2, frames[:5], 0) + tx(2, frames[:5], 100) +
        tx(2, frames[:5], 0x8000 | 2000) + tx(2, frames[:5], 0xffff) +
        ctrl(set_params(3, 4 << 20, 32768, 0, 8, FMT_FLOAT, RATE_384000)) +
        ctrl(pcm(PCM_PREPARE, 3)) + ctrl(pcm(PCM_START, 3)) +
        tx(3, frames[:64], 0x8000 | 3000) + tx(3, frames[:64], 1) +
        tx(3, frames[:64], 0xffff) + tx(3, frames[:64], 0x7fff) +
        ctrl(pcm(PCM_STOP, 3)) + ctrl(pcm(PCM_START, 3)) +
        tx(3, frames[:64], 0x8000 | 1000) +
        ctrl(query(PCM_INFO, 0, 4, PCM_INFO_SIZE), 4 + 4 * PCM_INFO_SIZE) +
        ctrl(query(JACK_INFO, 0, 3, JACK_INFO_SIZE + 8),
             4 + 3 * (JACK_INFO_SIZE + 8)))

    # Requests the fuzzer sizes itself (length 0xffff).
    s['auto-size'] = DEVICE + (
        ctrl_auto(tlv(CTL_TLV_WRITE, 1, 3, u32(1) * 3)) +
        ctrl_auto(set_params(1)) + ctrl_auto(pcm(PCM_PREPARE, 1)) +
        ctrl_auto(query(CHMAP_INFO, 1, 1, CHMAP_INFO_SIZE), 64) +
        ctrl_auto(ctl(CTL_WRITE, 0) + bytes(CTL_VALUE_SIZE)) +
        ctrl_auto(ctl(CTL_TLV_READ, 1), 100))

    # Requests in 1-byte pieces with empty ones between them.
    pieces = [1, 0] * 7 + [1]
    s['split-set-params'] = DEVICE + (
        ctrl(set_params(0), 4, pieces, [0, 1, 0, 2]) +
        ctrl(pcm(PCM_PREPARE, 0), 4, [0, 3, 0, 5]) +
        ctrl(query(PCM_INFO, 0, 2, PCM_INFO_SIZE), 4 + 2 * PCM_INFO_SIZE,
             [3, 0, 1, 12], [2, 0, 2, 33, 0, 1]) +
        tx(0, frames[:64], 100, [3, 0, 5]))

    # What the device must refuse.
    s['refused'] = DEVICE + (
        ctrl(u32(PCM_PREPARE)[:3]) +                     # short header
        ctrl(pcm(PCM_START, 0)) +                        # no parameters
        ctrl(set_params(0, 7688, 1922)) +                # period not frames
        ctrl(set_params(3)) +                            # no such stream
        ctrl(query(JACK_INFO, 1, 2, JACK_INFO_SIZE), 100) +  # past the end
        ctrl(query(PCM_INFO, 0, 1, PCM_INFO_SIZE), 35) +  # reply too short
        ctrl(u32(0x9999)) +                              # unknown code
        tx(1, frames[:8]) +                              # capture stream
        rx(0, 16, 4) +                                   # playback stream
        ctrl(pcm(PCM_PREPARE, 0), 2) +                   # no room at all
        ctrl_auto(ctl(CTL_WRITE, 4) + bytes(CTL_VALUE_SIZE)) +  # no control
        ctrl_auto(query(PCM_INFO, 2, 0, PCM_INFO_SIZE)))  # empty, at the end

    # The controls: the volume and switch of each stream (two per stream).
    s['ctl-volume'] = DEVICE + (
        ctrl(ctl(CTL_WRITE, 0) + u32(60) + u32(100) + bytes(504)) +
        ctrl(ctl(CTL_WRITE, 0) + u32(60) + u32(100) + bytes(504)) +
        ctrl(ctl(CTL_WRITE, 3) + u32(0) + u32(7) + bytes(504)) +
        ctrl(ctl(CTL_WRITE, 2) + u32(121) + u32(0) + bytes(504)) +
        ctrl(ctl(CTL_READ, 0), 4 + CTL_VALUE_SIZE) +
        ctrl(ctl(CTL_READ, 3), 4 + CTL_VALUE_SIZE) +
        ctrl(ctl(CTL_TLV_READ, 0), 4 + 10) +
        ctrl(ctl(CTL_TLV_READ, 1), 4 + 16) +
        ctrl(query(CTL_INFO, 0, 4, CTL_INFO_SIZE + 4),
             4 + 4 * (CTL_INFO_SIZE + 4)) +
        ctrl(ctl(CTL_ENUM_ITEMS, 2), 4 + 64))

    # Playback: an audio that takes half of what it offers, then one that
    # does not run for a while; then no message for longer than a period
    # (an xrun, told as EVT_XRUNS asks), and the stream going on.
    s['playback-xrun'] = DEVICE + (
        ctrl(set_params(0, 7680, 1920, 1 << F_EVT_XRUNS)) +
        ctrl(pcm(PCM_PREPARE, 0)) + ctrl(pcm(PCM_START, 0)) +
        tx(0, frames, 2000, mods=STINGY) + tx(0, frames, 2000, mods=STINGY) +
        tx(0, frames, 1000, mods=QUIET) + tx(0, frames, 1000, mods=QUIET) +
        tx(0, frames, 5000) + wait(9000) + wait(20000) + wait(20000) +
        tx(0, frames, 1000) + wait(15000) + ctrl(pcm(PCM_STOP, 0)) +
        ctrl(pcm(PCM_RELEASE, 0)))

    # Capture: messages filled at once and given back 9/10 of a period
    # apart (the rest wait for their wake); the lead's silence while the
    # audio says nothing (a stingy audio does not say what it holds), until
    # it delivers; an overrun that drops what the audio holds.
    s['capture-spaced'] = DEVICE + (
        ctrl(set_params(1, 3840, 960, 0, 1)) + ctrl(pcm(PCM_PREPARE, 1)) +
        rx(1, 960, 0) + rx(1, 960, 0) + rx(1, 960, 0) +
        ctrl(pcm(PCM_START, 1)) + rx(1, 960, 2880) + rx(1, 480, 0) +
        wait(5000) + wait(5000) + rx(1, 960, 960) + wait(20000) +
        ctrl(pcm(PCM_STOP, 1)) + ctrl(pcm(PCM_RELEASE, 1)))
    s['capture-lead'] = DEVICE + (
        ctrl(set_params(1, 3840, 960, 0, 1, FMT_FLOAT)) +
        ctrl(pcm(PCM_PREPARE, 1)) + ctrl(pcm(PCM_START, 1)) +
        rx(1, 960, 0, STINGY) + rx(1, 960, 0, STINGY) +
        wait(3000, STINGY) + wait(4000, STINGY) + wait(10000, STINGY) +
        rx(1, 960, 1000, STINGY) + wait(10000, STINGY) +
        ctrl(pcm(PCM_STOP, 1)) + ctrl(pcm(PCM_START, 1)) +
        rx(1, 960, 0, STINGY) + wait(20000, STINGY) +
        ctrl(pcm(PCM_STOP, 1)) + ctrl(pcm(PCM_RELEASE, 1)))
    s['capture-overrun'] = DEVICE + (
        ctrl(set_params(1, 3840, 960, 0, 1)) + ctrl(pcm(PCM_PREPARE, 1)) +
        ctrl(pcm(PCM_START, 1)) + rx(1, 0, 1920, in_len=0) +
        rx(1, 0, 961, in_len=0) + rx(1, 0, 500, in_len=0) +
        rx(1, 960, 960) + rx(1, 960, 960) + ctrl(pcm(PCM_STOP, 1)) +
        ctrl(pcm(PCM_RELEASE, 1)))

    # What goes back besides played and recorded messages: those held
    # when the parameters change, those the home gives back (as the
    # daemon before the guest's memory changes), those forgotten at a
    # reset; and a PREPARE whose audio does not open.
    s['given-back'] = DEVICE + (
        ctrl(set_params(0)) + ctrl(pcm(PCM_PREPARE, 0)) +
        ctrl(pcm(PCM_PREPARE, 1)) +
        tx(0, frames) + tx(0, frames[:100]) +
        ctrl(set_params(0, 3840, 960)) + ctrl(pcm(PCM_PREPARE, 0)) +
        tx(0, frames) + tx(0, frames, mods=OTHER) +
        rx(1, 960, 0) + rx(1, 100, 0, OTHER) +
        ctrl(pcm(PCM_START, 0)) + ctrl(pcm(PCM_START, 1)) +
        tx(0, frames, 1000, mods=QUIET) + rx(1, 960, 200, QUIET) +
        reset(pcm(PCM_START, 0)) + ctrl(pcm(PCM_PREPARE, 0), mods=OTHER) +
        ctrl(pcm(PCM_PREPARE, 0)) + tx(0, frames) +
        ctrl(pcm(PCM_RELEASE, 0)))

    # The daemon's streams: the whole buffer at START, then the rate.
    daemon = (config(2, 2, 2, True, 2) +
              caps(0, 1 << F_EVT_XRUNS, 0x44, 1 << RATE_48000,
                   bounded=True) +
              caps(1, 0, 0x44, 1 << RATE_48000, bounded=True))
    s['daemon-burst'] = daemon + (
        ctrl(set_params(0, 1920, 480)) + ctrl(pcm(PCM_PREPARE, 0)) +
        tx(0, frames) * 4 + ctrl(pcm(PCM_START, 0)) +
        tx(0, frames, 1000) + tx(0, frames, 5000) +
        ctrl(pcm(PCM_STOP, 0)) + ctrl(pcm(PCM_RELEASE, 0)))
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), 'corpus')
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(seeds().items()):
        assert len(data) <= 4096, name      # scripts/fuzz's -max_len
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
    print(f'make-corpus: {len(seeds())} seeds in {out}')


if __name__ == '__main__':
    main()
