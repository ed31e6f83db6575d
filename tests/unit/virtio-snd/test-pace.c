/*
 * Unit tests of the playback pacer of hw/audio/virtio-snd-pcm.c: the burst
 * is half the guest's buffer in whole frames, the credit starts full, is
 * refilled at the stream's byte rate plus the headroom (without losing
 * fractions of a byte at low rates), never exceeds the burst, and is
 * handed out in whole frames; and of the capture lead: silence at the
 * stream's rate from START, in whole frames, until it ends or has lasted
 * VSND_PCM_LEAD_MAX_NS.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vsnd-test.h"

#define MS 1000000LL

static VSndPcmParams params(uint8_t format, uint8_t rate, uint8_t channels,
                            uint32_t period_bytes, uint32_t periods)
{
    return (VSndPcmParams) {
        .format = format,
        .rate = rate,
        .channels = channels,
        .period_bytes = period_bytes,
        .buffer_bytes = period_bytes * periods,
    };
}

/* 48 kHz S16 stereo, 10 ms periods, 4 of them: 7680 bytes. */
static VSndPcmParams p48(void)
{
    return params(VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_48000, 2,
                  1920, 4);
}

static void test_burst_is_half_buffer(void)
{
    VSndPcmParams p = p48();
    VSndPcmPacer pacer;

    vsnd_pcm_pacer_start(&pacer, &p, 5 * MS);
    g_assert_cmpuint(pacer.burst, ==, 3840);
    g_assert_cmpuint(vsnd_pcm_pacer_room(&pacer, 5 * MS), ==, 3840);

    /* 3 periods of 7 frames of 3 bytes: 31 bytes is 10 whole frames. */
    p = params(VIRTIO_SND_PCM_FMT_U8, VIRTIO_SND_PCM_RATE_8000, 3, 21, 3);
    vsnd_pcm_pacer_start(&pacer, &p, 0);
    g_assert_cmpuint(pacer.burst, ==, 30);

    /* A buffer of one frame still lets that frame through. */
    p = params(VIRTIO_SND_PCM_FMT_S32, VIRTIO_SND_PCM_RATE_96000, 2, 8, 1);
    vsnd_pcm_pacer_start(&pacer, &p, 0);
    g_assert_cmpuint(pacer.burst, ==, 8);
    g_assert_cmpuint(vsnd_pcm_pacer_room(&pacer, 0), ==, 8);
}

static void test_set_burst(void)
{
    VSndPcmParams p = p48();
    VSndPcmPacer pacer;

    vsnd_pcm_pacer_start(&pacer, &p, 0);
    vsnd_pcm_pacer_set_burst(&pacer, 7681);     /* whole frames of it */
    g_assert_cmpuint(vsnd_pcm_pacer_room(&pacer, 0), ==, 7680);
    vsnd_pcm_pacer_consume(&pacer, 7680);
    vsnd_pcm_pacer_set_burst(&pacer, 0);        /* a frame at the least */
    g_assert_cmpuint(vsnd_pcm_pacer_room(&pacer, 0), ==, 4);
}

static void test_refill_rate(void)
{
    VSndPcmParams p = p48();
    VSndPcmPacer pacer;

    vsnd_pcm_pacer_start(&pacer, &p, 0);
    vsnd_pcm_pacer_consume(&pacer, 3840);
    g_assert_cmpuint(vsnd_pcm_pacer_room(&pacer, 0), ==, 0);

    /* 10 ms at 192000 B/s + 1 % is 1939.2 bytes: 484 whole frames. */
    g_assert_cmpuint(vsnd_pcm_pacer_room(&pacer, 10 * MS), ==, 1936);
    g_assert_cmpuint(pacer.credit, ==, 1939);
    vsnd_pcm_pacer_consume(&pacer, 1936);
    g_assert_cmpuint(pacer.credit, ==, 3);

    /* Never above the burst, however long it has been. */
    g_assert_cmpuint(vsnd_pcm_pacer_room(&pacer, 3600000 * MS), ==, 3840);
}

/*
 * Taking everything every millisecond for 10 s at 5512 Hz mono U8 (5.512
 * bytes per ms): the refill must not lose the fractions, so exactly the
 * rate plus 1 % comes through, give or take the last byte.
 */
static void test_low_rate_no_loss(void)
{
    VSndPcmParams p = params(VIRTIO_SND_PCM_FMT_U8, VIRTIO_SND_PCM_RATE_5512,
                             1, 64, 4);
    VSndPcmPacer pacer;
    uint64_t total = 0;
    int64_t t;

    vsnd_pcm_pacer_start(&pacer, &p, 0);
    total += vsnd_pcm_pacer_room(&pacer, 0);
    vsnd_pcm_pacer_consume(&pacer, total);
    for (t = 1; t <= 10000; t++) {
        uint64_t room = vsnd_pcm_pacer_room(&pacer, t * MS);

        g_assert_cmpuint(room, <=, pacer.burst);
        vsnd_pcm_pacer_consume(&pacer, room);
        total += room;
    }
    /* 128 bytes of burst + 10 s * 5512 B/s * 1.01 = 55671.2 */
    g_assert_cmpuint(total, >=, 128 + 55670);
    g_assert_cmpuint(total, <=, 128 + 55672);
}

/* Whole frames only: credit of 7 bytes at 4 bytes a frame gives 4. */
static void test_whole_frames(void)
{
    VSndPcmParams p = params(VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_8000,
                             2, 400, 2);
    VSndPcmPacer pacer;

    vsnd_pcm_pacer_start(&pacer, &p, 0);
    vsnd_pcm_pacer_consume(&pacer, 400 - 7);
    g_assert_cmpuint(vsnd_pcm_pacer_room(&pacer, 0), ==, 4);
    vsnd_pcm_pacer_consume(&pacer, 100);   /* more than there is */
    g_assert_cmpuint(pacer.credit, ==, 0);
}

