/*
 * Unit tests of the request core (virtio-snd-core.c) with a home of its
 * own: what reaches the home's operations, what the guest gets back, and
 * what is logged as a guest error; for control requests and for the I/O
 * messages it takes or refuses.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vsnd-test.h"
#include "qemu/log.h"
#include "hw/audio/virtio-snd-core.h"

#define HDR sizeof(struct virtio_snd_hdr)

/* A home with an output and an input stream, which records its calls. */
typedef struct Home {
    VSndPcmStream pcm[2];
    uint32_t act_status;        /* what pcm_act answers */
    unsigned int acts;
    uint32_t act_code;
    VSndPcmState act_next;
    uint32_t changed;           /* the last ctl_changed, UINT32_MAX: none */
} Home;

static VSndPcmStream *home_pcm(void *opaque, uint32_t stream)
{
    Home *h = opaque;

    g_assert_cmpuint(stream, <, G_N_ELEMENTS(h->pcm));
    return &h->pcm[stream];
}

static uint32_t home_pcm_act(void *opaque, uint32_t stream,
                             const VSndCtrlRequest *req, VSndPcmState next)
{
    Home *h = opaque;

    g_assert_cmpuint(stream, ==, req->id);
    h->acts++;
    h->act_code = req->code;
    h->act_next = next;
    return h->act_status;
}

static void home_ctl_changed(void *opaque, uint32_t ctl)
{
    Home *h = opaque;

    h->changed = ctl;
}

static const VSndCoreOps home_ops = {
    .pcm = home_pcm,
    .pcm_act = home_pcm_act,
    .ctl_changed = home_ctl_changed,
};

static void home_init(Home *h, VSndCore *core, VSndCtls *ctls)
{
    static const uint8_t dirs[] = { VIRTIO_SND_D_OUTPUT, VIRTIO_SND_D_INPUT };
    unsigned int i;

    memset(h, 0, sizeof(*h));
    for (i = 0; i < G_N_ELEMENTS(h->pcm); i++) {
        h->pcm[i].caps = vsnd_test_caps();
        h->pcm[i].caps.direction = dirs[i];
        vsnd_pcm_default_params(&h->pcm[i].caps, &h->pcm[i].params);
        h->pcm[i].state = VSND_PCM_STATE_PARAMS_SET;    /* as devices do */
    }
    h->act_status = VIRTIO_SND_S_OK;
    h->changed = UINT32_MAX;
    *core = (VSndCore) {
        .counts = {
            .jacks = 2, .streams = 2, .chmaps = 2,
            .controls = ctls ? ctls->count : 0, .ctls = ctls != NULL,
        },
        .ctls = ctls,
        .ops = &home_ops,
        .opaque = h,
    };
}

/* Ask @core @req (@len bytes), with @in_len bytes of room for the reply. */
static size_t ask(VSndCore *core, const void *req, size_t len, void *in,
                  size_t in_len, uint32_t *status)
{
    VSndTestSg out, reply;
    VSndCtrlRequest decoded;

    vsnd_test_sg_whole(&out, (void *)req, len);
    vsnd_test_sg_whole(&reply, in, in_len);
    return vsnd_core_ctrl(core, out.iov, out.num, reply.iov, reply.num,
                          &decoded, status);
}

static uint32_t status_in(const uint8_t *in)
{
    uint32_t s;

    memcpy(&s, in, sizeof(s));
    return GUINT32_FROM_LE(s);
}

