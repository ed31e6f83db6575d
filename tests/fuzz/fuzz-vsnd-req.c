/*
 * libFuzzer target for the virtio-snd request handling that both homes of
 * the device run: QEMU's in-process device (hw/audio/virtio-snd.c) and the
 * vhost-user daemon (contrib/vhost-user-sound/main.c). Control requests go
 * through vsnd_core_ctrl() (virtio-snd-core.c, with the request layer of
 * virtio-snd-req.c, the state machine and pacer of virtio-snd-pcm.c and
 * the control elements of virtio-snd-ctl.c); tx and rx messages through
 * vsnd_core_xfer() and, once taken, a stream's VSndIoStream
 * (virtio-snd-io.c).
 *
 * The input describes a device and then a sequence of messages the guest
 * puts on its queues, each cut into scatter lists the way the input says,
 * with what happens around them. A fake home carries them the way the two
 * homes do: its VSndCoreOps act on lifecycle requests (SET_PARAMS and
 * RELEASE give the held messages back, PREPARE opens its audio, START
 * and STOP start and stop the stream's I/O), a message the core takes
 * joins its stream (vsnd_io_queue()), and after each message the fake
 * audio of every running stream runs (vsnd_io_play(), vsnd_io_record(),
 * then vsnd_io_wake() where a wake the stream asked for is due). The fake
 * audio is deterministic: playback drains at the stream's rate from a
 * buffer of buffer_bytes as the input's clock goes on, capture holds what
 * the input says it recorded and hands it out as counting bytes.
 *
 * The target checks what the guest gets against a small reference decoder
 * and a set of invariants; a violation aborts. Every piece of every
 * scatter list is its own heap allocation of exactly its size, so
 * AddressSanitizer catches any access past a piece. Checked besides the
 * statuses and replies of every request: each message the core takes goes
 * back exactly once, in order, with the used length the spec asks (the
 * status; for capture the frames before it too) at a time the return rules
 * allow; nothing stays held after SET_PARAMS, RELEASE or a reset; playback
 * reaches the audio in order and unmodified, within the room offered and
 * the pacer's credit; capture lands in the messages as the audio gave it
 * (or as the lead's silence); an xrun is told once; a refused request is
 * logged as a guest error (the stand-in qemu/log.h counts them), but for
 * JACK_REMAP, which the device simply does not offer; a taken one is not.
 *
 * Input encoding (all multi-byte numbers little-endian; a read past the
 * end of the input yields zeros):
 *
 *   config  u8   bits 0-1: streams - 1; 2-3: jacks; 4-5: chmaps;
 *                bit 6: VIRTIO_SND_F_CTLS negotiated; bit 7: the device
 *                has control elements (two per stream). The guest sees
 *                them only with both, as in QEMU's device
 *   per stream (streams times), 5 bytes:
 *           u8   bit 0: direction (VIRTIO_SND_D_*), bits 1-5: features,
 *                bit 6: its audio bounds itself (audio_bounded, as the
 *                daemon's)
 *           u8   formats: bit i offers the i-th of S8 U8 S16 U16 S32 U32
 *                FLOAT
 *           u16  rates (bit i: VIRTIO_SND_PCM_RATE_ i)
 *           u8   channels_min (low nibble), channels_max (high nibble)
 *           caps that vsnd_pcm_caps_valid() refuses (the device would not
 *           realize) are replaced by a stereo S16 48 kHz stream. Streams
 *           start with the default parameters, as the homes' do
 *   then up to MAX_OPS operations:
 *           u8   kind: kind % 3 is the queue: 0 control, 1 tx, 2 rx;
 *                kind / 3 what else happens (0: nothing), bits:
 *                  0: the audio is stingy this time: playback takes half
 *                     the room it offers, capture does not say what it
 *                     holds (VSND_IO_AVAIL_ANY);
 *                  1: the audio does not run after the message;
 *                  2: control: PREPARE cannot open the audio (IO_ERR);
 *                     tx, rx: first the home gives back what the streams
 *                     of that queue hold (as the daemon does before the
 *                     guest's memory changes);
 *                kind 252 to 255 (kind / 3 84, 85): first the device is
 *                reset (the bits apply as well)
 *           u16  tx: time since the last tx message: below 0x8000 in
 *                microseconds, else (& 0x7fff) in milliseconds; 0xffff:
 *                the clock goes back 5 ms. rx: bytes the audio of the
 *                stream the message's header names recorded, if that is
 *                a running capture stream; the time they take at the
 *                stream's rate passes. control: absent
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
#include "qemu/log.h"

#include "hw/audio/virtio-snd-core.h"
#include "hw/audio/virtio-snd-io.h"

#define MAX_STREAMS 4
#define MAX_CTLS (MAX_STREAMS * VSND_CTLS_PER_STREAM)
#define MAX_PIECES 16
#define MAX_OPS 256
#define CANARY 0xa5
#define HDR sizeof(struct virtio_snd_hdr)
#define PCM_STATUS sizeof(struct virtio_snd_pcm_status)
#define NS_PER_S 1000000000LL
/*
 * Where the clock starts: long after boot, as both homes' clocks are when
 * a guest plays (a stream's first return is due a period after 0).
 */
#define T0_NS (1000 * NS_PER_S)
/* The most a capture stream's fake audio holds; more is lost. */
#define CAPTURE_RING (1u << 20)

/* kind / 3 */
#define MOD_STINGY 1
#define MOD_QUIET 2
#define MOD_OTHER 4
#define MOD_RESET 84

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

