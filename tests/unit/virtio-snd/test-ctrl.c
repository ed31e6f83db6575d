/*
 * Unit tests of control request parsing (vsnd_ctrl_parse) and of the
 * reply helpers: every request code valid and malformed, item queries at
 * and past their limits, requests split across descriptors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vsnd-test.h"

#define HDR sizeof(struct virtio_snd_hdr)

static const VSndDeviceCounts dev = {
    .jacks = 2, .streams = 3, .chmaps = 1, .controls = 4, .ctls = true,
};

static uint32_t parse_len(const VSndDeviceCounts *d, const void *buf,
                          size_t len, size_t in_len, VSndCtrlRequest *req)
{
    VSndTestSg sg;

    vsnd_test_sg_whole(&sg, (void *)buf, len);
    return vsnd_ctrl_parse(d, sg.iov, sg.num, in_len, req);
}

#define PARSE(obj, in_len, req) \
    parse_len(&dev, &(obj), sizeof(obj), (in_len), (req))

static void test_short_header(void)
{
    uint8_t buf[4] = { 0x01, 0x01, 0x00, 0x00 };
    VSndCtrlRequest req;
    size_t len;

    for (len = 0; len < sizeof(buf); len++) {
        g_assert_cmphex(parse_len(&dev, buf, len, 64, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        g_assert_cmphex(req.code, ==, 0);
    }
    g_assert_cmphex(vsnd_ctrl_parse(&dev, NULL, 0, 64, &req), ==,
                    VIRTIO_SND_S_BAD_MSG);
}

static void test_unknown_codes(void)
{
    static const uint32_t codes[] = {
        0, 3, 0x00ff, 0x0106, 0x01ff, 0x0201, 0x0307, 0x0400,
        VIRTIO_SND_EVT_JACK_CONNECTED, VIRTIO_SND_EVT_PCM_XRUN,
        VIRTIO_SND_EVT_CTL_NOTIFY, VIRTIO_SND_S_OK, VIRTIO_SND_S_IO_ERR,
        0xffffffff,
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(codes); i++) {
        struct virtio_snd_query_info q = vsnd_test_query(codes[i], 0, 1, 32);
        uint32_t hdr = GUINT32_TO_LE(codes[i]);
        VSndCtrlRequest req;

        g_assert_cmphex(PARSE(hdr, 64, &req), ==, VIRTIO_SND_S_NOT_SUPP);
        g_assert_cmphex(req.code, ==, codes[i]);
        g_assert_cmphex(PARSE(q, 64, &req), ==, VIRTIO_SND_S_NOT_SUPP);
        /* unknown even when there is no room for anything */
        g_assert_cmphex(PARSE(hdr, 0, &req), ==, VIRTIO_SND_S_NOT_SUPP);
    }
}

static const struct {
    const char *name;
    uint32_t code;
    size_t item_size;
} queries[] = {
    { "jack", VIRTIO_SND_R_JACK_INFO, sizeof(struct virtio_snd_jack_info) },
    { "pcm", VIRTIO_SND_R_PCM_INFO, sizeof(struct virtio_snd_pcm_info) },
    { "chmap", VIRTIO_SND_R_CHMAP_INFO,
      sizeof(struct virtio_snd_chmap_info) },
    { "ctl", VIRTIO_SND_R_CTL_INFO, VSND_CTL_INFO_SIZE_PACKED },
};

static uint32_t items_of(uint32_t code)
{
    switch (code) {
    case VIRTIO_SND_R_JACK_INFO:
        return dev.jacks;
    case VIRTIO_SND_R_PCM_INFO:
        return dev.streams;
    case VIRTIO_SND_R_CHMAP_INFO:
        return dev.chmaps;
    default:
        return dev.controls;
    }
}

static uint32_t query(uint32_t code, uint32_t start, uint32_t count,
                      uint32_t size, size_t in_len, VSndCtrlRequest *req)
{
    struct virtio_snd_query_info q = vsnd_test_query(code, start, count,
                                                     size);
    return PARSE(q, in_len, req);
}