static void test_info(void)
{
    Home h;
    VSndCore core;
    struct virtio_snd_query_info q =
        vsnd_test_query(VIRTIO_SND_R_PCM_INFO, 0, 2,
                        sizeof(struct virtio_snd_pcm_info));
    uint8_t in[HDR + 2 * sizeof(struct virtio_snd_pcm_info)];
    struct virtio_snd_pcm_info info;
    struct virtio_snd_chmap_info map;
    struct virtio_snd_jack_info jack;
    uint32_t status;

    home_init(&h, &core, NULL);
    g_assert_cmpuint(ask(&core, &q, sizeof(q), in, sizeof(in), &status), ==,
                     sizeof(in));
    g_assert_cmphex(status, ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(status_in(in), ==, VIRTIO_SND_S_OK);
    memcpy(&info, in + HDR + sizeof(info), sizeof(info));
    g_assert_cmpuint(info.direction, ==, VIRTIO_SND_D_INPUT);
    g_assert_cmpuint(info.channels_max, ==, 2);

    /* Map 1: mono capture; jack 0: a connected output. */
    q = vsnd_test_query(VIRTIO_SND_R_CHMAP_INFO, 1, 1, sizeof(map));
    g_assert_cmpuint(ask(&core, &q, sizeof(q), in, HDR + sizeof(map),
                         &status), ==, HDR + sizeof(map));
    memcpy(&map, in + HDR, sizeof(map));
    g_assert_cmpuint(map.direction, ==, VIRTIO_SND_D_INPUT);
    g_assert_cmpuint(map.channels, ==, 1);
    q = vsnd_test_query(VIRTIO_SND_R_JACK_INFO, 0, 1, sizeof(jack));
    g_assert_cmpuint(ask(&core, &q, sizeof(q), in, HDR + sizeof(jack),
                         &status), ==, HDR + sizeof(jack));
    memcpy(&jack, in + HDR, sizeof(jack));
    g_assert_cmpuint(jack.connected, ==, 1);
    g_assert_cmpuint(vsnd_unit_guest_errors, ==, 0);
}

static void test_lifecycle(void)
{
    Home h;
    VSndCore core;
    struct virtio_snd_pcm_hdr start =
        vsnd_test_pcm_hdr(VIRTIO_SND_R_PCM_START, 0);
    struct virtio_snd_pcm_hdr prepare =
        vsnd_test_pcm_hdr(VIRTIO_SND_R_PCM_PREPARE, 0);
    uint8_t in[HDR];
    unsigned int errors = vsnd_unit_guest_errors;
    uint32_t status;

    home_init(&h, &core, NULL);

    /* START before PREPARE: refused, logged, the home never asked. */
    g_assert_cmpuint(ask(&core, &start, sizeof(start), in, sizeof(in),
                         &status), ==, HDR);
    g_assert_cmphex(status, ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(status_in(in), ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpuint(h.acts, ==, 0);
    g_assert_cmpuint(vsnd_unit_guest_errors, ==, errors + 1);

    /* PREPARE: the home acts, then the stream is PREPARED. */
    ask(&core, &prepare, sizeof(prepare), in, sizeof(in), &status);
    g_assert_cmphex(status, ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(h.acts, ==, 1);
    g_assert_cmphex(h.act_code, ==, VIRTIO_SND_R_PCM_PREPARE);
    g_assert_cmpint(h.act_next, ==, VSND_PCM_STATE_PREPARED);
    g_assert_cmpint(h.pcm[0].state, ==, VSND_PCM_STATE_PREPARED);

    /* A home that fails START keeps the stream where it was. */
    h.act_status = VIRTIO_SND_S_IO_ERR;
    ask(&core, &start, sizeof(start), in, sizeof(in), &status);
    g_assert_cmphex(status, ==, VIRTIO_SND_S_IO_ERR);
    g_assert_cmphex(status_in(in), ==, VIRTIO_SND_S_IO_ERR);
    g_assert_cmpint(h.pcm[0].state, ==, VSND_PCM_STATE_PREPARED);
    g_assert_cmpuint(vsnd_unit_guest_errors, ==, errors + 2);
}

static void test_malformed(void)
{
    Home h;
    VSndCore core;
    struct virtio_snd_pcm_hdr start =
        vsnd_test_pcm_hdr(VIRTIO_SND_R_PCM_START, 2);   /* no stream 2 */
    uint8_t in[HDR + 8];
    unsigned int errors = vsnd_unit_guest_errors;
    uint32_t status;

    home_init(&h, &core, NULL);
    /* Only the header is used, however much room there is. */
    g_assert_cmpuint(ask(&core, &start, sizeof(start), in, sizeof(in),
                         &status), ==, HDR);
    g_assert_cmphex(status, ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpuint(vsnd_unit_guest_errors, ==, errors + 1);
    /* Nowhere to put a status: nothing used. */
    g_assert_cmpuint(ask(&core, &start, sizeof(start), in, HDR - 1,
                         &status), ==, 0);
    /* JACK_REMAP is not offered; nor the control elements without CTLS. */
    start.hdr.code = GUINT32_TO_LE(VIRTIO_SND_R_CTL_INFO);
    ask(&core, &start, sizeof(start), in, sizeof(in), &status);
    g_assert_cmphex(status, ==, VIRTIO_SND_S_NOT_SUPP);
    g_assert_cmpuint(h.acts, ==, 0);
}

static void test_ctl_changed(void)
{
    static const uint8_t dirs[] = { VIRTIO_SND_D_OUTPUT, VIRTIO_SND_D_INPUT };
    VSndCtls *ctls = vsnd_ctls_new(dirs, G_N_ELEMENTS(dirs));
    Home h;
    VSndCore core;
    struct {
        struct virtio_snd_ctl_hdr hdr;
        struct virtio_snd_ctl_value value;
    } w;
    uint8_t in[HDR];
    uint32_t status;

    home_init(&h, &core, ctls);
    memset(&w, 0, sizeof(w));
    w.hdr.hdr.code = GUINT32_TO_LE(VIRTIO_SND_R_CTL_WRITE);
    w.hdr.control_id = GUINT32_TO_LE(0);
    w.value.value.integer[0] = GUINT32_TO_LE(1);
    w.value.value.integer[1] = GUINT32_TO_LE(1);
    g_assert_cmpuint(ask(&core, &w, sizeof(w), in, sizeof(in), &status), ==,
                     HDR);
    g_assert_cmphex(status, ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(h.changed, ==, 0);

    /* The same value again changes nothing: the home hears nothing. */
    h.changed = UINT32_MAX;
    ask(&core, &w, sizeof(w), in, sizeof(in), &status);
    g_assert_cmphex(status, ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(h.changed, ==, UINT32_MAX);
    vsnd_ctls_free(ctls);
}

/* An I/O message for stream @id: its header, 4 bytes of frames, a status. */
static uint32_t xfer(VSndCore *core, uint32_t dir, uint32_t id,
                     uint8_t *status_buf, size_t *used, VSndXfer *x)
{
    struct virtio_snd_pcm_xfer hdr = { .stream_id = GUINT32_TO_LE(id) };
    uint8_t frames[4] = { 0 };
    struct iovec out[2] = {
        { &hdr, sizeof(hdr) }, { frames, sizeof(frames) },
    };
    struct iovec in[2] = {
        { frames, sizeof(frames) },
        { status_buf, sizeof(struct virtio_snd_pcm_status) },
    };
    bool tx = dir == VIRTIO_SND_D_OUTPUT;

    *used = SIZE_MAX;
    return vsnd_core_xfer(core, dir, out, tx ? 2 : 1, tx ? &in[1] : in,
                          tx ? 1 : 2, x, used);
}

static void test_xfer(void)
{
    Home h;
    VSndCore core;
    uint8_t st[sizeof(struct virtio_snd_pcm_status)];
    unsigned int errors = vsnd_unit_guest_errors;
    VSndXfer x;
    size_t used;

    home_init(&h, &core, NULL);
    h.pcm[0].state = VSND_PCM_STATE_PREPARED;
    h.pcm[1].state = VSND_PCM_STATE_RUNNING;
    /* Taken: nothing answered, nothing logged. */
    g_assert_cmphex(xfer(&core, VIRTIO_SND_D_OUTPUT, 0, st, &used, &x), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpuint(used, ==, SIZE_MAX);
    g_assert_cmpuint(x.stream_id, ==, 0);
    g_assert_cmpuint(x.data_len, ==, 4);
    g_assert_cmphex(xfer(&core, VIRTIO_SND_D_INPUT, 1, st, &used, &x), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpuint(vsnd_unit_guest_errors, ==, errors);

    /* No stream 2; stream 1 on the tx queue; stream 0 not prepared. */
    g_assert_cmphex(xfer(&core, VIRTIO_SND_D_OUTPUT, 2, st, &used, &x), ==,
                    VIRTIO_SND_S_IO_ERR);
    g_assert_cmpuint(used, ==, sizeof(st));
    g_assert_cmphex(status_in(st), ==, VIRTIO_SND_S_IO_ERR);
    g_assert_cmphex(xfer(&core, VIRTIO_SND_D_OUTPUT, 1, st, &used, &x), ==,
                    VIRTIO_SND_S_IO_ERR);
    h.pcm[0].state = VSND_PCM_STATE_PARAMS_SET;
    g_assert_cmphex(xfer(&core, VIRTIO_SND_D_OUTPUT, 0, st, &used, &x), ==,
                    VIRTIO_SND_S_IO_ERR);
    g_assert_cmpuint(used, ==, sizeof(st));
    g_assert_cmpuint(vsnd_unit_guest_errors, ==, errors + 3);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-snd/core/info", test_info);
    g_test_add_func("/virtio-snd/core/lifecycle", test_lifecycle);
    g_test_add_func("/virtio-snd/core/malformed", test_malformed);
    g_test_add_func("/virtio-snd/core/ctl-changed", test_ctl_changed);
    g_test_add_func("/virtio-snd/core/xfer", test_xfer);
    return g_test_run();
}
