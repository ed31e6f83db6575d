/*
 * Unit tests of hw/audio/virtio-snd-pcm.c: the PCM command lifecycle
 * (every state with every request), format and rate facts, stream
 * capabilities and the PCM_INFO structure made from them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vsnd-test.h"

#define SENTINEL ((VSndPcmState)0x5a)

/*
 * The allowed requests, written out from VIRTIO 1.2 5.14.6.6.1 (and
 * INITIAL taking only SET_PARAMS); everything else must be BAD_MSG.
 */
static const struct {
    VSndPcmState from;
    uint32_t code;
    VSndPcmState to;
} legal[] = {
    { VSND_PCM_STATE_INITIAL, VIRTIO_SND_R_PCM_SET_PARAMS,
      VSND_PCM_STATE_PARAMS_SET },
    { VSND_PCM_STATE_PARAMS_SET, VIRTIO_SND_R_PCM_SET_PARAMS,
      VSND_PCM_STATE_PARAMS_SET },
    { VSND_PCM_STATE_PARAMS_SET, VIRTIO_SND_R_PCM_PREPARE,
      VSND_PCM_STATE_PREPARED },
    { VSND_PCM_STATE_PREPARED, VIRTIO_SND_R_PCM_SET_PARAMS,
      VSND_PCM_STATE_PARAMS_SET },
    { VSND_PCM_STATE_PREPARED, VIRTIO_SND_R_PCM_PREPARE,
      VSND_PCM_STATE_PREPARED },
    { VSND_PCM_STATE_PREPARED, VIRTIO_SND_R_PCM_START,
      VSND_PCM_STATE_RUNNING },
    { VSND_PCM_STATE_PREPARED, VIRTIO_SND_R_PCM_RELEASE,
      VSND_PCM_STATE_RELEASED },
    { VSND_PCM_STATE_RUNNING, VIRTIO_SND_R_PCM_STOP,
      VSND_PCM_STATE_STOPPED },
    { VSND_PCM_STATE_STOPPED, VIRTIO_SND_R_PCM_START,
      VSND_PCM_STATE_RUNNING },
    { VSND_PCM_STATE_STOPPED, VIRTIO_SND_R_PCM_RELEASE,
      VSND_PCM_STATE_RELEASED },
    { VSND_PCM_STATE_RELEASED, VIRTIO_SND_R_PCM_SET_PARAMS,
      VSND_PCM_STATE_PARAMS_SET },
    { VSND_PCM_STATE_RELEASED, VIRTIO_SND_R_PCM_PREPARE,
      VSND_PCM_STATE_PREPARED },
};

static const uint32_t lifecycle_codes[] = {
    VIRTIO_SND_R_PCM_SET_PARAMS, VIRTIO_SND_R_PCM_PREPARE,
    VIRTIO_SND_R_PCM_RELEASE, VIRTIO_SND_R_PCM_START, VIRTIO_SND_R_PCM_STOP,
};

static bool find_legal(VSndPcmState from, uint32_t code, VSndPcmState *to)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(legal); i++) {
        if (legal[i].from == from && legal[i].code == code) {
            *to = legal[i].to;
            return true;
        }
    }
    return false;
}

static void test_transition_table(void)
{
    unsigned int s;
    size_t c;
    unsigned int allowed = 0;

    for (s = 0; s < VSND_PCM_STATE__MAX; s++) {
        for (c = 0; c < G_N_ELEMENTS(lifecycle_codes); c++) {
            uint32_t code = lifecycle_codes[c];
            VSndPcmState expect, got = SENTINEL;
            uint32_t status = vsnd_pcm_transition(s, code, &got);

            if (find_legal(s, code, &expect)) {
                g_assert_cmphex(status, ==, VIRTIO_SND_S_OK);
                g_assert_cmpint(got, ==, expect);
                allowed++;
            } else {
                g_assert_cmphex(status, ==, VIRTIO_SND_S_BAD_MSG);
                g_assert_cmpint(got, ==, SENTINEL);
            }
        }
    }
    g_assert_cmpuint(allowed, ==, G_N_ELEMENTS(legal));
}

