/*
 * Unit tests of the control elements (virtio-snd-ctl.c): the table built
 * from the streams, CTL_INFO items in both layouts, the TLV, value
 * validation and storage, whole requests as the device carries them out,
 * and the mapping of volume values to QEMU's audio levels.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vsnd-test.h"

#include <math.h>

#include "hw/audio/virtio-snd-ctl.h"

#define HDR sizeof(struct virtio_snd_hdr)

/* Four streams as the device makes them: playback, capture, ... */
static VSndCtls *make_ctls(void)
{
    static const uint8_t dirs[] = {
        VIRTIO_SND_D_OUTPUT, VIRTIO_SND_D_INPUT,
        VIRTIO_SND_D_OUTPUT, VIRTIO_SND_D_INPUT,
    };

    return vsnd_ctls_new(dirs, G_N_ELEMENTS(dirs));
}

static uint32_t le32_at(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT32_FROM_LE(v);
}

static void test_table(void)
{
    static const struct {
        const char *name;
        uint32_t index, role, type, access, count, max;
    } want[] = {
        { "PCM Playback Volume", 0, 2, VIRTIO_SND_CTL_TYPE_INTEGER, 0x13, 2,
          120 },
        { "PCM Playback Switch", 0, 4, VIRTIO_SND_CTL_TYPE_BOOLEAN, 0x03, 1,
          1 },
        { "Capture Volume", 0, 3, VIRTIO_SND_CTL_TYPE_INTEGER, 0x13, 2, 120 },
        { "Capture Switch", 0, 5, VIRTIO_SND_CTL_TYPE_BOOLEAN, 0x03, 1, 1 },
        { "PCM Playback Volume", 1, 2, VIRTIO_SND_CTL_TYPE_INTEGER, 0x13, 2,
          120 },
        { "PCM Playback Switch", 1, 4, VIRTIO_SND_CTL_TYPE_BOOLEAN, 0x03, 1,
          1 },
        { "Capture Volume", 1, 3, VIRTIO_SND_CTL_TYPE_INTEGER, 0x13, 2, 120 },
        { "Capture Switch", 1, 5, VIRTIO_SND_CTL_TYPE_BOOLEAN, 0x03, 1, 1 },
    };
    VSndCtls *c = make_ctls();
    uint32_t i;

    g_assert_cmpuint(c->count, ==, G_N_ELEMENTS(want));
    for (i = 0; i < c->count; i++) {
        uint8_t item[VSND_CTL_INFO_SIZE_ALIGNED];

        g_assert_cmpstr(vsnd_ctl_name(c, i), ==, want[i].name);
        g_assert_cmpuint(c->ctl[i].stream, ==, i / 2);
        g_assert_cmpuint(vsnd_ctl_id(i / 2, i % 2), ==, i);
        g_assert_cmpuint(vsnd_ctl_type(c, i), ==, want[i].type);
        g_assert_cmphex(vsnd_ctl_access(c, i), ==, want[i].access);
        g_assert_cmpuint(vsnd_ctl_count(c, i), ==, want[i].count);
        g_assert_cmpuint(vsnd_ctl_max(c, i), ==, want[i].max);

        /* The spec's layout: value at 68. */
        g_assert_cmpuint(vsnd_ctl_info_item(c, i, 92, item), ==, 92);
        g_assert_cmpuint(le32_at(item), ==, 0);             /* hda_fn_nid */
        g_assert_cmpuint(le32_at(item + 4), ==, want[i].role);
        g_assert_cmpuint(le32_at(item + 8), ==, want[i].type);
        g_assert_cmphex(le32_at(item + 12), ==, want[i].access);
        g_assert_cmpuint(le32_at(item + 16), ==, want[i].count);
        g_assert_cmpuint(le32_at(item + 20), ==, want[i].index);
        g_assert_cmpstr((const char *)item + 24, ==, want[i].name);
        g_assert_cmpuint(item[24 + 44 - 1], ==, 0);
        if (want[i].type == VIRTIO_SND_CTL_TYPE_INTEGER) {
            g_assert_cmpuint(le32_at(item + 68), ==, 0);
            g_assert_cmpuint(le32_at(item + 72), ==, 120);
            g_assert_cmpuint(le32_at(item + 76), ==, 1);
        } else {
            g_assert_cmpuint(le32_at(item + 72), ==, 0);
        }

        /* 64-bit Linux's layout: 4 bytes of padding, value at 72. */
        g_assert_cmpuint(vsnd_ctl_info_item(c, i, 96, item), ==, 96);
        g_assert_cmpuint(le32_at(item + 4), ==, want[i].role);
        g_assert_cmpstr((const char *)item + 24, ==, want[i].name);
        g_assert_cmpuint(le32_at(item + 68), ==, 0);
        if (want[i].type == VIRTIO_SND_CTL_TYPE_INTEGER) {
            g_assert_cmpuint(le32_at(item + 72), ==, 0);
            g_assert_cmpuint(le32_at(item + 76), ==, 120);
            g_assert_cmpuint(le32_at(item + 80), ==, 1);
        }
        /* Sizes in between are the spec's; longer ones the aligned one. */
        g_assert_cmpuint(vsnd_ctl_info_item(c, i, 95, item), ==, 92);
        g_assert_cmpuint(vsnd_ctl_info_item(c, i, 200, item), ==, 96);
    }
    vsnd_ctls_free(c);
}

