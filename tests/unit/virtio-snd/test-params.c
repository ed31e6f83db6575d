/*
 * Unit tests of PCM_SET_PARAMS validation (vsnd_pcm_params_check) and of
 * lifecycle requests against a stream (vsnd_pcm_request_check).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vsnd-test.h"

static uint32_t check(const VSndPcmParams *p)
{
    VSndPcmCaps caps = vsnd_test_caps();

    return vsnd_pcm_params_check(&caps, p);
}

static void test_valid(void)
{
    static const uint8_t formats[] = {
        VIRTIO_SND_PCM_FMT_S16, VIRTIO_SND_PCM_FMT_FLOAT,
    };
    static const uint8_t rates[] = {
        VIRTIO_SND_PCM_RATE_44100, VIRTIO_SND_PCM_RATE_48000,
    };
    VSndPcmParams p = vsnd_test_params();
    size_t f, r;
    uint8_t ch;

    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_OK);
    for (f = 0; f < G_N_ELEMENTS(formats); f++) {
        for (r = 0; r < G_N_ELEMENTS(rates); r++) {
            for (ch = 1; ch <= 2; ch++) {
                p = vsnd_test_params();
                p.format = formats[f];
                p.rate = rates[r];
                p.channels = ch;
                p.period_bytes = 441 * 8 * ch;
                p.buffer_bytes = 3 * p.period_bytes;
                g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_OK);
            }
        }
    }
    p = vsnd_test_params();
    p.features = 1U << VIRTIO_SND_PCM_F_EVT_XRUNS;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_OK);
}

static void test_every_supported_format(void)
{
    VSndPcmCaps caps = vsnd_test_caps();
    VSndPcmParams p = vsnd_test_params();
    uint32_t f;

    caps.formats = VSND_PCM_FORMATS_SUPPORTED;
    g_assert_true(vsnd_pcm_caps_valid(&caps));
    for (f = 0; f < 64; f++) {
        if (!(VSND_PCM_FORMATS_SUPPORTED & (1ULL << f))) {
            continue;
        }
        p.format = f;
        p.period_bytes = 2 * vsnd_pcm_format_bytes(f) * 100;
        p.buffer_bytes = 2 * p.period_bytes;
        g_assert_cmphex(vsnd_pcm_params_check(&caps, &p), ==,
                        VIRTIO_SND_S_OK);
    }
}

static void test_features(void)
{
    VSndPcmParams p = vsnd_test_params();

    p.features = 1U << 5;                   /* undefined */
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.features = 1U << 31;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.features = 1U << VIRTIO_SND_PCM_F_SHMEM_HOST;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.features = 1U << VIRTIO_SND_PCM_F_SHMEM_GUEST;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.features = VSND_PCM_FEATURES_SHMEM;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.features = 1U << VIRTIO_SND_PCM_F_MSG_POLLING;   /* not offered */
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.features = (1U << VIRTIO_SND_PCM_F_EVT_XRUNS) |
                 (1U << VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS);
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
}

/* Shared memory stays refused even if caps (wrongly) offered it. */
static void test_shmem_refused_even_if_offered(void)
{
    VSndPcmCaps caps = vsnd_test_caps();
    VSndPcmParams p = vsnd_test_params();

    caps.features = VSND_PCM_FEATURES_ALL;
    p.features = 1U << VIRTIO_SND_PCM_F_SHMEM_GUEST;
    g_assert_cmphex(vsnd_pcm_params_check(&caps, &p), ==,
                    VIRTIO_SND_S_BAD_MSG);
    p.features = 1U << VIRTIO_SND_PCM_F_MSG_POLLING;
    g_assert_cmphex(vsnd_pcm_params_check(&caps, &p), ==, VIRTIO_SND_S_OK);
}

static void test_format(void)
{
    VSndPcmParams p = vsnd_test_params();
    VSndPcmCaps caps = vsnd_test_caps();

    p.format = VIRTIO_SND_PCM_FMT_U8;       /* defined, not offered */
    p.period_bytes = 1000;
    p.buffer_bytes = 4000;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.format = VIRTIO_SND_PCM_FMT_IEC958_SUBFRAME + 1;   /* undefined */
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.format = 63;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.format = 64;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.format = 255;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);

    /* offered by (invalid) caps, but has no whole-byte sample size */
    caps.formats |= 1ULL << VIRTIO_SND_PCM_FMT_IMA_ADPCM;
    p.format = VIRTIO_SND_PCM_FMT_IMA_ADPCM;
    g_assert_cmphex(vsnd_pcm_params_check(&caps, &p), ==,
                    VIRTIO_SND_S_NOT_SUPP);
}

