/*
 * PipeWire audio backend: stream geometry.
 *
 * All the sizes a stream needs are fixed once its format is known, so
 * they are computed here in one place at voice init from the format, the
 * user's latency and QEMU's audio timer period, and validated before any
 * PipeWire object exists.
 *
 * How the sizes relate:
 *  - QEMU's audio layer refills the playback ring (drains the capture
 *    ring) at least once per timer period: the backend runs it when the
 *    process callback wakes it, and on a timer (qpw_run_delay_us());
 *  - PipeWire runs the process callback once per graph quantum; we ask
 *    for a quantum of a quarter of the latency through node.latency
 *    (PipeWire may pick a smaller one; never a larger one for our sake);
 *  - the high-water mark is the fill level QEMU tops the playback ring up
 *    to: the latency, but at least one timer period plus one quantum so
 *    a whole timer period can pass with a quantum still to hand out;
 *  - the capacity adds one more timer period of headroom, which is what
 *    lets a capture ring ride out one late run of QEMU's side, to the larger
 *    of the high-water mark and two of the longest graph cycles
 *    (QPW_CYCLE_MAX_US);
 *  - once the stream runs, the cycle its process callback really gets
 *    replaces the quantum asked for: the ring is topped up to at least
 *    that cycle plus what QEMU needs to refill it in time
 *    (qpw_highwater_bytes()), and a drain waits for two such cycles.
 *
 * When the voice's user says what period it moves audio in (a guest's
 * period, through audio_set_period_hint_*()), the quantum asked for is at
 * most that period, so a guest buffer of two periods down to the floor
 * still holds more than a graph cycle, but not below the min-quantum
 * floor, so that a guest with tiny periods cannot set the host's whole
 * graph to a tiny quantum; and the process callback wakes QEMU's audio
 * layer itself when the ring needs QEMU (qpw_wake_out(), qpw_wake_in())
 * rather than leaving it to the next timer tick.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_PWAUDIO_TIMING_H
#define QEMU_PWAUDIO_TIMING_H

#include <stdbool.h>
#include <stdint.h>

#include "pwaudio-format.h"

/* About 2048 frames at 44.1 kHz; the same default as QEMU's PulseAudio. */
#define QPW_LATENCY_DEFAULT_US  46440u
#define QPW_LATENCY_MIN_US      1000u           /* 1 ms */
#define QPW_LATENCY_MAX_US      10000000u       /* 10 s */

/*
 * The smallest quantum a user's period may ask for (min-quantum): 128
 * frames at 48 kHz, what 5 ms periods already got. See docs/pipewire.md
 * for the measurement behind it.
 */
#define QPW_MIN_QUANTUM_DEFAULT_US  2666u
#define QPW_MIN_QUANTUM_MAX_US      QPW_LATENCY_MAX_US

/*
 * The longest graph cycle the ring is sized for: PipeWire's default
 * quantum limit (clock.quantum-limit, 8192 frames) at 44.1 kHz. A graph
 * may run much longer cycles than we ask for (clock.force-quantum, a
 * Bluetooth sink, another client asking for more).
 */
#define QPW_CYCLE_MAX_US            185760u

#define QPW_RATE_MIN            1u
#define QPW_RATE_MAX            768000u

/* "4294967295/4294967295" plus the terminator. */
#define QPW_NODE_LATENCY_LEN    24

typedef struct QPwStreamGeometry {
    QPwFormat format;
    uint32_t channels;
    uint32_t rate;
    uint32_t latency_us;
    uint32_t timer_period_us;

    uint32_t bytes_per_sample;
    uint32_t bytes_per_frame;

    uint32_t latency_frames;        /* latency_us at rate, rounded up */
    uint32_t period_frames;         /* one QEMU timer period, rounded up */
    uint32_t base_quantum_frames;   /* the quantum without a period hint */
    uint32_t period_hint_frames;    /* the user's period; 0: none given */
    uint32_t min_quantum_frames;    /* the period hint's floor; 0: none */
    uint32_t quantum_frames;        /* what node.latency asks PipeWire for */
    uint32_t highwater_frames;
    uint32_t capacity_frames;

    uint32_t highwater_bytes;
    uint32_t capacity_bytes;        /* size of the ring's buffer */

    /* Value for PW_KEY_NODE_LATENCY: "quantum_frames/rate". */
    char node_latency[QPW_NODE_LATENCY_LEN];
} QPwStreamGeometry;