/* One stream each way, or only capture: index counts per direction. */
static void test_table_shapes(void)
{
    static const uint8_t in_only[] = { VIRTIO_SND_D_INPUT, VIRTIO_SND_D_INPUT };
    static const uint8_t out_only[] = { VIRTIO_SND_D_OUTPUT };
    VSndCtls *c = vsnd_ctls_new(in_only, 2);

    g_assert_cmpuint(c->count, ==, 4);
    g_assert_cmpstr(vsnd_ctl_name(c, 2), ==, "Capture Volume");
    g_assert_cmpuint(c->ctl[2].index, ==, 1);
    vsnd_ctls_free(c);

    c = vsnd_ctls_new(out_only, 1);
    g_assert_cmpuint(c->count, ==, 2);
    g_assert_cmpstr(vsnd_ctl_name(c, 1), ==, "PCM Playback Switch");
    vsnd_ctls_free(c);
    vsnd_ctls_free(NULL);
}

static void test_tlv(void)
{
    VSndCtls *c = make_ctls();
    uint8_t tlv[VSND_CTL_TLV_MAX];

    g_assert_cmpuint(vsnd_ctl_tlv(c, 0, tlv), ==, 16);
    g_assert_cmpuint(le32_at(tlv), ==, 1);              /* DB_SCALE */
    g_assert_cmpuint(le32_at(tlv + 4), ==, 8);
    g_assert_cmpint((int32_t)le32_at(tlv + 8), ==, -6000);
    g_assert_cmphex(le32_at(tlv + 12), ==, 0x10000 | 50);
    g_assert_cmpuint(vsnd_ctl_tlv(c, 2, tlv), ==, 16);
    g_assert_cmpuint(vsnd_ctl_tlv(c, 1, tlv), ==, 0);
    g_assert_cmpuint(vsnd_ctl_tlv(c, 3, tlv), ==, 0);
    vsnd_ctls_free(c);
}

static struct virtio_snd_ctl_value value_of(uint32_t a, uint32_t b)
{
    struct virtio_snd_ctl_value v;

    memset(&v, 0, sizeof(v));
    v.value.integer[0] = GUINT32_TO_LE(a);
    v.value.integer[1] = GUINT32_TO_LE(b);
    return v;
}

