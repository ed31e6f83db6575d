/*
 * PipeWire audio backend: stream geometry.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "pwaudio-timing.h"

#include <stdio.h>
#include <string.h>

#define US_PER_SECOND 1000000u

static bool fail(const char **reason, const char *why)
{
    if (reason) {
        *reason = why;
    }
    return false;
}

uint64_t qpw_us_to_frames(uint64_t us, uint32_t rate)
{
    /*
     * Split @us into whole seconds and the remainder so the product stays
     * below 2^64 for any @us: only the remainder (< 10^6) gets multiplied
     * by the rate.
     */
    uint64_t secs = us / US_PER_SECOND;
    uint64_t rem = us % US_PER_SECOND;

    return secs * rate + (rem * rate + US_PER_SECOND - 1) / US_PER_SECOND;
}

uint64_t qpw_frames_to_us(uint64_t frames, uint32_t rate)
{
    /* Same split as above: only the remainder (< rate) is multiplied. */
    uint64_t secs = frames / rate;
    uint64_t rem = frames % rate;

    return secs * US_PER_SECOND + (rem * US_PER_SECOND + rate - 1) / rate;
}

uint64_t qpw_geometry_drain_us(const QPwStreamGeometry *geo,
                               uint32_t fill_bytes, uint32_t cycle_bytes)
{
    uint64_t frames = fill_bytes / geo->bytes_per_frame;
    uint64_t cycle = cycle_bytes ? cycle_bytes / geo->bytes_per_frame
                                 : geo->quantum_frames;

    return qpw_frames_to_us(frames + 2 * cycle, geo->rate);
}

static void format_node_latency(QPwStreamGeometry *geo)
{
    snprintf(geo->node_latency, sizeof(geo->node_latency), "%u/%u",
             geo->quantum_frames, geo->rate);
}

bool qpw_latency_validate(uint32_t latency_us, const char **reason)
{
    if (latency_us < QPW_LATENCY_MIN_US) {
        return fail(reason, "latency is below the minimum of 1000 us (1 ms)");
    }
    if (latency_us > QPW_LATENCY_MAX_US) {
        return fail(reason,
                    "latency is above the maximum of 10000000 us (10 s)");
    }
    return true;
}

bool qpw_geometry_init(QPwStreamGeometry *geo, QPwFormat format,
                       uint32_t channels, uint32_t rate,
                       uint32_t latency_us, uint32_t timer_period_us,
                       const char **reason)
{
    uint64_t latency, period, quantum, highwater, capacity, bytes, cycles;
    uint32_t bps;

    if (!qpw_format_is_valid(format)) {
        return fail(reason, "unsupported sample format");
    }
    if (channels < 1 || channels > QPW_MAX_CHANNELS) {
        return fail(reason, "channel count must be between 1 and 8");
    }
    if (rate < QPW_RATE_MIN || rate > QPW_RATE_MAX) {
        return fail(reason, "sample rate must be between 1 and 768000 Hz");
    }
    if (!qpw_latency_validate(latency_us, reason)) {
        return false;
    }

    bps = (uint32_t)qpw_format_bytes_per_sample(format);
    latency = qpw_us_to_frames(latency_us, rate);
    period = qpw_us_to_frames(timer_period_us, rate);

    /*
     * A quarter of the latency keeps the graph's wakeups well inside the
     * buffered time without forcing a tiny quantum on the whole graph.
     */
    quantum = latency / 4 ? latency / 4 : 1;

    highwater = latency;
    if (highwater < period + quantum) {
        highwater = period + quantum;
    }
    cycles = 2 * qpw_us_to_frames(QPW_CYCLE_MAX_US, rate);
    capacity = (highwater > cycles ? highwater : cycles) + period;

    /* spa_ringbuffer fill levels are int32_t. */
    bytes = capacity * bps * channels;
    if (bytes > INT32_MAX) {
        return fail(reason, "latency and timer period need a buffer "
                    "larger than 2 GiB at this format and rate");
    }

    memset(geo, 0, sizeof(*geo));
    geo->format = format;
    geo->channels = channels;
    geo->rate = rate;
    geo->latency_us = latency_us;
    geo->timer_period_us = timer_period_us;
    geo->bytes_per_sample = bps;
    geo->bytes_per_frame = bps * channels;
    geo->latency_frames = (uint32_t)latency;
    geo->period_frames = (uint32_t)period;
    geo->base_quantum_frames = (uint32_t)quantum;
    geo->quantum_frames = (uint32_t)quantum;
    geo->highwater_frames = (uint32_t)highwater;
    geo->capacity_frames = (uint32_t)capacity;
    geo->highwater_bytes = (uint32_t)highwater * geo->bytes_per_frame;
    geo->capacity_bytes = (uint32_t)bytes;
    format_node_latency(geo);
    return true;
}