/* ceil(us * rate / 1000000), computed without overflow. */
uint64_t qpw_us_to_frames(uint64_t us, uint32_t rate);

/* ceil(frames * 1000000 / rate), the inverse of qpw_us_to_frames(). */
uint64_t qpw_frames_to_us(uint64_t frames, uint32_t rate);

/*
 * How long after a playback voice is stopped its stream may be
 * deactivated without cutting off what is still queued: the time to play
 * @fill_bytes from the ring plus two graph cycles of @cycle_bytes (the
 * last one the process callback got; 0: none yet, the quantum asked for
 * stands in) for the buffers already in PipeWire's graph.
 */
uint64_t qpw_geometry_drain_us(const QPwStreamGeometry *geo,
                               uint32_t fill_bytes, uint32_t cycle_bytes);

/*
 * Check the user's latency option. Returns false with a static,
 * human-readable *@reason (which may be NULL) when it is outside
 * QPW_LATENCY_MIN_US .. QPW_LATENCY_MAX_US.
 */
bool qpw_latency_validate(uint32_t latency_us, const char **reason);

/*
 * Fill @geo for a stream of @channels channels of @format at @rate Hz,
 * with the given latency and QEMU timer period (0 is allowed: the sizes
 * then assume QEMU's side keeps up continuously, but the backend runs it
 * at most every QPW_RUN_DELAY_MIN_US). Returns false with a static
 * *@reason (if @reason is not NULL), leaving @geo unspecified, when any
 * input is out of range or the ring would not fit in INT32_MAX bytes.
 */
bool qpw_geometry_init(QPwStreamGeometry *geo, QPwFormat format,
                       uint32_t channels, uint32_t rate,
                       uint32_t latency_us, uint32_t timer_period_us,
                       const char **reason);

/*
 * The voice's user moves audio in periods of @period_us (0: unknown, which
 * drops an earlier hint): ask for a quantum of at most that period, but
 * never less than the floor (qpw_geometry_set_min_quantum()) nor more
 * than without a hint. Updates quantum_frames and node_latency; returns
 * true if they changed.
 */
bool qpw_geometry_set_period_hint(QPwStreamGeometry *geo, uint32_t period_us);

/*
 * Check the user's min-quantum option. Returns false with a static,
 * human-readable *@reason (which may be NULL) when it is above
 * QPW_MIN_QUANTUM_MAX_US.
 */
bool qpw_min_quantum_validate(uint32_t min_quantum_us, const char **reason);

/*
 * However short the user's period, ask for no quantum below
 * @min_quantum_us (0: no floor) from now on, so that a guest cannot
 * drive the host's whole graph to a tiny quantum. It only limits what a
 * period hint does: the quantum without a hint (a quarter of the
 * latency) is kept even when it is smaller. Updates quantum_frames and
 * node_latency; returns true if they changed.
 */
bool qpw_geometry_set_min_quantum(QPwStreamGeometry *geo,
                                  uint32_t min_quantum_us);

/*
 * Playback: the ring fill a started stream waits for before taking audio,
 * for a graph cycle of @cycle_bytes when QEMU is woken (@woken) or only
 * refills on its timer: this cycle plus what arrives too late for the
 * next one (a cycle, or a timer period), and never more than the ring
 * holds.
 */
uint32_t qpw_prime_bytes(const QPwStreamGeometry *geo, uint32_t cycle_bytes,
                         bool woken);

/*
 * Playback: the fill QEMU tops the ring up to while the graph runs cycles
 * of @cycle_bytes: when woken (@woken), what the next two cycles take
 * (qpw_prime_bytes()); on the timer alone, the latency's high-water mark,
 * but at least this cycle plus a timer period. Never more than the ring
 * holds.
 */
uint32_t qpw_highwater_bytes(const QPwStreamGeometry *geo,
                             uint32_t cycle_bytes, bool woken);

