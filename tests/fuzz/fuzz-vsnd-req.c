/*
 * libFuzzer target for the virtio-snd request layer (virtio-snd-req.c and
 * the PCM state machine and pacer of virtio-snd-pcm.c).
 *
 * The input describes a device and then a sequence of messages the guest
 * puts on its queues, each cut into scatter lists the way the input says.
 * The target drives the units the way hw/audio/virtio-snd.c does and checks
 * their answers against a small reference decoder and a set of invariants;
 * a violation aborts. Every piece of every scatter list is its own heap
 * allocation of exactly its size, so AddressSanitizer catches any access
 * past a piece.
 *
 * Input encoding (all multi-byte numbers little-endian; a read past the
 * end of the input yields zeros):
 *
 *   config  u8   bits 0-1: streams - 1; 2-3: jacks; 4-5: chmaps;
 *                bit 6: VIRTIO_SND_F_CTLS; bit 7: 2 controls (else 0)
 *   per stream (streams times), 5 bytes:
 *           u8   bit 0: direction (VIRTIO_SND_D_*), bits 1-5: features
 *           u8   formats: bit i offers the i-th of S8 U8 S16 U16 S32 U32
 *                FLOAT
 *           u16  rates (bit i: VIRTIO_SND_PCM_RATE_ i)
 *           u8   channels_min (low nibble), channels_max (high nibble)
 *           caps that vsnd_pcm_caps_valid() refuses (the device would not
 *           realize) are replaced by a stereo S16 48 kHz stream
 *   then up to MAX_OPS operations:
 *           u8   kind % 3: 0 control queue, 1 tx queue, 2 rx queue
 *           u16  tx: time since the last tx message: below 0x8000 in
 *                microseconds, else (& 0x7fff) in milliseconds; 0xffff:
 *                the clock goes back 5 ms. rx: bytes of frames captured
 *                (clamped to the room). control: absent
 *           msg
 *   msg:    u16  length of the device-readable part; on the control
 *                queue 0xffff stands for the exact size of the request
 *                in it (wire_size())
 *           lay  its layout
 *           u16  length of the device-writable part
 *           lay  its layout
 *           ...  the bytes of the readable part (fewer if the input
 *                ends first)
 *   lay:    u8   cuts % MAX_PIECES, then cuts times u8: the length of the
 *                next piece (clamped to what is left; 0 gives an empty
 *                piece); the rest is the last piece
 *
 * tests/fuzz/make-corpus.py writes seeds in this encoding.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"

#include "hw/audio/virtio-snd-pcm.h"
#include "hw/audio/virtio-snd-req.h"

#define MAX_STREAMS 4
#define MAX_PIECES 16
#define MAX_OPS 256
#define CANARY 0xa5
#define HDR sizeof(struct virtio_snd_hdr)
#define PCM_STATUS sizeof(struct virtio_snd_pcm_status)

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__,    \
                    __LINE__, #cond);                                       \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* Build with -DFUZZ_TRACE to see what each message got (for new seeds). */
#ifdef FUZZ_TRACE
#define TRACE(...) fprintf(stderr, __VA_ARGS__)
#else
#define TRACE(...) do { } while (0)
#endif

/* The fuzzer's input, consumed front to back. */
typedef struct Input {
    const uint8_t *p;
    size_t n;
} Input;

static uint8_t in_u8(Input *in)
{
    if (in->n == 0) {
        return 0;
    }
    in->n--;
    return *in->p++;
}

static uint16_t in_u16(Input *in)
{
    uint16_t lo = in_u8(in);

    return lo | (uint16_t)in_u8(in) << 8;
}

/* A scatter list whose pieces are separate exact-size allocations. */
typedef struct Sg {
    struct iovec iov[MAX_PIECES];
    unsigned int num;
    size_t len;
} Sg;

typedef struct Layout {
    unsigned int cuts;
    uint8_t piece[MAX_PIECES - 1];
} Layout;

static void read_layout(Input *in, Layout *lay)
{
    unsigned int i;

    lay->cuts = in_u8(in) % MAX_PIECES;
    for (i = 0; i < lay->cuts; i++) {
        lay->piece[i] = in_u8(in);
    }
}

/* Cut @len bytes of @data (NULL: canary bytes) into @sg as @lay says. */
static void sg_build(Sg *sg, const Layout *lay, const uint8_t *data,
                     size_t len)
{
    size_t done = 0;
    unsigned int i;

    sg->num = lay->cuts + 1;
    sg->len = len;
    for (i = 0; i < sg->num; i++) {
        size_t n = i < lay->cuts ? MIN(lay->piece[i], len - done)
                                 : len - done;
        void *buf = NULL;

        /* Empty pieces: sometimes NULL, sometimes a 0-byte allocation. */
        if (n > 0 || (i & 1)) {
            buf = malloc(n);
            CHECK(buf != NULL);
        }
        if (n > 0) {
            if (data) {
                memcpy(buf, data + done, n);
            } else {
                memset(buf, CANARY, n);
            }
        }
        sg->iov[i].iov_base = buf;
        sg->iov[i].iov_len = n;
        done += n;
    }
}

static void sg_free(Sg *sg)
{
    unsigned int i;

    for (i = 0; i < sg->num; i++) {
        free(sg->iov[i].iov_base);
    }
    sg->num = 0;
}