static void test_rate(void)
{
    VSndPcmParams p = vsnd_test_params();
    VSndPcmCaps caps = vsnd_test_caps();

    p.rate = VIRTIO_SND_PCM_RATE_8000;      /* defined, not offered */
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.rate = VSND_PCM_RATE_24000 + 1;  /* undefined */
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.rate = 255;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);

    /* an undefined rate in (invalid) caps is still refused */
    caps.rates |= 1ULL << 20;
    p.rate = 20;
    g_assert_cmphex(vsnd_pcm_params_check(&caps, &p), ==,
                    VIRTIO_SND_S_BAD_MSG);
}

static void test_channels(void)
{
    VSndPcmCaps caps = vsnd_test_caps();
    VSndPcmParams p = vsnd_test_params();

    p.channels = 0;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.channels = 3;
    p.period_bytes = 6 * 100;
    p.buffer_bytes = 6 * 400;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);
    p.channels = 255;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_BAD_MSG);

    caps.channels_min = 2;
    p = vsnd_test_params();
    p.channels = 1;
    g_assert_cmphex(vsnd_pcm_params_check(&caps, &p), ==,
                    VIRTIO_SND_S_BAD_MSG);
    p.channels = 2;
    g_assert_cmphex(vsnd_pcm_params_check(&caps, &p), ==, VIRTIO_SND_S_OK);

    /* channels 0 is refused even by caps claiming channels_min 0 */
    caps.channels_min = 0;
    p.channels = 0;
    g_assert_cmphex(vsnd_pcm_params_check(&caps, &p), ==,
                    VIRTIO_SND_S_BAD_MSG);
}

/*
 * VIRTIO 1.2 sets the driver no rule on the sizes: what the device cannot
 * run is NOT_SUPP, never BAD_MSG.
 */
static void test_sizes(void)
{
    VSndPcmParams p = vsnd_test_params();   /* frame: 4 bytes */

    p.period_bytes = 0;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_NOT_SUPP);
    p = vsnd_test_params();
    p.buffer_bytes = 0;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_NOT_SUPP);
    p.period_bytes = 0;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_NOT_SUPP);

    /* buffer not a multiple of period */
    p = vsnd_test_params();
    p.buffer_bytes = 3 * 1920 + 4;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_NOT_SUPP);
    /* period larger than buffer */
    p = vsnd_test_params();
    p.period_bytes = 2 * 1920;
    p.buffer_bytes = 1920;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_NOT_SUPP);
    /* one period of one frame is the minimum, and fine */
    p.period_bytes = 4;
    p.buffer_bytes = 4;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_OK);

    /* a period that splits a frame */
    p.period_bytes = 2;
    p.buffer_bytes = 8;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_NOT_SUPP);
    p.period_bytes = 1922;
    p.buffer_bytes = 4 * 1922;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_NOT_SUPP);
}

static void test_buffer_cap(void)
{
    VSndPcmParams p = vsnd_test_params();

    p.period_bytes = 4096;
    p.buffer_bytes = VSND_PCM_BUFFER_BYTES_MAX;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_OK);
    p.buffer_bytes = VSND_PCM_BUFFER_BYTES_MAX + 4096;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_NOT_SUPP);
    p.period_bytes = 4;
    p.buffer_bytes = 0xfffffffc;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_NOT_SUPP);
    p.period_bytes = 0x80000000;
    p.buffer_bytes = 0x80000000;
    g_assert_cmphex(check(&p), ==, VIRTIO_SND_S_NOT_SUPP);
}

/* What a stream has before any SET_PARAMS is always valid for it. */
static void test_defaults(void)
{
    VSndPcmCaps caps = vsnd_test_caps();
    VSndPcmParams p;

    caps.formats = VSND_PCM_FORMATS_SUPPORTED;
    caps.rates = VSND_PCM_RATES_ALL;
    caps.channels_min = 1;
    caps.channels_max = 8;
    vsnd_pcm_default_params(&caps, &p);
    g_assert_cmpuint(p.format, ==, VIRTIO_SND_PCM_FMT_S16);
    g_assert_cmpuint(p.rate, ==, VIRTIO_SND_PCM_RATE_48000);
    g_assert_cmpuint(p.channels, ==, 2);
    g_assert_cmpuint(p.features, ==, 0);
    g_assert_cmpuint(p.period_bytes, ==, 480 * 4);
    g_assert_cmpuint(p.buffer_bytes, ==, VSND_PCM_DEFAULT_PERIODS * 480 * 4);
    g_assert_cmphex(vsnd_pcm_params_check(&caps, &p), ==, VIRTIO_SND_S_OK);

    /* Neither S16 nor 48 kHz nor stereo offered. */
    caps.formats = (1ULL << VIRTIO_SND_PCM_FMT_FLOAT) |
                   (1ULL << VIRTIO_SND_PCM_FMT_U32);
    caps.rates = 1ULL << VIRTIO_SND_PCM_RATE_44100;
    caps.channels_min = 4;
    caps.channels_max = 6;
    vsnd_pcm_default_params(&caps, &p);
    g_assert_cmpuint(p.format, ==, VIRTIO_SND_PCM_FMT_U32);
    g_assert_cmpuint(p.rate, ==, VIRTIO_SND_PCM_RATE_44100);
    g_assert_cmpuint(p.channels, ==, 4);
    g_assert_cmpuint(p.period_bytes, ==, 441 * 16);
    g_assert_cmphex(vsnd_pcm_params_check(&caps, &p), ==, VIRTIO_SND_S_OK);

    caps.rates = 1ULL << VIRTIO_SND_PCM_RATE_5512;
    caps.channels_min = 1;
    caps.channels_max = 1;
    vsnd_pcm_default_params(&caps, &p);
    g_assert_cmpuint(p.channels, ==, 1);
    g_assert_cmpuint(p.period_bytes, ==, 55 * 4);
    g_assert_cmphex(vsnd_pcm_params_check(&caps, &p), ==, VIRTIO_SND_S_OK);
}