/* A clock that goes back adds nothing and breaks nothing. */
static void test_clock_back(void)
{
    VSndPcmParams p = p48();
    VSndPcmPacer pacer;

    vsnd_pcm_pacer_start(&pacer, &p, 100 * MS);
    vsnd_pcm_pacer_consume(&pacer, 3840);
    g_assert_cmpuint(vsnd_pcm_pacer_room(&pacer, 50 * MS), ==, 0);
    g_assert_cmpuint(vsnd_pcm_pacer_room(&pacer, 100 * MS), ==, 0);
    g_assert_cmpuint(vsnd_pcm_pacer_room(&pacer, 110 * MS), ==, 1936);
}

/* The largest stream: 384 kHz, 8 channels, 4 bytes, a long gap. */
static void test_no_overflow(void)
{
    VSndPcmParams p = params(VIRTIO_SND_PCM_FMT_S32,
                             VIRTIO_SND_PCM_RATE_384000, 8, 1 << 20, 4);
    VSndPcmPacer pacer;

    vsnd_pcm_pacer_start(&pacer, &p, 0);
    vsnd_pcm_pacer_consume(&pacer, 2 << 20);
    /* 100 ms at 12288000 B/s + 1 % = 1241088 bytes, below the burst. */
    g_assert_cmpuint(vsnd_pcm_pacer_room(&pacer, 100 * MS), ==, 1241088);
    g_assert_cmpuint(vsnd_pcm_pacer_room(&pacer, G_MAXINT64), ==, 2 << 20);
}

/* The lead owes what the time since START holds, less what it gave. */
static void test_lead_keeps_time(void)
{
    VSndPcmParams p = p48();
    VSndPcmLead lead;

    vsnd_pcm_lead_start(&lead, &p, 1000 * MS);
    g_assert_cmpuint(vsnd_pcm_lead_take(&lead, 1000 * MS, 4096), ==, 0);
    /* 10 ms at 192000 B/s. */
    g_assert_cmpuint(vsnd_pcm_lead_take(&lead, 1010 * MS, 4096), ==, 1920);
    g_assert_cmpuint(vsnd_pcm_lead_take(&lead, 1010 * MS, 4096), ==, 0);
    /* At most @max, the rest later. */
    g_assert_cmpuint(vsnd_pcm_lead_take(&lead, 1050 * MS, 4096), ==, 4096);
    g_assert_cmpuint(vsnd_pcm_lead_take(&lead, 1050 * MS, 4096), ==, 3584);
    /* A clock that goes back owes nothing more. */
    g_assert_cmpuint(vsnd_pcm_lead_take(&lead, 1020 * MS, 4096), ==, 0);
    vsnd_pcm_lead_end(&lead);
    g_assert_cmpuint(vsnd_pcm_lead_take(&lead, 2000 * MS, 4096), ==, 0);
}

/* Whole frames of the stream, also when @max is not. */
static void test_lead_whole_frames(void)
{
    /* 8 kHz mono S16: 16 bytes a ms, 2 a frame. */
    VSndPcmParams p = params(VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_RATE_8000,
                             1, 160, 4);
    VSndPcmLead lead;

    vsnd_pcm_lead_start(&lead, &p, 0);
    g_assert_cmpuint(vsnd_pcm_lead_take(&lead, 1 * MS, 7), ==, 6);
    g_assert_cmpuint(vsnd_pcm_lead_take(&lead, 1 * MS, 7), ==, 6);
    g_assert_cmpuint(vsnd_pcm_lead_take(&lead, 1 * MS, 7), ==, 4);
    /* 0.1 ms holds 1.6 bytes: no whole frame. */
    vsnd_pcm_lead_start(&lead, &p, 0);
    g_assert_cmpuint(vsnd_pcm_lead_take(&lead, MS / 10, 100), ==, 0);
}

/* The largest stream, up to VSND_PCM_LEAD_MAX_NS, then no more. */
static void test_lead_limit(void)
{
    VSndPcmParams p = params(VIRTIO_SND_PCM_FMT_S32,
                             VIRTIO_SND_PCM_RATE_384000, 8, 1 << 20, 4);
    VSndPcmLead lead;

    vsnd_pcm_lead_start(&lead, &p, 0);
    g_assert_cmpuint(vsnd_pcm_lead_take(&lead, VSND_PCM_LEAD_MAX_NS,
                                        UINT64_MAX),
                     ==, 12288000ULL * 10);
    g_assert_cmpuint(vsnd_pcm_lead_take(&lead, VSND_PCM_LEAD_MAX_NS + 1,
                                        UINT64_MAX), ==, 0);
    g_assert_false(lead.on);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vsnd/pace/burst", test_burst_is_half_buffer);
    g_test_add_func("/vsnd/pace/set-burst", test_set_burst);
    g_test_add_func("/vsnd/pace/refill", test_refill_rate);
    g_test_add_func("/vsnd/pace/low-rate", test_low_rate_no_loss);
    g_test_add_func("/vsnd/pace/whole-frames", test_whole_frames);
    g_test_add_func("/vsnd/pace/clock-back", test_clock_back);
    g_test_add_func("/vsnd/pace/no-overflow", test_no_overflow);
    g_test_add_func("/vsnd/lead/keeps-time", test_lead_keeps_time);
    g_test_add_func("/vsnd/lead/whole-frames", test_lead_whole_frames);
    g_test_add_func("/vsnd/lead/limit", test_lead_limit);
    return g_test_run();
}