/* The bytes of @sg in one buffer (freed by the caller). */
static uint8_t *sg_flatten(const Sg *sg)
{
    uint8_t *flat = malloc(sg->len + 1);
    size_t done = 0;
    unsigned int i;

    CHECK(flat != NULL);
    for (i = 0; i < sg->num; i++) {
        if (sg->iov[i].iov_len) {
            memcpy(flat + done, sg->iov[i].iov_base, sg->iov[i].iov_len);
        }
        done += sg->iov[i].iov_len;
    }
    CHECK(done == sg->len);
    return flat;
}

static bool all_canary(const uint8_t *p, size_t from, size_t to)
{
    size_t i;

    for (i = from; i < to; i++) {
        if (p[i] != CANARY) {
            return false;
        }
    }
    return true;
}

static uint32_t le32_at(const uint8_t *p, size_t off)
{
    return (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 |
           (uint32_t)p[off + 2] << 16 | (uint32_t)p[off + 3] << 24;
}

/* One message: the device-readable part (and its bytes), the writable. */
typedef struct Msg {
    Sg out;
    const uint8_t *out_flat;    /* points into the input */
    Sg in;
} Msg;

/*
 * The exact size of the control request at @p (@n bytes available): what
 * a well-behaved driver sends, so that the fuzzer need not find each
 * code's length (a TLV's depends on its own length field).
 */
static size_t wire_size(const uint8_t *p, size_t n)
{
    if (n < HDR) {
        return n;
    }
    switch (le32_at(p, 0)) {
    case VIRTIO_SND_R_JACK_INFO:
    case VIRTIO_SND_R_PCM_INFO:
    case VIRTIO_SND_R_CHMAP_INFO:
    case VIRTIO_SND_R_CTL_INFO:
        return sizeof(struct virtio_snd_query_info);
    case VIRTIO_SND_R_JACK_REMAP:
        return sizeof(struct virtio_snd_jack_remap);
    case VIRTIO_SND_R_PCM_SET_PARAMS:
        return sizeof(struct virtio_snd_pcm_set_params);
    case VIRTIO_SND_R_PCM_PREPARE:
    case VIRTIO_SND_R_PCM_RELEASE:
    case VIRTIO_SND_R_PCM_START:
    case VIRTIO_SND_R_PCM_STOP:
    case VIRTIO_SND_R_CTL_ENUM_ITEMS:
    case VIRTIO_SND_R_CTL_READ:
    case VIRTIO_SND_R_CTL_TLV_READ:
        return sizeof(struct virtio_snd_pcm_hdr);
    case VIRTIO_SND_R_CTL_WRITE:
        return sizeof(struct virtio_snd_ctl_hdr) +
               sizeof(struct virtio_snd_ctl_value);
    case VIRTIO_SND_R_CTL_TLV_WRITE:
    case VIRTIO_SND_R_CTL_TLV_COMMAND:
        return n < 16 ? 16 : 16 + (size_t)MIN(le32_at(p, 12), 0x20000);
    default:
        return HDR;
    }
}

/*
 * A message. The readable part's bytes come last, so that a request that
 * grows or shrinks moves only the messages after it.
 */
static void read_msg(Input *in, Msg *m, bool ctrl)
{
    size_t out_len = in_u16(in);
    size_t in_len;
    Layout out_lay, in_lay;

    read_layout(in, &out_lay);
    in_len = in_u16(in);
    read_layout(in, &in_lay);
    sg_build(&m->in, &in_lay, NULL, in_len);

    if (ctrl && out_len == 0xffff) {
        out_len = wire_size(in->p, in->n);
    }
    out_len = MIN(out_len, in->n);
    m->out_flat = in->p;
    sg_build(&m->out, &out_lay, in->p, out_len);
    in->p += out_len;
    in->n -= out_len;

    CHECK(vsnd_iov_size(m->out.iov, m->out.num) == m->out.len);
    CHECK(vsnd_iov_size(m->in.iov, m->in.num) == m->in.len);
}

static void msg_free(Msg *m)
{
    sg_free(&m->out);
    sg_free(&m->in);
}

/* The device, as far as the units know it. */
typedef struct Device {
    VSndDeviceCounts counts;
    VSndPcmStream stream[MAX_STREAMS];
    VSndPcmPacer pacer[MAX_STREAMS];
    /* Since the pacer's START: the latest time seen, bytes taken. */
    int64_t pace_start_ns[MAX_STREAMS];
    int64_t pace_latest_ns[MAX_STREAMS];
    uint64_t paced_bytes[MAX_STREAMS];
    int64_t now_ns;
} Device;

static const uint8_t formats_offered[] = {
    VIRTIO_SND_PCM_FMT_S8, VIRTIO_SND_PCM_FMT_U8, VIRTIO_SND_PCM_FMT_S16,
    VIRTIO_SND_PCM_FMT_U16, VIRTIO_SND_PCM_FMT_S32, VIRTIO_SND_PCM_FMT_U32,
    VIRTIO_SND_PCM_FMT_FLOAT,
};

static void read_caps(Input *in, VSndPcmCaps *caps)
{
    uint8_t b = in_u8(in);
    uint8_t fmts = in_u8(in);
    uint16_t rates = in_u16(in);
    uint8_t ch = in_u8(in);
    unsigned int i;
    bool valid;

    memset(caps, 0, sizeof(*caps));
    caps->direction = b & 1;
    caps->features = (b >> 1) & 0x1f;
    for (i = 0; i < G_N_ELEMENTS(formats_offered); i++) {
        if (fmts & (1u << i)) {
            caps->formats |= 1ULL << formats_offered[i];
        }
    }
    caps->rates = rates;
    caps->channels_min = ch & 0xf;
    caps->channels_max = ch >> 4;
    valid = (fmts & 0x7f) && rates && caps->channels_min >= 1 &&
            caps->channels_min <= caps->channels_max &&
            caps->channels_max <= 8 && !(caps->features & 3);
    CHECK(vsnd_pcm_caps_valid(caps) == valid);
    if (!valid) {
        caps->features = 0;
        caps->formats = 1ULL << VIRTIO_SND_PCM_FMT_S16;
        caps->rates = 1ULL << VIRTIO_SND_PCM_RATE_48000;
        caps->channels_min = 2;
        caps->channels_max = 2;
        CHECK(vsnd_pcm_caps_valid(caps));
    }
}

static void read_device(Input *in, Device *d)
{
    uint8_t b = in_u8(in);
    uint32_t i;

    memset(d, 0, sizeof(*d));
    d->counts.streams = 1 + (b & 3);
    d->counts.jacks = (b >> 2) & 3;
    d->counts.chmaps = (b >> 4) & 3;
    d->counts.ctls = (b >> 6) & 1;
    d->counts.controls = (b >> 7) ? 2 : 0;
    for (i = 0; i < d->counts.streams; i++) {
        read_caps(in, &d->stream[i].caps);
        d->stream[i].state = VSND_PCM_STATE_INITIAL;
    }
}

static bool params_equal(const VSndPcmParams *a, const VSndPcmParams *b)
{
    return a->buffer_bytes == b->buffer_bytes &&
           a->period_bytes == b->period_bytes &&
           a->features == b->features && a->channels == b->channels &&
           a->format == b->format && a->rate == b->rate;
}

/* Whether no stream's state or parameters differ (caps are constant). */
static bool streams_equal(const Device *a, const Device *b)
{
    uint32_t i;

    for (i = 0; i < MAX_STREAMS; i++) {
        if (a->stream[i].state != b->stream[i].state ||
            !params_equal(&a->stream[i].params, &b->stream[i].params)) {
            return false;
        }
    }
    return true;
}

/* Invariants of the device's streams between any two messages. */
static void check_streams(const Device *d)
{
    uint32_t i;

    for (i = 0; i < d->counts.streams; i++) {
        const VSndPcmStream *s = &d->stream[i];

        CHECK((unsigned int)s->state < VSND_PCM_STATE__MAX);
        CHECK(strcmp(vsnd_pcm_state_name(s->state), "invalid") != 0);
        /*
         * Every state but INITIAL is reached through a SET_PARAMS that
         * succeeded, so the stream has parameters, and valid ones.
         */
        if (s->state != VSND_PCM_STATE_INITIAL) {
            CHECK(vsnd_pcm_params_check(&s->caps, &s->params) ==
                  VIRTIO_SND_S_OK);
            CHECK(vsnd_pcm_frame_bytes(&s->params) > 0);
            CHECK(s->params.period_bytes % vsnd_pcm_frame_bytes(&s->params)
                  == 0);
            CHECK(s->params.buffer_bytes % s->params.period_bytes == 0);
            CHECK(s->params.buffer_bytes <= VSND_PCM_BUFFER_BYTES_MAX);
            CHECK(vsnd_pcm_bytes_per_second(&s->params) > 0);
        }
        if (s->state == VSND_PCM_STATE_RUNNING) {
            const VSndPcmPacer *p = &d->pacer[i];

            CHECK(p->frame_bytes == vsnd_pcm_frame_bytes(&s->params));
            CHECK(p->burst >= p->frame_bytes);
            CHECK(p->burst % p->frame_bytes == 0);
            CHECK(p->credit <= p->burst);
        }
    }
}

/*
 * The reference: what vsnd_ctrl_parse() must answer for the request
 * @b[0 .. len - 1] with @in_len bytes of room, decoded straight from the
 * bytes without scatter lists.
 */
typedef struct Expect {
    uint32_t status;
    uint32_t items;             /* of the kind the request names */
    uint32_t code;
    uint32_t id;
    uint32_t count;
    uint32_t size;
    uint64_t reply_len;
    size_t payload_offset;
    size_t payload_len;
} Expect;

static void expect_ctrl(const VSndDeviceCounts *dev, const uint8_t *b,
                        size_t len, size_t in_len, Expect *e)
{
    enum { ID_ONLY, QUERY, TLV } shape = ID_ONLY;
    size_t want = sizeof(struct virtio_snd_pcm_hdr);
    size_t item_size = 0;
    uint32_t items = 0;
    bool ctl = false;

    memset(e, 0, sizeof(*e));
    e->status = VIRTIO_SND_S_BAD_MSG;
    if (len < HDR) {
        return;
    }
    e->code = le32_at(b, 0);
    e->reply_len = HDR;
    switch (e->code) {
    case VIRTIO_SND_R_JACK_INFO:
        shape = QUERY;
        items = dev->jacks;
        item_size = sizeof(struct virtio_snd_jack_info);
        break;
    case VIRTIO_SND_R_PCM_INFO:
        shape = QUERY;
        items = dev->streams;
        item_size = sizeof(struct virtio_snd_pcm_info);
        break;
    case VIRTIO_SND_R_CHMAP_INFO:
        shape = QUERY;
        items = dev->chmaps;
        item_size = sizeof(struct virtio_snd_chmap_info);
        break;
    case VIRTIO_SND_R_CTL_INFO:
        ctl = true;
        shape = QUERY;
        items = dev->controls;
        item_size = VSND_CTL_INFO_SIZE_PACKED;
        break;
    case VIRTIO_SND_R_JACK_REMAP:
        items = dev->jacks;
        want = sizeof(struct virtio_snd_jack_remap);
        break;
    case VIRTIO_SND_R_PCM_SET_PARAMS:
        items = dev->streams;
        want = sizeof(struct virtio_snd_pcm_set_params);
        break;
    case VIRTIO_SND_R_PCM_PREPARE:
    case VIRTIO_SND_R_PCM_RELEASE:
    case VIRTIO_SND_R_PCM_START:
    case VIRTIO_SND_R_PCM_STOP:
        items = dev->streams;
        break;
    case VIRTIO_SND_R_CTL_ENUM_ITEMS:
        ctl = true;
        items = dev->controls;
        break;
    case VIRTIO_SND_R_CTL_READ:
        ctl = true;
        items = dev->controls;
        e->reply_len += sizeof(struct virtio_snd_ctl_value);
        break;
    case VIRTIO_SND_R_CTL_TLV_READ:
        ctl = true;
        items = dev->controls;
        e->reply_len += sizeof(VSndCtlTlvHeader);
        break;
    case VIRTIO_SND_R_CTL_WRITE:
        ctl = true;
        items = dev->controls;
        want = sizeof(struct virtio_snd_ctl_hdr) +
               sizeof(struct virtio_snd_ctl_value);
        e->payload_offset = sizeof(struct virtio_snd_ctl_hdr);
        e->payload_len = sizeof(struct virtio_snd_ctl_value);
        break;
    case VIRTIO_SND_R_CTL_TLV_WRITE:
    case VIRTIO_SND_R_CTL_TLV_COMMAND:
        ctl = true;
        shape = TLV;
        items = dev->controls;
        break;
    default:
        e->status = VIRTIO_SND_S_NOT_SUPP;
        return;
    }
    e->items = items;
    if (ctl && !dev->ctls) {
        e->status = VIRTIO_SND_S_NOT_SUPP;
        return;
    }
    switch (shape) {
    case QUERY:
        if (len != sizeof(struct virtio_snd_query_info)) {
            return;
        }
        e->id = le32_at(b, 4);
        e->count = le32_at(b, 8);
        e->size = le32_at(b, 12);
        if ((uint64_t)e->id + e->count > items || e->size < item_size) {
            return;
        }
        e->reply_len += (uint64_t)e->count * e->size;
        break;
    case TLV: {
        uint32_t length;

        if (len < 16) {
            return;
        }
        e->id = le32_at(b, 4);
        length = le32_at(b, 12);
        if (e->id >= items || length > VSND_CTL_TLV_VALUE_MAX ||
            length % 4 || len != 16 + (size_t)length) {
            return;
        }
        e->payload_offset = 16;
        e->payload_len = length;
        break;
    }
    case ID_ONLY:
        if (len != want) {
            return;
        }
        e->id = le32_at(b, 4);
        if (e->id >= items) {
            return;
        }
        break;
    }
    if (e->reply_len > in_len) {
        return;
    }
    e->status = VIRTIO_SND_S_OK;
}

static bool is_query(uint32_t code)
{
    return code == VIRTIO_SND_R_JACK_INFO || code == VIRTIO_SND_R_PCM_INFO ||
           code == VIRTIO_SND_R_CHMAP_INFO || code == VIRTIO_SND_R_CTL_INFO;
}

static bool is_lifecycle(uint32_t code)
{
    return code >= VIRTIO_SND_R_PCM_SET_PARAMS &&
           code <= VIRTIO_SND_R_PCM_STOP;
}

/*
 * Answer a parsed *_INFO query as the device does, then check that the
 * reply holds each item, zero-filled or truncated to req->size, and that
 * nothing past reply_len was touched. Returns the reply length.
 */
static size_t answer_query(const Device *d, const Msg *m,
                           const VSndCtrlRequest *req)
{
    union {
        struct virtio_snd_jack_info jack;
        struct virtio_snd_pcm_info pcm;
        struct virtio_snd_chmap_info chmap;
        uint8_t bytes[128];
    } item;
    size_t item_len;
    uint8_t *flat;
    uint32_t i;

    switch (req->code) {
    case VIRTIO_SND_R_JACK_INFO:
        item_len = sizeof(item.jack);
        break;
    case VIRTIO_SND_R_PCM_INFO:
        item_len = sizeof(item.pcm);
        break;
    case VIRTIO_SND_R_CHMAP_INFO:
        item_len = sizeof(item.chmap);
        break;
    default:
        item_len = VSND_CTL_INFO_SIZE_PACKED;   /* the smallest size asked */
        break;
    }
    CHECK(req->size >= item_len);

    for (i = 0; i < req->count; i++) {
        size_t k;

        if (req->code == VIRTIO_SND_R_PCM_INFO) {
            vsnd_pcm_info_from_caps(&d->stream[req->id + i].caps, &item.pcm);
        } else {
            for (k = 0; k < item_len; k++) {
                item.bytes[k] = (uint8_t)(k + i + 1) | 1;
            }
        }
        CHECK(vsnd_info_write_item(m->in.iov, m->in.num, req, i, &item,
                                   item_len) == req->size);
    }
    /* Past the last item, nothing is written. */
    CHECK(vsnd_info_write_item(m->in.iov, m->in.num, req, req->count, &item,
                               item_len) == 0);

    flat = sg_flatten(&m->in);
    for (i = 0; i < req->count; i++) {
        const uint8_t *slot = flat + HDR + (size_t)i * req->size;
        size_t k;

        if (req->code == VIRTIO_SND_R_PCM_INFO) {
            vsnd_pcm_info_from_caps(&d->stream[req->id + i].caps, &item.pcm);
            CHECK(memcmp(slot, &item.pcm, item_len) == 0);
        } else {
            for (k = 0; k < item_len; k++) {
                CHECK(slot[k] == ((uint8_t)(k + i + 1) | 1));
            }
        }
        for (k = item_len; k < req->size; k++) {
            CHECK(slot[k] == 0);
        }
    }
    CHECK(all_canary(flat, 0, HDR));
    CHECK(all_canary(flat, req->reply_len, m->in.len));
    free(flat);
    return req->reply_len;
}

/*
 * The writable part may be shorter than the driver claimed to the parser
 * (it is not here, but vsnd_info_write_item() must not rely on that):
 * write every item into the first @pieces pieces only.
 */
static void query_truncated(const Msg *m, const VSndCtrlRequest *req,
                            unsigned int pieces)
{
    static const uint8_t item[VSND_CTL_INFO_SIZE_PACKED];
    uint32_t i;

    pieces = MIN(pieces, m->in.num);
    for (i = 0; i < req->count; i++) {
        CHECK(vsnd_info_write_item(m->in.iov, pieces, req, i, item,
                                   sizeof(item)) <= req->size);
    }
}

/*
 * The reference for SET_PARAMS against valid caps (which offer only the
 * formats of formats_offered): BAD_MSG for what the driver must not ask,
 * else NOT_SUPP for what this device does not do, else OK.
 */
static uint32_t spec_params(const VSndPcmCaps *caps, const VSndPcmParams *p)
{
    uint32_t width = 0, frame;

    switch (p->format) {
    case VIRTIO_SND_PCM_FMT_S8:
    case VIRTIO_SND_PCM_FMT_U8:
        width = 1;
        break;
    case VIRTIO_SND_PCM_FMT_S16:
    case VIRTIO_SND_PCM_FMT_U16:
        width = 2;
        break;
    case VIRTIO_SND_PCM_FMT_S32:
    case VIRTIO_SND_PCM_FMT_U32:
    case VIRTIO_SND_PCM_FMT_FLOAT:
        width = 4;
        break;
    }
    if (p->features > 0x1f || (p->features & 3) ||
        (p->features & ~caps->features) ||
        p->format >= 64 || !((caps->formats >> p->format) & 1) ||
        p->rate > VSND_PCM_RATE_24000 ||
        !((caps->rates >> p->rate) & 1) ||
        p->channels < caps->channels_min || p->channels == 0 ||
        p->channels > caps->channels_max) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    CHECK(width > 0);
    frame = width * p->channels;
    CHECK(vsnd_pcm_frame_bytes(p) == frame);
    /* VIRTIO 1.2 asks nothing of the driver about the sizes. */
    if (p->period_bytes == 0 || p->buffer_bytes == 0 ||
        p->buffer_bytes % p->period_bytes ||
        p->period_bytes % frame || p->buffer_bytes > (4u << 20)) {
        return VIRTIO_SND_S_NOT_SUPP;
    }
    return VIRTIO_SND_S_OK;
}

/*
 * The reference lifecycle, VIRTIO 1.2 5.14.6.6.1, written out apart from
 * the unit's table: which requests each state takes (INITIAL only
 * SET_PARAMS), and each request's state.
 */
#define LC(code) (1u << ((code) - VIRTIO_SND_R_PCM_SET_PARAMS))

static bool spec_lifecycle(VSndPcmState state, uint32_t code,
                           VSndPcmState *next)
{
    static const unsigned int takes[VSND_PCM_STATE__MAX] = {
        [VSND_PCM_STATE_INITIAL] = LC(VIRTIO_SND_R_PCM_SET_PARAMS),
        [VSND_PCM_STATE_PARAMS_SET] = LC(VIRTIO_SND_R_PCM_SET_PARAMS) |
                                      LC(VIRTIO_SND_R_PCM_PREPARE),
        [VSND_PCM_STATE_PREPARED] = LC(VIRTIO_SND_R_PCM_SET_PARAMS) |
                                    LC(VIRTIO_SND_R_PCM_PREPARE) |
                                    LC(VIRTIO_SND_R_PCM_START) |
                                    LC(VIRTIO_SND_R_PCM_RELEASE),
        [VSND_PCM_STATE_RUNNING] = LC(VIRTIO_SND_R_PCM_STOP),
        [VSND_PCM_STATE_STOPPED] = LC(VIRTIO_SND_R_PCM_START) |
                                   LC(VIRTIO_SND_R_PCM_RELEASE),
        [VSND_PCM_STATE_RELEASED] = LC(VIRTIO_SND_R_PCM_SET_PARAMS) |
                                    LC(VIRTIO_SND_R_PCM_PREPARE),
    };

    switch (code) {
    case VIRTIO_SND_R_PCM_SET_PARAMS:
        *next = VSND_PCM_STATE_PARAMS_SET;
        break;
    case VIRTIO_SND_R_PCM_PREPARE:
        *next = VSND_PCM_STATE_PREPARED;
        break;
    case VIRTIO_SND_R_PCM_START:
        *next = VSND_PCM_STATE_RUNNING;
        break;
    case VIRTIO_SND_R_PCM_STOP:
        *next = VSND_PCM_STATE_STOPPED;
        break;
    default:
        *next = VSND_PCM_STATE_RELEASED;
        break;
    }
    return takes[state] & LC(code);
}

/* A PCM lifecycle request: decide it and apply it only if it is OK. */
static uint32_t answer_lifecycle(Device *d, const VSndCtrlRequest *req)
{
    VSndPcmStream *s = &d->stream[req->id];
    VSndPcmStream before = *s;
    const VSndPcmState sentinel = VSND_PCM_STATE__MAX;
    VSndPcmState next = sentinel;
    VSndPcmState table_next = sentinel;
    VSndPcmState spec_next;
    uint32_t table, status;

    status = vsnd_pcm_request_check(s, req, &next);
    CHECK(before.state == s->state &&
          params_equal(&before.params, &s->params));
    table = vsnd_pcm_transition(s->state, req->code, &table_next);
    CHECK(table == (spec_lifecycle(s->state, req->code, &spec_next)
                    ? VIRTIO_SND_S_OK : VIRTIO_SND_S_BAD_MSG));
    if (table == VIRTIO_SND_S_OK) {
        CHECK(table_next == spec_next);
    } else {
        CHECK(table_next == sentinel);
    }
    if (table != VIRTIO_SND_S_OK) {
        /* The lifecycle refuses it: BAD_MSG, and no state is proposed. */
        CHECK(status == VIRTIO_SND_S_BAD_MSG);
        CHECK(next == sentinel);
        return status;
    }
    if (req->code == VIRTIO_SND_R_PCM_SET_PARAMS) {
        uint32_t p = vsnd_pcm_params_check(&s->caps, &req->params);

        CHECK(p == spec_params(&s->caps, &req->params));
        CHECK(status == p);
    } else {
        CHECK(status == VIRTIO_SND_S_OK);
    }
    if (status != VIRTIO_SND_S_OK) {
        CHECK(next == sentinel);
        return status;
    }
    CHECK(next == table_next);
    CHECK((unsigned int)next < VSND_PCM_STATE__MAX);

    s->state = next;
    switch (req->code) {
    case VIRTIO_SND_R_PCM_SET_PARAMS:
        s->params = req->params;
        CHECK(next == VSND_PCM_STATE_PARAMS_SET);
        break;
    case VIRTIO_SND_R_PCM_PREPARE:
        CHECK(next == VSND_PCM_STATE_PREPARED);
        break;
    case VIRTIO_SND_R_PCM_START: {
        VSndPcmPacer *p = &d->pacer[req->id];
        uint32_t frame = vsnd_pcm_frame_bytes(&s->params);

        CHECK(next == VSND_PCM_STATE_RUNNING);
        CHECK(before.state == VSND_PCM_STATE_PREPARED ||
              before.state == VSND_PCM_STATE_STOPPED);
        vsnd_pcm_pacer_start(p, &s->params, d->now_ns);
        d->pace_start_ns[req->id] = d->now_ns;
        d->pace_latest_ns[req->id] = d->now_ns;
        d->paced_bytes[req->id] = 0;
        CHECK(p->frame_bytes == frame);
        CHECK(p->credit == p->burst);
        CHECK(p->burst <= MAX(s->params.buffer_bytes / 2, frame));
        break;
    }
    case VIRTIO_SND_R_PCM_STOP:
        CHECK(next == VSND_PCM_STATE_STOPPED);
        CHECK(before.state == VSND_PCM_STATE_RUNNING);
        break;
    case VIRTIO_SND_R_PCM_RELEASE:
        CHECK(next == VSND_PCM_STATE_RELEASED);
        break;
    }
    return status;
}

static void op_ctrl(Device *d, Input *in)
{
    Device before = *d;
    VSndCtrlRequest req;
    uint32_t status;
    size_t reply_len = HDR;
    uint8_t *flat;
    Expect e;
    Msg m;

    read_msg(in, &m, true);
    expect_ctrl(&d->counts, m.out_flat, m.out.len, m.in.len, &e);
    status = vsnd_ctrl_parse(&d->counts, m.out.iov, m.out.num, m.in.len,
                             &req);
    CHECK(status == e.status);
    CHECK(req.code == e.code);

    if (status == VIRTIO_SND_S_OK) {
        CHECK(req.reply_len == e.reply_len);
        CHECK(req.reply_len >= HDR);
        CHECK(req.reply_len <= m.in.len);
        CHECK(req.id == e.id);
        if (is_query(req.code)) {
            /* start_id may equal the number of items when count is 0 */
            CHECK((uint64_t)req.id + req.count <= e.items);
            CHECK(req.count == e.count);
            CHECK(req.size == e.size);
        } else {
            CHECK(req.id < e.items);
        }
        CHECK(req.payload_offset == e.payload_offset);
        CHECK(req.payload_len == e.payload_len);
        CHECK(req.payload_offset + req.payload_len <= m.out.len);
        if (req.payload_len) {
            uint8_t *payload = malloc(req.payload_len);

            CHECK(payload != NULL);
            CHECK(vsnd_iov_to_buf(m.out.iov, m.out.num, req.payload_offset,
                                  payload, req.payload_len) ==
                  req.payload_len);
            CHECK(memcmp(payload, m.out_flat + req.payload_offset,
                         req.payload_len) == 0);
            free(payload);
        }
        if (req.code == VIRTIO_SND_R_CTL_TLV_WRITE ||
            req.code == VIRTIO_SND_R_CTL_TLV_COMMAND) {
            CHECK(req.tlv_type == le32_at(m.out_flat, 8));
        }
        if (req.code == VIRTIO_SND_R_JACK_REMAP) {
            CHECK(req.association == le32_at(m.out_flat, 8));
            CHECK(req.sequence == le32_at(m.out_flat, 12));
        }
        if (req.code == VIRTIO_SND_R_PCM_SET_PARAMS) {
            CHECK(req.params.buffer_bytes == le32_at(m.out_flat, 8));
            CHECK(req.params.period_bytes == le32_at(m.out_flat, 12));
            CHECK(req.params.features == le32_at(m.out_flat, 16));
            CHECK(req.params.channels == m.out_flat[20]);
            CHECK(req.params.format == m.out_flat[21]);
            CHECK(req.params.rate == m.out_flat[22]);
        }

        /* The device's side: ctl requests are refused by the device. */
        if (is_query(req.code) && req.code != VIRTIO_SND_R_CTL_INFO) {
            reply_len = answer_query(d, &m, &req);
            query_truncated(&m, &req, m.in.num / 2);
        } else if (is_lifecycle(req.code)) {
            status = answer_lifecycle(d, &req);
        } else {
            status = VIRTIO_SND_S_NOT_SUPP;
        }
    }
    if (status != VIRTIO_SND_S_OK) {
        /* Nothing but a successful lifecycle request changes a stream. */
        CHECK(streams_equal(&before, d));
        reply_len = HDR;
    }

    TRACE("ctrl 0x%x id %u: parse 0x%x, reply 0x%x\n", req.code, req.id,
          e.status, status);
    CHECK(vsnd_ctrl_write_status(m.in.iov, m.in.num, status) ==
          (m.in.len >= HDR ? HDR : 0));
    flat = sg_flatten(&m.in);
    if (m.in.len >= HDR) {
        CHECK(le32_at(flat, 0) == status);
        CHECK(all_canary(flat, reply_len, m.in.len));
    } else {
        CHECK(all_canary(flat, 0, m.in.len));
    }
    free(flat);
    msg_free(&m);
}

/*
 * The device takes what the pacer allows of a @data_len bytes message on
 * running playback stream @id. The pacer is checked against a model: a
 * step refills rate * (100 + headroom) / 100 bytes per second (the step
 * capped at 1 s, plus below one byte of residue) up to the burst; over the
 * whole run the stream never gets more than the burst plus that rate.
 */
static void pace(Device *d, uint32_t id, size_t data_len)
{
    const unsigned __int128 unit = 100 * (unsigned __int128)1000000000;
    const uint64_t pct = 100 + VSND_PCM_PACE_HEADROOM_PCT;
    VSndPcmPacer *p = &d->pacer[id];
    VSndPcmPacer old = *p;
    unsigned __int128 due = 0, most;
    uint64_t room, low, high, credit;

    if (d->now_ns > old.last_ns) {
        int64_t step = MIN(d->now_ns - old.last_ns, 1000000000LL);

        due = (unsigned __int128)step * old.bytes_per_second * pct;
    }
    room = vsnd_pcm_pacer_room(p, d->now_ns);
    CHECK(room <= p->burst);
    CHECK(room % p->frame_bytes == 0);
    CHECK(room <= p->credit && p->credit - room < p->frame_bytes);
    low = MIN((unsigned __int128)old.burst, old.credit + due / unit);
    high = MIN((unsigned __int128)old.burst, old.credit + due / unit + 1);
    CHECK(p->credit >= low && p->credit <= high);
    CHECK(p->last_ns == MAX(old.last_ns, d->now_ns));

    credit = p->credit;
    vsnd_pcm_pacer_consume(p, MIN(room, data_len));
    CHECK(p->credit == credit - MIN(room, data_len));

    d->paced_bytes[id] += MIN(room, data_len);
    d->pace_latest_ns[id] = MAX(d->pace_latest_ns[id], d->now_ns);
    most = p->burst + (unsigned __int128)(d->pace_latest_ns[id] -
                                          d->pace_start_ns[id]) *
                      p->bytes_per_second * pct / unit;
    CHECK(d->paced_bytes[id] <= most);
}

static void op_xfer(Device *d, Input *in, uint32_t dir)
{
    uint16_t arg = in_u16(in);
    Device before;
    bool want_ok;
    size_t captured = 0;
    uint32_t status, latency;
    uint8_t *flat;
    VSndXfer x;
    Msg m;

    if (dir == VIRTIO_SND_D_OUTPUT) {
        if (arg == 0xffff) {
            d->now_ns -= 5000000;
        } else if (arg & 0x8000) {
            d->now_ns += (int64_t)(arg & 0x7fff) * 1000000;
        } else {
            d->now_ns += (int64_t)arg * 1000;
        }
    }
    before = *d;
    read_msg(in, &m, false);
    memset(&x, 0x5a, sizeof(x));
    status = vsnd_xfer_parse(dir, d->counts.streams, m.out.iov, m.out.num,
                             m.in.len, &x);
    CHECK(status == VIRTIO_SND_S_OK || status == VIRTIO_SND_S_IO_ERR);
    CHECK(x.has_status == (m.in.len >= PCM_STATUS));
    if (x.has_status) {
        CHECK(x.status_offset == m.in.len - PCM_STATUS);
    }

    want_ok = m.out.len >= VSND_XFER_TX_DATA_OFFSET && x.has_status &&
              le32_at(m.out_flat, 0) < d->counts.streams &&
              (dir == VIRTIO_SND_D_OUTPUT ? m.in.len == PCM_STATUS
                                          : m.out.len ==
                                            VSND_XFER_TX_DATA_OFFSET);
    CHECK(want_ok == (status == VIRTIO_SND_S_OK));

    if (status == VIRTIO_SND_S_OK) {
        VSndPcmStream *s = &d->stream[x.stream_id];
        uint32_t check;

        CHECK(x.stream_id == le32_at(m.out_flat, 0));
        CHECK(x.stream_id < d->counts.streams);
        if (dir == VIRTIO_SND_D_OUTPUT) {
            uint8_t *data = malloc(x.data_len + 1);

            CHECK(x.data_len + VSND_XFER_TX_DATA_OFFSET == m.out.len);
            CHECK(x.status_offset == 0);
            CHECK(data != NULL);
            CHECK(vsnd_iov_to_buf(m.out.iov, m.out.num,
                                  VSND_XFER_TX_DATA_OFFSET, data,
                                  x.data_len) == x.data_len);
            CHECK(memcmp(data, m.out_flat + VSND_XFER_TX_DATA_OFFSET,
                         x.data_len) == 0);
            free(data);
        } else {
            CHECK(x.data_len + PCM_STATUS == m.in.len);
            CHECK(x.status_offset == x.data_len);
        }

        check = vsnd_xfer_check_stream(dir, s);
        CHECK(check == ((s->caps.direction == dir &&
                         vsnd_pcm_state_accepts_io(s->state))
                        ? VIRTIO_SND_S_OK : VIRTIO_SND_S_IO_ERR));
        status = check;
        if (status == VIRTIO_SND_S_OK && dir == VIRTIO_SND_D_OUTPUT &&
            s->state == VSND_PCM_STATE_RUNNING) {
            pace(d, x.stream_id, x.data_len);
        }
        if (status == VIRTIO_SND_S_OK && dir == VIRTIO_SND_D_INPUT) {
            uint8_t *frames;

            captured = MIN(arg, x.data_len);
            frames = malloc(captured + 1);
            CHECK(frames != NULL);
            memset(frames, 0x3c, captured);
            CHECK(vsnd_iov_from_buf(m.in.iov, m.in.num, 0, frames,
                                    captured) == captured);
            free(frames);
        }
    }
    /* I/O never changes a stream's lifecycle. */
    CHECK(streams_equal(&before, d));

    TRACE("%s stream %u: 0x%x, %zu bytes, %zu captured\n",
          dir == VIRTIO_SND_D_OUTPUT ? "tx" : "rx", x.stream_id, status,
          x.data_len, captured);
    latency = (uint32_t)arg * 7;
    CHECK(vsnd_xfer_write_status(m.in.iov, m.in.num, &x, status, latency) ==
          (x.has_status ? PCM_STATUS : 0));
    flat = sg_flatten(&m.in);
    if (x.has_status) {
        size_t k;

        CHECK(le32_at(flat, x.status_offset) == status);
        CHECK(le32_at(flat, x.status_offset + 4) == latency);
        for (k = 0; k < captured; k++) {
            CHECK(flat[k] == 0x3c);
        }
        CHECK(captured <= x.status_offset);
        CHECK(all_canary(flat, captured, x.status_offset));
    } else {
        CHECK(captured == 0);
        CHECK(all_canary(flat, 0, m.in.len));
    }
    free(flat);
    msg_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in = { data, size };
    Device d;
    unsigned int ops;

    read_device(&in, &d);
    check_streams(&d);
    for (ops = 0; ops < MAX_OPS && in.n > 0; ops++) {
        switch (in_u8(&in) % 3) {
        case 0:
            op_ctrl(&d, &in);
            break;
        case 1:
            op_xfer(&d, &in, VIRTIO_SND_D_OUTPUT);
            break;
        default:
            op_xfer(&d, &in, VIRTIO_SND_D_INPUT);
            break;
        }
        check_streams(&d);
    }
    return 0;
}