/*
 * Playback on QEMU's clock (not woken): a graph that stalls takes nothing
 * while QEMU's timer goes on moving the guest's audio, and a device with
 * a buffer of its own throws that buffer away when it fills (HDA's codec:
 * its 8 KiB, 42 ms, about half of it free). So once the graph is more
 * than QPW_STALL_GRACE_US late with a cycle, the ring may fill above its
 * high-water mark by all the time since the graph last took audio from
 * it, at the nominal rate, on top of what is left of an earlier stall's
 * allowance, up to QPW_STALL_MAX_US: a cycle more than the card missed,
 * as QEMU's side runs only every 10 ms and a device's buffer must not
 * wait for the run after to be emptied. Once the graph runs again, the
 * allowance shrinks by QPW_STALL_DRAIN_PER_MILLE of real time, and the
 * device must hold the guest back by as much. HDA's codec does, a
 * millisecond at a time as its buffer fills; it kept up with 0.5% but not
 * with 2%, where its buffer overflowed 2 s into the give-back (60 ms
 * stalls, 2026-12-07), so its ring comes back to the mark without a skip,
 * in 12 s after a 60 ms stall. A device that cannot hold the guest back
 * (usb-audio) drops what does not fit in its own buffer meanwhile
 * instead; one the audio layer paces (AC97) never needed the room, and
 * has the latency of it while it lasts. The grace keeps an ordinary late
 * wake-up from counting.
 */
#define QPW_STALL_MAX_US        100000u
#define QPW_STALL_GRACE_US      2000u
#define QPW_STALL_DRAIN_PER_MILLE 5u

/*
 * How long ago, in microseconds, the graph last took audio from the ring,
 * at @now_us (g_get_monotonic_time()), from the low 32 bits of the time it
 * did (@stamp_us; 0: not since the voice last started, which reads as
 * just now). The difference of the low bits spans 35 minutes; a graph
 * silent for longer, or a stamp ahead of @now_us, reads as just now too.
 */
uint64_t qpw_stall_since_us(int64_t now_us, uint32_t stamp_us);

/*
 * Whether a graph that last took audio @since_us ago, in cycles of
 * @cycle_us, has stalled: more than QPW_STALL_GRACE_US late.
 */
bool qpw_stalled(uint64_t since_us, uint64_t cycle_us);

/*
 * How long from now QEMU's side should run to find a graph that last took
 * audio @since_us ago, in cycles of @cycle_us, stalled, if it is by then:
 * a millisecond after qpw_stalled() would say so, rather than up to a
 * timer period later, when a device's buffer may be full. UINT64_MAX when
 * there is no such run to make: no cycle yet (@since_us 0), or stalled
 * already.
 */
uint64_t qpw_stall_check_us(uint64_t since_us, uint64_t cycle_us);

/* What is left of an allowance of @peak_frames @since_peak_us after. */
uint32_t qpw_stall_left(const QPwStreamGeometry *geo, uint32_t peak_frames,
                        uint64_t since_peak_us);

/*
 * The allowance, in frames, in a stall in which the graph last took audio
 * @since_us ago, on top of @base_frames (what was left of an earlier one
 * when this stall began). At most QPW_STALL_MAX_US of frames and what the
 * ring holds above the high-water mark.
 */
uint32_t qpw_stall_frames(const QPwStreamGeometry *geo, uint32_t base_frames,
                          uint64_t since_us);

/*
 * Following a card's clock: a voice that QEMU's timer alone empties or
 * refills moves the guest's audio at the host's rate, while the card
 * plays or records it at its own, which the graph's driver publishes
 * (clock.rate_diff: its clock's speed over the monotonic clock's). The
 * stream's resampler converts between the two, so the difference does
 * not pile up in the ring or drain it.
 *
 * The resampler comes in once the card is QPW_CARD_PPM_MIN off (what a
 * driver's estimate of a clock that is the host's jitters by), and leaves
 * only when the driver says its clock is the host's exactly, so that an
 * estimate jittering around 0 does not switch it in and out (each switch
 * restarts its filter). PipeWire 0.3.65's resampler takes the ratio as a
 * whole number of input frames a second, about 21 ppm steps at 48 kHz
 * (300 ppm would be taken as 312.6, 0.75 ms a minute): so the frames the
 * stream moves are counted against those the card's clock asks of it
 * (the lag), and once the stream is QPW_CARD_LAG_MAX frames off, the
 * ratio is nudged QPW_CARD_NUDGE_PPM, a little more than one step, the
 * other way until it is back. The nudge changes the ratio rarely (about
 * once a minute at 300 ppm) rather than every cycle: a ratio that changed
 * every cycle put a discontinuity in the output each time (642 in a
 * minute at +300 ppm, 2026-12-07).
 *
 * Nothing of the ring's fill goes in: a guest that stalls leaves the
 * stream to move silence, counted like audio, so it cannot wind the
 * correction up. The card's offset and the ratio, nudge included, are
 * bounded to QPW_CARD_PPM_MAX, 0.5 %, a hundred times a crystal's error:
 * a driver that says more is wrong, or is not a clock (a freewheeling
 * graph).
 */