/* The quantum to ask for, from the base, the period hint and the floor. */
static bool update_quantum(QPwStreamGeometry *geo)
{
    uint32_t old = geo->quantum_frames;
    uint32_t q = geo->base_quantum_frames;

    if (geo->period_hint_frames && geo->period_hint_frames < q) {
        q = geo->period_hint_frames;
        if (q < geo->min_quantum_frames) {
            q = geo->min_quantum_frames < geo->base_quantum_frames ?
                geo->min_quantum_frames : geo->base_quantum_frames;
        }
    }
    geo->quantum_frames = q;
    format_node_latency(geo);
    return q != old;
}

bool qpw_geometry_set_period_hint(QPwStreamGeometry *geo, uint32_t period_us)
{
    uint64_t hint = qpw_us_to_frames(period_us, geo->rate);

    geo->period_hint_frames = hint < UINT32_MAX ? (uint32_t)hint : UINT32_MAX;
    return update_quantum(geo);
}

bool qpw_min_quantum_validate(uint32_t min_quantum_us, const char **reason)
{
    if (min_quantum_us > QPW_MIN_QUANTUM_MAX_US) {
        return fail(reason,
                    "min-quantum is above the maximum of 10000000 us (10 s)");
    }
    return true;
}

bool qpw_geometry_set_min_quantum(QPwStreamGeometry *geo,
                                  uint32_t min_quantum_us)
{
    uint64_t floor = qpw_us_to_frames(min_quantum_us, geo->rate);

    geo->min_quantum_frames = floor < UINT32_MAX ? (uint32_t)floor
                                                 : UINT32_MAX;
    return update_quantum(geo);
}

uint32_t qpw_prime_bytes(const QPwStreamGeometry *geo, uint32_t cycle_bytes,
                         bool woken)
{
    uint64_t late = woken ? cycle_bytes
                          : (uint64_t)geo->period_frames * geo->bytes_per_frame;
    uint64_t need = cycle_bytes + late;

    return need < geo->capacity_bytes ? (uint32_t)need : geo->capacity_bytes;
}

uint32_t qpw_highwater_bytes(const QPwStreamGeometry *geo,
                             uint32_t cycle_bytes, bool woken)
{
    uint32_t need = qpw_prime_bytes(geo, cycle_bytes, woken);

    if (!woken && need < geo->highwater_bytes) {
        return geo->highwater_bytes;
    }
    return need;
}

uint64_t qpw_stall_since_us(int64_t now_us, uint32_t stamp_us)
{
    int32_t ago = (int32_t)((uint32_t)now_us - stamp_us);

    return stamp_us && ago > 0 ? (uint64_t)ago : 0;
}

bool qpw_stalled(uint64_t since_us, uint64_t cycle_us)
{
    return since_us > cycle_us + QPW_STALL_GRACE_US;
}

uint64_t qpw_stall_check_us(uint64_t since_us, uint64_t cycle_us)
{
    if (!since_us || qpw_stalled(since_us, cycle_us)) {
        return UINT64_MAX;
    }
    return cycle_us + QPW_STALL_GRACE_US + 1000 - since_us;
}