static void test_query_valid(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(queries); i++) {
        uint32_t code = queries[i].code;
        uint32_t n = items_of(code);
        uint32_t sz = queries[i].item_size;
        VSndCtrlRequest req;
        uint32_t start;

        /* all items, exactly the room needed */
        g_assert_cmphex(query(code, 0, n, sz, HDR + n * sz, &req), ==,
                        VIRTIO_SND_S_OK);
        g_assert_cmphex(req.code, ==, code);
        g_assert_cmpuint(req.id, ==, 0);
        g_assert_cmpuint(req.count, ==, n);
        g_assert_cmpuint(req.size, ==, sz);
        g_assert_cmpuint(req.reply_len, ==, HDR + n * sz);

        /* each single item */
        for (start = 0; start < n; start++) {
            g_assert_cmphex(query(code, start, 1, sz, HDR + sz, &req), ==,
                            VIRTIO_SND_S_OK);
            g_assert_cmpuint(req.id, ==, start);
            g_assert_cmpuint(req.count, ==, 1);
        }

        /* nothing, at either end */
        g_assert_cmphex(query(code, 0, 0, sz, HDR, &req), ==,
                        VIRTIO_SND_S_OK);
        g_assert_cmpuint(req.reply_len, ==, HDR);
        g_assert_cmphex(query(code, n, 0, sz, HDR, &req), ==,
                        VIRTIO_SND_S_OK);

        /* a larger item size, for a newer driver */
        g_assert_cmphex(query(code, 0, n, sz + 8, HDR + n * (sz + 8), &req),
                        ==, VIRTIO_SND_S_OK);
        g_assert_cmpuint(req.size, ==, sz + 8);
        g_assert_cmpuint(req.reply_len, ==, HDR + n * (sz + 8));

        /* more room than needed is fine */
        g_assert_cmphex(query(code, 0, 1, sz, 4096, &req), ==,
                        VIRTIO_SND_S_OK);
        g_assert_cmpuint(req.reply_len, ==, HDR + sz);
    }
}