static VSndPcmStream test_stream(VSndPcmState state)
{
    VSndPcmStream s = {
        .caps = vsnd_test_caps(),
        .state = state,
        .params = vsnd_test_params(),
    };
    return s;
}

static VSndCtrlRequest test_request(uint32_t code)
{
    VSndCtrlRequest req = {
        .code = code,
        .id = 0,
        .params = vsnd_test_params(),
        .reply_len = sizeof(struct virtio_snd_hdr),
    };
    return req;
}

static void test_request_check(void)
{
    VSndPcmStream s = test_stream(VSND_PCM_STATE_INITIAL);
    VSndCtrlRequest req = test_request(VIRTIO_SND_R_PCM_SET_PARAMS);
    VSndPcmState next = VSND_PCM_STATE__MAX;

    g_assert_cmphex(vsnd_pcm_request_check(&s, &req, &next), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpint(next, ==, VSND_PCM_STATE_PARAMS_SET);

    /* bad parameters: status of the check, state untouched */
    next = VSND_PCM_STATE__MAX;
    req.params.rate = VIRTIO_SND_PCM_RATE_8000;
    g_assert_cmphex(vsnd_pcm_request_check(&s, &req, &next), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpint(next, ==, VSND_PCM_STATE__MAX);
    req = test_request(VIRTIO_SND_R_PCM_SET_PARAMS);
    req.params.buffer_bytes = 4096 * req.params.period_bytes;
    g_assert_cmphex(vsnd_pcm_request_check(&s, &req, &next), ==,
                    VIRTIO_SND_S_NOT_SUPP);
    g_assert_cmpint(next, ==, VSND_PCM_STATE__MAX);

    /* good parameters at the wrong time */
    s.state = VSND_PCM_STATE_RUNNING;
    req = test_request(VIRTIO_SND_R_PCM_SET_PARAMS);
    g_assert_cmphex(vsnd_pcm_request_check(&s, &req, &next), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpint(next, ==, VSND_PCM_STATE__MAX);
    s.state = VSND_PCM_STATE_STOPPED;
    g_assert_cmphex(vsnd_pcm_request_check(&s, &req, &next), ==,
                    VIRTIO_SND_S_BAD_MSG);

    /* the others ignore req->params */
    s.state = VSND_PCM_STATE_PREPARED;
    req = test_request(VIRTIO_SND_R_PCM_START);
    req.params.channels = 0;
    g_assert_cmphex(vsnd_pcm_request_check(&s, &req, &next), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpint(next, ==, VSND_PCM_STATE_RUNNING);
    req = test_request(VIRTIO_SND_R_PCM_RELEASE);
    g_assert_cmphex(vsnd_pcm_request_check(&s, &req, &next), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpint(next, ==, VSND_PCM_STATE_RELEASED);
    req = test_request(VIRTIO_SND_R_PCM_INFO);
    g_assert_cmphex(vsnd_pcm_request_check(&s, &req, &next), ==,
                    VIRTIO_SND_S_NOT_SUPP);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-snd/params/valid", test_valid);
    g_test_add_func("/virtio-snd/params/every-supported-format",
                    test_every_supported_format);
    g_test_add_func("/virtio-snd/params/features", test_features);
    g_test_add_func("/virtio-snd/params/shmem-refused-even-if-offered",
                    test_shmem_refused_even_if_offered);
    g_test_add_func("/virtio-snd/params/format", test_format);
    g_test_add_func("/virtio-snd/params/rate", test_rate);
    g_test_add_func("/virtio-snd/params/channels", test_channels);
    g_test_add_func("/virtio-snd/params/sizes", test_sizes);
    g_test_add_func("/virtio-snd/params/buffer-cap", test_buffer_cap);
    g_test_add_func("/virtio-snd/params/defaults", test_defaults);
    g_test_add_func("/virtio-snd/params/request-check", test_request_check);
    return g_test_run();
}
