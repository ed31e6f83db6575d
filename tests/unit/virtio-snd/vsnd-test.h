/*
 * Helpers shared by the virtio-snd unit tests: building guest requests in
 * wire format and cutting them into scatter lists.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VSND_TEST_H
#define VSND_TEST_H

#include "qemu/osdep.h"

#include "hw/audio/virtio-snd-req.h"

/* A scatter list of up to VSND_TEST_MAX_IOV pieces over one buffer. */
#define VSND_TEST_MAX_IOV 1024

typedef struct VSndTestSg {
    struct iovec iov[VSND_TEST_MAX_IOV];
    unsigned int num;
} VSndTestSg;

/* @sg covers @len bytes of @buf in one piece. */
static inline void vsnd_test_sg_whole(VSndTestSg *sg, void *buf, size_t len)
{
    sg->iov[0].iov_base = buf;
    sg->iov[0].iov_len = len;
    sg->num = 1;
}

/* @sg covers @len bytes of @buf in two pieces, the first @cut bytes long. */
static inline void vsnd_test_sg_cut(VSndTestSg *sg, void *buf, size_t len,
                                    size_t cut)
{
    g_assert_cmpuint(cut, <=, len);
    sg->iov[0].iov_base = buf;
    sg->iov[0].iov_len = cut;
    sg->iov[1].iov_base = (uint8_t *)buf + cut;
    sg->iov[1].iov_len = len - cut;
    sg->num = 2;
}

/*
 * @sg covers @len bytes of @buf in 1-byte pieces, each preceded by an
 * empty piece, as a driver may legally chain zero-length descriptors.
 */
static inline void vsnd_test_sg_bytes(VSndTestSg *sg, void *buf, size_t len)
{
    size_t i;

    g_assert_cmpuint(2 * len, <=, VSND_TEST_MAX_IOV);
    for (i = 0; i < len; i++) {
        sg->iov[2 * i].iov_base = NULL;
        sg->iov[2 * i].iov_len = 0;
        sg->iov[2 * i + 1].iov_base = (uint8_t *)buf + i;
        sg->iov[2 * i + 1].iov_len = 1;
    }
    sg->num = 2 * len;
}

static inline struct virtio_snd_query_info
vsnd_test_query(uint32_t code, uint32_t start_id, uint32_t count,
                uint32_t size)
{
    struct virtio_snd_query_info q = {
        .hdr.code = GUINT32_TO_LE(code),
        .start_id = GUINT32_TO_LE(start_id),
        .count = GUINT32_TO_LE(count),
        .size = GUINT32_TO_LE(size),
    };
    return q;
}

static inline struct virtio_snd_pcm_hdr vsnd_test_pcm_hdr(uint32_t code,
                                                          uint32_t id)
{
    struct virtio_snd_pcm_hdr h = {
        .hdr.code = GUINT32_TO_LE(code),
        .stream_id = GUINT32_TO_LE(id),
    };
    return h;
}

/* A stereo S16 48 kHz output stream offering S16/FLOAT at 44.1/48 kHz. */
static inline VSndPcmCaps vsnd_test_caps(void)
{
    VSndPcmCaps caps = {
        .hda_fn_nid = 0,
        .features = 1U << VIRTIO_SND_PCM_F_EVT_XRUNS,
        .formats = (1ULL << VIRTIO_SND_PCM_FMT_S16) |
                   (1ULL << VIRTIO_SND_PCM_FMT_FLOAT),
        .rates = (1ULL << VIRTIO_SND_PCM_RATE_44100) |
                 (1ULL << VIRTIO_SND_PCM_RATE_48000),
        .direction = VIRTIO_SND_D_OUTPUT,
        .channels_min = 1,
        .channels_max = 2,
    };
    return caps;
}

/* Valid parameters for vsnd_test_caps(): 4 periods of 10 ms. */
static inline VSndPcmParams vsnd_test_params(void)
{
    VSndPcmParams p = {
        .buffer_bytes = 4 * 1920,
        .period_bytes = 1920,
        .features = 0,
        .channels = 2,
        .format = VIRTIO_SND_PCM_FMT_S16,
        .rate = VIRTIO_SND_PCM_RATE_48000,
    };
    return p;
}

#endif /* VSND_TEST_H */