/* @len bytes at @off of @sg, which must have them, into @buf. */
static void sg_read(const Sg *sg, size_t off, uint8_t *buf, size_t len)
{
    unsigned int i;

    for (i = 0; i < sg->num && len; i++) {
        size_t n = sg->iov[i].iov_len;

        if (off >= n) {
            off -= n;
            continue;
        }
        n = MIN(n - off, len);
        memcpy(buf, (const uint8_t *)sg->iov[i].iov_base + off, n);
        buf += n;
        len -= n;
        off = 0;
    }
    CHECK(len == 0);
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

static bool all_zero(const uint8_t *p, size_t from, size_t to)
{
    size_t i;

    for (i = from; i < to; i++) {
        if (p[i]) {
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

static uint64_t le64_at(const uint8_t *p, size_t off)
{
    return le32_at(p, off) | (uint64_t)le32_at(p, off + 4) << 32;
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

/*
 * The fake home: what hw/audio/virtio-snd.c and the daemon keep around
 * the units, with a deterministic audio and what the checks need.
 */
typedef struct Home Home;

/* An I/O message the core took: its stream holds it until it goes back. */
typedef struct FakeMsg {
    VSndIoMsg io;
    Msg m;
    uint32_t stream;
    size_t played;              /* playback: bytes the audio took */
    size_t captured;            /* capture: bytes written into it */
    uint8_t *shadow;            /* capture: what those bytes must be */
} FakeMsg;

/* A stream's audio: the voice or backend stream of a home. */
typedef struct Audio {
    bool open;
    VSndPcmParams opened;       /* the settings it was opened with */
    size_t cap;                 /* playback: the most it holds */
    size_t fill;                /* playback: what it holds */
    int64_t drained_ns;         /* playback: @fill is as of then */
    size_t room_max;            /* playback: most room since opened anew */
    size_t have;                /* capture: recorded, not taken yet */
    uint8_t next;               /* capture: the next byte it records */
    /* During one run of the stream: */
    size_t offered;             /* room (or avail) not used yet */
    size_t budget;              /* playback: what it still takes */
    uint64_t moved;             /* bytes into or out of messages */
    /* Capture: what it holds for the stream that was not taken (latency) */
    size_t in_left;
    /* Capture: what it handed out that no message took yet, the last */
    size_t given_len;
    uint8_t *last;
    size_t last_len;
    size_t last_size;
} Audio;

typedef struct Stream {
    VSndIoStream io;
    Home *home;
    uint32_t id;
    GQueue held;                /* FakeMsg, oldest first */
    Audio audio;
    bool returning_all;         /* inside vsnd_io_return_all() */
    bool xrun_told;
    bool dropped;               /* a capture overrun in this run */
    uint64_t dropped_bytes;     /* what it dropped */
    bool has_wake;
    int64_t wake_ns;
    int64_t last_return_ns;
    /* Capture: START, and the audio delivered nothing since. */
    bool lead_on;
    int64_t lead_start_ns;
    uint64_t lead_given;
    /* What the pacer let through since START. */
    int64_t pace_start_ns;
    int64_t pace_latest_ns;
    uint64_t paced_bytes;
} Stream;

struct Home {
    VSndCore core;
    VSndCtls *ctls;             /* NULL: no control elements */
    uint32_t ctl_value[MAX_CTLS][VSND_CTL_VOLUME_CHANNELS]; /* reference */
    Stream stream[MAX_STREAMS];
    int64_t now_ns;
    bool fail_prepare;          /* PREPARE cannot open the audio */
    /* What the core asked of the home in one control request. */
    unsigned int acts;
    uint32_t act_code;
    uint32_t act_stream;
    VSndPcmState act_next;
    VSndPcmState act_state;     /* the stream's state when asked */
    unsigned int changes;
    uint32_t changed;
};

static Stream *stream_of(VSndIoStream *io)
{
    return container_of(io, Stream, io);
}

static bool is_output(const Stream *s)
{
    return s->io.pcm.caps.direction == VIRTIO_SND_D_OUTPUT;
}

static bool is_running(const Stream *s)
{
    return s->io.pcm.state == VSND_PCM_STATE_RUNNING;
}

static size_t frame_of(const Stream *s)
{
    return MAX(vsnd_pcm_frame_bytes(&s->io.pcm.params), 1);
}

static void fake_msg_free(FakeMsg *f)
{
    msg_free(&f->m);
    free(f->shadow);
    free(f);
}

static const uint8_t formats_offered[] = {
    VIRTIO_SND_PCM_FMT_S8, VIRTIO_SND_PCM_FMT_U8, VIRTIO_SND_PCM_FMT_S16,
    VIRTIO_SND_PCM_FMT_U16, VIRTIO_SND_PCM_FMT_S32, VIRTIO_SND_PCM_FMT_U32,
    VIRTIO_SND_PCM_FMT_FLOAT,
};

/* Bytes per sample of the formats this device converts, else 0. */
static unsigned int format_width(uint8_t format)
{
    switch (format) {
    case VIRTIO_SND_PCM_FMT_S8:
    case VIRTIO_SND_PCM_FMT_U8:
        return 1;
    case VIRTIO_SND_PCM_FMT_S16:
    case VIRTIO_SND_PCM_FMT_U16:
        return 2;
    case VIRTIO_SND_PCM_FMT_S32:
    case VIRTIO_SND_PCM_FMT_U32:
    case VIRTIO_SND_PCM_FMT_FLOAT:
        return 4;
    default:
        return 0;
    }
}

/*
 * Whether @p[0 .. len - 1], starting on a sample, is silence of @params'
 * format: zero, but for the unsigned formats' middle value (0x80 in the
 * last byte of each little-endian sample).
 */
static bool is_silence(const VSndPcmParams *params, const uint8_t *p,
                       size_t len)
{
    unsigned int width = format_width(params->format);
    bool mid = params->format == VIRTIO_SND_PCM_FMT_U8 ||
               params->format == VIRTIO_SND_PCM_FMT_U16 ||
               params->format == VIRTIO_SND_PCM_FMT_U32;
    size_t i;

    CHECK(width > 0);
    for (i = 0; i < len; i++) {
        if (p[i] != (mid && i % width == width - 1 ? 0x80 : 0)) {
            return false;
        }
    }
    return true;
}

/* A stream's capabilities; returns whether its audio bounds itself. */
static bool read_caps(Input *in, VSndPcmCaps *caps)
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
    return b & 0x40;
}

static bool params_equal(const VSndPcmParams *a, const VSndPcmParams *b)
{
    return a->buffer_bytes == b->buffer_bytes &&
           a->period_bytes == b->period_bytes &&
           a->features == b->features && a->channels == b->channels &&
           a->format == b->format && a->rate == b->rate;
}

/*
 * The pacer, checked against a model: a step refills rate * (100 +
 * headroom) / 100 bytes per second (the step capped at 1 s, plus below
 * one byte of residue) up to the burst. vsnd_io_transfer() asks it once
 * per run: @after is the pacer as that call leaves it, and the room it
 * gave is returned.
 */
static uint64_t pace_before(Stream *s, VSndPcmPacer *after)
{
    const unsigned __int128 unit = 100 * (unsigned __int128)NS_PER_S;
    const uint64_t pct = 100 + VSND_PCM_PACE_HEADROOM_PCT;
    const VSndPcmPacer old = s->io.pacer;
    int64_t now = s->home->now_ns;
    unsigned __int128 due = 0;
    uint64_t room, low, high;

    if (now > old.last_ns) {
        int64_t step = MIN(now - old.last_ns, NS_PER_S);

        due = (unsigned __int128)step * old.bytes_per_second * pct;
    }
    *after = old;
    room = vsnd_pcm_pacer_room(after, now);
    CHECK(room <= after->burst);
    CHECK(room % after->frame_bytes == 0);
    CHECK(room <= after->credit && after->credit - room < after->frame_bytes);
    low = MIN((unsigned __int128)old.burst, old.credit + due / unit);
    high = MIN((unsigned __int128)old.burst, old.credit + due / unit + 1);
    CHECK(after->credit >= low && after->credit <= high);
    CHECK(after->last_ns == MAX(old.last_ns, now));
    s->audio.moved = 0;
    return room;
}

/*
 * What a run moved came out of the pacer's credit, within the room it
 * gave; and over the whole run the stream never gets more than the burst
 * plus the rate with its headroom.
 */
static void pace_after(Stream *s, const VSndPcmPacer *after, uint64_t room)
{
    const unsigned __int128 unit = 100 * (unsigned __int128)NS_PER_S;
    const uint64_t pct = 100 + VSND_PCM_PACE_HEADROOM_PCT;
    const VSndPcmPacer *p = &s->io.pacer;
    uint64_t moved = s->audio.moved;
    unsigned __int128 most;

    CHECK(moved <= room);
    CHECK(p->credit == after->credit - moved);
    CHECK(p->last_ns == after->last_ns && p->burst == after->burst);
    s->paced_bytes += moved;
    s->pace_latest_ns = MAX(s->pace_latest_ns, s->home->now_ns);
    most = p->burst + (unsigned __int128)(s->pace_latest_ns -
                                          s->pace_start_ns) *
                      p->bytes_per_second * pct / unit;
    CHECK(s->paced_bytes <= most);
}

/* The fake audio, and how the stream's messages reach it */

static void audio_drain(Stream *s)
{
    Audio *a = &s->audio;
    int64_t now = s->home->now_ns;
    unsigned __int128 played;

    if (now <= a->drained_ns) {
        return;
    }
    played = (unsigned __int128)(now - a->drained_ns) *
             vsnd_pcm_bytes_per_second(&s->io.pcm.params) / NS_PER_S;
    /* Below a byte: the time counts towards the next one. */
    if (played) {
        a->fill -= MIN(played, (unsigned __int128)a->fill);
        a->drained_ns = now;
    }
}

/*
 * PREPARE: the audio opens. As QEMU's audio layer keeps a voice opened
 * again with the same rate, channels and format, and what it holds, so
 * does this one; anything else is an audio anew.
 */
static void audio_open(Stream *s)
{
    Audio *a = &s->audio;
    const VSndPcmParams *p = &s->io.pcm.params;

    if (!a->open || a->opened.rate != p->rate ||
        a->opened.channels != p->channels || a->opened.format != p->format) {
        vsnd_io_new_audio(&s->io);
        a->room_max = 0;
        a->in_left = 0;
        a->fill = 0;
        a->have = 0;
    }
    a->open = true;
    a->opened = *p;
    a->cap = p->buffer_bytes;
    a->fill = MIN(a->fill, a->cap);
    a->drained_ns = s->home->now_ns;
}

static size_t fake_play(VSndIoStream *io, const uint8_t *buf, size_t len)
{
    Stream *s = stream_of(io);
    Audio *a = &s->audio;
    FakeMsg *f = g_queue_peek_head(&s->held);
    size_t frame = frame_of(s);
    size_t take;

    CHECK(is_output(s) && is_running(s));
    CHECK(len > 0 && len % frame == 0 && len <= a->offered);
    /* The oldest message, from where the audio left off, unmodified. */
    CHECK(f != NULL && g_queue_peek_head(&io->msgs) == &f->io);
    CHECK(f->io.done == f->played);
    CHECK(f->played + len <= f->io.xfer.data_len);
    CHECK(memcmp(buf, f->m.out_flat + VSND_XFER_TX_DATA_OFFSET + f->played,
                 len) == 0);
    take = MIN(len, a->budget);
    take -= take % frame;
    a->budget -= take;
    a->offered -= take;
    a->fill += take;
    CHECK(a->fill <= a->cap);
    a->moved += take;
    f->played += take;
    return take;
}

static size_t fake_capture(VSndIoStream *io, uint8_t *buf, size_t len)
{
    Stream *s = stream_of(io);
    Audio *a = &s->audio;
    size_t frame = frame_of(s);
    size_t n, i;

    CHECK(!is_output(s) && is_running(s));
    CHECK(len > 0 && len <= a->offered);
    CHECK(is_silence(&s->io.pcm.params, buf, len));
    n = MIN(len, a->have);
    n -= n % frame;
    for (i = 0; i < n; i++) {
        buf[i] = a->next++;
    }
    a->have -= n;
    a->offered -= n;
    a->given_len += n;
    if (n > a->last_size) {
        a->last = realloc(a->last, n);
        CHECK(a->last != NULL);
        a->last_size = n;
    }
    if (n) {
        memcpy(a->last, buf, n);
        s->lead_on = false;
    }
    a->last_len = n;
    return n;
}

/* Capture: @len bytes at @offset of @m were written. */
static void fake_captured(VSndIoStream *io, VSndIoMsg *m, size_t offset,
                          size_t len)
{
    Stream *s = stream_of(io);
    Audio *a = &s->audio;
    FakeMsg *f = container_of(m, FakeMsg, io);
    int64_t span = s->home->now_ns - s->lead_start_ns;
    uint8_t *bytes;

    /* The oldest message, right after what it holds. */
    CHECK(g_queue_peek_head(&s->held) == f);
    CHECK(offset == f->captured && offset == m->done);
    CHECK(len > 0 && len % frame_of(s) == 0);
    CHECK(offset + len <= m->xfer.data_len);
    bytes = malloc(len);
    CHECK(bytes != NULL);
    sg_read(&f->m.in, offset, bytes, len);
    if (a->given_len) {
        /* Just what the audio gave, all of it. */
        CHECK(a->given_len == len && a->last_len == len);
        CHECK(memcmp(bytes, a->last, len) == 0);
        a->given_len = 0;
    } else {
        /* The lead: silence at the stream's rate since START. */
        CHECK(s->lead_on);
        CHECK(is_silence(&s->io.pcm.params, bytes, len));
        s->lead_given += len;
        CHECK(span > 0 && span <= VSND_PCM_LEAD_MAX_NS);
        CHECK((unsigned __int128)s->lead_given * NS_PER_S <=
              (unsigned __int128)span *
              vsnd_pcm_bytes_per_second(&s->io.pcm.params));
        a->offered -= MIN(len, a->offered);
    }
    memcpy(f->shadow + offset, bytes, len);
    free(bytes);
    f->captured += len;
    a->moved += len;
    a->in_left -= MIN(len, a->in_left);
}

/*
 * latency_bytes as the header defines it. Playback: what the audio holds
 * of the stream, its room when it held nothing less its room now.
 * Capture: what the audio still has for the stream and what the later
 * messages hold.
 */
static uint32_t expected_latency(Stream *s)
{
    uint64_t held;
    GList *l;

    if (is_output(s)) {
        return MIN(s->audio.room_max > s->audio.offered ?
                   s->audio.room_max - s->audio.offered : 0, UINT32_MAX);
    }
    held = s->audio.in_left;
    for (l = s->held.head; l; l = l->next) {
        held += ((FakeMsg *)l->data)->captured;
    }
    return MIN(held, UINT32_MAX);
}

static void fake_complete(VSndIoStream *io, VSndIoMsg *m, size_t len,
                          uint32_t status, uint32_t latency)
{
    Stream *s = stream_of(io);
    FakeMsg *f = container_of(m, FakeMsg, io);
    bool out = is_output(s);
    uint8_t *flat;

    /* Messages go back in the order given, each once. */
    CHECK(g_queue_peek_head(&s->held) == f);
    g_queue_pop_head(&s->held);
    CHECK(f->stream == s->id);
    CHECK(status == VIRTIO_SND_S_OK);
    CHECK(m->xfer.has_status);
    CHECK(m->done == (out ? f->played : f->captured));
    CHECK(m->done <= m->xfer.data_len);
    /* The used length: the status, and for capture the frames before. */
    CHECK(len == PCM_STATUS + (out ? 0 : f->captured));
    CHECK(len <= f->m.in.len);
    if (s->returning_all) {
        CHECK(latency == 0);
    } else {
        /*
         * Done (less than a frame left), at a time the rules allow: a
         * playback message that is not the last given goes back at once.
         */
        CHECK(is_running(s));
        CHECK(m->xfer.data_len - m->done < frame_of(s));
        if (!out || g_queue_is_empty(&s->held)) {
            CHECK(s->home->now_ns >=
                  vsnd_pcm_return_due_ns(&s->io.pcm.params, !out,
                                         s->last_return_ns));
        }
        s->last_return_ns = s->home->now_ns;
        CHECK(latency == expected_latency(s));
    }
    flat = sg_flatten(&f->m.in);
    CHECK(le32_at(flat, m->xfer.status_offset) == status);
    CHECK(le32_at(flat, m->xfer.status_offset + 4) == latency);
    if (!out) {
        CHECK(memcmp(flat, f->shadow, f->captured) == 0);
        CHECK(all_canary(flat, f->captured, m->xfer.status_offset));
    }
    free(flat);
    TRACE("  stream %u: message back, %zu used, latency %u%s\n", s->id, len,
          latency, s->returning_all ? " (all)" : "");
    fake_msg_free(f);
}

static void fake_xrun(VSndIoStream *io)
{
    Stream *s = stream_of(io);

    /* A running stream without messages, told once. */
    CHECK(is_running(s));
    CHECK(g_queue_is_empty(&s->held));
    CHECK(!s->xrun_told);
    s->xrun_told = true;
    TRACE("  stream %u: xrun\n", s->id);
}

static void fake_wake_at(VSndIoStream *io, int64_t due_ns)
{
    Stream *s = stream_of(io);

    CHECK(!is_output(s));
    CHECK(due_ns > s->home->now_ns);
    s->has_wake = true;
    s->wake_ns = due_ns;
}

static void fake_lead_ended(VSndIoStream *io, uint64_t bytes)
{
    Stream *s = stream_of(io);

    CHECK(!is_output(s));
    CHECK(bytes == s->lead_given);
}

static void fake_dropped(VSndIoStream *io, uint64_t bytes)
{
    Stream *s = stream_of(io);

    /* Only on an overrun, all the audio gave since. */
    CHECK(!is_output(s) && s->xrun_told);
    CHECK(bytes == s->audio.given_len);
    s->audio.given_len = 0;
    s->audio.in_left = 0;
    s->dropped = true;
    s->dropped_bytes = bytes;
}

static const VSndIoOps fake_io_ops = {
    .play = fake_play,
    .capture = fake_capture,
    .captured = fake_captured,
    .complete = fake_complete,
    .xrun = fake_xrun,
    .wake_at = fake_wake_at,
    .lead_ended = fake_lead_ended,
    .dropped = fake_dropped,
};

/* The home gives back every message @s holds (RELEASE and the like). */
static void stream_return_all(Stream *s)
{
    s->returning_all = true;
    vsnd_io_return_all(&s->io);
    s->returning_all = false;
    CHECK(g_queue_is_empty(&s->held));
    CHECK(g_queue_is_empty(&s->io.msgs));
}

/* A reset or the end: the messages are the guest's no more. */
static void stream_forget_all(Stream *s)
{
    VSndIoMsg *m;

    while ((m = vsnd_io_pop(&s->io))) {
        FakeMsg *f = container_of(m, FakeMsg, io);

        CHECK(g_queue_pop_head(&s->held) == f);
        fake_msg_free(f);
    }
    CHECK(g_queue_is_empty(&s->held));
}

/* Playback: the audio has drained for a while and offers its room. */
static void run_playback(Stream *s, bool stingy)
{
    Audio *a = &s->audio;
    FakeMsg *f;
    VSndPcmPacer after;
    size_t frame = frame_of(s);
    uint64_t room;

    audio_drain(s);
    a->offered = a->cap - a->fill;
    a->budget = stingy ? a->offered / 2 - a->offered / 2 % frame
                       : a->offered;
    a->room_max = MAX(a->room_max, a->offered);
    room = pace_before(s, &after);
    TRACE("  stream %u: play, room %zu\n", s->id, a->offered);
    vsnd_io_play(&s->io, a->offered, s->home->now_ns);
    pace_after(s, &after, room);
    /* It moved what it could: no frame left that all would take. */
    f = g_queue_peek_head(&s->held);
    CHECK(!(f && f->io.xfer.data_len - f->io.done >= frame &&
            a->offered >= frame && a->budget >= frame &&
            s->io.pacer.credit >= frame));
}

/* Capture: the audio offers what it recorded. */
static void run_capture(Stream *s, bool stingy)
{
    Audio *a = &s->audio;
    FakeMsg *f;
    VSndPcmPacer after;
    size_t frame = frame_of(s);
    uint64_t room;

    a->offered = stingy ? SIZE_MAX : a->have;
    a->in_left = stingy ? 0 : a->have;
    s->dropped = false;
    room = pace_before(s, &after);
    TRACE("  stream %u: record, have %zu%s\n", s->id, a->have,
          stingy ? " (not said)" : "");
    vsnd_io_record(&s->io, stingy ? VSND_IO_AVAIL_ANY : a->have,
                   s->home->now_ns);
    pace_after(s, &after, room);
    /* What the audio gave went into a message, or was dropped. */
    CHECK(a->given_len == 0);
    if (s->dropped) {
        /*
         * All the audio had; or, where it did not say how much that was,
         * a second of the stream (a whole number of frames).
         */
        uint64_t second = vsnd_pcm_bytes_per_second(&s->io.pcm.params);

        CHECK(a->have < frame || (stingy && s->dropped_bytes == second));
        CHECK(!stingy || s->dropped_bytes <= second);
    }
    f = g_queue_peek_head(&s->held);
    CHECK(!(f && f->io.xfer.data_len - f->io.done >= frame &&
            a->have >= frame && a->offered >= frame &&
            s->io.pacer.credit >= frame));
}

/* The audio of every running stream runs, as its cycle came. */
static void audio_run(Home *h, bool stingy)
{
    uint32_t i;

    for (i = 0; i < h->core.counts.streams; i++) {
        Stream *s = &h->stream[i];

        if (!is_running(s)) {
            continue;
        }
        if (is_output(s)) {
            run_playback(s, stingy);
        } else {
            run_capture(s, stingy);
        }
    }
}

/* The wakes that are due: a capture message may go back. */
static void fire_wakes(Home *h)
{
    uint32_t i;

    for (i = 0; i < h->core.counts.streams; i++) {
        Stream *s = &h->stream[i];
        VSndPcmPacer after, before = s->io.pacer;
        uint64_t room = 0;

        if (!s->has_wake || s->wake_ns > h->now_ns) {
            continue;
        }
        s->has_wake = false;
        s->audio.offered = 0;
        if (is_running(s)) {
            room = pace_before(s, &after);
        }
        vsnd_io_wake(&s->io, h->now_ns);
        if (is_running(s)) {
            pace_after(s, &after, room);
            CHECK(s->audio.moved == 0);
        } else {
            CHECK(s->io.pacer.credit == before.credit &&
                  s->io.pacer.last_ns == before.last_ns &&
                  s->io.pacer.residue == before.residue);
        }
    }
}

/* The control queue's side of the home */

static VSndPcmStream *home_pcm(void *opaque, uint32_t stream)
{
    Home *h = opaque;

    CHECK(stream < h->core.counts.streams);
    return &h->stream[stream].io.pcm;
}

/* Both homes' pcm_act, with the fake audio. */
static uint32_t home_pcm_act(void *opaque, uint32_t stream,
                             const VSndCtrlRequest *req, VSndPcmState next)
{
    Home *h = opaque;
    Stream *s = &h->stream[stream];

    CHECK(stream == req->id && stream < h->core.counts.streams);
    h->acts++;
    h->act_code = req->code;
    h->act_stream = stream;
    h->act_next = next;
    h->act_state = s->io.pcm.state;
    switch (req->code) {
    case VIRTIO_SND_R_PCM_SET_PARAMS:
        /* Messages for the old parameters go back, as RELEASE would. */
        stream_return_all(s);
        s->io.pcm.params = req->params;
        break;
    case VIRTIO_SND_R_PCM_PREPARE:
        if (h->fail_prepare) {
            return VIRTIO_SND_S_IO_ERR;
        }
        audio_open(s);
        break;
    case VIRTIO_SND_R_PCM_START:
        vsnd_io_start(&s->io, h->now_ns);
        audio_drain(s);
        s->audio.have = 0;
        s->xrun_told = false;
        s->lead_on = !is_output(s);
        s->lead_start_ns = h->now_ns;
        s->lead_given = 0;
        s->pace_start_ns = h->now_ns;
        s->pace_latest_ns = h->now_ns;
        s->paced_bytes = 0;
        break;
    case VIRTIO_SND_R_PCM_STOP:
        vsnd_io_set_active(&s->io, false, h->now_ns);
        s->xrun_told = false;
        s->lead_on = false;
        break;
    case VIRTIO_SND_R_PCM_RELEASE:
        stream_return_all(s);
        break;
    default:
        CHECK(false);
    }
    return VIRTIO_SND_S_OK;
}

static void home_ctl_changed(void *opaque, uint32_t ctl)
{
    Home *h = opaque;

    CHECK(h->ctls != NULL && ctl < h->ctls->count);
    h->changes++;
    h->changed = ctl;
}

static const VSndCoreOps home_core_ops = {
    .pcm = home_pcm,
    .pcm_act = home_pcm_act,
    .ctl_changed = home_ctl_changed,
};

static void ctl_model_reset(Home *h)
{
    uint32_t i;

    for (i = 0; i < MAX_CTLS; i++) {
        bool vol = i % VSND_CTLS_PER_STREAM == VSND_CTL_VOLUME;

        h->ctl_value[i][0] = vol ? VSND_CTL_VOLUME_MAX : 1;
        h->ctl_value[i][1] = vol ? VSND_CTL_VOLUME_MAX : 1;
    }
}

static void home_init(Home *h, Input *in)
{
    uint8_t b = in_u8(in);
    uint8_t dirs[MAX_STREAMS];
    uint32_t i, streams = 1 + (b & 3);

    memset(h, 0, sizeof(*h));
    h->now_ns = T0_NS;
    for (i = 0; i < streams; i++) {
        Stream *s = &h->stream[i];
        bool bounded;

        s->home = h;
        s->id = i;
        g_queue_init(&s->held);
        bounded = read_caps(in, &s->io.pcm.caps);
        vsnd_io_init(&s->io, &fake_io_ops);
        s->io.audio_bounded = bounded;
        /* As the homes start their streams. */
        vsnd_pcm_default_params(&s->io.pcm.caps, &s->io.pcm.params);
        s->io.pcm.state = VSND_PCM_STATE_PARAMS_SET;
        dirs[i] = s->io.pcm.caps.direction;
    }
    if (b >> 7) {
        h->ctls = vsnd_ctls_new(dirs, streams);
        CHECK(h->ctls->count == streams * VSND_CTLS_PER_STREAM);
    }
    ctl_model_reset(h);
    h->core = (VSndCore) {
        .counts = {
            .streams = streams,
            .jacks = (b >> 2) & 3,
            .chmaps = (b >> 4) & 3,
            .controls = h->ctls ? h->ctls->count : 0,
            .ctls = ((b >> 6) & 1) && h->ctls,
        },
        .ctls = h->ctls,
        .ops = &home_core_ops,
        .opaque = h,
    };
}

/*
 * A device reset, as the homes do it: the held messages belong to rings
 * that are no more; the streams start afresh with default parameters, the
 * controls at their defaults.
 */
static void home_reset(Home *h)
{
    uint32_t i;

    TRACE("reset\n");
    for (i = 0; i < h->core.counts.streams; i++) {
        Stream *s = &h->stream[i];

        stream_forget_all(s);
        vsnd_io_set_active(&s->io, false, h->now_ns);
        vsnd_pcm_default_params(&s->io.pcm.caps, &s->io.pcm.params);
        s->io.pcm.state = VSND_PCM_STATE_PARAMS_SET;
        s->has_wake = false;
        s->xrun_told = false;
        s->lead_on = false;
        s->audio.open = false;
        s->audio.given_len = 0;
    }
    if (h->ctls) {
        vsnd_ctls_reset(h->ctls);
    }
    ctl_model_reset(h);
}

static void home_free(Home *h)
{
    uint32_t i;

    for (i = 0; i < h->core.counts.streams; i++) {
        stream_forget_all(&h->stream[i]);
        free(h->stream[i].audio.last);
    }
    vsnd_ctls_free(h->ctls);
}

/* Invariants of the device's streams between any two messages. */
static void check_streams(Home *h, bool ran)
{
    uint32_t i;

    for (i = 0; i < h->core.counts.streams; i++) {
        Stream *s = &h->stream[i];
        const VSndPcmStream *p = &s->io.pcm;
        size_t frame = frame_of(s);
        GList *a, *b;
        FakeMsg *f;

        CHECK((unsigned int)p->state < VSND_PCM_STATE__MAX);
        CHECK(strcmp(vsnd_pcm_state_name(p->state), "invalid") != 0);
        /*
         * Every state but INITIAL has parameters, the defaults or a
         * SET_PARAMS that succeeded: valid ones.
         */
        if (p->state != VSND_PCM_STATE_INITIAL) {
            CHECK(vsnd_pcm_params_check(&p->caps, &p->params) ==
                  VIRTIO_SND_S_OK);
            CHECK(vsnd_pcm_frame_bytes(&p->params) > 0);
            CHECK(p->params.period_bytes % vsnd_pcm_frame_bytes(&p->params)
                  == 0);
            CHECK(p->params.buffer_bytes % p->params.period_bytes == 0);
            CHECK(p->params.buffer_bytes <= VSND_PCM_BUFFER_BYTES_MAX);
            CHECK(vsnd_pcm_bytes_per_second(&p->params) > 0);
        }
        if (p->state == VSND_PCM_STATE_RUNNING) {
            const VSndPcmPacer *pc = &s->io.pacer;

            CHECK(pc->frame_bytes == vsnd_pcm_frame_bytes(&p->params));
            CHECK(pc->burst >= pc->frame_bytes);
            CHECK(pc->burst % pc->frame_bytes == 0);
            CHECK(pc->credit <= pc->burst);
        }
        /* The home's list and the stream's: same messages, same order. */
        for (a = s->held.head, b = s->io.msgs.head; a && b;
             a = a->next, b = b->next) {
            f = a->data;
            CHECK(b->data == &f->io);
            CHECK(f->io.done == (is_output(s) ? f->played : f->captured));
            CHECK(f->io.done <= f->io.xfer.data_len);
        }
        CHECK(!a && !b);
        /* None held where none is taken: after RELEASE, SET_PARAMS. */
        if (!vsnd_pcm_state_accepts_io(p->state)) {
            CHECK(g_queue_is_empty(&s->held));
        }
        CHECK(s->io.starved == s->xrun_told);
        /* A full capture message waits for a wake, never for nothing. */
        f = g_queue_peek_head(&s->held);
        if (ran && p->state == VSND_PCM_STATE_RUNNING && !is_output(s) &&
            f && f->io.xfer.data_len - f->io.done < frame) {
            CHECK(s->has_wake && s->wake_ns > h->now_ns);
        }
    }
    for (i = 0; h->ctls && i < h->ctls->count; i++) {
        CHECK(h->ctls->ctl[i].value[0] == h->ctl_value[i][0]);
        if (vsnd_ctl_count(h->ctls, i) > 1) {
            CHECK(h->ctls->ctl[i].value[1] == h->ctl_value[i][1]);
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
        if ((uint64_t)e->id + e->count > items || e->size < item_size ||
            e->size > VSND_INFO_ITEM_SIZE_MAX) {
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
 * The reference for a CTL_INFO item of control @id, as virtio-snd-ctl.h
 * describes the controls: a volume and a switch per stream, in the layout
 * the item's @len (92 or 96) selects.
 */
static void check_ctl_info(const Home *h, uint32_t id, const uint8_t *item,
                           size_t len)
{
    static const char *const names[2][VSND_CTLS_PER_STREAM] = {
        [VIRTIO_SND_D_OUTPUT] = { "PCM Playback Volume",
                                  "PCM Playback Switch" },
        [VIRTIO_SND_D_INPUT] = { "Capture Volume", "Capture Switch" },
    };
    uint32_t stream = id / VSND_CTLS_PER_STREAM, index = 0, i;
    uint8_t dir = h->stream[stream].io.pcm.caps.direction;
    bool vol = id % VSND_CTLS_PER_STREAM == VSND_CTL_VOLUME;
    size_t value = len == VSND_CTL_INFO_SIZE_PACKED
                   ? VSND_CTL_INFO_VALUE_OFFSET_PACKED
                   : VSND_CTL_INFO_VALUE_OFFSET_ALIGNED;
    const char *name = names[dir][id % VSND_CTLS_PER_STREAM];

    for (i = 0; i < stream; i++) {
        index += h->stream[i].io.pcm.caps.direction == dir;
    }
    CHECK(le32_at(item, 0) == 0);
    CHECK(le32_at(item, 4) == ((uint32_t)(vol ? VIRTIO_SND_CTL_ROLE_VOLUME
                                              : VIRTIO_SND_CTL_ROLE_MUTE) << 1 |
                               dir));
    CHECK(le32_at(item, 8) == (vol ? VIRTIO_SND_CTL_TYPE_INTEGER
                                   : VIRTIO_SND_CTL_TYPE_BOOLEAN));
    CHECK(le32_at(item, 12) ==
          ((1u << VIRTIO_SND_CTL_ACCESS_READ) |
           (1u << VIRTIO_SND_CTL_ACCESS_WRITE) |
           (vol ? 1u << VIRTIO_SND_CTL_ACCESS_TLV_READ : 0)));
    CHECK(le32_at(item, 16) == (vol ? 2 : 1));
    CHECK(le32_at(item, 20) == index);
    CHECK(memcmp(item + 24, name, strlen(name)) == 0);
    CHECK(all_zero(item, 24 + strlen(name), VSND_CTL_INFO_VALUE_OFFSET_PACKED));
    if (vol) {
        CHECK(le32_at(item, value) == 0);
        CHECK(le32_at(item, value + 4) == VSND_CTL_VOLUME_MAX);
        CHECK(le32_at(item, value + 8) == 1);
        CHECK(all_zero(item, VSND_CTL_INFO_VALUE_OFFSET_PACKED, value));
        CHECK(all_zero(item, value + 12, len));
    } else {
        CHECK(all_zero(item, VSND_CTL_INFO_VALUE_OFFSET_PACKED, len));
    }
}

/*
 * The reply to a *_INFO query the core answered: each item in its slot of
 * req->size bytes, zero-filled past the item. The device's items, decoded
 * straight from the bytes.
 */
static void check_info_reply(const Home *h, const VSndCtrlRequest *req,
                             const uint8_t *flat)
{
    uint32_t i;

    for (i = 0; i < req->count; i++) {
        const uint8_t *slot = flat + HDR + (size_t)i * req->size;
        uint32_t id = req->id + i;
        size_t len, k;

        switch (req->code) {
        case VIRTIO_SND_R_JACK_INFO:
            len = sizeof(struct virtio_snd_jack_info);
            /* No features: no VIRTIO_SND_JACK_F_REMAP (REMAP: NOT_SUPP). */
            CHECK(le32_at(slot, 0) == 0 && le32_at(slot, 4) == 0);
            CHECK(le32_at(slot, 8) != 0 && le32_at(slot, 12) != 0);
            CHECK(slot[16] == 1);
            CHECK(all_zero(slot, 17, len));
            break;
        case VIRTIO_SND_R_PCM_INFO: {
            const VSndPcmCaps *caps = &h->stream[id].io.pcm.caps;

            len = sizeof(struct virtio_snd_pcm_info);
            CHECK(le32_at(slot, 0) == caps->hda_fn_nid);
            CHECK(le32_at(slot, 4) == caps->features);
            CHECK(le64_at(slot, 8) == caps->formats);
            CHECK(le64_at(slot, 16) == caps->rates);
            CHECK(slot[24] == caps->direction);
            CHECK(slot[25] == caps->channels_min);
            CHECK(slot[26] == caps->channels_max);
            CHECK(all_zero(slot, 27, len));
            break;
        }
        case VIRTIO_SND_R_CHMAP_INFO: {
            unsigned int channels = id / 2 + 1;

            len = sizeof(struct virtio_snd_chmap_info);
            CHECK(le32_at(slot, 0) == 0);
            CHECK(slot[4] == (id & 1 ? VIRTIO_SND_D_INPUT
                                     : VIRTIO_SND_D_OUTPUT));
            CHECK(slot[5] == channels);
            for (k = 0; k < channels; k++) {
                CHECK(slot[6 + k] == vsnd_pcm_chmap_position(channels, k));
                CHECK(slot[6 + k] != VIRTIO_SND_CHMAP_NONE);
            }
            CHECK(all_zero(slot, 6 + channels, len));
            break;
        }
        default:
            len = req->size < VSND_CTL_INFO_SIZE_ALIGNED
                  ? VSND_CTL_INFO_SIZE_PACKED : VSND_CTL_INFO_SIZE_ALIGNED;
            check_ctl_info(h, id, slot, len);
            break;
        }
        CHECK(req->size >= len);
        CHECK(all_zero(slot, len, req->size));
    }
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
    uint32_t width = format_width(p->format), frame;

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

/*
 * What a lifecycle request on a stream that was @before must get, and
 * whether the core must have asked the home to act (*@acts) to take it to
 * *@next. The unit's own table and checks are held to the reference too.
 */
static uint32_t expect_lifecycle(const Home *h, const VSndPcmStream *before,
                                 const VSndCtrlRequest *req, bool *acts,
                                 VSndPcmState *next)
{
    const VSndPcmState sentinel = VSND_PCM_STATE__MAX;
    VSndPcmState table_next = sentinel;
    VSndPcmState check_next = sentinel;
    uint32_t table, check;
    bool spec = spec_lifecycle(before->state, req->code, next);

    table = vsnd_pcm_transition(before->state, req->code, &table_next);
    CHECK(table == (spec ? VIRTIO_SND_S_OK : VIRTIO_SND_S_BAD_MSG));
    CHECK(table_next == (spec ? *next : sentinel));
    check = vsnd_pcm_request_check(before, req, &check_next);
    *acts = false;
    if (!spec) {
        /* The lifecycle refuses it: BAD_MSG, and no state is proposed. */
        CHECK(check == VIRTIO_SND_S_BAD_MSG && check_next == sentinel);
        return VIRTIO_SND_S_BAD_MSG;
    }
    if (req->code == VIRTIO_SND_R_PCM_SET_PARAMS) {
        uint32_t p = spec_params(&before->caps, &req->params);

        CHECK(vsnd_pcm_params_check(&before->caps, &req->params) == p);
        CHECK(check == p);
        if (p != VIRTIO_SND_S_OK) {
            CHECK(check_next == sentinel);
            return p;
        }
    }
    CHECK(check == VIRTIO_SND_S_OK && check_next == *next);
    *acts = true;
    if (req->code == VIRTIO_SND_R_PCM_PREPARE && h->fail_prepare) {
        return VIRTIO_SND_S_IO_ERR;
    }
    return VIRTIO_SND_S_OK;
}

/* What a well-formed CTL_* request must get (the controls exist). */
static uint32_t expect_ctl(Home *h, const Msg *m, const VSndCtrlRequest *req,
                           size_t *reply_len, bool *change)
{
    bool vol = req->id % VSND_CTLS_PER_STREAM == VSND_CTL_VOLUME;
    uint32_t n = vol ? VSND_CTL_VOLUME_CHANNELS : 1;
    uint32_t max = vol ? VSND_CTL_VOLUME_MAX : 1;
    uint32_t v[VSND_CTL_VOLUME_CHANNELS], k;

    *change = false;
    switch (req->code) {
    case VIRTIO_SND_R_CTL_INFO:
        *reply_len = req->reply_len;
        return VIRTIO_SND_S_OK;
    case VIRTIO_SND_R_CTL_READ:
        *reply_len = HDR + sizeof(struct virtio_snd_ctl_value);
        return VIRTIO_SND_S_OK;
    case VIRTIO_SND_R_CTL_WRITE:
        for (k = 0; k < n; k++) {
            v[k] = le32_at(m->out_flat, req->payload_offset + 4 * k);
            if (v[k] > max) {
                return VIRTIO_SND_S_BAD_MSG;
            }
        }
        for (k = 0; k < n; k++) {
            *change |= h->ctl_value[req->id][k] != v[k];
            h->ctl_value[req->id][k] = v[k];
        }
        return VIRTIO_SND_S_OK;
    case VIRTIO_SND_R_CTL_TLV_READ:
        /* The volume's dB scale, cut to the room; a switch has none. */
        if (!vol) {
            return VIRTIO_SND_S_BAD_MSG;
        }
        *reply_len = HDR + MIN(16, m->in.len - HDR);
        return VIRTIO_SND_S_OK;
    default:
        /* ENUM_ITEMS, TLV_WRITE, TLV_COMMAND: no control of ours takes. */
        return VIRTIO_SND_S_BAD_MSG;
    }
}

/* The reply data of a CTL_READ or CTL_TLV_READ that succeeded. */
static void check_ctl_reply(const Home *h, const VSndCtrlRequest *req,
                            const uint8_t *flat, size_t used)
{
    uint32_t k;

    if (req->code == VIRTIO_SND_R_CTL_READ) {
        uint32_t n = req->id % VSND_CTLS_PER_STREAM == VSND_CTL_VOLUME
                     ? VSND_CTL_VOLUME_CHANNELS : 1;

        for (k = 0; k < n; k++) {
            CHECK(le32_at(flat, HDR + 4 * k) == h->ctl_value[req->id][k]);
        }
        CHECK(all_zero(flat, HDR + 4 * n, used));
    } else if (req->code == VIRTIO_SND_R_CTL_TLV_READ) {
        /* SNDRV_CTL_TLVT_DB_SCALE, min and step | mute: as much as fits. */
        const uint32_t tlv[4] = {
            VSND_TLVT_DB_SCALE, 8, (uint32_t)VSND_CTL_VOLUME_MIN_CDB,
            VSND_CTL_VOLUME_STEP_CDB | VSND_TLV_DB_SCALE_MUTE,
        };
        uint8_t bytes[sizeof(tlv)];

        for (k = 0; k < sizeof(bytes); k++) {
            bytes[k] = tlv[k / 4] >> (8 * (k % 4));
        }
        CHECK(used - HDR <= sizeof(bytes));
        CHECK(memcmp(flat + HDR, bytes, used - HDR) == 0);
    }
}

static void op_ctrl(Home *h, Input *in)
{
    VSndPcmStream before[MAX_STREAMS];
    unsigned int errors = vsnd_unit_guest_errors;
    VSndPcmState next = VSND_PCM_STATE__MAX;
    uint32_t status, want;
    size_t used, reply_len = HDR;
    bool acts = false, change = false, logged;
    VSndCtrlRequest req;
    uint8_t *flat;
    uint32_t i;
    Expect e;
    Msg m;

    for (i = 0; i < MAX_STREAMS; i++) {
        before[i] = h->stream[i].io.pcm;
    }
    read_msg(in, &m, true);
    expect_ctrl(&h->core.counts, m.out_flat, m.out.len, m.in.len, &e);
    h->acts = 0;
    h->changes = 0;
    memset(&req, 0x5a, sizeof(req));
    used = vsnd_core_ctrl(&h->core, m.out.iov, m.out.num, m.in.iov,
                          m.in.num, &req, &status);
    CHECK(req.code == e.code);

    want = e.status;
    if (e.status == VIRTIO_SND_S_OK) {
        /* The request as the core read it. */
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

        /* What the device does with it. */
        if (is_query(req.code) && req.code != VIRTIO_SND_R_CTL_INFO) {
            want = VIRTIO_SND_S_OK;
            reply_len = req.reply_len;
        } else if (is_lifecycle(req.code)) {
            want = expect_lifecycle(h, &before[req.id], &req, &acts, &next);
        } else if (req.code == VIRTIO_SND_R_JACK_REMAP) {
            /* No jack offers VIRTIO_SND_JACK_F_REMAP. */
            want = VIRTIO_SND_S_NOT_SUPP;
        } else {
            want = expect_ctl(h, &m, &req, &reply_len, &change);
        }
    }
    TRACE("ctrl 0x%x id %u: parse 0x%x, reply 0x%x, used %zu\n", req.code,
          req.id, e.status, status, used);
    CHECK(status == want);
    if (status != VIRTIO_SND_S_OK) {
        reply_len = HDR;
    }
    CHECK(used == (m.in.len >= HDR ? reply_len : 0));
    /*
     * A refused request is the guest's error, but for JACK_REMAP: the
     * device has no remapping, which a driver may try.
     */
    logged = status != VIRTIO_SND_S_OK &&
             !(e.status == VIRTIO_SND_S_OK &&
               req.code == VIRTIO_SND_R_JACK_REMAP);
    CHECK(vsnd_unit_guest_errors - errors == (logged ? 1 : 0));

    /* The home was asked to act exactly when the state machine allows. */
    CHECK(h->acts == (acts ? 1 : 0));
    if (acts) {
        CHECK(h->act_code == req.code && h->act_stream == req.id);
        CHECK(h->act_next == next);
        CHECK(h->act_state == before[req.id].state);
    }
    CHECK(h->changes == (change && status == VIRTIO_SND_S_OK ? 1 : 0));
    if (h->changes) {
        uint32_t st = h->changed / VSND_CTLS_PER_STREAM;
        uint32_t vol = vsnd_ctl_id(st, VSND_CTL_VOLUME);
        uint32_t ch = h->stream[st].io.pcm.params.channels;
        VSndCtlStreamVolume sv;

        CHECK(h->changed == req.id);
        /* What the homes hand their audio. */
        vsnd_ctls_stream_volume(h->ctls, st, ch, &sv);
        CHECK(sv.mute ==
              !h->ctl_value[vsnd_ctl_id(st, VSND_CTL_SWITCH)][0]);
        CHECK(sv.channels == ch);
        if (ch == 2) {
            CHECK(!sv.level[0] == !h->ctl_value[vol][0]);
            CHECK(!sv.level[1] == !h->ctl_value[vol][1]);
        }
    }

    /* Only a lifecycle request that succeeded changes a stream. */
    for (i = 0; i < h->core.counts.streams; i++) {
        const VSndPcmStream *p = &h->stream[i].io.pcm;

        if (status == VIRTIO_SND_S_OK && acts && i == req.id) {
            CHECK(p->state == next);
            CHECK(params_equal(&p->params,
                               req.code == VIRTIO_SND_R_PCM_SET_PARAMS
                               ? &req.params : &before[i].params));
        } else {
            CHECK(p->state == before[i].state);
            CHECK(params_equal(&p->params, &before[i].params));
        }
    }
    if (status == VIRTIO_SND_S_OK && acts &&
        req.code == VIRTIO_SND_R_PCM_START) {
        const VSndPcmPacer *p = &h->stream[req.id].io.pacer;
        uint32_t frame = vsnd_pcm_frame_bytes(&before[req.id].params);
        uint32_t burst;

        CHECK(p->frame_bytes == frame);
        CHECK(p->credit == p->burst && p->last_ns == h->now_ns);
        /* Half the buffer, or all of it for an audio bounding itself. */
        burst = before[req.id].params.buffer_bytes /
                (h->stream[req.id].io.audio_bounded ? 1 : 2);
        CHECK(p->burst == MAX(burst - burst % frame, frame));
    }

    flat = sg_flatten(&m.in);
    if (m.in.len >= HDR) {
        CHECK(le32_at(flat, 0) == status);
    }
    if (status == VIRTIO_SND_S_OK && used) {
        if (is_query(req.code)) {
            check_info_reply(h, &req, flat);
        } else {
            check_ctl_reply(h, &req, flat, used);
        }
    }
    CHECK(all_canary(flat, used, m.in.len));
    free(flat);
    if (status == VIRTIO_SND_S_OK && is_query(req.code)) {
        query_truncated(&m, &req, m.in.num / 2);
    }
    msg_free(&m);
}

/* The audio of rx stream @id recorded @bytes, which took their time. */
static void audio_recorded(Home *h, uint32_t id, uint16_t bytes)
{
    Stream *s = &h->stream[id];
    uint64_t rate = vsnd_pcm_bytes_per_second(&s->io.pcm.params);

    if (is_output(s) || !rate) {
        return;
    }
    h->now_ns += (int64_t)((uint64_t)bytes * NS_PER_S / rate);
    if (is_running(s)) {
        s->audio.have = MIN(s->audio.have + bytes, CAPTURE_RING);
    }
}

static void op_xfer(Home *h, Input *in, uint32_t dir, bool give_back)
{
    uint16_t arg = in_u16(in);
    unsigned int errors;
    FakeMsg *f;
    Stream *s;
    uint32_t status, i, id = UINT32_MAX;
    size_t used;
    bool want_parse, want_ok = false;
    uint8_t *flat;
    VSndXfer x;

    if (dir == VIRTIO_SND_D_OUTPUT) {
        if (arg == 0xffff) {
            h->now_ns -= 5000000;
        } else if (arg & 0x8000) {
            h->now_ns += (int64_t)(arg & 0x7fff) * 1000000;
        } else {
            h->now_ns += (int64_t)arg * 1000;
        }
    }
    /* The daemon, before the guest's memory changes. */
    for (i = 0; give_back && i < h->core.counts.streams; i++) {
        if (h->stream[i].io.pcm.caps.direction == dir) {
            stream_return_all(&h->stream[i]);
        }
    }
    f = calloc(1, sizeof(*f));
    CHECK(f != NULL);
    read_msg(in, &f->m, false);
    if (f->m.out.len >= VSND_XFER_TX_DATA_OFFSET) {
        id = le32_at(f->m.out_flat, 0);
    }
    if (dir == VIRTIO_SND_D_INPUT && id < h->core.counts.streams) {
        audio_recorded(h, id, arg);
    }

    errors = vsnd_unit_guest_errors;
    memset(&x, 0x5a, sizeof(x));
    used = 0x5a5a5a5a;
    status = vsnd_core_xfer(&h->core, dir, f->m.out.iov, f->m.out.num,
                            f->m.in.iov, f->m.in.num, &x, &used);

    /* The reference. */
    want_parse = id < h->core.counts.streams &&
                 f->m.in.len >= PCM_STATUS &&
                 (dir == VIRTIO_SND_D_OUTPUT
                  ? f->m.in.len == PCM_STATUS
                  : f->m.out.len == VSND_XFER_TX_DATA_OFFSET);
    if (want_parse) {
        const VSndPcmStream *p = &h->stream[id].io.pcm;

        want_ok = p->caps.direction == dir &&
                  (p->state == VSND_PCM_STATE_PREPARED ||
                   p->state == VSND_PCM_STATE_RUNNING ||
                   p->state == VSND_PCM_STATE_STOPPED);
        CHECK(want_ok == (vsnd_xfer_check_stream(dir, p) ==
                          VIRTIO_SND_S_OK));
    }
    CHECK(status == (want_ok ? VIRTIO_SND_S_OK : VIRTIO_SND_S_IO_ERR));
    CHECK(x.has_status == (f->m.in.len >= PCM_STATUS));
    if (x.has_status) {
        CHECK(x.status_offset == f->m.in.len - PCM_STATUS);
    }
    if (want_parse) {
        CHECK(x.stream_id == id);
        if (dir == VIRTIO_SND_D_OUTPUT) {
            uint8_t *data = malloc(x.data_len + 1);

            CHECK(x.data_len + VSND_XFER_TX_DATA_OFFSET == f->m.out.len);
            CHECK(x.status_offset == 0);
            CHECK(data != NULL);
            CHECK(vsnd_iov_to_buf(f->m.out.iov, f->m.out.num,
                                  VSND_XFER_TX_DATA_OFFSET, data,
                                  x.data_len) == x.data_len);
            CHECK(memcmp(data, f->m.out_flat + VSND_XFER_TX_DATA_OFFSET,
                         x.data_len) == 0);
            free(data);
        } else {
            CHECK(x.data_len + PCM_STATUS == f->m.in.len);
            CHECK(x.status_offset == x.data_len);
        }
    }
    TRACE("%s stream %u: 0x%x, %zu bytes\n",
          dir == VIRTIO_SND_D_OUTPUT ? "tx" : "rx", id, status,
          want_parse ? x.data_len : 0);

    flat = sg_flatten(&f->m.in);
    if (!want_ok) {
        /* Refused: answered at once with IO_ERR, a guest error. */
        CHECK(vsnd_unit_guest_errors - errors == 1);
        CHECK(used == (x.has_status ? PCM_STATUS : 0));
        if (x.has_status) {
            CHECK(le32_at(flat, x.status_offset) == VIRTIO_SND_S_IO_ERR);
            CHECK(le32_at(flat, x.status_offset + 4) == 0);
        }
        CHECK(all_canary(flat, 0, x.has_status ? x.status_offset
                                               : f->m.in.len));
        free(flat);
        fake_msg_free(f);
        return;
    }
    /* Taken: nothing written yet, nothing logged; its stream holds it. */
    CHECK(vsnd_unit_guest_errors == errors);
    CHECK(all_canary(flat, 0, f->m.in.len));
    free(flat);
    s = &h->stream[id];
    f->stream = id;
    f->shadow = malloc(x.data_len + 1);
    CHECK(f->shadow != NULL);
    f->io = (VSndIoMsg) {
        .out_sg = f->m.out.iov,
        .out_num = f->m.out.num,
        .in_sg = f->m.in.iov,
        .in_num = f->m.in.num,
        .xfer = x,
    };
    g_queue_push_tail(&s->held, f);
    vsnd_io_queue(&s->io, &f->io);
    s->xrun_told = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in = { data, size };
    Home h;
    unsigned int ops;

    home_init(&h, &in);
    check_streams(&h, false);
    for (ops = 0; ops < MAX_OPS && in.n > 0; ops++) {
        uint8_t kind = in_u8(&in);
        unsigned int mod = kind / 3;

        if (mod >= MOD_RESET) {
            home_reset(&h);
        }
        switch (kind % 3) {
        case 0:
            h.fail_prepare = mod & MOD_OTHER;
            op_ctrl(&h, &in);
            h.fail_prepare = false;
            break;
        case 1:
            op_xfer(&h, &in, VIRTIO_SND_D_OUTPUT, mod & MOD_OTHER);
            break;
        default:
            op_xfer(&h, &in, VIRTIO_SND_D_INPUT, mod & MOD_OTHER);
            break;
        }
        if (!(mod & MOD_QUIET)) {
            audio_run(&h, mod & MOD_STINGY);
        }
        fire_wakes(&h);
        check_streams(&h, !(mod & MOD_QUIET));
    }
    home_free(&h);
    return 0;
}