#define QPW_CARD_PPM_MAX        5000
#define QPW_CARD_PPM_MIN        2
#define QPW_CARD_NUDGE_PPM      25
#define QPW_CARD_LAG_MAX        24

typedef struct QPwCardFollower {
    bool following;     /* the resampler is in */
    double lag;         /* stream frames behind what the card asked */
    int nudge;          /* -1, 0, 1: QPW_CARD_NUDGE_PPM more, none, less */
} QPwCardFollower;

/*
 * The card's clock speed over the host's, from a driver's @rate_diff:
 * within QPW_CARD_PPM_MAX of 1.0, and 1.0 for what is not a speed (0,
 * negative, not a number).
 */
double qpw_card_diff(double rate_diff);

/*
 * At the start of a cycle of @cycle_frames, in the stream's frames at its
 * nominal rate, on a card whose clock runs at @diff (qpw_card_diff(); 1.0
 * for a voice that is not to follow one): the resampler's ratio for the
 * card's side over the stream's (playback: output over input; capture
 * takes the reciprocal), or 0 when the resampler is to be out.
 */
double qpw_card_follow(QPwCardFollower *f, double diff, double cycle_frames);

/* The cycle moved @frames of the stream's, audio or silence. */
void qpw_card_count(QPwCardFollower *f, uint32_t frames);

/* Start again with the resampler out and nothing counted. */
void qpw_card_stop(QPwCardFollower *f);

/*
 * Playback: the bytes to fill a graph buffer of @maxsize bytes with, in
 * whole frames of @stride bytes, no more than the @requested frames (0:
 * no request) that the stream's resampler may ask for.
 */
uint32_t qpw_cycle_bytes(uint32_t maxsize, uint64_t requested,
                         uint32_t stride);

/*
 * Playback, after a graph cycle of @cycle_bytes left @fill_bytes in the
 * ring: whether to wake QEMU now, as the next cycle or the one after it
 * would run the ring dry.
 */
bool qpw_wake_out(uint32_t fill_bytes, uint32_t cycle_bytes);

/*
 * Capture, with @fill_bytes in the ring: whether to wake QEMU now, as it
 * holds a whole period (@period_bytes, non-zero) of its user's.
 */
bool qpw_wake_in(uint32_t fill_bytes, uint32_t period_bytes);

/*
 * The shortest wait between two runs of QEMU's audio layer the backend
 * schedules (qpw_run_delay_us()): a timer period of 0 asks for runs back
 * to back, which would make a timer spin.
 */
#define QPW_RUN_DELAY_MIN_US    1000u

/*
 * How long after QEMU's audio layer last ran the voice needs it to run
 * again at the latest, when nothing else runs it: the backend's voices
 * are in poll mode (QEMU's audio timer skips them), and the process
 * callback wakes QEMU when the ring needs it.
 * - With no stream carrying its audio (@carried false: clock-paced
 *   silence) or no period hint (@period_bytes 0), which the process
 *   callback never wakes QEMU for: every timer period, as QEMU's own
 *   timer would.
 * - On a graph cycle (@cycle_bytes) longer than the period: once per
 *   period, or a user with a buffer of only a few periods, such as a
 *   guest with two 5 ms periods on a 1024-frame graph, would hand over
 *   less than a cycle per cycle, and every cycle would underrun
 *   (playback) or wait (capture).
 * - Capture (@capture) with a period longer than the cycle: every timer
 *   period, as the process callback wakes QEMU only once a whole period
 *   (at most the ring's capacity) is in, which may be too late for a
 *   user that reads in smaller steps.
 * - Otherwise the process callback wakes QEMU every cycle; a timer
 *   period after the cycle, the graph has stalled without telling, and
 *   QEMU's side must run anyway.
 * Never less than QPW_RUN_DELAY_MIN_US.
 */
uint64_t qpw_run_delay_us(const QPwStreamGeometry *geo, uint32_t period_bytes,
                          uint32_t cycle_bytes, bool carried, bool capture);

#endif /* QEMU_PWAUDIO_TIMING_H */