static void test_query_range(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(queries); i++) {
        uint32_t code = queries[i].code;
        uint32_t n = items_of(code);
        uint32_t sz = queries[i].item_size;
        VSndCtrlRequest req;

        g_test_message("%s", queries[i].name);
        g_assert_cmphex(query(code, 0, n + 1, sz, 65536, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        g_assert_cmphex(query(code, n, 1, sz, 65536, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        g_assert_cmphex(query(code, n + 1, 0, sz, 65536, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        g_assert_cmphex(query(code, 1, n, sz, 65536, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        /* start_id + count wraps around in 32 bits */
        g_assert_cmphex(query(code, 0xffffffff, 2, sz, 65536, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        g_assert_cmphex(query(code, 1, 0xffffffff, sz, 65536, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        g_assert_cmphex(query(code, 0xffffffff, 0xffffffff, sz, 65536,
                              &req), ==, VIRTIO_SND_S_BAD_MSG);
        g_assert_cmphex(query(code, 0xffffffff, 0, sz, 65536, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
    }
}

static void test_query_no_items(void)
{
    VSndDeviceCounts none = { .ctls = true };
    struct virtio_snd_query_info q;
    VSndCtrlRequest req;
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(queries); i++) {
        q = vsnd_test_query(queries[i].code, 0, 0, queries[i].item_size);
        g_assert_cmphex(parse_len(&none, &q, sizeof(q), HDR, &req), ==,
                        VIRTIO_SND_S_OK);
        q = vsnd_test_query(queries[i].code, 0, 1, queries[i].item_size);
        g_assert_cmphex(parse_len(&none, &q, sizeof(q), 4096, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
    }
}

static void test_query_size_field(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(queries); i++) {
        uint32_t code = queries[i].code;
        uint32_t sz = queries[i].item_size;
        VSndCtrlRequest req;

        g_assert_cmphex(query(code, 0, 1, sz - 1, 4096, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        g_assert_cmphex(query(code, 0, 1, 4, 4096, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        g_assert_cmphex(query(code, 0, 1, 0, 4096, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        /* size 0 is wrong even when asking for nothing */
        g_assert_cmphex(query(code, 0, 0, 0, 4096, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        /* a huge size needs a huge reply buffer */
        g_assert_cmphex(query(code, 0, 1, 0xffffffff, 4096, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        /* and is refused with one: no item is near that large */
        g_assert_cmphex(query(code, 0, 1, VSND_INFO_ITEM_SIZE_MAX,
                              HDR + VSND_INFO_ITEM_SIZE_MAX, &req), ==,
                        VIRTIO_SND_S_OK);
        g_assert_cmphex(query(code, 0, 1, VSND_INFO_ITEM_SIZE_MAX + 1,
                              HDR + VSND_INFO_ITEM_SIZE_MAX + 1, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
    }
}

static void test_query_reply_room(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(queries); i++) {
        uint32_t code = queries[i].code;
        uint32_t n = items_of(code);
        uint32_t sz = queries[i].item_size;
        VSndCtrlRequest req;
        size_t in_len;

        for (in_len = 0; in_len < HDR + n * sz; in_len++) {
            g_assert_cmphex(query(code, 0, n, sz, in_len, &req), ==,
                            VIRTIO_SND_S_BAD_MSG);
        }
        g_assert_cmphex(query(code, 0, 0, sz, HDR - 1, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
    }
}

static void test_query_request_length(void)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(queries); i++) {
        struct virtio_snd_query_info q[2];
        VSndCtrlRequest req;
        size_t len;

        memset(q, 0, sizeof(q));
        q[0] = vsnd_test_query(queries[i].code, 0, 1, queries[i].item_size);
        for (len = HDR; len <= sizeof(q); len++) {
            g_assert_cmphex(parse_len(&dev, q, len, 4096, &req), ==,
                            len == sizeof(q[0]) ? VIRTIO_SND_S_OK :
                            VIRTIO_SND_S_BAD_MSG);
        }
    }
}

static struct virtio_snd_jack_remap remap_req(uint32_t jack)
{
    struct virtio_snd_jack_remap r = {
        .hdr.hdr.code = GUINT32_TO_LE(VIRTIO_SND_R_JACK_REMAP),
        .hdr.jack_id = GUINT32_TO_LE(jack),
        .association = GUINT32_TO_LE(0x01020304),
        .sequence = GUINT32_TO_LE(0x0a0b0c0d),
    };
    return r;
}

static void test_jack_remap(void)
{
    struct virtio_snd_jack_remap r[2];
    VSndCtrlRequest req;
    size_t len;

    r[0] = remap_req(1);
    g_assert_cmphex(PARSE(r[0], HDR, &req), ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(req.code, ==, VIRTIO_SND_R_JACK_REMAP);
    g_assert_cmpuint(req.id, ==, 1);
    g_assert_cmphex(req.association, ==, 0x01020304);
    g_assert_cmphex(req.sequence, ==, 0x0a0b0c0d);
    g_assert_cmpuint(req.reply_len, ==, HDR);

    r[0] = remap_req(dev.jacks);
    g_assert_cmphex(PARSE(r[0], HDR, &req), ==, VIRTIO_SND_S_BAD_MSG);
    r[0] = remap_req(0xffffffff);
    g_assert_cmphex(PARSE(r[0], HDR, &req), ==, VIRTIO_SND_S_BAD_MSG);

    r[0] = remap_req(0);
    g_assert_cmphex(PARSE(r[0], HDR - 1, &req), ==, VIRTIO_SND_S_BAD_MSG);
    memset(&r[1], 0, sizeof(r[1]));
    for (len = HDR; len <= sizeof(r); len++) {
        g_assert_cmphex(parse_len(&dev, r, len, HDR, &req), ==,
                        len == sizeof(r[0]) ? VIRTIO_SND_S_OK :
                        VIRTIO_SND_S_BAD_MSG);
    }
}

static struct virtio_snd_pcm_set_params set_params_req(uint32_t stream)
{
    struct virtio_snd_pcm_set_params p = {
        .hdr.hdr.code = GUINT32_TO_LE(VIRTIO_SND_R_PCM_SET_PARAMS),
        .hdr.stream_id = GUINT32_TO_LE(stream),
        .buffer_bytes = GUINT32_TO_LE(0x00012340),
        .period_bytes = GUINT32_TO_LE(0x00001230),
        .features = GUINT32_TO_LE(1U << VIRTIO_SND_PCM_F_EVT_XRUNS),
        .channels = 2,
        .format = VIRTIO_SND_PCM_FMT_S16,
        .rate = VIRTIO_SND_PCM_RATE_48000,
    };
    return p;
}

static void test_set_params(void)
{
    struct virtio_snd_pcm_set_params p[2];
    VSndCtrlRequest req;
    size_t len;

    p[0] = set_params_req(2);
    g_assert_cmphex(PARSE(p[0], HDR, &req), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(req.id, ==, 2);
    g_assert_cmphex(req.params.buffer_bytes, ==, 0x00012340);
    g_assert_cmphex(req.params.period_bytes, ==, 0x00001230);
    g_assert_cmphex(req.params.features, ==, 1U << 4);
    g_assert_cmpuint(req.params.channels, ==, 2);
    g_assert_cmpuint(req.params.format, ==, VIRTIO_SND_PCM_FMT_S16);
    g_assert_cmpuint(req.params.rate, ==, VIRTIO_SND_PCM_RATE_48000);

    /* parsing only decodes: out-of-range values are for the check */
    p[0].channels = 0;
    p[0].format = 200;
    p[0].rate = 200;
    p[0].padding = 0xff;
    g_assert_cmphex(PARSE(p[0], HDR, &req), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(req.params.format, ==, 200);

    p[0] = set_params_req(dev.streams);
    g_assert_cmphex(PARSE(p[0], HDR, &req), ==, VIRTIO_SND_S_BAD_MSG);
    p[0] = set_params_req(0x80000000);
    g_assert_cmphex(PARSE(p[0], HDR, &req), ==, VIRTIO_SND_S_BAD_MSG);

    p[0] = set_params_req(0);
    g_assert_cmphex(PARSE(p[0], HDR - 1, &req), ==, VIRTIO_SND_S_BAD_MSG);
    memset(&p[1], 0, sizeof(p[1]));
    for (len = HDR; len <= sizeof(p); len++) {
        g_assert_cmphex(parse_len(&dev, p, len, HDR, &req), ==,
                        len == sizeof(p[0]) ? VIRTIO_SND_S_OK :
                        VIRTIO_SND_S_BAD_MSG);
    }
}

static void test_pcm_simple(void)
{
    static const uint32_t codes[] = {
        VIRTIO_SND_R_PCM_PREPARE, VIRTIO_SND_R_PCM_RELEASE,
        VIRTIO_SND_R_PCM_START, VIRTIO_SND_R_PCM_STOP,
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(codes); i++) {
        struct virtio_snd_pcm_hdr h[2];
        VSndCtrlRequest req;
        uint32_t id;
        size_t len;

        for (id = 0; id < dev.streams; id++) {
            h[0] = vsnd_test_pcm_hdr(codes[i], id);
            g_assert_cmphex(PARSE(h[0], HDR, &req), ==, VIRTIO_SND_S_OK);
            g_assert_cmphex(req.code, ==, codes[i]);
            g_assert_cmpuint(req.id, ==, id);
            g_assert_cmpuint(req.reply_len, ==, HDR);
        }
        h[0] = vsnd_test_pcm_hdr(codes[i], dev.streams);
        g_assert_cmphex(PARSE(h[0], HDR, &req), ==, VIRTIO_SND_S_BAD_MSG);
        h[0] = vsnd_test_pcm_hdr(codes[i], 0xffffffff);
        g_assert_cmphex(PARSE(h[0], HDR, &req), ==, VIRTIO_SND_S_BAD_MSG);

        h[0] = vsnd_test_pcm_hdr(codes[i], 0);
        g_assert_cmphex(PARSE(h[0], HDR - 1, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        g_assert_cmphex(PARSE(h[0], 0, &req), ==, VIRTIO_SND_S_BAD_MSG);
        memset(&h[1], 0, sizeof(h[1]));
        for (len = HDR; len <= sizeof(h); len++) {
            g_assert_cmphex(parse_len(&dev, h, len, HDR, &req), ==,
                            len == sizeof(h[0]) ? VIRTIO_SND_S_OK :
                            VIRTIO_SND_S_BAD_MSG);
        }
    }
}

static void test_ctl_not_negotiated(void)
{
    VSndDeviceCounts no_ctls = dev;
    uint32_t code;

    no_ctls.ctls = false;
    for (code = VIRTIO_SND_R_CTL_INFO; code <= VIRTIO_SND_R_CTL_TLV_COMMAND;
         code++) {
        struct virtio_snd_query_info q = vsnd_test_query(code, 0, 1, 92);
        struct virtio_snd_pcm_hdr h = vsnd_test_pcm_hdr(code, 0);
        VSndCtrlRequest req;

        g_assert_cmphex(parse_len(&no_ctls, &q, sizeof(q), 4096, &req), ==,
                        VIRTIO_SND_S_NOT_SUPP);
        g_assert_cmphex(parse_len(&no_ctls, &h, sizeof(h), 4096, &req), ==,
                        VIRTIO_SND_S_NOT_SUPP);
        g_assert_cmphex(req.code, ==, code);
    }
}

static void test_ctl_id_only(void)
{
    static const struct {
        uint32_t code;
        size_t reply_len;
    } cases[] = {
        { VIRTIO_SND_R_CTL_ENUM_ITEMS, HDR },
        { VIRTIO_SND_R_CTL_READ, HDR + sizeof(struct virtio_snd_ctl_value) },
        { VIRTIO_SND_R_CTL_TLV_READ,
          HDR + sizeof(VSndCtlTlvHeader) },
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct virtio_snd_ctl_hdr h[2];
        VSndCtrlRequest req;
        size_t len;

        h[0].hdr.code = GUINT32_TO_LE(cases[i].code);
        h[0].control_id = GUINT32_TO_LE(3);
        g_assert_cmphex(PARSE(h[0], cases[i].reply_len, &req), ==,
                        VIRTIO_SND_S_OK);
        g_assert_cmpuint(req.id, ==, 3);
        g_assert_cmpuint(req.reply_len, ==, cases[i].reply_len);
        g_assert_cmphex(PARSE(h[0], cases[i].reply_len - 1, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        h[0].control_id = GUINT32_TO_LE(dev.controls);
        g_assert_cmphex(PARSE(h[0], 4096, &req), ==, VIRTIO_SND_S_BAD_MSG);
        h[0].control_id = 0;
        memset(&h[1], 0, sizeof(h[1]));
        for (len = HDR; len <= sizeof(h); len++) {
            g_assert_cmphex(parse_len(&dev, h, len, 4096, &req), ==,
                            len == sizeof(h[0]) ? VIRTIO_SND_S_OK :
                            VIRTIO_SND_S_BAD_MSG);
        }
    }
}

static void test_ctl_write(void)
{
    struct {
        struct virtio_snd_ctl_hdr hdr;
        struct virtio_snd_ctl_value value;
        uint8_t extra;
    } w;
    VSndCtrlRequest req;
    size_t full = sizeof(w.hdr) + sizeof(w.value);

    memset(&w, 0, sizeof(w));
    w.hdr.hdr.code = GUINT32_TO_LE(VIRTIO_SND_R_CTL_WRITE);
    w.hdr.control_id = GUINT32_TO_LE(2);
    g_assert_cmphex(parse_len(&dev, &w, full, HDR, &req), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmpuint(req.id, ==, 2);
    g_assert_cmpuint(req.payload_offset, ==, 8);
    g_assert_cmpuint(req.payload_len, ==, 512);
    g_assert_cmpuint(req.reply_len, ==, HDR);
    g_assert_cmphex(parse_len(&dev, &w, full, HDR - 1, &req), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(parse_len(&dev, &w, full - 1, HDR, &req), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(parse_len(&dev, &w, full + 1, HDR, &req), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(parse_len(&dev, &w, sizeof(w.hdr), HDR, &req), ==,
                    VIRTIO_SND_S_BAD_MSG);
    w.hdr.control_id = GUINT32_TO_LE(dev.controls);
    g_assert_cmphex(parse_len(&dev, &w, full, HDR, &req), ==,
                    VIRTIO_SND_S_BAD_MSG);
}

static uint32_t tlv_in(uint32_t code, uint32_t id, uint32_t length,
                       size_t total, VSndCtrlRequest *req)
{
    static uint8_t buf[16 + VSND_CTL_TLV_VALUE_MAX + 8];
    struct virtio_snd_ctl_hdr h = {
        .hdr.code = GUINT32_TO_LE(code),
        .control_id = GUINT32_TO_LE(id),
    };
    VSndCtlTlvHeader t = {
        .type = GUINT32_TO_LE(0x77),
        .length = GUINT32_TO_LE(length),
    };

    g_assert_cmpuint(total, <=, sizeof(buf));
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), &t, sizeof(t));
    return parse_len(&dev, buf, total, HDR, req);
}

static void test_ctl_tlv_in(void)
{
    static const uint32_t codes[] = {
        VIRTIO_SND_R_CTL_TLV_WRITE, VIRTIO_SND_R_CTL_TLV_COMMAND,
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(codes); i++) {
        uint32_t c = codes[i];
        VSndCtrlRequest req;

        g_assert_cmphex(tlv_in(c, 1, 0, 16, &req), ==, VIRTIO_SND_S_OK);
        g_assert_cmpuint(req.id, ==, 1);
        g_assert_cmphex(req.tlv_type, ==, 0x77);
        g_assert_cmpuint(req.payload_offset, ==, 16);
        g_assert_cmpuint(req.payload_len, ==, 0);
        g_assert_cmphex(tlv_in(c, 1, 8, 24, &req), ==, VIRTIO_SND_S_OK);
        g_assert_cmpuint(req.payload_len, ==, 8);
        g_assert_cmphex(tlv_in(c, 0, VSND_CTL_TLV_VALUE_MAX,
                               16 + VSND_CTL_TLV_VALUE_MAX, &req),
                        ==, VIRTIO_SND_S_OK);

        /* length disagrees with what is there */
        g_assert_cmphex(tlv_in(c, 1, 8, 20, &req), ==, VIRTIO_SND_S_BAD_MSG);
        g_assert_cmphex(tlv_in(c, 1, 8, 28, &req), ==, VIRTIO_SND_S_BAD_MSG);
        /* not a multiple of 4 */
        g_assert_cmphex(tlv_in(c, 1, 6, 22, &req), ==, VIRTIO_SND_S_BAD_MSG);
        /* too long */
        g_assert_cmphex(tlv_in(c, 1, VSND_CTL_TLV_VALUE_MAX + 4,
                               16 + VSND_CTL_TLV_VALUE_MAX + 4, &req),
                        ==, VIRTIO_SND_S_BAD_MSG);
        g_assert_cmphex(tlv_in(c, 1, 0xfffffff0, 16, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
        /* no room for the TLV header */
        g_assert_cmphex(tlv_in(c, 1, 0, 15, &req), ==, VIRTIO_SND_S_BAD_MSG);
        g_assert_cmphex(tlv_in(c, 1, 0, 8, &req), ==, VIRTIO_SND_S_BAD_MSG);
        /* no such control */
        g_assert_cmphex(tlv_in(c, dev.controls, 0, 16, &req), ==,
                        VIRTIO_SND_S_BAD_MSG);
    }
}

/* A request reads the same however the driver cuts it up. */
static void check_splits(const void *buf, size_t len, size_t in_len,
                         uint32_t expect)
{
    uint8_t copy[64];
    VSndCtrlRequest whole, part;
    VSndTestSg sg;
    size_t cut;

    g_assert_cmpuint(len, <=, sizeof(copy));
    memcpy(copy, buf, len);
    g_assert_cmphex(parse_len(&dev, copy, len, in_len, &whole), ==, expect);
    for (cut = 0; cut <= len; cut++) {
        vsnd_test_sg_cut(&sg, copy, len, cut);
        g_assert_cmphex(vsnd_ctrl_parse(&dev, sg.iov, sg.num, in_len, &part),
                        ==, expect);
        g_assert_cmpmem(&part, sizeof(part), &whole, sizeof(whole));
    }
    vsnd_test_sg_bytes(&sg, copy, len);
    g_assert_cmphex(vsnd_ctrl_parse(&dev, sg.iov, sg.num, in_len, &part), ==,
                    expect);
    g_assert_cmpmem(&part, sizeof(part), &whole, sizeof(whole));
}

static void test_split_requests(void)
{
    struct virtio_snd_query_info q =
        vsnd_test_query(VIRTIO_SND_R_PCM_INFO, 1, 2, 32);
    struct virtio_snd_pcm_set_params p = set_params_req(1);
    struct virtio_snd_jack_remap r = remap_req(1);
    struct virtio_snd_pcm_hdr h = vsnd_test_pcm_hdr(VIRTIO_SND_R_PCM_STOP,
                                                    2);
    struct virtio_snd_pcm_hdr bad = vsnd_test_pcm_hdr(VIRTIO_SND_R_PCM_STOP,
                                                      7);
    uint32_t unknown = GUINT32_TO_LE(0x4242);

    check_splits(&q, sizeof(q), HDR + 64, VIRTIO_SND_S_OK);
    check_splits(&p, sizeof(p), HDR, VIRTIO_SND_S_OK);
    check_splits(&r, sizeof(r), HDR, VIRTIO_SND_S_OK);
    check_splits(&h, sizeof(h), HDR, VIRTIO_SND_S_OK);
    check_splits(&bad, sizeof(bad), HDR, VIRTIO_SND_S_BAD_MSG);
    check_splits(&unknown, sizeof(unknown), HDR, VIRTIO_SND_S_NOT_SUPP);
    check_splits(&q, sizeof(q) - 1, HDR + 64, VIRTIO_SND_S_BAD_MSG);
}

static void test_write_status(void)
{
    uint8_t buf[8];
    static const uint8_t expect[8] = {
        0x01, 0x80, 0x00, 0x00, 0xee, 0xee, 0xee, 0xee,
    };
    VSndTestSg sg;
    size_t cut;

    for (cut = 0; cut <= 4; cut++) {
        memset(buf, 0xee, sizeof(buf));
        vsnd_test_sg_cut(&sg, buf, 4, cut);
        g_assert_cmpuint(vsnd_ctrl_write_status(sg.iov, sg.num,
                                                VIRTIO_SND_S_BAD_MSG),
                         ==, 4);
        g_assert_cmpmem(buf, sizeof(buf), expect, sizeof(expect));
    }
    memset(buf, 0xee, sizeof(buf));
    vsnd_test_sg_whole(&sg, buf, 3);
    g_assert_cmpuint(vsnd_ctrl_write_status(sg.iov, sg.num, VIRTIO_SND_S_OK),
                     ==, 0);
    g_assert_cmpuint(buf[0], ==, 0xee);
}

static void test_info_write_item(void)
{
    uint8_t buf[HDR + 3 * 12 + 4];
    uint8_t item[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    VSndCtrlRequest req = {
        .code = VIRTIO_SND_R_JACK_INFO, .count = 3, .size = 12,
        .reply_len = HDR + 3 * 12,
    };
    VSndTestSg sg;
    uint32_t i;

    memset(buf, 0xee, sizeof(buf));
    vsnd_test_sg_bytes(&sg, buf, HDR + 3 * 12);
    for (i = 0; i < 3; i++) {
        item[0] = 0x10 + i;
        g_assert_cmpuint(vsnd_info_write_item(sg.iov, sg.num, &req, i, item,
                                              sizeof(item)), ==, 12);
    }
    g_assert_cmpuint(vsnd_info_write_item(sg.iov, sg.num, &req, 3, item,
                                          sizeof(item)), ==, 0);
    g_assert_cmpuint(buf[0], ==, 0xee);     /* the status is left alone */
    for (i = 0; i < 3; i++) {
        static const uint8_t zero[4];
        const uint8_t *slot = buf + HDR + 12 * i;

        g_assert_cmpuint(slot[0], ==, 0x10 + i);
        g_assert_cmpmem(slot + 1, 7, item + 1, 7);
        g_assert_cmpmem(slot + 8, 4, zero, 4);
    }
    g_assert_cmpuint(buf[HDR + 36], ==, 0xee);

    /* a slot shorter than the item truncates it */
    req.size = 5;
    memset(buf, 0xee, sizeof(buf));
    g_assert_cmpuint(vsnd_info_write_item(sg.iov, sg.num, &req, 1, item,
                                          sizeof(item)), ==, 5);
    g_assert_cmpmem(buf + HDR + 5, 5, item, 5);
    g_assert_cmpuint(buf[HDR + 10], ==, 0xee);

    /* a writable part shorter than the reply: written up to its end */
    req.size = 12;
    vsnd_test_sg_whole(&sg, buf, HDR + 12 + 6);
    memset(buf, 0xee, sizeof(buf));
    g_assert_cmpuint(vsnd_info_write_item(sg.iov, sg.num, &req, 1, item,
                                          sizeof(item)), ==, 6);
    g_assert_cmpuint(vsnd_info_write_item(sg.iov, sg.num, &req, 2, item,
                                          sizeof(item)), ==, 0);
    g_assert_cmpuint(buf[HDR + 12 + 6], ==, 0xee);

    /* zero-filling stops at the end too */
    vsnd_test_sg_whole(&sg, buf, HDR + 12 + 10);
    memset(buf, 0xee, sizeof(buf));
    g_assert_cmpuint(vsnd_info_write_item(sg.iov, sg.num, &req, 1, item,
                                          sizeof(item)), ==, 10);
    g_assert_cmpuint(buf[HDR + 12 + 9], ==, 0);
    g_assert_cmpuint(buf[HDR + 12 + 10], ==, 0xee);
}

/* A parsed query and the helper agree on where items go. */
static void test_query_then_write(void)
{
    struct virtio_snd_query_info q =
        vsnd_test_query(VIRTIO_SND_R_PCM_INFO, 1, 2, 40);
    uint8_t reply[HDR + 2 * 40];
    struct virtio_snd_pcm_info info;
    VSndPcmCaps caps = vsnd_test_caps();
    VSndCtrlRequest req;
    VSndTestSg sg;
    uint32_t i;

    g_assert_cmphex(PARSE(q, sizeof(reply), &req), ==, VIRTIO_SND_S_OK);
    memset(reply, 0xee, sizeof(reply));
    vsnd_test_sg_cut(&sg, reply, sizeof(reply), 37);
    for (i = 0; i < req.count; i++) {
        caps.hda_fn_nid = req.id + i;
        vsnd_pcm_info_from_caps(&caps, &info);
        g_assert_cmpuint(vsnd_info_write_item(sg.iov, sg.num, &req, i, &info,
                                              sizeof(info)), ==, 40);
    }
    g_assert_cmpuint(vsnd_ctrl_write_status(sg.iov, sg.num, VIRTIO_SND_S_OK),
                     ==, HDR);
    g_assert_cmpuint(reply[0], ==, 0x00);
    g_assert_cmpuint(reply[1], ==, 0x80);
    g_assert_cmpuint(reply[HDR], ==, 1);          /* hda_fn_nid of item 1 */
    g_assert_cmpuint(reply[HDR + 40], ==, 2);     /* hda_fn_nid of item 2 */
    g_assert_cmpuint(reply[HDR + 32], ==, 0);     /* zero-filled tail */
    g_assert_cmpuint(reply[HDR + 79], ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-snd/ctrl/short-header", test_short_header);
    g_test_add_func("/virtio-snd/ctrl/unknown-codes", test_unknown_codes);
    g_test_add_func("/virtio-snd/ctrl/query-valid", test_query_valid);
    g_test_add_func("/virtio-snd/ctrl/query-range", test_query_range);
    g_test_add_func("/virtio-snd/ctrl/query-no-items", test_query_no_items);
    g_test_add_func("/virtio-snd/ctrl/query-size-field",
                    test_query_size_field);
    g_test_add_func("/virtio-snd/ctrl/query-reply-room",
                    test_query_reply_room);
    g_test_add_func("/virtio-snd/ctrl/query-request-length",
                    test_query_request_length);
    g_test_add_func("/virtio-snd/ctrl/jack-remap", test_jack_remap);
    g_test_add_func("/virtio-snd/ctrl/set-params", test_set_params);
    g_test_add_func("/virtio-snd/ctrl/pcm-simple", test_pcm_simple);
    g_test_add_func("/virtio-snd/ctrl/ctl-not-negotiated",
                    test_ctl_not_negotiated);
    g_test_add_func("/virtio-snd/ctrl/ctl-id-only", test_ctl_id_only);
    g_test_add_func("/virtio-snd/ctrl/ctl-write", test_ctl_write);
    g_test_add_func("/virtio-snd/ctrl/ctl-tlv-in", test_ctl_tlv_in);
    g_test_add_func("/virtio-snd/ctrl/split-requests", test_split_requests);
    g_test_add_func("/virtio-snd/ctrl/write-status", test_write_status);
    g_test_add_func("/virtio-snd/ctrl/info-write-item",
                    test_info_write_item);
    g_test_add_func("/virtio-snd/ctrl/query-then-write",
                    test_query_then_write);
    return g_test_run();
}