static void test_write_read(void)
{
    VSndCtls *c = make_ctls();
    struct virtio_snd_ctl_value v, r;
    const char *why = NULL;
    bool changed;
    uint32_t i;

    /* Defaults: 0 dB both channels, switches on. */
    for (i = 0; i < c->count; i++) {
        vsnd_ctl_read(c, i, &r);
        g_assert_cmpuint(GUINT32_FROM_LE(r.value.integer[0]), ==,
                         i % 2 ? 1 : 120);
        g_assert_cmpuint(GUINT32_FROM_LE(r.value.integer[1]), ==,
                         i % 2 ? 0 : 120);
    }

    v = value_of(60, 100);
    g_assert_cmphex(vsnd_ctl_write(c, 0, &v, &changed, &why), ==,
                    VIRTIO_SND_S_OK);
    g_assert_true(changed);
    g_assert_cmphex(vsnd_ctl_write(c, 0, &v, &changed, &why), ==,
                    VIRTIO_SND_S_OK);
    g_assert_false(changed);
    vsnd_ctl_read(c, 0, &r);
    g_assert_cmpmem(&r, sizeof(r), &v, sizeof(v));

    /* Bounds: 0 and 120 fine, 121 and up refused, nothing stored. */
    v = value_of(0, 120);
    g_assert_cmphex(vsnd_ctl_write(c, 2, &v, &changed, &why), ==,
                    VIRTIO_SND_S_OK);
    v = value_of(0, 121);
    g_assert_cmphex(vsnd_ctl_write(c, 2, &v, &changed, &why), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_nonnull(why);
    g_assert_false(changed);
    v = value_of(0xffffffff, 5);
    g_assert_cmphex(vsnd_ctl_write(c, 2, &v, &changed, &why), ==,
                    VIRTIO_SND_S_BAD_MSG);
    v = value_of(50, 0x80000000);
    g_assert_cmphex(vsnd_ctl_write(c, 2, &v, &changed, &why), ==,
                    VIRTIO_SND_S_BAD_MSG);
    vsnd_ctl_read(c, 2, &r);
    g_assert_cmpuint(GUINT32_FROM_LE(r.value.integer[0]), ==, 0);
    g_assert_cmpuint(GUINT32_FROM_LE(r.value.integer[1]), ==, 120);

    /* Switch: 0 or 1; the members past its count are not looked at. */
    v = value_of(0, 77);
    v.value.integer[127] = GUINT32_TO_LE(0xdead);
    g_assert_cmphex(vsnd_ctl_write(c, 1, &v, &changed, &why), ==,
                    VIRTIO_SND_S_OK);
    g_assert_true(changed);
    vsnd_ctl_read(c, 1, &r);
    g_assert_cmpuint(GUINT32_FROM_LE(r.value.integer[0]), ==, 0);
    g_assert_cmpuint(GUINT32_FROM_LE(r.value.integer[1]), ==, 0);
    g_assert_cmpuint(r.value.integer[127], ==, 0);
    v = value_of(2, 0);
    g_assert_cmphex(vsnd_ctl_write(c, 1, &v, &changed, &why), ==,
                    VIRTIO_SND_S_BAD_MSG);
    v = value_of(0xffffffff, 0);
    g_assert_cmphex(vsnd_ctl_write(c, 3, &v, &changed, &why), ==,
                    VIRTIO_SND_S_BAD_MSG);

    /* Reset: all back to the defaults. */
    vsnd_ctls_reset(c);
    for (i = 0; i < c->count; i++) {
        vsnd_ctl_read(c, i, &r);
        g_assert_cmpuint(GUINT32_FROM_LE(r.value.integer[0]), ==,
                         i % 2 ? 1 : 120);
    }
    vsnd_ctls_free(c);
}

static void test_volume_scale(void)
{
    uint32_t v;
    uint8_t prev = 0;
    double worst = 0, worst_top = 0;

    g_assert_cmpint(vsnd_ctl_volume_cdb(0), ==, INT32_MIN);
    g_assert_cmpint(vsnd_ctl_volume_cdb(1), ==, -5950);
    g_assert_cmpint(vsnd_ctl_volume_cdb(60), ==, -3000);
    g_assert_cmpint(vsnd_ctl_volume_cdb(120), ==, 0);
    g_assert_cmpuint(vsnd_ctl_volume_level(0), ==, 0);
    g_assert_cmpuint(vsnd_ctl_volume_level(1), ==, 26);
    g_assert_cmpuint(vsnd_ctl_volume_level(60), ==, 81);
    g_assert_cmpuint(vsnd_ctl_volume_level(119), ==, 250);
    g_assert_cmpuint(vsnd_ctl_volume_level(120), ==, 255);
    /* Out of range (never stored) is clamped, not wrapped. */
    g_assert_cmpuint(vsnd_ctl_volume_level(1000), ==, 255);

    /*
     * The level's gain under the PipeWire backend's curve, 60 log10(l/255)
     * dB, is the value's within 0.5 dB, within 0.14 dB from -30 dB up,
     * and never decreases with the value.
     */
    for (v = 1; v <= VSND_CTL_VOLUME_MAX; v++) {
        uint8_t level = vsnd_ctl_volume_level(v);
        double want = vsnd_ctl_volume_cdb(v) / 100.0;
        double got = 60.0 * log10(level / 255.0);
        double err = fabs(got - want);

        g_assert_cmpuint(level, >=, prev);
        prev = level;
        worst = MAX(worst, err);
        if (want >= -30.0) {
            worst_top = MAX(worst_top, err);
        }
    }
    g_assert_cmpfloat(worst, <, 0.5);
    g_assert_cmpfloat(worst_top, <, 0.14);
}

static void test_stream_volume(void)
{
    VSndCtls *c = make_ctls();
    struct virtio_snd_ctl_value v = value_of(120, 60);
    VSndCtlStreamVolume sv;
    const char *why;
    bool changed;
    uint32_t i;

    /* Stream 0 at defaults: unity, not muted. */
    vsnd_ctls_stream_volume(c, 0, 2, &sv);
    g_assert_false(sv.mute);
    g_assert_cmpuint(sv.channels, ==, 2);
    g_assert_cmpuint(sv.level[0], ==, 255);
    g_assert_cmpuint(sv.level[1], ==, 255);

    g_assert_cmphex(vsnd_ctl_write(c, 0, &v, &changed, &why), ==,
                    VIRTIO_SND_S_OK);
    vsnd_ctls_stream_volume(c, 0, 2, &sv);
    g_assert_cmpuint(sv.level[0], ==, 255);
    g_assert_cmpuint(sv.level[1], ==, 81);
    /* Before any parameters: stereo. */
    vsnd_ctls_stream_volume(c, 0, 0, &sv);
    g_assert_cmpuint(sv.channels, ==, 2);
    g_assert_cmpuint(sv.level[1], ==, 81);
    /* Mono: the mean value, 90 (-15 dB). */
    vsnd_ctls_stream_volume(c, 0, 1, &sv);
    g_assert_cmpuint(sv.channels, ==, 1);
    g_assert_cmpuint(sv.level[0], ==, vsnd_ctl_volume_level(90));
    /* FL FR LFE. */
    vsnd_ctls_stream_volume(c, 0, 3, &sv);
    g_assert_cmpuint(sv.level[0], ==, 255);
    g_assert_cmpuint(sv.level[1], ==, 81);
    g_assert_cmpuint(sv.level[2], ==, vsnd_ctl_volume_level(90));
    /* FL FR FC LFE RL RR SL SR. */
    vsnd_ctls_stream_volume(c, 0, 8, &sv);
    for (i = 0; i < 8; i++) {
        uint8_t want = i == 2 || i == 3 ? vsnd_ctl_volume_level(90) :
                       i % 2 ? 81 : 255;

        g_assert_cmpuint(sv.level[i], ==, want);
    }
    /* More channels than a stream can have: capped. */
    vsnd_ctls_stream_volume(c, 0, 99, &sv);
    g_assert_cmpuint(sv.channels, ==, VSND_PCM_CHANNELS_MAX);

    /* The switch mutes; the other streams are untouched. */
    v = value_of(0, 0);
    g_assert_cmphex(vsnd_ctl_write(c, 1, &v, &changed, &why), ==,
                    VIRTIO_SND_S_OK);
    vsnd_ctls_stream_volume(c, 0, 2, &sv);
    g_assert_true(sv.mute);
    g_assert_cmpuint(sv.level[0], ==, 255);
    vsnd_ctls_stream_volume(c, 1, 2, &sv);
    g_assert_false(sv.mute);
    g_assert_cmpuint(sv.level[1], ==, 255);
    vsnd_ctls_stream_volume(c, 2, 2, &sv);
    g_assert_false(sv.mute);
    vsnd_ctls_free(c);
}

/* Whole requests: parsed as the device does, then carried out. */

static const VSndDeviceCounts dev = {
    .jacks = 2, .streams = 4, .chmaps = 0, .controls = 8, .ctls = true,
};

typedef struct Reply {
    uint32_t status;
    size_t len;
    uint8_t buf[HDR + 16 * VSND_CTL_INFO_SIZE_ALIGNED];
} Reply;

/*
 * Parse the @req_len bytes of @req with @room bytes of device-writable
 * room, carry it out and return the status; the reply is in @r (filled
 * with 0xa5 first), r->len its used length.
 */
static uint32_t run(VSndCtls *c, const void *req, size_t req_len,
                    size_t room, Reply *r, uint32_t *changed)
{
    VSndTestSg out, in;
    VSndCtrlRequest parsed;
    const char *why;
    uint32_t status, dummy;

    g_assert_cmpuint(room, <=, sizeof(r->buf));
    memset(r->buf, 0xa5, sizeof(r->buf));
    vsnd_test_sg_whole(&out, (void *)req, req_len);
    vsnd_test_sg_cut(&in, r->buf, room, MIN(room, 3));
    status = vsnd_ctrl_parse(&dev, out.iov, out.num, room, &parsed);
    r->len = HDR;
    if (status == VIRTIO_SND_S_OK) {
        status = vsnd_ctl_request(c, &parsed, out.iov, out.num, in.iov,
                                  in.num, &r->len, changed ? changed : &dummy,
                                  &why);
        if (status != VIRTIO_SND_S_OK) {
            g_assert_nonnull(why);
            r->len = HDR;
        }
    }
    r->status = status;
    return status;
}

static void test_request_info(void)
{
    VSndCtls *c = make_ctls();
    struct virtio_snd_query_info q;
    Reply r;
    uint32_t i;

    /* What 64-bit Linux sends: all controls, 96-byte items. */
    q = vsnd_test_query(VIRTIO_SND_R_CTL_INFO, 0, 8, 96);
    g_assert_cmphex(run(c, &q, sizeof(q), HDR + 8 * 96, &r, NULL), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpuint(r.len, ==, HDR + 8 * 96);
    for (i = 0; i < 8; i++) {
        uint8_t want[VSND_CTL_INFO_SIZE_ALIGNED];

        vsnd_ctl_info_item(c, i, 96, want);
        g_assert_cmpmem(r.buf + HDR + i * 96, 96, want, 96);
    }
    g_assert_cmpuint(le32_at(r.buf + HDR + 96 * 2 + 76), ==, 120);

    /* The spec's 92; a tail of the table; longer items zero-padded. */
    q = vsnd_test_query(VIRTIO_SND_R_CTL_INFO, 6, 2, 92);
    g_assert_cmphex(run(c, &q, sizeof(q), HDR + 2 * 92, &r, NULL), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpstr((const char *)r.buf + HDR + 24, ==, "Capture Volume");
    g_assert_cmpuint(le32_at(r.buf + HDR + 20), ==, 1);
    g_assert_cmpuint(le32_at(r.buf + HDR + 72), ==, 120);
    q = vsnd_test_query(VIRTIO_SND_R_CTL_INFO, 0, 1, 128);
    g_assert_cmphex(run(c, &q, sizeof(q), HDR + 128, &r, NULL), ==,
                    VIRTIO_SND_S_OK);
    for (i = 96; i < 128; i++) {
        g_assert_cmpuint(r.buf[HDR + i], ==, 0);
    }

    /* Too small, past the end, too little room. */
    q = vsnd_test_query(VIRTIO_SND_R_CTL_INFO, 0, 1, 91);
    g_assert_cmphex(run(c, &q, sizeof(q), HDR + 91, &r, NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    q = vsnd_test_query(VIRTIO_SND_R_CTL_INFO, 7, 2, 96);
    g_assert_cmphex(run(c, &q, sizeof(q), HDR + 2 * 96, &r, NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    q = vsnd_test_query(VIRTIO_SND_R_CTL_INFO, 0, 2, 96);
    g_assert_cmphex(run(c, &q, sizeof(q), HDR + 96, &r, NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    vsnd_ctls_free(c);
}

typedef struct WriteReq {
    struct virtio_snd_ctl_hdr hdr;
    struct virtio_snd_ctl_value value;
} WriteReq;

static WriteReq write_req(uint32_t id, uint32_t a, uint32_t b)
{
    WriteReq w;

    memset(&w, 0, sizeof(w));
    w.hdr.hdr.code = GUINT32_TO_LE(VIRTIO_SND_R_CTL_WRITE);
    w.hdr.control_id = GUINT32_TO_LE(id);
    w.value = value_of(a, b);
    return w;
}

static struct virtio_snd_ctl_hdr ctl_hdr(uint32_t code, uint32_t id)
{
    struct virtio_snd_ctl_hdr h = {
        .hdr.code = GUINT32_TO_LE(code),
        .control_id = GUINT32_TO_LE(id),
    };
    return h;
}

static void test_request_values(void)
{
    VSndCtls *c = make_ctls();
    struct virtio_snd_ctl_hdr h;
    WriteReq w;
    Reply r;
    uint32_t changed;

    G_STATIC_ASSERT(sizeof(WriteReq) == 520);

    /* Read the default, write, read it back. */
    h = ctl_hdr(VIRTIO_SND_R_CTL_READ, 4);
    g_assert_cmphex(run(c, &h, sizeof(h), HDR + 512, &r, NULL), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpuint(r.len, ==, HDR + 512);
    g_assert_cmpuint(le32_at(r.buf + HDR), ==, 120);
    g_assert_cmpuint(le32_at(r.buf + HDR + 4), ==, 120);
    g_assert_cmpuint(le32_at(r.buf + HDR + 8), ==, 0);

    w = write_req(4, 60, 61);
    g_assert_cmphex(run(c, &w, sizeof(w), HDR, &r, &changed), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpuint(r.len, ==, HDR);
    g_assert_cmpuint(changed, ==, 4);
    g_assert_cmphex(run(c, &w, sizeof(w), HDR, &r, &changed), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpuint(changed, ==, UINT32_MAX);
    g_assert_cmphex(run(c, &h, sizeof(h), HDR + 512, &r, NULL), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpuint(le32_at(r.buf + HDR), ==, 60);
    g_assert_cmpuint(le32_at(r.buf + HDR + 4), ==, 61);

    /* Out of range, a switch at 2, no such control, a value cut short. */
    w = write_req(4, 60, 121);
    g_assert_cmphex(run(c, &w, sizeof(w), HDR, &r, &changed), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpuint(changed, ==, UINT32_MAX);
    w = write_req(5, 2, 0);
    g_assert_cmphex(run(c, &w, sizeof(w), HDR, &r, NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    w = write_req(8, 1, 1);
    g_assert_cmphex(run(c, &w, sizeof(w), HDR, &r, NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    w = write_req(4, 1, 1);
    g_assert_cmphex(run(c, &w, sizeof(w) - 4, HDR, &r, NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(run(c, &h, sizeof(h), HDR + 512, &r, NULL), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpuint(le32_at(r.buf + HDR), ==, 60);
    g_assert_cmpuint(le32_at(r.buf + HDR + 4), ==, 61);

    /* The switch of stream 2. */
    w = write_req(5, 0, 0);
    g_assert_cmphex(run(c, &w, sizeof(w), HDR, &r, &changed), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpuint(changed, ==, 5);
    h = ctl_hdr(VIRTIO_SND_R_CTL_READ, 5);
    g_assert_cmphex(run(c, &h, sizeof(h), HDR + 512, &r, NULL), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpuint(le32_at(r.buf + HDR), ==, 0);

    /* A read without room for the value is refused by the parser. */
    g_assert_cmphex(run(c, &h, sizeof(h), HDR + 511, &r, NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    vsnd_ctls_free(c);
}

static void test_request_tlv(void)
{
    VSndCtls *c = make_ctls();
    struct virtio_snd_ctl_hdr h = ctl_hdr(VIRTIO_SND_R_CTL_TLV_READ, 2);
    struct {
        struct virtio_snd_ctl_hdr hdr;
        uint32_t tlv[4];
    } tw = {
        .hdr = ctl_hdr(VIRTIO_SND_R_CTL_TLV_WRITE, 0),
        .tlv = { GUINT32_TO_LE(1), GUINT32_TO_LE(8), 0, 0 },
    };
    Reply r;

    /* Whole, with room to spare. */
    g_assert_cmphex(run(c, &h, sizeof(h), HDR + 64, &r, NULL), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpuint(r.len, ==, HDR + 16);
    g_assert_cmpuint(le32_at(r.buf + HDR), ==, 1);
    g_assert_cmpuint(le32_at(r.buf + HDR + 4), ==, 8);
    g_assert_cmpint((int32_t)le32_at(r.buf + HDR + 8), ==, -6000);
    g_assert_cmphex(le32_at(r.buf + HDR + 12), ==, 0x10032);
    g_assert_cmphex(r.buf[HDR + 16], ==, 0xa5);

    /* Too little room for the value: what fits, and success. */
    g_assert_cmphex(run(c, &h, sizeof(h), HDR + 12, &r, NULL), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpuint(r.len, ==, HDR + 12);
    g_assert_cmpint((int32_t)le32_at(r.buf + HDR + 8), ==, -6000);
    /* Not even the header: refused by the parser. */
    g_assert_cmphex(run(c, &h, sizeof(h), HDR + 7, &r, NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);

    /* A switch has no TLV; nothing takes TLV writes or commands. */
    h = ctl_hdr(VIRTIO_SND_R_CTL_TLV_READ, 3);
    g_assert_cmphex(run(c, &h, sizeof(h), HDR + 64, &r, NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpuint(r.len, ==, HDR);
    g_assert_cmphex(run(c, &tw, sizeof(tw), HDR, &r, NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    tw.hdr = ctl_hdr(VIRTIO_SND_R_CTL_TLV_COMMAND, 0);
    g_assert_cmphex(run(c, &tw, sizeof(tw), HDR, &r, NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);

    /* No control is ENUMERATED. */
    h = ctl_hdr(VIRTIO_SND_R_CTL_ENUM_ITEMS, 0);
    g_assert_cmphex(run(c, &h, sizeof(h), HDR + 64, &r, NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    vsnd_ctls_free(c);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vsnd/ctl/table", test_table);
    g_test_add_func("/vsnd/ctl/table-shapes", test_table_shapes);
    g_test_add_func("/vsnd/ctl/tlv", test_tlv);
    g_test_add_func("/vsnd/ctl/write-read", test_write_read);
    g_test_add_func("/vsnd/ctl/volume-scale", test_volume_scale);
    g_test_add_func("/vsnd/ctl/stream-volume", test_stream_volume);
    g_test_add_func("/vsnd/ctl/request-info", test_request_info);
    g_test_add_func("/vsnd/ctl/request-values", test_request_values);
    g_test_add_func("/vsnd/ctl/request-tlv", test_request_tlv);
    return g_test_run();
}