static void test_transition_other_codes(void)
{
    static const uint32_t others[] = {
        0, VIRTIO_SND_R_JACK_INFO, VIRTIO_SND_R_JACK_REMAP,
        VIRTIO_SND_R_PCM_INFO, VIRTIO_SND_R_PCM_STOP + 1,
        VIRTIO_SND_R_CHMAP_INFO, VIRTIO_SND_R_CTL_INFO,
        VIRTIO_SND_S_OK, 0xffffffff,
    };
    unsigned int s;
    size_t c;

    for (s = 0; s < VSND_PCM_STATE__MAX; s++) {
        for (c = 0; c < G_N_ELEMENTS(others); c++) {
            VSndPcmState got = SENTINEL;

            g_assert_cmphex(vsnd_pcm_transition(s, others[c], &got), ==,
                            VIRTIO_SND_S_NOT_SUPP);
            g_assert_cmpint(got, ==, SENTINEL);
        }
    }
}

static void test_transition_invalid_state(void)
{
    VSndPcmState got = SENTINEL;

    g_assert_cmphex(vsnd_pcm_transition(VSND_PCM_STATE__MAX,
                                        VIRTIO_SND_R_PCM_SET_PARAMS, &got),
                    ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(vsnd_pcm_transition((VSndPcmState)1000,
                                        VIRTIO_SND_R_PCM_START, &got),
                    ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpint(got, ==, SENTINEL);
}

/* What an ALSA guest does: play, pause, resume, stop, reconfigure. */
static void test_lifecycle_walk(void)
{
    static const struct {
        uint32_t code;
        uint32_t status;
        VSndPcmState state;
    } steps[] = {
        { VIRTIO_SND_R_PCM_PREPARE, VIRTIO_SND_S_BAD_MSG,
          VSND_PCM_STATE_INITIAL },
        { VIRTIO_SND_R_PCM_SET_PARAMS, VIRTIO_SND_S_OK,
          VSND_PCM_STATE_PARAMS_SET },
        { VIRTIO_SND_R_PCM_START, VIRTIO_SND_S_BAD_MSG,
          VSND_PCM_STATE_PARAMS_SET },
        { VIRTIO_SND_R_PCM_PREPARE, VIRTIO_SND_S_OK,
          VSND_PCM_STATE_PREPARED },
        { VIRTIO_SND_R_PCM_START, VIRTIO_SND_S_OK, VSND_PCM_STATE_RUNNING },
        { VIRTIO_SND_R_PCM_SET_PARAMS, VIRTIO_SND_S_BAD_MSG,
          VSND_PCM_STATE_RUNNING },
        { VIRTIO_SND_R_PCM_RELEASE, VIRTIO_SND_S_BAD_MSG,
          VSND_PCM_STATE_RUNNING },
        { VIRTIO_SND_R_PCM_STOP, VIRTIO_SND_S_OK, VSND_PCM_STATE_STOPPED },
        { VIRTIO_SND_R_PCM_STOP, VIRTIO_SND_S_BAD_MSG,
          VSND_PCM_STATE_STOPPED },
        { VIRTIO_SND_R_PCM_START, VIRTIO_SND_S_OK, VSND_PCM_STATE_RUNNING },
        { VIRTIO_SND_R_PCM_STOP, VIRTIO_SND_S_OK, VSND_PCM_STATE_STOPPED },
        { VIRTIO_SND_R_PCM_PREPARE, VIRTIO_SND_S_BAD_MSG,
          VSND_PCM_STATE_STOPPED },
        { VIRTIO_SND_R_PCM_RELEASE, VIRTIO_SND_S_OK,
          VSND_PCM_STATE_RELEASED },
        { VIRTIO_SND_R_PCM_RELEASE, VIRTIO_SND_S_BAD_MSG,
          VSND_PCM_STATE_RELEASED },
        { VIRTIO_SND_R_PCM_PREPARE, VIRTIO_SND_S_OK,
          VSND_PCM_STATE_PREPARED },
        { VIRTIO_SND_R_PCM_SET_PARAMS, VIRTIO_SND_S_OK,
          VSND_PCM_STATE_PARAMS_SET },
    };
    VSndPcmState state = VSND_PCM_STATE_INITIAL;
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(steps); i++) {
        VSndPcmState next = state;

        g_assert_cmphex(vsnd_pcm_transition(state, steps[i].code, &next),
                        ==, steps[i].status);
        state = next;
        g_assert_cmpint(state, ==, steps[i].state);
    }
}

static void test_accepts_io(void)
{
    g_assert_false(vsnd_pcm_state_accepts_io(VSND_PCM_STATE_INITIAL));
    g_assert_false(vsnd_pcm_state_accepts_io(VSND_PCM_STATE_PARAMS_SET));
    g_assert_true(vsnd_pcm_state_accepts_io(VSND_PCM_STATE_PREPARED));
    g_assert_true(vsnd_pcm_state_accepts_io(VSND_PCM_STATE_RUNNING));
    g_assert_true(vsnd_pcm_state_accepts_io(VSND_PCM_STATE_STOPPED));
    g_assert_false(vsnd_pcm_state_accepts_io(VSND_PCM_STATE_RELEASED));
    g_assert_false(vsnd_pcm_state_accepts_io(VSND_PCM_STATE__MAX));
}

static void test_state_names(void)
{
    g_assert_cmpstr(vsnd_pcm_state_name(VSND_PCM_STATE_INITIAL), ==,
                    "initial");
    g_assert_cmpstr(vsnd_pcm_state_name(VSND_PCM_STATE_RUNNING), ==,
                    "running");
    g_assert_cmpstr(vsnd_pcm_state_name(VSND_PCM_STATE_RELEASED), ==,
                    "released");
    g_assert_cmpstr(vsnd_pcm_state_name(VSND_PCM_STATE__MAX), ==,
                    "invalid");
}

static void test_format_bytes(void)
{
    static const unsigned int bytes[] = {
        [VIRTIO_SND_PCM_FMT_IMA_ADPCM] = 0,
        [VIRTIO_SND_PCM_FMT_MU_LAW] = 1, [VIRTIO_SND_PCM_FMT_A_LAW] = 1,
        [VIRTIO_SND_PCM_FMT_S8] = 1, [VIRTIO_SND_PCM_FMT_U8] = 1,
        [VIRTIO_SND_PCM_FMT_S16] = 2, [VIRTIO_SND_PCM_FMT_U16] = 2,
        [VIRTIO_SND_PCM_FMT_S18_3] = 3, [VIRTIO_SND_PCM_FMT_U18_3] = 3,
        [VIRTIO_SND_PCM_FMT_S20_3] = 3, [VIRTIO_SND_PCM_FMT_U20_3] = 3,
        [VIRTIO_SND_PCM_FMT_S24_3] = 3, [VIRTIO_SND_PCM_FMT_U24_3] = 3,
        [VIRTIO_SND_PCM_FMT_S20] = 4, [VIRTIO_SND_PCM_FMT_U20] = 4,
        [VIRTIO_SND_PCM_FMT_S24] = 4, [VIRTIO_SND_PCM_FMT_U24] = 4,
        [VIRTIO_SND_PCM_FMT_S32] = 4, [VIRTIO_SND_PCM_FMT_U32] = 4,
        [VIRTIO_SND_PCM_FMT_FLOAT] = 4, [VIRTIO_SND_PCM_FMT_FLOAT64] = 8,
        [VIRTIO_SND_PCM_FMT_DSD_U8] = 1, [VIRTIO_SND_PCM_FMT_DSD_U16] = 2,
        [VIRTIO_SND_PCM_FMT_DSD_U32] = 4,
        [VIRTIO_SND_PCM_FMT_IEC958_SUBFRAME] = 4,
    };
    uint32_t f;

    for (f = 0; f < G_N_ELEMENTS(bytes); f++) {
        g_assert_cmpuint(vsnd_pcm_format_bytes(f), ==, bytes[f]);
    }
    for (f = G_N_ELEMENTS(bytes); f < 300; f++) {
        g_assert_cmpuint(vsnd_pcm_format_bytes(f), ==, 0);
    }
    g_assert_cmpuint(vsnd_pcm_format_bytes(0xffffffff), ==, 0);
}

static void test_rate_hz(void)
{
    static const uint32_t hz[] = {
        5512, 8000, 11025, 16000, 22050, 32000, 44100, 48000,
        64000, 88200, 96000, 176400, 192000, 384000, 12000, 24000,
    };
    uint32_t r;

    for (r = 0; r < G_N_ELEMENTS(hz); r++) {
        g_assert_cmpuint(vsnd_pcm_rate_hz(r), ==, hz[r]);
    }
    for (r = G_N_ELEMENTS(hz); r < 300; r++) {
        g_assert_cmpuint(vsnd_pcm_rate_hz(r), ==, 0);
    }
    g_assert_cmpuint(vsnd_pcm_rate_hz(0xffffffff), ==, 0);
}

static void test_frame_bytes(void)
{
    VSndPcmParams p = vsnd_test_params();

    g_assert_cmpuint(vsnd_pcm_frame_bytes(&p), ==, 4);
    g_assert_cmpuint(vsnd_pcm_bytes_per_second(&p), ==, 192000);
    p.channels = 8;
    p.format = VIRTIO_SND_PCM_FMT_FLOAT;
    p.rate = VIRTIO_SND_PCM_RATE_384000;
    g_assert_cmpuint(vsnd_pcm_frame_bytes(&p), ==, 32);
    g_assert_cmpuint(vsnd_pcm_bytes_per_second(&p), ==, 32 * 384000);
    p.format = VIRTIO_SND_PCM_FMT_IMA_ADPCM;
    g_assert_cmpuint(vsnd_pcm_frame_bytes(&p), ==, 0);
    g_assert_cmpuint(vsnd_pcm_bytes_per_second(&p), ==, 0);
    p.format = VIRTIO_SND_PCM_FMT_U8;
    p.rate = 200;
    g_assert_cmpuint(vsnd_pcm_bytes_per_second(&p), ==, 0);
}

static void test_period_us(void)
{
    VSndPcmParams p = vsnd_test_params();

    /* 1920 bytes of 48 kHz S16 stereo: 10 ms. */
    g_assert_cmpuint(vsnd_pcm_period_us(&p), ==, 10000);
    p.period_bytes = 960;
    g_assert_cmpuint(vsnd_pcm_period_us(&p), ==, 5000);
    /* Rounded down: one frame at 44.1 kHz is 22.67 us. */
    p.rate = VIRTIO_SND_PCM_RATE_44100;
    p.period_bytes = 4;
    g_assert_cmpuint(vsnd_pcm_period_us(&p), ==, 22);
    /* The longest period of the slowest stream saturates. */
    p.channels = 1;
    p.format = VIRTIO_SND_PCM_FMT_U8;
    p.rate = VIRTIO_SND_PCM_RATE_5512;
    p.period_bytes = UINT32_MAX;
    g_assert_cmpuint(vsnd_pcm_period_us(&p), ==, UINT32_MAX);
    /* No rate or no whole-byte frame: unknown. */
    p.format = VIRTIO_SND_PCM_FMT_IMA_ADPCM;
    g_assert_cmpuint(vsnd_pcm_period_us(&p), ==, 0);
    p.format = VIRTIO_SND_PCM_FMT_S16;
    p.rate = 200;
    g_assert_cmpuint(vsnd_pcm_period_us(&p), ==, 0);
}

/* Unsigned formats are silent at their middle value. */
static void test_fill_silence(void)
{
    static const struct {
        uint8_t format;
        uint8_t bytes[8];
    } cases[] = {
        { VIRTIO_SND_PCM_FMT_S8, { 0, 0, 0, 0, 0, 0, 0, 0 } },
        { VIRTIO_SND_PCM_FMT_U8, { 0x80, 0x80, 0x80, 0x80,
                                   0x80, 0x80, 0x80, 0x80 } },
        { VIRTIO_SND_PCM_FMT_S16, { 0, 0, 0, 0, 0, 0, 0, 0 } },
        { VIRTIO_SND_PCM_FMT_U16, { 0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80 } },
        { VIRTIO_SND_PCM_FMT_U32, { 0, 0, 0, 0x80, 0, 0, 0, 0x80 } },
        { VIRTIO_SND_PCM_FMT_FLOAT, { 0, 0, 0, 0, 0, 0, 0, 0 } },
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        VSndPcmParams p = { .format = cases[i].format, .channels = 2 };
        uint8_t buf[9];

        memset(buf, 0xee, sizeof(buf));
        vsnd_pcm_fill_silence(&p, buf, 8);
        g_assert_cmpmem(buf, 8, cases[i].bytes, 8);
        g_assert_cmphex(buf[8], ==, 0xee);     /* not a byte more */
    }
}

/*
 * The channel maps follow the PipeWire backend's channel order
 * (qpw_channel_positions() in audio/pwaudio-format.c).
 */
static void test_chmap_position(void)
{
    static const uint8_t six[6] = {
        VIRTIO_SND_CHMAP_FL, VIRTIO_SND_CHMAP_FR, VIRTIO_SND_CHMAP_FC,
        VIRTIO_SND_CHMAP_LFE, VIRTIO_SND_CHMAP_RL, VIRTIO_SND_CHMAP_RR,
    };
    static const uint8_t eight[8] = {
        VIRTIO_SND_CHMAP_FL, VIRTIO_SND_CHMAP_FR, VIRTIO_SND_CHMAP_FC,
        VIRTIO_SND_CHMAP_LFE, VIRTIO_SND_CHMAP_RL, VIRTIO_SND_CHMAP_RR,
        VIRTIO_SND_CHMAP_SL, VIRTIO_SND_CHMAP_SR,
    };
    unsigned int n, i;

    g_assert_cmpuint(vsnd_pcm_chmap_position(1, 0), ==, VIRTIO_SND_CHMAP_MONO);
    g_assert_cmpuint(vsnd_pcm_chmap_position(3, 2), ==, VIRTIO_SND_CHMAP_LFE);
    g_assert_cmpuint(vsnd_pcm_chmap_position(7, 4), ==, VIRTIO_SND_CHMAP_RC);
    for (i = 0; i < 6; i++) {
        g_assert_cmpuint(vsnd_pcm_chmap_position(6, i), ==, six[i]);
    }
    for (i = 0; i < 8; i++) {
        g_assert_cmpuint(vsnd_pcm_chmap_position(8, i), ==, eight[i]);
    }
    /* Every channel of every map has a position, none twice. */
    for (n = 1; n <= VSND_PCM_CHANNELS_MAX; n++) {
        uint32_t seen = 0;

        for (i = 0; i < n; i++) {
            uint8_t p = vsnd_pcm_chmap_position(n, i);

            g_assert_cmpuint(p, !=, VIRTIO_SND_CHMAP_NONE);
            g_assert_false(seen & (1u << p));
            seen |= 1u << p;
        }
        g_assert_cmpuint(vsnd_pcm_chmap_position(n, n), ==,
                         VIRTIO_SND_CHMAP_NONE);
    }
    g_assert_cmpuint(vsnd_pcm_chmap_position(0, 0), ==, VIRTIO_SND_CHMAP_NONE);
    g_assert_cmpuint(vsnd_pcm_chmap_position(9, 0), ==, VIRTIO_SND_CHMAP_NONE);
}

static void test_return_due(void)
{
    VSndPcmParams p = vsnd_test_params();

    /* 10 ms periods: 10 ms after the previous return, 9 ms for capture. */
    g_assert_cmpint(vsnd_pcm_return_due_ns(&p, false, 0), ==, 10000000);
    g_assert_cmpint(vsnd_pcm_return_due_ns(&p, true, 0), ==, 9000000);
    g_assert_cmpint(vsnd_pcm_return_due_ns(&p, false, 1000), ==, 10001000);
    /* Saturates rather than wrapping. */
    g_assert_cmpint(vsnd_pcm_return_due_ns(&p, true, INT64_MAX - 1), ==,
                    INT64_MAX);
    /* No known period: nothing to wait for. */
    p.rate = 200;
    g_assert_cmpint(vsnd_pcm_return_due_ns(&p, false, 42), ==, 42);
    g_assert_cmpint(vsnd_pcm_return_due_ns(&p, true, 42), ==, 42);
}

static void test_supported_masks(void)
{
    g_assert_cmphex(VSND_PCM_FORMATS_SUPPORTED, ==,
                    (1ULL << 3) | (1ULL << 4) | (1ULL << 5) | (1ULL << 6) |
                    (1ULL << 17) | (1ULL << 18) | (1ULL << 19));
    g_assert_cmphex(VSND_PCM_RATES_ALL, ==, 0xffff);
    g_assert_cmphex(VSND_PCM_FEATURES_ALL, ==, 0x1f);
    g_assert_cmphex(VSND_PCM_FEATURES_SHMEM, ==, 0x3);
}

static void test_caps_valid(void)
{
    VSndPcmCaps good = vsnd_test_caps();
    VSndPcmCaps c;

    g_assert_true(vsnd_pcm_caps_valid(&good));
    c = good;
    c.direction = VIRTIO_SND_D_INPUT;
    g_assert_true(vsnd_pcm_caps_valid(&c));
    c.formats = VSND_PCM_FORMATS_SUPPORTED;
    c.rates = VSND_PCM_RATES_ALL;
    c.channels_min = 1;
    c.channels_max = 8;
    c.features = (1U << VIRTIO_SND_PCM_F_MSG_POLLING) |
                 (1U << VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS) |
                 (1U << VIRTIO_SND_PCM_F_EVT_XRUNS);
    g_assert_true(vsnd_pcm_caps_valid(&c));

    c = good;
    c.direction = 2;
    g_assert_false(vsnd_pcm_caps_valid(&c));
    c = good;
    c.formats = 0;
    g_assert_false(vsnd_pcm_caps_valid(&c));
    c = good;
    c.formats |= 1ULL << VIRTIO_SND_PCM_FMT_S24;
    g_assert_false(vsnd_pcm_caps_valid(&c));
    c = good;
    c.formats |= 1ULL << 40;
    g_assert_false(vsnd_pcm_caps_valid(&c));
    c = good;
    c.rates = 0;
    g_assert_false(vsnd_pcm_caps_valid(&c));
    c = good;
    c.rates |= 1ULL << 16;
    g_assert_false(vsnd_pcm_caps_valid(&c));
    c = good;
    c.channels_min = 0;
    g_assert_false(vsnd_pcm_caps_valid(&c));
    c = good;
    c.channels_min = 3;
    c.channels_max = 2;
    g_assert_false(vsnd_pcm_caps_valid(&c));
    c = good;
    c.channels_max = 9;
    g_assert_false(vsnd_pcm_caps_valid(&c));
    c = good;
    c.features = 1U << VIRTIO_SND_PCM_F_SHMEM_HOST;
    g_assert_false(vsnd_pcm_caps_valid(&c));
    c = good;
    c.features = 1U << VIRTIO_SND_PCM_F_SHMEM_GUEST;
    g_assert_false(vsnd_pcm_caps_valid(&c));
    c = good;
    c.features = 1U << 5;
    g_assert_false(vsnd_pcm_caps_valid(&c));
}

static void test_info_from_caps(void)
{
    VSndPcmCaps caps = vsnd_test_caps();
    struct virtio_snd_pcm_info info;
    uint8_t raw[sizeof(info)];
    static const uint8_t expect[32] = {
        /* hda_fn_nid */ 0x34, 0x12, 0x00, 0x00,
        /* features: EVT_XRUNS */ 0x10, 0x00, 0x00, 0x00,
        /* formats: S16 (bit 5) | FLOAT (bit 19) */
        0x20, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* rates: 44100 (bit 6) | 48000 (bit 7) */
        0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        /* direction, channels_min, channels_max, padding */
        0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    };

    caps.hda_fn_nid = 0x1234;
    caps.direction = VIRTIO_SND_D_INPUT;
    memset(&info, 0xff, sizeof(info));
    vsnd_pcm_info_from_caps(&caps, &info);
    memcpy(raw, &info, sizeof(raw));
    g_assert_cmpmem(raw, sizeof(raw), expect, sizeof(expect));
}

/* Undefined bits never reach the guest, even from bad caps. */
static void test_info_drops_undefined(void)
{
    VSndPcmCaps caps = vsnd_test_caps();
    struct virtio_snd_pcm_info info;

    caps.features = 0xffffffff;
    caps.formats = ~0ULL;
    caps.rates = ~0ULL;
    vsnd_pcm_info_from_caps(&caps, &info);
    g_assert_cmphex(GUINT32_FROM_LE(info.features), ==, 0x1f);
    g_assert_cmphex(GUINT64_FROM_LE(info.formats), ==, 0x1ffffff);
    g_assert_cmphex(GUINT64_FROM_LE(info.rates), ==, 0xffff);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-snd/pcm/transition-table",
                    test_transition_table);
    g_test_add_func("/virtio-snd/pcm/transition-other-codes",
                    test_transition_other_codes);
    g_test_add_func("/virtio-snd/pcm/transition-invalid-state",
                    test_transition_invalid_state);
    g_test_add_func("/virtio-snd/pcm/lifecycle-walk", test_lifecycle_walk);
    g_test_add_func("/virtio-snd/pcm/accepts-io", test_accepts_io);
    g_test_add_func("/virtio-snd/pcm/state-names", test_state_names);
    g_test_add_func("/virtio-snd/pcm/format-bytes", test_format_bytes);
    g_test_add_func("/virtio-snd/pcm/rate-hz", test_rate_hz);
    g_test_add_func("/virtio-snd/pcm/frame-bytes", test_frame_bytes);
    g_test_add_func("/virtio-snd/pcm/period-us", test_period_us);
    g_test_add_func("/virtio-snd/pcm/return-due", test_return_due);
    g_test_add_func("/virtio-snd/pcm/chmap-position", test_chmap_position);
    g_test_add_func("/virtio-snd/pcm/fill-silence", test_fill_silence);
    g_test_add_func("/virtio-snd/pcm/supported-masks", test_supported_masks);
    g_test_add_func("/virtio-snd/pcm/caps-valid", test_caps_valid);
    g_test_add_func("/virtio-snd/pcm/info-from-caps", test_info_from_caps);
    g_test_add_func("/virtio-snd/pcm/info-drops-undefined",
                    test_info_drops_undefined);
    return g_test_run();
}
