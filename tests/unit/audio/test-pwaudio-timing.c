/*
 * Unit tests of audio/pwaudio-timing: stream geometry, latency
 * validation, stalls, wake-ups and following a card's clock.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>
#include <math.h>
#include <string.h>

#include "audio/pwaudio-timing.h"

static void test_us_to_frames(void)
{
    static const struct {
        uint64_t us;
        uint32_t rate;
        uint64_t frames;
    } cases[] = {
        { 0, 48000, 0 },
        { 1, 48000, 1 },            /* 0.048 rounds up */
        { 10000, 48000, 480 },      /* exact */
        { 10000, 44100, 441 },
        { 10000, 11025, 111 },      /* 110.25 */
        { 46440, 44100, 2049 },     /* 2048.004 */
        { 46440, 48000, 2230 },     /* 2229.12 */
        { 1000000, 48000, 48000 },
        { 1000001, 48000, 48001 },
        { 20833, 48000, 1000 },     /* 999.984 */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_cmpuint(qpw_us_to_frames(cases[i].us, cases[i].rate), ==,
                         cases[i].frames);
    }
}

static void test_us_to_frames_no_overflow(void)
{
    /* Compare with 128-bit arithmetic where a naive us * rate overflows. */
    static const uint64_t us[] = {
        UINT64_MAX / 768000 + 12345, UINT64_MAX / 1000000 - 7,
        UINT64_MAX / 2000000,
    };

    for (size_t i = 0; i < G_N_ELEMENTS(us); i++) {
        unsigned __int128 want = ((unsigned __int128)us[i] * 768000 +
                                  999999) / 1000000;

        g_assert_true(qpw_us_to_frames(us[i], 768000) == (uint64_t)want);
    }
}

static void test_frames_to_us(void)
{
    g_assert_cmpuint(qpw_frames_to_us(0, 48000), ==, 0);
    g_assert_cmpuint(qpw_frames_to_us(480, 48000), ==, 10000);
    g_assert_cmpuint(qpw_frames_to_us(1, 48000), ==, 21);       /* 20.83 */
    g_assert_cmpuint(qpw_frames_to_us(2049, 44100), ==, 46463); /* 46462.6 */
    g_assert_cmpuint(qpw_frames_to_us(48001, 48000), ==, 1000021);
    /* Where frames * 1000000 would overflow 64 bits. */
    for (uint64_t f = UINT64_MAX / 1000000 + 1; f < UINT64_MAX / 1000;
         f = f * 3 + 1) {
        unsigned __int128 want = ((unsigned __int128)f * 1000000 + 47999) /
                                 48000;

        g_assert_true(qpw_frames_to_us(f, 48000) == (uint64_t)want);
    }
    /* Round trip: frames -> us -> frames never loses a frame. */
    for (uint64_t f = 0; f < 5000; f += 7) {
        g_assert_cmpuint(qpw_us_to_frames(qpw_frames_to_us(f, 44100), 44100),
                         >=, f);
    }
}

static void test_drain_us(void)
{
    QPwStreamGeometry g;

    /* S16 stereo at 48 kHz: quantum 557 frames. */
    g_assert_true(qpw_geometry_init(&g, QPW_FORMAT_S16, 2, 48000, 46440,
                                    10000, NULL));
    /* No cycle seen yet, empty ring: two quanta = 1114 frames. */
    g_assert_cmpuint(qpw_geometry_drain_us(&g, 0, 0), ==, 23209);
    /* 480 frames queued on top: +10 ms. */
    g_assert_cmpuint(qpw_geometry_drain_us(&g, 480 * 4, 0), ==, 33209);
    /* A partial frame does not count. */
    g_assert_cmpuint(qpw_geometry_drain_us(&g, 480 * 4 + 3, 0), ==, 33209);
    g_assert_cmpuint(qpw_geometry_drain_us(&g, g.capacity_bytes, 0), ==,
                     qpw_frames_to_us(g.capacity_frames +
                                      2 * g.quantum_frames, 48000));
    /*
     * The graph runs 2048-frame cycles (forced): two of those, not of
     * the quantum asked for, are still in the graph.
     */
    g_assert_cmpuint(qpw_geometry_drain_us(&g, 0, 2048 * 4), ==, 85334);
    /* ... and 128-frame cycles: two of 128. */
    g_assert_cmpuint(qpw_geometry_drain_us(&g, 480 * 4, 128 * 4), ==,
                     15334);
}