uint32_t qpw_stall_left(const QPwStreamGeometry *geo, uint32_t peak_frames,
                        uint64_t since_peak_us)
{
    uint64_t drained = qpw_us_to_frames(since_peak_us, geo->rate) *
                       QPW_STALL_DRAIN_PER_MILLE / 1000;

    return peak_frames > drained ? peak_frames - (uint32_t)drained : 0;
}

uint32_t qpw_stall_frames(const QPwStreamGeometry *geo, uint32_t base_frames,
                          uint64_t since_us)
{
    uint64_t frames = base_frames + qpw_us_to_frames(since_us, geo->rate);
    uint64_t limit = qpw_us_to_frames(QPW_STALL_MAX_US, geo->rate);
    uint64_t room = geo->capacity_frames - geo->highwater_frames;

    limit = limit < room ? limit : room;
    return frames < limit ? (uint32_t)frames : (uint32_t)limit;
}

uint32_t qpw_cycle_bytes(uint32_t maxsize, uint64_t requested,
                         uint32_t stride)
{
    uint32_t len = maxsize - maxsize % stride;

    if (requested && requested < len / stride) {
        len = (uint32_t)requested * stride;
    }
    return len;
}

bool qpw_wake_out(uint32_t fill_bytes, uint32_t cycle_bytes)
{
    return fill_bytes < 2ull * cycle_bytes;
}

bool qpw_wake_in(uint32_t fill_bytes, uint32_t period_bytes)
{
    return fill_bytes >= period_bytes;
}

uint64_t qpw_run_delay_us(const QPwStreamGeometry *geo, uint32_t period_bytes,
                          uint32_t cycle_bytes, bool carried, bool capture)
{
    uint64_t period = period_bytes / geo->bytes_per_frame;
    uint64_t cycle = cycle_bytes / geo->bytes_per_frame;
    uint64_t delay = geo->timer_period_us;

    if (carried && period) {
        if (cycle > period) {
            delay = qpw_frames_to_us(period, geo->rate);
        } else if (!capture || period == cycle) {
            delay += qpw_frames_to_us(cycle, geo->rate);
        }
    }
    return delay > QPW_RUN_DELAY_MIN_US ? delay : QPW_RUN_DELAY_MIN_US;
}

/* @x within QPW_CARD_PPM_MAX of 1.0. */
static double card_bound(double x)
{
    double limit = QPW_CARD_PPM_MAX / 1e6;

    return x < 1.0 - limit ? 1.0 - limit : x > 1.0 + limit ? 1.0 + limit : x;
}

double qpw_card_diff(double rate_diff)
{
    return rate_diff > 0 ? card_bound(rate_diff) : 1.0;  /* NaN: 1.0 */
}

void qpw_card_stop(QPwCardFollower *f)
{
    f->following = false;
    f->lag = 0;
    f->nudge = 0;
}

double qpw_card_follow(QPwCardFollower *f, double diff, double cycle_frames)
{
    double off_ppm;

    diff = qpw_card_diff(diff);
    off_ppm = (diff - 1.0) * 1e6;
    if (diff == 1.0 || (!f->following && off_ppm < QPW_CARD_PPM_MIN &&
                        off_ppm > -QPW_CARD_PPM_MIN)) {
        qpw_card_stop(f);
        return 0;
    }
    f->following = true;
    if (f->lag > QPW_CARD_LAG_MAX) {
        f->nudge = 1;                   /* behind: move more */
    } else if (f->lag < -QPW_CARD_LAG_MAX) {
        f->nudge = -1;
    } else if (f->lag * f->nudge <= 0) {
        f->nudge = 0;                   /* made up */
    }
    /* What this cycle of the card's is worth in the stream's frames. */
    f->lag += cycle_frames / diff;
    return card_bound(diff * (1.0 - f->nudge * QPW_CARD_NUDGE_PPM / 1e6));
}

void qpw_card_count(QPwCardFollower *f, uint32_t frames)
{
    if (f->following) {
        f->lag -= frames;
    }
}