static void test_latency_validate(void)
{
    const char *reason = NULL;

    g_assert_true(qpw_latency_validate(QPW_LATENCY_MIN_US, &reason));
    g_assert_true(qpw_latency_validate(QPW_LATENCY_DEFAULT_US, &reason));
    g_assert_true(qpw_latency_validate(QPW_LATENCY_MAX_US, &reason));
    g_assert_null(reason);

    g_assert_false(qpw_latency_validate(999, &reason));
    g_assert_nonnull(strstr(reason, "minimum"));
    reason = NULL;
    g_assert_false(qpw_latency_validate(0, &reason));
    g_assert_nonnull(reason);
    reason = NULL;
    g_assert_false(qpw_latency_validate(10000001, &reason));
    g_assert_nonnull(strstr(reason, "maximum"));
    g_assert_false(qpw_latency_validate(UINT32_MAX, NULL));
}

typedef struct GeoCase {
    QPwFormat fmt;
    uint32_t channels, rate, latency_us, period_us;
    uint32_t bpf, latency, period, quantum, highwater, capacity;
    const char *node_latency;
} GeoCase;

static void test_geometry(void)
{
    static const GeoCase cases[] = {
        /* QEMU's defaults: 46.44 ms latency, 10 ms timer. */
        { QPW_FORMAT_S16, 2, 48000, 46440, 10000,
          4, 2230, 480, 557, 2230, 18314, "557/48000" },
        { QPW_FORMAT_S16, 2, 44100, 46440, 10000,
          4, 2049, 441, 512, 2049, 16827, "512/44100" },
        /* Latency below a timer period: raised to period + quantum. */
        { QPW_FORMAT_F32, 1, 48000, 1000, 10000,
          4, 48, 480, 12, 492, 18314, "12/48000" },
        /* Fractional frames everywhere round up. */
        { QPW_FORMAT_U8, 1, 11025, 1000, 10000,
          1, 12, 111, 3, 114, 4209, "3/11025" },
        /* 5.1 of 32-bit samples. */
        { QPW_FORMAT_S32, 6, 48000, 100000, 10000,
          24, 4800, 480, 1200, 4800, 18314, "1200/48000" },
        /* Timer period 0: QEMU polls back to back. */
        { QPW_FORMAT_U16, 2, 48000, 46440, 0,
          4, 2230, 0, 557, 2230, 17834, "557/48000" },
        /* Tiny rate: the quantum never drops to 0. */
        { QPW_FORMAT_S8, 1, 1, 1000, 10000,
          1, 1, 1, 1, 2, 3, "1/1" },
        /* Largest accepted stream: 10 s of 7.1 f32 at 768 kHz. */
        { QPW_FORMAT_F32, 8, 768000, 10000000, 10000,
          32, 7680000, 7680, 1920000, 7680000, 7687680, "1920000/768000" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const GeoCase *c = &cases[i];
        const char *reason = NULL;
        QPwStreamGeometry g;

        g_assert_true(qpw_geometry_init(&g, c->fmt, c->channels, c->rate,
                                        c->latency_us, c->period_us,
                                        &reason));
        g_assert_null(reason);
        g_assert_cmpint(g.format, ==, c->fmt);
        g_assert_cmpuint(g.channels, ==, c->channels);
        g_assert_cmpuint(g.rate, ==, c->rate);
        g_assert_cmpuint(g.latency_us, ==, c->latency_us);
        g_assert_cmpuint(g.timer_period_us, ==, c->period_us);
        g_assert_cmpuint(g.bytes_per_sample * c->channels, ==, c->bpf);
        g_assert_cmpuint(g.bytes_per_frame, ==, c->bpf);
        g_assert_cmpuint(g.latency_frames, ==, c->latency);
        g_assert_cmpuint(g.period_frames, ==, c->period);
        g_assert_cmpuint(g.quantum_frames, ==, c->quantum);
        g_assert_cmpuint(g.highwater_frames, ==, c->highwater);
        g_assert_cmpuint(g.capacity_frames, ==, c->capacity);
        g_assert_cmpuint(g.highwater_bytes, ==, c->highwater * c->bpf);
        g_assert_cmpuint(g.capacity_bytes, ==, c->capacity * c->bpf);
        g_assert_cmpstr(g.node_latency, ==, c->node_latency);

        /* The invariants the backend relies on. */
        g_assert_cmpuint(g.highwater_frames, >=, g.latency_frames);
        g_assert_cmpuint(g.highwater_frames, >=,
                         g.period_frames + g.quantum_frames);
        g_assert_cmpuint(g.capacity_frames, >=, g.highwater_frames);
        /* Two of the longest cycles fit, plus a timer period. */
        g_assert_cmpuint(g.capacity_frames, >=,
                         2 * qpw_us_to_frames(QPW_CYCLE_MAX_US, c->rate) +
                         g.period_frames);
        g_assert_cmpuint(g.quantum_frames, >=, 1);
        g_assert_cmpuint(g.capacity_bytes, <=, INT32_MAX);
    }
}

static void test_geometry_rejects(void)
{
    static const struct {
        QPwFormat fmt;
        uint32_t channels, rate, latency_us, period_us;
        const char *needle;
    } cases[] = {
        { QPW_FORMAT__MAX, 2, 48000, 46440, 10000, "format" },
        { QPW_FORMAT_S16, 0, 48000, 46440, 10000, "channel" },
        { QPW_FORMAT_S16, 9, 48000, 46440, 10000, "channel" },
        { QPW_FORMAT_S16, 2, 0, 46440, 10000, "rate" },
        { QPW_FORMAT_S16, 2, 768001, 46440, 10000, "rate" },
        { QPW_FORMAT_S16, 2, 48000, 999, 10000, "latency" },
        { QPW_FORMAT_S16, 2, 48000, 10000001, 10000, "latency" },
        /* 100 s timer period of 7.1 f32 at 768 kHz: over 2 GiB. */
        { QPW_FORMAT_F32, 8, 768000, 10000000, 100000000, "2 GiB" },
        /* 2.5 GB: fits a uint32_t but not spa_ringbuffer's int32_t. */
        { QPW_FORMAT_F32, 8, 768000, 10000000, 50000000, "2 GiB" },
        { QPW_FORMAT_S16, 2, 768000, 46440, UINT32_MAX, "2 GiB" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *reason = NULL;
        QPwStreamGeometry g;

        g_assert_false(qpw_geometry_init(&g, cases[i].fmt, cases[i].channels,
                                         cases[i].rate, cases[i].latency_us,
                                         cases[i].period_us, &reason));
        g_assert_nonnull(reason);
        if (!strstr(reason, cases[i].needle)) {
            g_error("case %zu: reason \"%s\" does not mention \"%s\"",
                    i, reason, cases[i].needle);
        }
        /* A NULL reason pointer is allowed. */
        g_assert_false(qpw_geometry_init(&g, cases[i].fmt, cases[i].channels,
                                         cases[i].rate, cases[i].latency_us,
                                         cases[i].period_us, NULL));
    }
}

/* 48 kHz S16 stereo, default latency (quantum 557), 10 ms timer. */
static QPwStreamGeometry default_geometry(void)
{
    QPwStreamGeometry g;

    g_assert_true(qpw_geometry_init(&g, QPW_FORMAT_S16, 2, 48000, 46440,
                                    10000, NULL));
    g_assert_cmpuint(g.quantum_frames, ==, 557);
    return g;
}

static void test_period_hint(void)
{
    QPwStreamGeometry g = default_geometry();
    uint32_t highwater = g.highwater_bytes, capacity = g.capacity_bytes;

    /* A 5 ms guest period: the quantum asked for follows it. */
    g_assert_true(qpw_geometry_set_period_hint(&g, 5000));
    g_assert_cmpuint(g.period_hint_frames, ==, 240);
    g_assert_cmpuint(g.quantum_frames, ==, 240);
    g_assert_cmpstr(g.node_latency, ==, "240/48000");

    /* The same again changes nothing. */
    g_assert_false(qpw_geometry_set_period_hint(&g, 5000));

    /* A period longer than the latency allows: the latency's quarter. */
    g_assert_true(qpw_geometry_set_period_hint(&g, 20000));
    g_assert_cmpuint(g.period_hint_frames, ==, 960);
    g_assert_cmpuint(g.quantum_frames, ==, 557);
    g_assert_cmpstr(g.node_latency, ==, "557/48000");

    /* A period rounds up to whole frames; 0 drops the hint. */
    g_assert_true(qpw_geometry_set_period_hint(&g, 1));
    g_assert_cmpuint(g.quantum_frames, ==, 1);
    g_assert_cmpstr(g.node_latency, ==, "1/48000");
    g_assert_true(qpw_geometry_set_period_hint(&g, 0));
    g_assert_cmpuint(g.period_hint_frames, ==, 0);
    g_assert_cmpuint(g.quantum_frames, ==, 557);
    g_assert_cmpstr(g.node_latency, ==, "557/48000");

    /* A huge hint neither overflows nor touches the ring's sizes. */
    g_assert_false(qpw_geometry_set_period_hint(&g, UINT32_MAX));
    g_assert_cmpuint(g.period_hint_frames, ==, 206158431);
    g_assert_cmpuint(g.highwater_bytes, ==, highwater);
    g_assert_cmpuint(g.capacity_bytes, ==, capacity);
}

static void test_min_quantum(void)
{
    QPwStreamGeometry g = default_geometry();
    QPwStreamGeometry g44;

    /* The default floor: 128 frames at 48 kHz. */
    g_assert_false(qpw_geometry_set_min_quantum(&g,
                                                 QPW_MIN_QUANTUM_DEFAULT_US));
    g_assert_cmpuint(g.min_quantum_frames, ==, 128);
    g_assert_cmpuint(g.quantum_frames, ==, 557);

    /* 64-frame guest periods: the floor, not the period. */
    g_assert_true(qpw_geometry_set_period_hint(&g, 1333));
    g_assert_cmpuint(g.period_hint_frames, ==, 64);
    g_assert_cmpuint(g.quantum_frames, ==, 128);
    g_assert_cmpstr(g.node_latency, ==, "128/48000");
    g_assert_false(qpw_geometry_set_period_hint(&g, 1));
    g_assert_cmpuint(g.quantum_frames, ==, 128);
    /* 5 ms periods are above it: 240 frames, as without a floor. */
    g_assert_true(qpw_geometry_set_period_hint(&g, 5000));
    g_assert_cmpstr(g.node_latency, ==, "240/48000");

    /* A period above the floor is followed as before. */
    g_assert_true(qpw_geometry_set_period_hint(&g, 7000));
    g_assert_cmpuint(g.quantum_frames, ==, 336);
    g_assert_cmpstr(g.node_latency, ==, "336/48000");

    /* Lowering the floor lets the current period through at once. */
    g_assert_false(qpw_geometry_set_min_quantum(&g, 0));
    g_assert_true(qpw_geometry_set_period_hint(&g, 1333));
    g_assert_cmpuint(g.quantum_frames, ==, 64);
    g_assert_true(qpw_geometry_set_min_quantum(&g, 2000));
    g_assert_cmpuint(g.quantum_frames, ==, 96);

    /* A floor above the latency's quarter stops at that quarter. */
    g_assert_true(qpw_geometry_set_min_quantum(&g, 50000));
    g_assert_cmpuint(g.quantum_frames, ==, 557);
    /* Without a hint the floor changes nothing. */
    g_assert_false(qpw_geometry_set_period_hint(&g, 0));
    g_assert_cmpuint(g.quantum_frames, ==, 557);

    /* In time, not frames: 117.6 frames at 44.1 kHz round up. */
    g_assert_true(qpw_geometry_init(&g44, QPW_FORMAT_S16, 2, 44100, 46440,
                                    10000, NULL));
    qpw_geometry_set_min_quantum(&g44, QPW_MIN_QUANTUM_DEFAULT_US);
    qpw_geometry_set_period_hint(&g44, 1000);
    g_assert_cmpstr(g44.node_latency, ==, "118/44100");

    /* The option's range. */
    g_assert_true(qpw_min_quantum_validate(0, NULL));
    g_assert_true(qpw_min_quantum_validate(QPW_MIN_QUANTUM_MAX_US, NULL));
    g_assert_false(qpw_min_quantum_validate(QPW_MIN_QUANTUM_MAX_US + 1,
                                            NULL));
}

static void test_prime_bytes(void)
{
    QPwStreamGeometry g = default_geometry();

    /* Woken: this cycle and the next. */
    g_assert_cmpuint(qpw_prime_bytes(&g, 512, true), ==, 1024);
    /* On the timer only: this cycle and a 10 ms timer period. */
    g_assert_cmpuint(qpw_prime_bytes(&g, 512, false), ==, 512 + 1920);
    /* Cycles longer than the latency allows: two of them still. */
    g_assert_cmpuint(qpw_prime_bytes(&g, 2048 * 4, true), ==, 4096 * 4);
    /* Never above what the ring holds. */
    g_assert_cmpuint(qpw_prime_bytes(&g, g.capacity_bytes, true), ==,
                     g.capacity_bytes);
    g_assert_cmpuint(qpw_prime_bytes(&g, UINT32_MAX, false), ==,
                     g.capacity_bytes);
}

static void test_highwater_bytes(void)
{
    QPwStreamGeometry g = default_geometry();

    /* Timer only, short cycles: the latency's mark (2230 frames). */
    g_assert_cmpuint(qpw_highwater_bytes(&g, 557 * 4, false), ==,
                     g.highwater_bytes);
    g_assert_cmpuint(qpw_highwater_bytes(&g, 0, false), ==,
                     g.highwater_bytes);
    /* A forced 2048-frame cycle: that cycle plus a timer period. */
    g_assert_cmpuint(qpw_highwater_bytes(&g, 2048 * 4, false), ==,
                     (2048 + 480) * 4);
    /* Woken: two cycles, whether below or above the latency's mark. */
    g_assert_cmpuint(qpw_highwater_bytes(&g, 128 * 4, true), ==, 256 * 4);
    g_assert_cmpuint(qpw_highwater_bytes(&g, 2048 * 4, true), ==, 4096 * 4);
    /* The longest cycle the ring is sized for still fits twice. */
    g_assert_cmpuint(qpw_highwater_bytes(&g, 8917 * 4, true), ==,
                     2 * 8917 * 4);
    g_assert_cmpuint(qpw_highwater_bytes(&g, UINT32_MAX, true), ==,
                     g.capacity_bytes);
}

static void test_stall_since(void)
{
    int64_t now = 7000000000LL;     /* past the low 32 bits' wrap */
    uint32_t low = (uint32_t)now;

    g_assert_cmpuint(qpw_stall_since_us(now, 0), ==, 0);
    g_assert_cmpuint(qpw_stall_since_us(now, low - 25000), ==, 25000);
    /* A stamp from just before the low bits wrapped. */
    g_assert_cmpuint(qpw_stall_since_us(4294967396LL, 4294967196u), ==,
                     4294967396LL - 4294967196LL);
    /* Ahead of now (another thread's newer stamp), or 36 minutes ago. */
    g_assert_cmpuint(qpw_stall_since_us(now, low + 1000), ==, 0);
    g_assert_cmpuint(qpw_stall_since_us(now, low - 2160000000u), ==, 0);

    /* A 10.7 ms cycle late by the grace is not stalled, by more is. */
    g_assert_false(qpw_stalled(10667 + QPW_STALL_GRACE_US, 10667));
    g_assert_true(qpw_stalled(10668 + QPW_STALL_GRACE_US, 10667));

    /* Run again a millisecond after a stall would show... */
    g_assert_cmpuint(qpw_stall_check_us(3000, 10667), ==,
                     10667 + QPW_STALL_GRACE_US + 1000 - 3000);
    g_assert_cmpuint(qpw_stall_check_us(10667 + QPW_STALL_GRACE_US, 10667),
                     ==, 1000);
    /* ...but not before the first cycle, nor in a stall. */
    g_assert_cmpuint(qpw_stall_check_us(0, 10667), ==, UINT64_MAX);
    g_assert_cmpuint(qpw_stall_check_us(30000, 10667), ==, UINT64_MAX);
}

static void test_stall_frames(void)
{
    QPwStreamGeometry g = default_geometry();
    QPwStreamGeometry big;
    const char *reason;

    /* In a stall: the time since the last cycle began, 30 ms. */
    g_assert_cmpuint(qpw_stall_frames(&g, 0, 30000), ==, 1440);
    /* On top of what an earlier stall left. */
    g_assert_cmpuint(qpw_stall_frames(&g, 960, 30000), ==, 2400);
    /* Never more than 100 ms (a graph that stopped, say). */
    g_assert_cmpuint(qpw_stall_frames(&g, 0, 5000000), ==, 4800);
    g_assert_cmpuint(qpw_stall_frames(&g, 4000, 30000), ==, 4800);
    /* Nor more than the ring holds above its mark. */
    g_assert_true(qpw_geometry_init(&big, QPW_FORMAT_S16, 2, 48000,
                                    1000000, 10000, &reason));
    g_assert_cmpuint(big.capacity_frames - big.highwater_frames, ==, 480);
    g_assert_cmpuint(qpw_stall_frames(&big, 0, 50000), ==, 480);

    /* Once over, given back at 0.5% of real time: 240 frames a second. */
    g_assert_cmpuint(qpw_stall_left(&g, 1440, 0), ==, 1440);
    g_assert_cmpuint(qpw_stall_left(&g, 1440, 1000000), ==, 1200);
    g_assert_cmpuint(qpw_stall_left(&g, 1440, 6000000), ==, 0);
    g_assert_cmpuint(qpw_stall_left(&g, 0, 0), ==, 0);
}

static void test_card_diff(void)
{
    /* A driver's speed, bounded to 0.5 %. */
    g_assert_cmpfloat(qpw_card_diff(1.0003), ==, 1.0003);
    g_assert_cmpfloat(qpw_card_diff(0.9997), ==, 0.9997);
    g_assert_cmpfloat(qpw_card_diff(1.005), ==, 1.005);
    g_assert_cmpfloat(qpw_card_diff(1.01), ==, 1.005);
    g_assert_cmpfloat(qpw_card_diff(2.0), ==, 1.005);
    g_assert_cmpfloat(qpw_card_diff(INFINITY), ==, 1.005);
    g_assert_cmpfloat(qpw_card_diff(0.5), ==, 0.995);
    /* What is not a speed reads as the host's clock. */
    g_assert_cmpfloat(qpw_card_diff(0.0), ==, 1.0);
    g_assert_cmpfloat(qpw_card_diff(-1.0003), ==, 1.0);
    g_assert_cmpfloat(qpw_card_diff(NAN), ==, 1.0);
}

static void test_card_follow_in_and_out(void)
{
    QPwCardFollower f = { 0 };

    /* The host's clock, or a card less than 2 ppm off: a pass-through. */
    g_assert_cmpfloat(qpw_card_follow(&f, 1.0, 1024), ==, 0);
    g_assert_cmpfloat(qpw_card_follow(&f, 1.0000015, 1024), ==, 0);
    g_assert_false(f.following);
    g_assert_cmpfloat(f.lag, ==, 0);

    /* 300 ppm: followed at the card's speed, the cycle counted. */
    g_assert_cmpfloat(qpw_card_follow(&f, 1.0003, 1024), ==, 1.0003);
    g_assert_true(f.following);
    g_assert_cmpfloat(f.lag, ==, 1024 / 1.0003);
    qpw_card_count(&f, 1024);
    g_assert_cmpfloat(f.lag, ==, 1024 / 1.0003 - 1024);
    /* Once in, it stays in for an estimate near 0... */
    g_assert_cmpfloat(qpw_card_follow(&f, 1.0000015, 1024), ==, 1.0000015);
    qpw_card_count(&f, 1024);
    g_assert_cmpfloat(qpw_card_follow(&f, 0.9999985, 1024), ==, 0.9999985);
    qpw_card_count(&f, 1024);
    /* ...nudged to move more once 24 frames behind, less once ahead... */
    f.lag = 25;
    g_assert_cmpfloat(qpw_card_follow(&f, 1.0003, 1024), ==,
                      1.0003 * (1 - 0.000025));
    f.lag = -25;
    g_assert_cmpfloat(qpw_card_follow(&f, 1.0003, 1024), ==,
                      1.0003 * (1 + 0.000025));
    /* ...until made up. */
    f.lag = -1;
    g_assert_cmpfloat(qpw_card_follow(&f, 1.0003, 1024), ==,
                      1.0003 * (1 + 0.000025));
    f.lag = 1;
    g_assert_cmpfloat(qpw_card_follow(&f, 1.0003, 1024), ==, 1.0003);
    /* ...and leaves when the driver says it is the host's exactly. */
    g_assert_cmpfloat(qpw_card_follow(&f, 1.0, 1024), ==, 0);
    g_assert_false(f.following);
    g_assert_cmpfloat(f.lag, ==, 0);

    /* A stopped follower counts nothing. */
    qpw_card_count(&f, 1024);
    g_assert_cmpfloat(f.lag, ==, 0);
}

static void test_card_follow_bounded(void)
{
    static const double speeds[] = {
        1.0003, 0.9997, 1.00499, 0.99501, 1.005, 0.995, 1.01, 0.9, 100.0,
        INFINITY,
    };
    static const double lags[] = { 0, 1e9, -1e9, 25, -25 };
    double limit = QPW_CARD_PPM_MAX / 1e6;

    /*
     * Whatever the driver says and however far behind or ahead the
     * stream is, the ratio is never more than 0.5 % off nominal.
     */
    for (size_t i = 0; i < G_N_ELEMENTS(speeds); i++) {
        for (size_t j = 0; j < G_N_ELEMENTS(lags); j++) {
            QPwCardFollower f = { .following = true, .lag = lags[j] };

            for (int k = 0; k < 3; k++) {
                double ratio = qpw_card_follow(&f, speeds[i], 1024);

                g_assert_cmpfloat(ratio, >=, 1.0 - limit);
                g_assert_cmpfloat(ratio, <=, 1.0 + limit);
            }
        }
    }
}

/*
 * Ten minutes of cycles of a card @ppm off at 48 kHz, through a model of
 * PipeWire 0.3.65's resampler, which takes the ratio as a whole number of
 * input frames a second (rounded down); returns how many times the nudge
 * changed, and the largest lag at the start of a cycle into *@max_lag.
 */
static int follow_ten_minutes(double ppm, double *max_lag)
{
    const uint32_t rate = 48000, cycle = 1024;
    uint64_t cycles = (uint64_t)(600.0 * rate / cycle * (1 + ppm / 1e6));
    QPwCardFollower f = { 0 };
    uint64_t owed = 0;          /* input frames x rate not moved yet */
    int changes = 0, nudge = 0;

    *max_lag = 0;
    for (uint64_t i = 0; i < cycles; i++) {
        double ratio;
        uint32_t in_rate, frames;

        *max_lag = MAX(*max_lag, fabs(f.lag));
        ratio = qpw_card_follow(&f, 1 + ppm / 1e6, cycle);
        g_assert_cmpfloat(ratio, >, 0);
        in_rate = (uint32_t)(rate / ratio);
        owed += (uint64_t)cycle * in_rate;
        frames = owed / rate;
        owed -= (uint64_t)frames * rate;
        /* Whether audio or a stalled guest's silence: counted alike. */
        qpw_card_count(&f, frames);
        changes += f.nudge != nudge;
        nudge = f.nudge;
    }
    return changes;
}

static void test_card_follow_keeps_up(void)
{
    static const double ppms[] = { 300, -300, 50, -50, 4900 };

    /*
     * The resampler's steps would leave the stream 12.6 ppm short at
     * +300 (360 frames in ten minutes); the nudge keeps it within a few
     * frames of its bound, changing the ratio now and then, not every
     * cycle (about 28000 of them).
     */
    for (size_t i = 0; i < G_N_ELEMENTS(ppms); i++) {
        double max_lag;
        int changes = follow_ten_minutes(ppms[i], &max_lag);

        if (g_test_verbose()) {
            g_test_message("%+g ppm: nudge changed %d times, lag at most "
                           "%.1f frames", ppms[i], changes, max_lag);
        }
        g_assert_cmpfloat(max_lag, <=, QPW_CARD_LAG_MAX + 2);
        g_assert_cmpint(changes, <=, 60);
    }
}

static void test_cycle_bytes(void)
{
    /* The whole buffer in whole frames, or what the resampler asks. */
    g_assert_cmpuint(qpw_cycle_bytes(4096, 0, 4), ==, 4096);
    g_assert_cmpuint(qpw_cycle_bytes(4098, 0, 4), ==, 4096);
    g_assert_cmpuint(qpw_cycle_bytes(4096, 1000, 4), ==, 4000);
    g_assert_cmpuint(qpw_cycle_bytes(4096, 1024, 4), ==, 4096);
    g_assert_cmpuint(qpw_cycle_bytes(4096, 5000, 4), ==, 4096);
    g_assert_cmpuint(qpw_cycle_bytes(4096, UINT64_MAX, 6), ==, 4092);
    g_assert_cmpuint(qpw_cycle_bytes(3, 0, 4), ==, 0);
}

static void test_wake(void)
{
    /* Playback: wake while less than two cycles are left. */
    g_assert_true(qpw_wake_out(0, 512));
    g_assert_true(qpw_wake_out(1023, 512));
    g_assert_false(qpw_wake_out(1024, 512));
    g_assert_true(qpw_wake_out(UINT32_MAX - 1, UINT32_MAX));

    /* Capture: wake once a whole period is there. */
    g_assert_false(qpw_wake_in(959, 960));
    g_assert_true(qpw_wake_in(960, 960));
    g_assert_true(qpw_wake_in(4000, 960));
}

static void test_run_delay(void)
{
    QPwStreamGeometry g = default_geometry();
    const uint32_t ms = 48 * 4;     /* bytes per ms at 48 kHz, S16 stereo */
    int capture;

    for (capture = 0; capture <= 1; capture++) {
        /* Not woken, or silent: every timer period, like QEMU's timer. */
        g_assert_cmpuint(qpw_run_delay_us(&g, 0, 512 * 4, true, capture), ==,
                         10000);
        g_assert_cmpuint(qpw_run_delay_us(&g, 5 * ms, 512 * 4, false,
                                          capture), ==, 10000);
        /* Cycles longer than the period: once per period. */
        g_assert_cmpuint(qpw_run_delay_us(&g, 5 * ms, 1024 * 4, true,
                                          capture), ==, 5000);
        /* Woken every cycle: only a timer period after a cycle. */
        g_assert_cmpuint(qpw_run_delay_us(&g, 10 * ms, 480 * 4, true,
                                          capture), ==, 20000);
    }
    /* Playback is woken every cycle, whatever its period. */
    g_assert_cmpuint(qpw_run_delay_us(&g, 1000 * ms, 480 * 4, true, false),
                     ==, 20000);
    /* Capture with long periods is woken once per period: the timer. */
    g_assert_cmpuint(qpw_run_delay_us(&g, 1000 * ms, 480 * 4, true, true),
                     ==, 10000);
    /* Before the first cycle: the timer period. */
    g_assert_cmpuint(qpw_run_delay_us(&g, 10 * ms, 0, true, false), ==,
                     10000);

    /* A timer period of 0 or a tiny period: no spinning timer. */
    g.timer_period_us = 0;
    g_assert_cmpuint(qpw_run_delay_us(&g, 0, 0, false, false), ==,
                     QPW_RUN_DELAY_MIN_US);
    g_assert_cmpuint(qpw_run_delay_us(&g, 4, 1024 * 4, true, true), ==,
                     QPW_RUN_DELAY_MIN_US);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pwaudio/timing/us-to-frames", test_us_to_frames);
    g_test_add_func("/pwaudio/timing/us-to-frames-no-overflow",
                    test_us_to_frames_no_overflow);
    g_test_add_func("/pwaudio/timing/frames-to-us", test_frames_to_us);
    g_test_add_func("/pwaudio/timing/drain-us", test_drain_us);
    g_test_add_func("/pwaudio/timing/latency-validate",
                    test_latency_validate);
    g_test_add_func("/pwaudio/timing/geometry", test_geometry);
    g_test_add_func("/pwaudio/timing/geometry-rejects",
                    test_geometry_rejects);
    g_test_add_func("/pwaudio/timing/period-hint", test_period_hint);
    g_test_add_func("/pwaudio/timing/min-quantum", test_min_quantum);
    g_test_add_func("/pwaudio/timing/prime-bytes", test_prime_bytes);
    g_test_add_func("/pwaudio/timing/highwater-bytes", test_highwater_bytes);
    g_test_add_func("/pwaudio/timing/stall-since", test_stall_since);
    g_test_add_func("/pwaudio/timing/stall-frames", test_stall_frames);
    g_test_add_func("/pwaudio/timing/card-diff", test_card_diff);
    g_test_add_func("/pwaudio/timing/card-follow-in-and-out",
                    test_card_follow_in_and_out);
    g_test_add_func("/pwaudio/timing/card-follow-bounded",
                    test_card_follow_bounded);
    g_test_add_func("/pwaudio/timing/card-follow-keeps-up",
                    test_card_follow_keeps_up);
    g_test_add_func("/pwaudio/timing/cycle-bytes", test_cycle_bytes);
    g_test_add_func("/pwaudio/timing/wake", test_wake);
    g_test_add_func("/pwaudio/timing/run-delay", test_run_delay);
    return g_test_run();
}
