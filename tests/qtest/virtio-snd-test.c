/*
 * QTest testcase for the virtio sound device (virtio-sound-pci).
 *
 * Drives the device the way a guest driver does, through the PC's PCI bus
 * and split virtqueues in guest memory: reads the configuration space,
 * queries jacks, streams and channel maps, runs playback and capture
 * streams through their lifecycle and checks how malformed requests are
 * answered. With "-audiodev none" the audio layer consumes and produces
 * frames at the pace of the virtual clock, which only moves when the test
 * steps it, so when I/O messages complete is deterministic.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/wait.h>
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qpw-qtest-compat.h"
#include "hw/pci/pci_ids.h"
#include "hw/pci/pci_regs.h"
#include "libqos/libqos-pc.h"
#include "libqos/virtio.h"
#include "libqos/virtio-pci.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ids.h"
#include "standard-headers/linux/virtio_pci.h"
#include "standard-headers/linux/virtio_snd.h"

#define PCI_SLOT_SND 4

/* 48 kHz, S16, stereo: 10 ms periods of 1920 bytes, 4 of them. */
#define FRAME_BYTES 4
#define PERIOD_BYTES 1920
#define BUFFER_BYTES (4 * PERIOD_BYTES)

#define STATUS_LEN sizeof(struct virtio_snd_pcm_status)
#define XFER_LEN sizeof(struct virtio_snd_pcm_xfer)

#define MS (1000 * 1000)            /* nanoseconds of virtual clock */

#define FORMATS_EXPECTED \
    ((1ULL << VIRTIO_SND_PCM_FMT_S8) | (1ULL << VIRTIO_SND_PCM_FMT_U8) | \
     (1ULL << VIRTIO_SND_PCM_FMT_S16) | (1ULL << VIRTIO_SND_PCM_FMT_U16) | \
     (1ULL << VIRTIO_SND_PCM_FMT_S32) | (1ULL << VIRTIO_SND_PCM_FMT_U32) | \
     (1ULL << VIRTIO_SND_PCM_FMT_FLOAT))
#define RATE_COUNT 16           /* 12 and 24 kHz are the last, 14 and 15 */
#define RATES_EXPECTED ((1ULL << RATE_COUNT) - 1)   /* all the spec defines */

/*
 * The most descriptors a queue of the device may have: VIRTQUEUE_MAX_SIZE,
 * as Debian's QEMU 10.0.13 gives every queue that size, whatever the
 * device asks for.
 */
#define VQ_DESC_MAX 1024

/*
 * Our side of a split virtqueue. libqos's qvirtqueue_add() hands out
 * descriptors in order and never reuses them, which does not do for chains
 * the device holds for long (I/O messages) while others come and go: here
 * free descriptors are tracked and reused, and each chain's device-writable
 * length is kept by its head so that every used element can be checked.
 */
typedef struct VSndRing {
    uint16_t avail_idx;                 /* avail->idx */
    /* What we wrote of the descriptor table and the avail ring after it. */
    uint8_t shadow[VQ_DESC_MAX * sizeof(struct vring_desc) +
                   sizeof(struct vring_avail) + VQ_DESC_MAX * 2];
    uint16_t used_idx;                  /* used->idx when last read */
    struct vring_used_elem used[VQ_DESC_MAX];   /* used->ring read ahead */
    uint16_t cursor;                    /* where to look for free ones */
    unsigned int nfree;                 /* descriptors not in a chain */
    bool busy[VQ_DESC_MAX];
    uint16_t next[VQ_DESC_MAX];         /* the links we wrote */
    uint16_t ndesc[VQ_DESC_MAX];        /* by head: 0 if no chain */
    uint64_t in_len[VQ_DESC_MAX];       /* by head: device-writable bytes */
} VSndRing;

typedef struct VSnd {
    QOSState *qs;
    QTestState *qts;
    QGuestAllocator *alloc;
    QVirtioPCIDevice *dev;
    QVirtQueue *vq[VIRTIO_SND_VQ_MAX];
    VSndRing ring[VIRTIO_SND_VQ_MAX];
    unsigned int pending[VIRTIO_SND_VQ_MAX];    /* chains the device holds */
    uint64_t features;          /* negotiated besides VIRTIO_F_VERSION_1 */
} VSnd;

/* One descriptor of a chain: guest memory, device-writable or not. */
typedef struct VSndSeg {
    uint64_t addr;
    uint32_t len;
    bool write;
} VSndSeg;

/* An I/O message: header, frames and status, in one guest allocation. */
typedef struct VSndMsg {
    uint32_t head;
    uint64_t addr;
    uint32_t data_len;
} VSndMsg;

/* Setup and teardown */

/* Initialise the device from reset as a driver does, with fresh queues. */
static void vsnd_init_device(VSnd *s)
{
    QVirtioDevice *vdev = &s->dev->vdev;
    int i;

    qvirtio_start_device(vdev);
    g_assert(qvirtio_get_features(vdev) & (1ull << VIRTIO_F_VERSION_1));
    qvirtio_set_features(vdev, (1ull << VIRTIO_F_VERSION_1) | s->features);
    for (i = 0; i < VIRTIO_SND_VQ_MAX; i++) {
        s->vq[i] = qvirtqueue_setup(vdev, s->alloc, i);
        g_assert_cmpuint(s->vq[i]->size, <=, VQ_DESC_MAX);
        memset(&s->ring[i], 0, sizeof(s->ring[i]));
        s->ring[i].nfree = s->vq[i]->size;
        s->pending[i] = 0;
    }
    qvirtio_set_driver_ok(vdev);
}

static void vsnd_free_queues(VSnd *s)
{
    int i;

    for (i = 0; i < VIRTIO_SND_VQ_MAX; i++) {
        qvirtqueue_cleanup(s->dev->vdev.bus, s->vq[i], s->alloc);
        s->vq[i] = NULL;
    }
}

/*
 * Boot with "-audiodev @audiodev" (its id must be snd0) and the device with
 * @props, and initialise it negotiating @features besides VERSION_1.
 */
static VSnd *vsnd_start_with(const char *audiodev, const char *props,
                             uint64_t features)
{
    VSnd *s = g_new0(VSnd, 1);
    QPCIAddress addr = { .devfn = QPCI_DEVFN(PCI_SLOT_SND, 0) };

    s->features = features;
    s->qs = qtest_pc_boot("-M pc -nic none -audiodev %s "
                          "-device virtio-sound-pci,audiodev=snd0,addr=%x.0%s",
                          audiodev, PCI_SLOT_SND, props);
    s->qts = s->qs->qts;
    s->alloc = &s->qs->alloc;
    s->dev = virtio_pci_new(s->qs->pcibus, &addr);
    g_assert_nonnull(s->dev);
    g_assert_cmpint(s->dev->vdev.device_type, ==, VIRTIO_ID_SOUND);

    qvirtio_pci_device_enable(s->dev);
    vsnd_init_device(s);
    return s;
}

static VSnd *vsnd_start(const char *props)
{
    return vsnd_start_with("none,id=snd0", props, 0);
}

/*
 * A virtio reset through the status register, then the driver's
 * initialisation again. The device gives nothing back: every chain it
 * held is forgotten, with the queues.
 */
static void vsnd_reset(VSnd *s)
{
    qvirtio_reset(&s->dev->vdev);
    vsnd_free_queues(s);
    vsnd_init_device(s);
}

static void vsnd_stop(VSnd *s)
{
    vsnd_free_queues(s);
    qvirtio_pci_destructor(&s->dev->obj);
    g_free(s->dev);
    qtest_shutdown(s->qs);
    g_free(s);
}

/* Migration */

/* The command line vsnd_start_with() boots with, for a destination. */
static QTestState *vsnd_start_incoming(const char *audiodev, const char *props,
                                       const char *uri)
{
    return qtest_initf("-M pc -nic none -audiodev %s "
                       "-device virtio-sound-pci,audiodev=snd0,addr=%x.0%s "
                       "-incoming %s", audiodev, PCI_SLOT_SND, props, uri);
}

/*
 * Migrate @src to @uri over QMP and wait until the source is done: it
 * must succeed, unless @may_fail (the destination may then hang up early).
 */
static void vsnd_migrate_out(QTestState *src, const char *uri, bool may_fail)
{
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    QDict *rsp = qtest_qmp(src, "{'execute': 'migrate', "
                           "'arguments': {'uri': %s}}", uri);

    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    for (;;) {
        QDict *ret;
        const char *status;
        bool done;

        rsp = qtest_qmp(src, "{'execute': 'query-migrate'}");
        ret = qdict_get_qdict(rsp, "return");
        status = qdict_get_try_str(ret, "status");
        if (!may_fail) {
            g_assert_cmpstr(status, !=, "failed");
        }
        done = !g_strcmp0(status, "completed") ||
               !g_strcmp0(status, "failed");
        qobject_unref(rsp);
        if (done) {
            break;
        }
        g_assert(g_get_monotonic_time() < deadline);
        g_usleep(10 * 1000);
    }
}

/*
 * Migrate the device's QEMU to a new one started with the same arguments
 * plus -incoming, over a unix socket; @s then drives the destination,
 * whose guest memory (the queues, the allocator's blocks) is the source's.
 */
static void vsnd_migrate(VSnd *s, const char *audiodev, const char *props)
{
    g_autofree char *dir = g_dir_make_tmp("vsnd-migrate-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/migrate.sock", dir);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    QTestState *dst = vsnd_start_incoming(audiodev, props, uri);

    vsnd_migrate_out(s->qts, uri, false);
    qtest_qmp_eventwait(dst, "RESUME");
    qtest_quit(s->qts);
    s->qts = s->qs->qts = s->qs->pcibus->qts = dst;
    unlink(sock);
    rmdir(dir);
}

/* Virtqueue helpers */

/*
 * Make a chain of the @n descriptors in @seg out of free descriptors of @q
 * and make it available to the device (without notifying it); returns its
 * head. The descriptors need not be valid for virtio: zero-length ones, or
 * device-readable ones after device-writable ones, are written as given.
 */
static uint32_t vq_add(VSnd *s, int q, const VSndSeg *seg, unsigned int n)
{
    QVirtQueue *vq = s->vq[q];
    VSndRing *r = &s->ring[q];
    uint16_t idx[VQ_DESC_MAX];
    size_t avail = vq->size * sizeof(struct vring_desc);
    uint64_t in_len = 0;
    unsigned int i, lo = vq->size, slot;

    g_assert_cmpuint(n, >=, 1);
    g_assert_cmpuint(n, <=, r->nfree);
    g_assert_cmphex(vq->avail, ==, vq->desc + avail);
    for (i = 0; i < n; r->cursor = (r->cursor + 1) % vq->size) {
        if (!r->busy[r->cursor]) {
            idx[i++] = r->cursor;
        }
    }
    for (i = 0; i < n; i++) {
        uint16_t flags = (seg[i].write ? VRING_DESC_F_WRITE : 0) |
                         (i + 1 < n ? VRING_DESC_F_NEXT : 0);

        struct vring_desc d = {
            .addr = cpu_to_le64(seg[i].addr),
            .len = cpu_to_le32(seg[i].len),
            .flags = cpu_to_le16(flags),
            .next = cpu_to_le16(i + 1 < n ? idx[i + 1] : 0),
        };

        r->busy[idx[i]] = true;
        r->next[idx[i]] = i + 1 < n ? idx[i + 1] : 0;
        memcpy(r->shadow + idx[i] * sizeof(d), &d, sizeof(d));
        lo = MIN(lo, idx[i]);
        in_len += seg[i].write ? seg[i].len : 0;
    }
    r->nfree -= n;
    r->ndesc[idx[0]] = n;
    r->in_len[idx[0]] = in_len;
    slot = r->avail_idx % vq->size;
    r->avail_idx++;
    stw_le_p(r->shadow + avail + offsetof(struct vring_avail, idx),
             r->avail_idx);
    stw_le_p(r->shadow + avail + offsetof(struct vring_avail, ring) +
             slot * 2, idx[0]);
    /* The descriptors, the ring entry and the index, in one write. */
    qtest_memwrite(s->qts, vq->desc + lo * sizeof(struct vring_desc),
                   r->shadow + lo * sizeof(struct vring_desc),
                   avail - lo * sizeof(struct vring_desc) +
                   offsetof(struct vring_avail, ring) + (slot + 1) * 2);
    s->pending[q]++;
    return idx[0];
}

/* Notify the device of what was added to @q. */
static void vq_notify(VSnd *s, int q)
{
    QVirtioDevice *vdev = &s->dev->vdev;

    vdev->bus->virtqueue_kick(vdev, s->vq[q]);
}

/*
 * Read the elements the device put on @q's used ring since we last
 * looked; returns how many are waiting to be taken.
 */
static unsigned int vq_fetch_used(VSnd *s, int q)
{
    QVirtQueue *vq = s->vq[q];
    VSndRing *r = &s->ring[q];
    uint16_t idx = qtest_readw(s->qts,
                               vq->used + offsetof(struct vring_used, idx));

    /* The device cannot have used more chains than the ring holds. */
    g_assert_cmpuint((uint16_t)(idx - vq->last_used_idx), <=, vq->size);
    while (r->used_idx != idx) {
        unsigned int slot = r->used_idx % vq->size;
        unsigned int n = MIN((uint16_t)(idx - r->used_idx), vq->size - slot);

        qtest_memread(s->qts, vq->used + offsetof(struct vring_used, ring) +
                      slot * sizeof(r->used[0]), &r->used[slot],
                      n * sizeof(r->used[0]));
        r->used_idx += n;
    }
    return (uint16_t)(idx - vq->last_used_idx);
}

/* Whether the device has put an element on @q's used ring we did not take. */
static bool used_ready(VSnd *s, int q)
{
    return s->ring[q].used_idx != s->vq[q]->last_used_idx ||
           vq_fetch_used(s, q) > 0;
}

/*
 * Take the next used element of @q if there is one: its head and length
 * (all 32 bits, which libqos's qvirtqueue_get_buf() does not read). The
 * head must be a chain the device holds, and the length at most that
 * chain's device-writable bytes: the device never claims to have written
 * outside the buffers. The chain's descriptors are free again.
 */
static bool vq_take_used(VSnd *s, int q, uint32_t *head, uint32_t *len)
{
    QVirtQueue *vq = s->vq[q];
    VSndRing *r = &s->ring[q];
    struct vring_used_elem e;
    unsigned int i;
    uint16_t d;

    if (!used_ready(s, q)) {
        return false;
    }
    e = r->used[vq->last_used_idx % vq->size];
    vq->last_used_idx++;
    *head = le32_to_cpu(e.id);
    *len = le32_to_cpu(e.len);
    g_assert_cmpuint(*head, <, vq->size);
    g_assert_cmpuint(r->ndesc[*head], >, 0);
    g_assert_cmpuint(*len, <=, r->in_len[*head]);
    for (i = 0, d = *head; i < r->ndesc[*head]; i++, d = r->next[d]) {
        g_assert(r->busy[d]);
        r->busy[d] = false;
    }
    r->nfree += r->ndesc[*head];
    r->ndesc[*head] = 0;
    s->pending[q]--;
    return true;
}

/* Take the next used element of @q, which must be @head; returns its length. */
static uint32_t wait_used(VSnd *s, int q, uint32_t head)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    uint32_t got, len;

    while (!vq_take_used(s, q, &got, &len)) {
        g_assert(g_get_monotonic_time() < deadline);
        g_usleep(100);
    }
    g_assert_cmpuint(got, ==, head);
    return len;
}

/* Advance the virtual clock 1 ms at a time until @q has a used element. */
static int step_until_used(VSnd *s, int q, int max_ms)
{
    int ms = 0;

    while (!used_ready(s, q) && ms < max_ms) {
        qtest_clock_step(s->qts, MS);
        ms++;
    }
    g_assert(used_ready(s, q));
    return ms;
}

/* Control requests */

/*
 * Send @req_len bytes of @req with @reply_len bytes of device-writable room
 * (none if 0) and wait for the answer, copied to @reply if not NULL.
 * Returns the used length.
 */
static uint32_t ctrl_xfer(VSnd *s, const void *req, size_t req_len,
                          void *reply, size_t reply_len)
{
    uint64_t addr = guest_alloc(s->alloc, req_len + reply_len);
    VSndSeg seg[2] = {
        { addr, req_len, false },
        { addr + req_len, reply_len, true },
    };
    uint32_t head, len;

    qtest_memwrite(s->qts, addr, req, req_len);
    qtest_memset(s->qts, addr + req_len, 0xa5, reply_len);
    head = vq_add(s, VIRTIO_SND_VQ_CONTROL, seg, reply_len ? 2 : 1);
    vq_notify(s, VIRTIO_SND_VQ_CONTROL);
    len = wait_used(s, VIRTIO_SND_VQ_CONTROL, head);
    if (reply) {
        qtest_memread(s->qts, addr + req_len, reply, reply_len);
    }
    guest_free(s->alloc, addr);
    return len;
}

/* Send a request that only gets a status back; returns the status. */
static uint32_t ctrl(VSnd *s, const void *req, size_t req_len)
{
    struct virtio_snd_hdr reply;

    g_assert_cmpuint(ctrl_xfer(s, req, req_len, &reply, sizeof(reply)), ==,
                     sizeof(reply));
    return le32_to_cpu(reply.code);
}

/* A PCM request made of a header and a stream id (PREPARE, START...). */
static uint32_t pcm_cmd(VSnd *s, uint32_t code, uint32_t stream)
{
    struct virtio_snd_pcm_hdr req = {
        .hdr.code = cpu_to_le32(code),
        .stream_id = cpu_to_le32(stream),
    };

    return ctrl(s, &req, sizeof(req));
}

static uint32_t set_params(VSnd *s, uint32_t stream, uint32_t features,
                           uint8_t channels, uint8_t format, uint8_t rate,
                           uint32_t period, uint32_t buffer)
{
    struct virtio_snd_pcm_set_params req = {
        .hdr.hdr.code = cpu_to_le32(VIRTIO_SND_R_PCM_SET_PARAMS),
        .hdr.stream_id = cpu_to_le32(stream),
        .buffer_bytes = cpu_to_le32(buffer),
        .period_bytes = cpu_to_le32(period),
        .features = cpu_to_le32(features),
        .channels = channels,
        .format = format,
        .rate = rate,
    };

    return ctrl(s, &req, sizeof(req));
}

/* The parameters the tests run with: 48 kHz S16 stereo. */
static uint32_t set_params_std(VSnd *s, uint32_t stream)
{
    return set_params(s, stream, 0, 2, VIRTIO_SND_PCM_FMT_S16,
                      VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES, BUFFER_BYTES);
}

/* PREPARE and START @stream, whose parameters are set. */
static void prepare_start(VSnd *s, uint32_t stream)
{
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, stream), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, stream), ==,
                    VIRTIO_SND_S_OK);
}

/* STOP and RELEASE @stream, which is running. */
static void stop_release(VSnd *s, uint32_t stream)
{
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_STOP, stream), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_RELEASE, stream), ==,
                    VIRTIO_SND_S_OK);
}

/*
 * An item query (JACK_INFO, PCM_INFO, CHMAP_INFO): @count items of @size
 * bytes from @start_id are copied to @items. Returns the status.
 */
static uint32_t query(VSnd *s, uint32_t code, uint32_t start_id,
                      uint32_t count, uint32_t size, void *items)
{
    struct virtio_snd_query_info req = {
        .hdr.code = cpu_to_le32(code),
        .start_id = cpu_to_le32(start_id),
        .count = cpu_to_le32(count),
        .size = cpu_to_le32(size),
    };
    size_t reply_len = sizeof(struct virtio_snd_hdr) + count * size;
    g_autofree uint8_t *reply = g_malloc(reply_len);
    uint32_t used = ctrl_xfer(s, &req, sizeof(req), reply, reply_len);
    uint32_t status = ldl_le_p(reply);

    g_assert_cmpuint(used, ==, status == VIRTIO_SND_S_OK ? reply_len : 4);
    if (items) {
        memcpy(items, reply + sizeof(struct virtio_snd_hdr), count * size);
    }
    return status;
}

/* I/O messages */

/*
 * Queue an I/O message for @stream on the tx or rx queue @q, with
 * @data_len bytes of frames: the header (in two descriptors when
 * @split_hdr), the frames and the status each in their own descriptors.
 */
static VSndMsg io_queue(VSnd *s, int q, uint32_t stream, uint32_t data_len,
                        bool split_hdr)
{
    bool tx = q == VIRTIO_SND_VQ_TX;
    VSndMsg m = { .data_len = data_len };
    VSndSeg seg[4];
    unsigned int n = 0;

    m.addr = guest_alloc(s->alloc, XFER_LEN + data_len + STATUS_LEN);
    qtest_writel(s->qts, m.addr, cpu_to_le32(stream));
    qtest_memset(s->qts, m.addr + XFER_LEN, tx ? 0x11 : 0xa5, data_len);
    qtest_memset(s->qts, m.addr + XFER_LEN + data_len, 0xff, STATUS_LEN);

    if (split_hdr) {
        seg[n++] = (VSndSeg) { m.addr, 2, false };
        seg[n++] = (VSndSeg) { m.addr + 2, XFER_LEN - 2, false };
    } else {
        seg[n++] = (VSndSeg) { m.addr, XFER_LEN, false };
    }
    if (data_len) {
        seg[n++] = (VSndSeg) { m.addr + XFER_LEN, data_len, !tx };
    }
    seg[n++] = (VSndSeg) { m.addr + XFER_LEN + data_len, STATUS_LEN, true };
    m.head = vq_add(s, q, seg, n);
    vq_notify(s, q);
    return m;
}

/*
 * Take @m back from @q, check its used length is @used_len and return its
 * status.
 */
static uint32_t io_done(VSnd *s, int q, VSndMsg *m, uint32_t used_len)
{
    struct virtio_snd_pcm_status st;

    g_assert_cmpuint(wait_used(s, q, m->head), ==, used_len);
    qtest_memread(s->qts, m->addr + XFER_LEN + m->data_len, &st, sizeof(st));
    guest_free(s->alloc, m->addr);
    return le32_to_cpu(st.status);
}

/* Queue a message and expect it answered at once with IO_ERR. */
static void io_expect_error(VSnd *s, int q, uint32_t stream)
{
    VSndMsg m = io_queue(s, q, stream, PERIOD_BYTES, false);

    g_assert_cmphex(io_done(s, q, &m, STATUS_LEN), ==, VIRTIO_SND_S_IO_ERR);
}

/* Give the device a buffer for one event. */
static VSndMsg event_queue(VSnd *s)
{
    VSndMsg m = { .data_len = sizeof(struct virtio_snd_event) };
    VSndSeg seg;

    m.addr = guest_alloc(s->alloc, m.data_len);
    qtest_memset(s->qts, m.addr, 0xff, m.data_len);
    seg = (VSndSeg) { m.addr, m.data_len, true };
    m.head = vq_add(s, VIRTIO_SND_VQ_EVENT, &seg, 1);
    vq_notify(s, VIRTIO_SND_VQ_EVENT);
    return m;
}

/* Take the event in @m back; check it is @code about @data. */
static void event_done(VSnd *s, VSndMsg *m, uint32_t code, uint32_t data)
{
    struct virtio_snd_event ev;

    g_assert_cmpuint(wait_used(s, VIRTIO_SND_VQ_EVENT, m->head), ==,
                     sizeof(ev));
    qtest_memread(s->qts, m->addr, &ev, sizeof(ev));
    g_assert_cmphex(le32_to_cpu(ev.hdr.code), ==, code);
    g_assert_cmpuint(le32_to_cpu(ev.data), ==, data);
    guest_free(s->alloc, m->addr);
}

/* The configuration space holds what the device was given. */
static void check_config(VSnd *s, uint32_t jacks, uint32_t streams,
                         uint32_t chmaps)
{
    QVirtioDevice *vdev = &s->dev->vdev;

#define CFG(field) offsetof(struct virtio_snd_config, field)
    g_assert_cmpuint(qvirtio_config_readl(vdev, CFG(jacks)), ==, jacks);
    g_assert_cmpuint(qvirtio_config_readl(vdev, CFG(streams)), ==, streams);
    g_assert_cmpuint(qvirtio_config_readl(vdev, CFG(chmaps)), ==, chmaps);
#undef CFG
}

/* Tests */

static void test_config(void)
{
    VSnd *s = vsnd_start("");
    QPCIDevice *pdev = s->dev->pdev;

    g_assert_cmphex(qpci_config_readw(pdev, PCI_VENDOR_ID), ==, 0x1af4);
    g_assert_cmphex(qpci_config_readw(pdev, PCI_DEVICE_ID), ==,
                    0x1040 + VIRTIO_ID_SOUND);
    g_assert_cmphex(qpci_config_readw(pdev, PCI_CLASS_DEVICE), ==, 0x0401);
    check_config(s, 2, 2, 16);
    vsnd_stop(s);
}

static void test_config_props(void)
{
    VSnd *s = vsnd_start(",streams=4,jacks=0");
    struct virtio_snd_pcm_info info[4];
    int i;

    check_config(s, 0, 4, 16);

    /* The streams alternate playback, capture. */
    g_assert_cmphex(query(s, VIRTIO_SND_R_PCM_INFO, 0, 4, sizeof(info[0]),
                          info), ==, VIRTIO_SND_S_OK);
    for (i = 0; i < 4; i++) {
        g_assert_cmpuint(info[i].direction, ==,
                         i & 1 ? VIRTIO_SND_D_INPUT : VIRTIO_SND_D_OUTPUT);
    }
    /* No jacks: an empty query is fine, one item is past the end. */
    g_assert_cmphex(query(s, VIRTIO_SND_R_JACK_INFO, 0, 0,
                          sizeof(struct virtio_snd_jack_info), NULL), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmphex(query(s, VIRTIO_SND_R_JACK_INFO, 0, 1,
                          sizeof(struct virtio_snd_jack_info), NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    vsnd_stop(s);
}

static void test_pcm_info(void)
{
    VSnd *s = vsnd_start("");
    struct virtio_snd_pcm_info info[2];
    uint8_t big[2][40];
    int i;

    g_assert_cmphex(query(s, VIRTIO_SND_R_PCM_INFO, 0, 2, sizeof(info[0]),
                          info), ==, VIRTIO_SND_S_OK);
    for (i = 0; i < 2; i++) {
        g_assert_cmpuint(le32_to_cpu(info[i].hdr.hda_fn_nid), ==, 0);
        g_assert_cmphex(le32_to_cpu(info[i].features), ==,
                        1u << VIRTIO_SND_PCM_F_EVT_XRUNS);
        g_assert_cmphex(le64_to_cpu(info[i].formats), ==, FORMATS_EXPECTED);
        g_assert_cmphex(le64_to_cpu(info[i].rates), ==, RATES_EXPECTED);
        g_assert_cmpuint(info[i].channels_min, ==, 1);
        /* -audiodev none mixes: mono and stereo only. */
        g_assert_cmpuint(info[i].channels_max, ==, 2);
    }
    g_assert_cmpuint(info[0].direction, ==, VIRTIO_SND_D_OUTPUT);
    g_assert_cmpuint(info[1].direction, ==, VIRTIO_SND_D_INPUT);

    /* A driver asking for longer items gets ours zero-padded. */
    g_assert_cmphex(query(s, VIRTIO_SND_R_PCM_INFO, 0, 2, sizeof(big[0]),
                          big), ==, VIRTIO_SND_S_OK);
    g_assert_cmpmem(big[1], sizeof(info[1]), &info[1], sizeof(info[1]));
    for (i = sizeof(info[1]); i < sizeof(big[1]); i++) {
        g_assert_cmpuint(big[1][i], ==, 0);
    }
    /* One starting at stream 1 is stream 1. */
    g_assert_cmphex(query(s, VIRTIO_SND_R_PCM_INFO, 1, 1, sizeof(info[0]),
                          info), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(info[0].direction, ==, VIRTIO_SND_D_INPUT);
    vsnd_stop(s);
}

/*
 * Channels: more than two only where the audiodev passes streams to its
 * backend as they are; through QEMU's mixing engine 3 to 8 channels come
 * out garbled, so they are not offered, and SET_PARAMS with them is
 * refused as for any count the stream does not offer.
 */
static void test_pcm_channels(void)
{
    static const char *const audiodev[2] = {
        "none,id=snd0",
        "none,id=snd0,out.mixing-engine=off,in.mixing-engine=off",
    };
    struct virtio_snd_pcm_info info[2];
    int mix, i;

    for (mix = 0; mix < 2; mix++) {
        VSnd *s = vsnd_start_with(audiodev[mix], "", 0);
        uint8_t most = mix ? 8 : 2;

        g_assert_cmphex(query(s, VIRTIO_SND_R_PCM_INFO, 0, 2,
                              sizeof(info[0]), info), ==, VIRTIO_SND_S_OK);
        for (i = 0; i < 2; i++) {
            g_assert_cmpuint(info[i].channels_min, ==, 1);
            g_assert_cmpuint(info[i].channels_max, ==, most);
            g_assert_cmphex(set_params(s, i, 0, most, VIRTIO_SND_PCM_FMT_S16,
                                       VIRTIO_SND_PCM_RATE_48000,
                                       most * 2 * 480, most * 2 * 1920), ==,
                            VIRTIO_SND_S_OK);
            g_assert_cmphex(set_params(s, i, 0, most + 1,
                                       VIRTIO_SND_PCM_FMT_S16,
                                       VIRTIO_SND_PCM_RATE_48000,
                                       (most + 1) * 2 * 480,
                                       (most + 1) * 2 * 1920), ==,
                            VIRTIO_SND_S_BAD_MSG);
        }
        vsnd_stop(s);
    }
}

static void test_jack_chmap_info(void)
{
    VSnd *s = vsnd_start("");
    struct virtio_snd_jack_info jack[2];
    struct virtio_snd_chmap_info map[16];
    /* The order the PipeWire backend gives its stream's channels. */
    static const uint8_t six[6] = {
        VIRTIO_SND_CHMAP_FL, VIRTIO_SND_CHMAP_FR, VIRTIO_SND_CHMAP_FC,
        VIRTIO_SND_CHMAP_LFE, VIRTIO_SND_CHMAP_RL, VIRTIO_SND_CHMAP_RR,
    };
    static const uint8_t eight[8] = {
        VIRTIO_SND_CHMAP_FL, VIRTIO_SND_CHMAP_FR, VIRTIO_SND_CHMAP_FC,
        VIRTIO_SND_CHMAP_LFE, VIRTIO_SND_CHMAP_RL, VIRTIO_SND_CHMAP_RR,
        VIRTIO_SND_CHMAP_SL, VIRTIO_SND_CHMAP_SR,
    };
    int i;

    g_assert_cmphex(query(s, VIRTIO_SND_R_JACK_INFO, 0, 2, sizeof(jack[0]),
                          jack), ==, VIRTIO_SND_S_OK);
    for (i = 0; i < 2; i++) {
        g_assert_cmphex(le32_to_cpu(jack[i].features), ==, 0);
        g_assert_cmpuint(jack[i].connected, ==, 1);
    }
    /* Jack 0 is a line out, jack 1 a microphone input. */
    g_assert_cmphex(le32_to_cpu(jack[0].hda_reg_defconf), ==, 0x01014010);
    g_assert_cmphex(le32_to_cpu(jack[0].hda_reg_caps), ==, 0x14);
    g_assert_cmphex(le32_to_cpu(jack[1].hda_reg_defconf), ==, 0x01a19020);
    g_assert_cmphex(le32_to_cpu(jack[1].hda_reg_caps), ==, 0x24);

    /* Map i: i / 2 + 1 channels, output for even i, input for odd i. */
    g_assert_cmphex(query(s, VIRTIO_SND_R_CHMAP_INFO, 0, 16, sizeof(map[0]),
                          map), ==, VIRTIO_SND_S_OK);
    for (i = 0; i < 16; i++) {
        g_assert_cmpuint(map[i].direction, ==,
                         i & 1 ? VIRTIO_SND_D_INPUT : VIRTIO_SND_D_OUTPUT);
        g_assert_cmpuint(map[i].channels, ==, i / 2 + 1);
    }
    g_assert_cmpuint(map[0].positions[0], ==, VIRTIO_SND_CHMAP_MONO);
    g_assert_cmpmem(map[3].positions, 2, eight, 2);
    g_assert_cmpmem(map[10].positions, 6, six, 6);
    g_assert_cmpmem(map[15].positions, 8, eight, 8);
    g_assert_cmpuint(map[15].positions[8], ==, VIRTIO_SND_CHMAP_NONE);
    vsnd_stop(s);
}

static void test_playback(void)
{
    VSnd *s = vsnd_start("");
    VSndMsg m[4], pre, late[2];
    int i, ms;

    g_assert_cmphex(set_params_std(s, 0), ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 0), ==,
                    VIRTIO_SND_S_OK);

    /* A prepared stream takes messages but plays nothing before START. */
    pre = io_queue(s, VIRTIO_SND_VQ_TX, 0, PERIOD_BYTES, false);
    qtest_clock_step(s->qts, 100 * MS);
    g_assert_false(used_ready(s, VIRTIO_SND_VQ_TX));

    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, 0), ==,
                    VIRTIO_SND_S_OK);
    for (i = 0; i < 4; i++) {
        m[i] = io_queue(s, VIRTIO_SND_VQ_TX, 0, PERIOD_BYTES, i == 1);
    }
    /* Nothing is played while the clock stands still. */
    g_assert_cmphex(query(s, VIRTIO_SND_R_PCM_INFO, 0, 1,
                          sizeof(struct virtio_snd_pcm_info), NULL), ==,
                    VIRTIO_SND_S_OK);
    g_assert_false(used_ready(s, VIRTIO_SND_VQ_TX));

    /* The audio layer's first tick, 10 ms on, takes the first messages. */
    ms = step_until_used(s, VIRTIO_SND_VQ_TX, 1000);
    g_assert_cmpint(ms, ==, 10);
    g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &pre, STATUS_LEN), ==,
                    VIRTIO_SND_S_OK);

    /* 50 ms of audio cannot all be gone after 10 ms. */
    for (i = 0; i < 4; i++) {
        if (!used_ready(s, VIRTIO_SND_VQ_TX)) {
            break;
        }
        g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &m[i], STATUS_LEN), ==,
                        VIRTIO_SND_S_OK);
    }
    g_assert_cmpint(i, <, 4);
    for (; i < 4; i++) {
        ms += step_until_used(s, VIRTIO_SND_VQ_TX, 1000);
        g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &m[i], STATUS_LEN), ==,
                        VIRTIO_SND_S_OK);
    }
    /* ... and must take about as long as it lasts. */
    g_assert_cmpint(ms, >=, 25);
    g_assert_cmpint(ms, <=, 70);

    /* STOP holds what is queued; RELEASE hands it all back. */
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_STOP, 0), ==,
                    VIRTIO_SND_S_OK);
    for (i = 0; i < 2; i++) {
        late[i] = io_queue(s, VIRTIO_SND_VQ_TX, 0, PERIOD_BYTES, false);
    }
    qtest_clock_step(s->qts, 100 * MS);
    g_assert_false(used_ready(s, VIRTIO_SND_VQ_TX));
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_RELEASE, 0), ==,
                    VIRTIO_SND_S_OK);
    for (i = 0; i < 2; i++) {
        g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &late[i], STATUS_LEN),
                        ==, VIRTIO_SND_S_OK);
    }
    /* A released stream takes no I/O and cannot start. */
    io_expect_error(s, VIRTIO_SND_VQ_TX, 0);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, 0), ==,
                    VIRTIO_SND_S_BAD_MSG);
    vsnd_stop(s);
}

/*
 * The last message the guest has given goes back no sooner than a period
 * after the one before it: Linux would read two returns it handles
 * together that complete its whole buffer as no progress at all. Here
 * (2.5 ms periods) the first tick could take both messages at once.
 */
static void test_returns_apart(void)
{
    VSnd *s = vsnd_start("");
    VSndMsg m[2];
    int i, first, second;

    g_assert_cmphex(set_params(s, 0, 0, 2, VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, 480, 4 * 480), ==,
                    VIRTIO_SND_S_OK);
    prepare_start(s, 0);
    for (i = 0; i < 2; i++) {
        m[i] = io_queue(s, VIRTIO_SND_VQ_TX, 0, 480, false);
    }
    first = step_until_used(s, VIRTIO_SND_VQ_TX, 1000);
    g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &m[0], STATUS_LEN), ==,
                    VIRTIO_SND_S_OK);
    g_assert_false(used_ready(s, VIRTIO_SND_VQ_TX));
    second = first + step_until_used(s, VIRTIO_SND_VQ_TX, 1000);
    g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &m[1], STATUS_LEN), ==,
                    VIRTIO_SND_S_OK);
    g_test_message("returned at %d and %d ms", first, second);
    g_assert_cmpint(second - first, >=, 2);
    vsnd_stop(s);
}

static void test_capture(void)
{
    VSnd *s = vsnd_start("");
    g_autofree uint8_t *data = g_malloc(PERIOD_BYTES);
    VSndMsg m[3];
    int i, j;

    g_assert_cmphex(set_params_std(s, 1), ==, VIRTIO_SND_S_OK);
    prepare_start(s, 1);
    for (i = 0; i < 3; i++) {
        m[i] = io_queue(s, VIRTIO_SND_VQ_RX, 1, PERIOD_BYTES, false);
    }
    g_assert_false(used_ready(s, VIRTIO_SND_VQ_RX));

    for (i = 0; i < 3; i++) {
        step_until_used(s, VIRTIO_SND_VQ_RX, 1000);
        /* Full: the frames, then the status. */
        qtest_memread(s->qts, m[i].addr + XFER_LEN, data, PERIOD_BYTES);
        g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_RX, &m[i],
                                PERIOD_BYTES + STATUS_LEN), ==,
                        VIRTIO_SND_S_OK);
        /* The none backend records silence. */
        for (j = 0; j < PERIOD_BYTES; j++) {
            g_assert_cmphex(data[j], ==, 0);
        }
    }
    /* Wrong direction for the rx queue. */
    io_expect_error(s, VIRTIO_SND_VQ_RX, 0);

    stop_release(s, 1);
    vsnd_stop(s);
}

/*
 * Give the event queue @n buffers (@ev) and start @stream, 48 kHz S16
 * stereo, asking for xrun events.
 */
static void start_with_xrun_events(VSnd *s, uint32_t stream, VSndMsg *ev,
                                   int n)
{
    int i;

    for (i = 0; i < n; i++) {
        ev[i] = event_queue(s);
    }
    g_assert_cmphex(set_params(s, stream, 1u << VIRTIO_SND_PCM_F_EVT_XRUNS, 2,
                               VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES,
                               BUFFER_BYTES), ==, VIRTIO_SND_S_OK);
    prepare_start(s, stream);
}

/* A playback stream that runs dry reports one xrun, if asked to. */
static void test_xrun_event(void)
{
    VSnd *s = vsnd_start("");
    VSndMsg ev[2], m;
    int i;

    start_with_xrun_events(s, 0, ev, 2);

    /* Each time data runs out after some came, one event. */
    for (i = 0; i < 2; i++) {
        m = io_queue(s, VIRTIO_SND_VQ_TX, 0, PERIOD_BYTES, false);
        step_until_used(s, VIRTIO_SND_VQ_TX, 1000);
        g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &m, STATUS_LEN), ==,
                        VIRTIO_SND_S_OK);
        step_until_used(s, VIRTIO_SND_VQ_EVENT, 100);
        event_done(s, &ev[i], VIRTIO_SND_EVT_PCM_XRUN, 0);
        qtest_clock_step(s->qts, 100 * MS);
        g_assert_false(used_ready(s, VIRTIO_SND_VQ_EVENT));
    }
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_STOP, 0), ==,
                    VIRTIO_SND_S_OK);
    vsnd_stop(s);
}

/*
 * A capture stream the guest gives no messages loses what is recorded:
 * an overrun, reported once (the guest asked for xrun events) until the
 * guest gives a message again, and none while messages come in time.
 */
static void test_capture_overrun(void)
{
    VSnd *s = vsnd_start("");
    VSndMsg ev[3], m[2];
    int i;

    start_with_xrun_events(s, 1, ev, 3);
    for (i = 0; i < 2; i++) {
        step_until_used(s, VIRTIO_SND_VQ_EVENT, 100);
        event_done(s, &ev[i], VIRTIO_SND_EVT_PCM_XRUN, 1);
        qtest_clock_step(s->qts, 100 * MS);
        g_assert_false(used_ready(s, VIRTIO_SND_VQ_EVENT));
        /* Recording goes on once the guest gives a message. */
        m[0] = io_queue(s, VIRTIO_SND_VQ_RX, 1, PERIOD_BYTES, false);
        step_until_used(s, VIRTIO_SND_VQ_RX, 100);
        g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_RX, &m[0],
                                PERIOD_BYTES + STATUS_LEN), ==,
                        VIRTIO_SND_S_OK);
    }

    /* Two messages, each given again as soon as it is back: no overrun. */
    for (i = 0; i < 2; i++) {
        m[i] = io_queue(s, VIRTIO_SND_VQ_RX, 1, PERIOD_BYTES, false);
    }
    for (i = 0; i < 20; i++) {
        step_until_used(s, VIRTIO_SND_VQ_RX, 100);
        g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_RX, &m[i % 2],
                                PERIOD_BYTES + STATUS_LEN), ==,
                        VIRTIO_SND_S_OK);
        m[i % 2] = io_queue(s, VIRTIO_SND_VQ_RX, 1, PERIOD_BYTES, false);
    }
    g_assert_false(used_ready(s, VIRTIO_SND_VQ_EVENT));
    stop_release(s, 1);
    for (i = 0; i < 2; i++) {
        /* RELEASE hands them back with what they hold so far. */
        g_assert_cmpuint(wait_used(s, VIRTIO_SND_VQ_RX, m[i].head), >=,
                         STATUS_LEN);
        guest_free(s->alloc, m[i].addr);
    }
    vsnd_stop(s);
}

/*
 * A whole cycle of stream 0 (playback) or 1 (capture) with one message;
 * checks the device still plays or records.
 */
static void io_cycle(VSnd *s, uint32_t stream)
{
    int q = stream ? VIRTIO_SND_VQ_RX : VIRTIO_SND_VQ_TX;
    uint32_t used_len = stream ? PERIOD_BYTES + STATUS_LEN : STATUS_LEN;
    VSndMsg m;

    g_assert_cmphex(set_params_std(s, stream), ==, VIRTIO_SND_S_OK);
    prepare_start(s, stream);
    m = io_queue(s, q, stream, PERIOD_BYTES, false);
    step_until_used(s, q, 1000);
    g_assert_cmphex(io_done(s, q, &m, used_len), ==, VIRTIO_SND_S_OK);
    stop_release(s, stream);
}

/*
 * The audio layer only moves whole frames. With 24-byte frames (6 channels
 * of S32), which do not divide the device's copy size, playback must still
 * keep up; a message with a partial frame at its end must still complete,
 * and not hold up the stream.
 */
static void test_odd_frames(void)
{
    VSnd *s = vsnd_start_with("none,id=snd0,out.mixing-engine=off,"
                              "in.mixing-engine=off", "", 0);
    uint32_t period = 480 * 24;         /* 10 ms of 6 channels of S32 */
    VSndMsg m[8];
    int i, q, ms = 0;

    g_assert_cmphex(set_params(s, 0, 0, 6, VIRTIO_SND_PCM_FMT_S32,
                               VIRTIO_SND_PCM_RATE_48000, period,
                               8 * period), ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 0), ==,
                    VIRTIO_SND_S_OK);
    for (i = 0; i < 8; i++) {
        m[i] = io_queue(s, VIRTIO_SND_VQ_TX, 0, period, false);
    }
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, 0), ==,
                    VIRTIO_SND_S_OK);
    for (i = 0; i < 8; i++) {
        ms += step_until_used(s, VIRTIO_SND_VQ_TX, 1000);
        g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &m[i], STATUS_LEN), ==,
                        VIRTIO_SND_S_OK);
    }
    g_assert_cmpint(ms, <=, 90);        /* 80 ms of audio */
    stop_release(s, 0);

    /* 2 bytes past whole frames; the rx one gets the whole frames only. */
    for (q = 0; q < 2; q++) {
        int vq = q ? VIRTIO_SND_VQ_RX : VIRTIO_SND_VQ_TX;
        uint32_t frames = q ? PERIOD_BYTES : 0;

        g_assert_cmphex(set_params_std(s, q), ==, VIRTIO_SND_S_OK);
        g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, q), ==,
                        VIRTIO_SND_S_OK);
        g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, q), ==,
                        VIRTIO_SND_S_OK);
        m[0] = io_queue(s, vq, q, PERIOD_BYTES + 2, false);
        m[1] = io_queue(s, vq, q, PERIOD_BYTES, false);
        for (i = 0; i < 2; i++) {
            step_until_used(s, vq, 100);
            g_assert_cmphex(io_done(s, vq, &m[i], frames + STATUS_LEN), ==,
                            VIRTIO_SND_S_OK);
        }
    }
    vsnd_stop(s);
}

/*
 * latency_bytes: what the audio layer holds of the stream when a message
 * comes back, in the guest's bytes, whatever the audio layer converts.
 * Returns the status of @m, taken back with @used_len used, and its
 * latency_bytes in *@latency.
 */
static uint32_t io_done_latency(VSnd *s, int q, VSndMsg *m, uint32_t used_len,
                                uint32_t *latency)
{
    struct virtio_snd_pcm_status st;

    g_assert_cmpuint(wait_used(s, q, m->head), ==, used_len);
    qtest_memread(s->qts, m->addr + XFER_LEN + m->data_len, &st, sizeof(st));
    guest_free(s->alloc, m->addr);
    *latency = le32_to_cpu(st.latency_bytes);
    return le32_to_cpu(st.status);
}

/*
 * Playback with "-audiodev none" at @freq Hz, the guest at 48 kHz S16
 * stereo. The audio layer's first tick takes the first message (1600
 * bytes, less than its mixing buffer of 1024 of its frames holds at any
 * of the rates used here) before it plays anything, and the message goes
 * back at once as the guest has given another: all 1600 bytes are then
 * queued behind it. The audio layer counts in its own frames, so a
 * guest frame (4 bytes) of rounding is allowed.
 */
static void check_latency_playback(int freq)
{
    g_autofree char *audiodev =
        g_strdup_printf("none,id=snd0,out.frequency=%d", freq);
    VSnd *s = vsnd_start_with(audiodev, "", 0);
    uint32_t first = 1600, latency;
    VSndMsg m[2];

    g_assert_cmphex(set_params(s, 0, 0, 2, VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES,
                               8 * PERIOD_BYTES), ==, VIRTIO_SND_S_OK);
    prepare_start(s, 0);
    m[0] = io_queue(s, VIRTIO_SND_VQ_TX, 0, first, false);
    m[1] = io_queue(s, VIRTIO_SND_VQ_TX, 0, PERIOD_BYTES, false);
    step_until_used(s, VIRTIO_SND_VQ_TX, 100);
    g_assert_cmphex(io_done_latency(s, VIRTIO_SND_VQ_TX, &m[0], STATUS_LEN,
                                    &latency), ==, VIRTIO_SND_S_OK);
    g_test_message("%d Hz: %u bytes queued, latency_bytes %u", freq, first,
                   latency);
    g_assert_cmpuint(latency, >=, first - FRAME_BYTES);
    g_assert_cmpuint(latency, <=, first + FRAME_BYTES);

    /* What the audio layer holds never exceeds what was written. */
    step_until_used(s, VIRTIO_SND_VQ_TX, 100);
    g_assert_cmphex(io_done_latency(s, VIRTIO_SND_VQ_TX, &m[1], STATUS_LEN,
                                    &latency), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(latency, <=, first + PERIOD_BYTES + FRAME_BYTES);
    stop_release(s, 0);
    vsnd_stop(s);
}

/*
 * Capture: when a message comes back, latency_bytes is what was captured
 * and not delivered with it. The first tick records more than the first
 * message (960 bytes) holds; the rest goes to the second message, which
 * has room for all of it. With the clock standing still after that, the
 * second message, handed back by RELEASE, holds exactly what the first
 * one's latency_bytes announced.
 */
static void check_latency_capture(int freq)
{
    g_autofree char *audiodev =
        g_strdup_printf("none,id=snd0,in.frequency=%d", freq);
    VSnd *s = vsnd_start_with(audiodev, "", 0);
    uint32_t first = 960, latency, used;
    VSndMsg m[2];

    g_assert_cmphex(set_params_std(s, 1), ==, VIRTIO_SND_S_OK);
    prepare_start(s, 1);
    m[0] = io_queue(s, VIRTIO_SND_VQ_RX, 1, first, false);
    m[1] = io_queue(s, VIRTIO_SND_VQ_RX, 1, BUFFER_BYTES, false);
    step_until_used(s, VIRTIO_SND_VQ_RX, 100);
    g_assert_cmphex(io_done_latency(s, VIRTIO_SND_VQ_RX, &m[0],
                                    first + STATUS_LEN, &latency), ==,
                    VIRTIO_SND_S_OK);
    stop_release(s, 1);
    used = wait_used(s, VIRTIO_SND_VQ_RX, m[1].head);
    guest_free(s->alloc, m[1].addr);
    g_test_message("%d Hz: latency_bytes %u, then %u bytes in the next "
                   "message", freq, latency, used - (uint32_t)STATUS_LEN);
    g_assert_cmpuint(used, >, STATUS_LEN);
    g_assert_cmpuint(latency, ==, used - STATUS_LEN);
    vsnd_stop(s);
}

/* Without conversion (48 kHz), and resampled down and up. */
static void test_latency_bytes(void)
{
    static const int freqs[] = { 48000, 44100, 96000 };
    int i;

    for (i = 0; i < ARRAY_SIZE(freqs); i++) {
        check_latency_playback(freqs[i]);
        check_latency_capture(freqs[i]);
    }
}

/*
 * Re-entrancy. A guest may point any device-writable buffer at the
 * device's own registers; here the status of an I/O message, an event
 * buffer and a control reply go to the common configuration's
 * device_status, where the zero low byte of what the device writes (the
 * OK status 0x8000, the XRUN event 0x1100) resets the device. The write
 * happens when the buffer is handed back, which for I/O and events is
 * from inside the audio layer's callbacks: a reset there would close the
 * voices the audio layer is iterating over. Whatever the device does
 * with such a write, QEMU must stay up (no ASan report in the ASan
 * build), and once the guest resets it properly the device must work.
 */

/* The guest address of device_status in the device's BAR. */
static uint64_t device_status_addr(VSnd *s)
{
    g_assert_false(s->dev->bar.is_io);
    return s->dev->bar.addr + s->dev->common_cfg_offset +
           offsetof(struct virtio_pci_common_cfg, device_status);
}

/* An I/O message of one period whose status goes to @status_addr. */
static VSndMsg io_queue_status_at(VSnd *s, int q, uint32_t stream,
                                  uint64_t status_addr)
{
    bool tx = q == VIRTIO_SND_VQ_TX;
    VSndMsg m = { .data_len = PERIOD_BYTES };
    VSndSeg seg[3];

    m.addr = guest_alloc(s->alloc, XFER_LEN + PERIOD_BYTES);
    qtest_writel(s->qts, m.addr, cpu_to_le32(stream));
    qtest_memset(s->qts, m.addr + XFER_LEN, tx ? 0x11 : 0xa5, PERIOD_BYTES);
    seg[0] = (VSndSeg) { m.addr, XFER_LEN, false };
    seg[1] = (VSndSeg) { m.addr + XFER_LEN, PERIOD_BYTES, !tx };
    seg[2] = (VSndSeg) { status_addr, STATUS_LEN, true };
    m.head = vq_add(s, q, seg, 3);
    vq_notify(s, q);
    return m;
}

/*
 * After the device wrote into its own registers: QEMU still answers, and
 * after a proper reset by the guest the device plays, records and
 * answers control requests again.
 */
static void reentry_recover(VSnd *s, uint64_t *to_free, int n)
{
    QDict *rsp;
    int i;

    qtest_clock_step(s->qts, 200 * MS);
    g_assert_true(qtest_probe_child(s->qts));
    rsp = qtest_qmp(s->qts, "{'execute': 'query-status'}");
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);

    vsnd_reset(s);
    for (i = 0; i < n; i++) {
        guest_free(s->alloc, to_free[i]);
    }
    g_assert_cmphex(query(s, VIRTIO_SND_R_PCM_INFO, 0, 2,
                          sizeof(struct virtio_snd_pcm_info), NULL), ==,
                    VIRTIO_SND_S_OK);
    io_cycle(s, 0);
    io_cycle(s, 1);
}

/* A tx or rx message completed from the audio layer's callback. */
static void reentry_io(int q)
{
    VSnd *s = vsnd_start("");
    uint32_t stream = q == VIRTIO_SND_VQ_TX ? 0 : 1;
    VSndMsg m;

    g_assert_cmphex(set_params_std(s, stream), ==, VIRTIO_SND_S_OK);
    prepare_start(s, stream);
    m = io_queue_status_at(s, q, stream, device_status_addr(s));
    reentry_recover(s, &m.addr, 1);
    vsnd_stop(s);
}

static void test_reentry_tx(void)
{
    reentry_io(VIRTIO_SND_VQ_TX);
}

static void test_reentry_rx(void)
{
    reentry_io(VIRTIO_SND_VQ_RX);
}

/* An xrun event, posted from the playback callback. */
static void test_reentry_event(void)
{
    VSnd *s = vsnd_start("");
    VSndSeg seg = { device_status_addr(s),
                    sizeof(struct virtio_snd_event), true };
    VSndMsg m;

    vq_add(s, VIRTIO_SND_VQ_EVENT, &seg, 1);
    vq_notify(s, VIRTIO_SND_VQ_EVENT);
    g_assert_cmphex(set_params(s, 0, 1u << VIRTIO_SND_PCM_F_EVT_XRUNS, 2,
                               VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES,
                               BUFFER_BYTES), ==, VIRTIO_SND_S_OK);
    prepare_start(s, 0);
    m = io_queue(s, VIRTIO_SND_VQ_TX, 0, PERIOD_BYTES, false);
    step_until_used(s, VIRTIO_SND_VQ_TX, 1000);
    g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &m, STATUS_LEN), ==,
                    VIRTIO_SND_S_OK);
    /* The stream runs dry: the xrun event goes to device_status. */
    reentry_recover(s, NULL, 0);
    vsnd_stop(s);
}

/*
 * A control reply, and the playback messages a RELEASE hands back from
 * the control queue's handler.
 */
static void test_reentry_ctrl(void)
{
    VSnd *s = vsnd_start("");
    struct virtio_snd_query_info req = {
        .hdr.code = cpu_to_le32(VIRTIO_SND_R_PCM_INFO),
        .count = cpu_to_le32(1),
        .size = cpu_to_le32(sizeof(struct virtio_snd_pcm_info)),
    };
    struct virtio_snd_pcm_hdr release = {
        .hdr.code = cpu_to_le32(VIRTIO_SND_R_PCM_RELEASE),
    };
    uint64_t addr[3];
    VSndSeg seg[2];
    VSndMsg m;

    /* PCM_INFO's reply header goes to device_status. */
    addr[0] = guest_alloc(s->alloc, sizeof(req));
    qtest_memwrite(s->qts, addr[0], &req, sizeof(req));
    seg[0] = (VSndSeg) { addr[0], sizeof(req), false };
    seg[1] = (VSndSeg) { device_status_addr(s),
                         sizeof(struct virtio_snd_hdr), true };
    vq_add(s, VIRTIO_SND_VQ_CONTROL, seg, 2);
    vq_notify(s, VIRTIO_SND_VQ_CONTROL);
    reentry_recover(s, addr, 1);

    /* RELEASE returns a held message whose status goes there. */
    g_assert_cmphex(set_params_std(s, 0), ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 0), ==,
                    VIRTIO_SND_S_OK);
    m = io_queue_status_at(s, VIRTIO_SND_VQ_TX, 0, device_status_addr(s));
    addr[0] = m.addr;
    addr[1] = guest_alloc(s->alloc, sizeof(release) +
                                    sizeof(struct virtio_snd_hdr));
    qtest_memwrite(s->qts, addr[1], &release, sizeof(release));
    seg[0] = (VSndSeg) { addr[1], sizeof(release), false };
    seg[1] = (VSndSeg) { addr[1] + sizeof(release),
                         sizeof(struct virtio_snd_hdr), true };
    vq_add(s, VIRTIO_SND_VQ_CONTROL, seg, 2);
    vq_notify(s, VIRTIO_SND_VQ_CONTROL);
    reentry_recover(s, addr, 2);
    vsnd_stop(s);
}

/*
 * VIRTIO 1.2 does not make SET_PARAMS a stream's first command: a stream
 * prepared at once runs with the device's parameters, 48 kHz S16 stereo
 * in 10 ms periods, after realize and again after a reset.
 */
static void test_prepare_first(void)
{
    VSnd *s = vsnd_start("");
    uint32_t stream;
    int round;

    for (round = 0; round < 2; round++) {
        for (stream = 0; stream < 2; stream++) {
            int q = stream ? VIRTIO_SND_VQ_RX : VIRTIO_SND_VQ_TX;
            VSndMsg m;

            prepare_start(s, stream);
            m = io_queue(s, q, stream, PERIOD_BYTES, false);
            step_until_used(s, q, 1000);
            g_assert_cmphex(io_done(s, q, &m, stream ? PERIOD_BYTES +
                                    STATUS_LEN : STATUS_LEN), ==,
                            VIRTIO_SND_S_OK);
            stop_release(s, stream);
        }
        vsnd_reset(s);
    }
    vsnd_stop(s);
}

static void test_malformed(void)
{
    VSnd *s = vsnd_start("");
    struct virtio_snd_pcm_hdr prep = {
        .hdr.code = cpu_to_le32(VIRTIO_SND_R_PCM_PREPARE),
    };
    struct virtio_snd_query_info q = {
        .hdr.code = cpu_to_le32(VIRTIO_SND_R_PCM_INFO),
        .start_id = cpu_to_le32(0),
        .count = cpu_to_le32(2),
        .size = cpu_to_le32(sizeof(struct virtio_snd_pcm_info)),
    };
    struct virtio_snd_jack_remap remap = {
        .hdr.hdr.code = cpu_to_le32(VIRTIO_SND_R_JACK_REMAP),
    };
    uint8_t req[32] = { 0 };
    uint8_t reply[4 + sizeof(struct virtio_snd_pcm_info)];

    /* Shorter than a header; a bare header; a request with extra bytes. */
    g_assert_cmphex(ctrl(s, &prep, 2), ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(ctrl(s, &prep, sizeof(prep.hdr)), ==,
                    VIRTIO_SND_S_BAD_MSG);
    memcpy(req, &prep, sizeof(prep));
    g_assert_cmphex(ctrl(s, req, sizeof(prep) + 4), ==, VIRTIO_SND_S_BAD_MSG);

    /* Item ranges past the end, wrapping around, or items too small. */
    g_assert_cmphex(query(s, VIRTIO_SND_R_PCM_INFO, 0xffffffff, 2,
                          sizeof(struct virtio_snd_pcm_info), NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(query(s, VIRTIO_SND_R_PCM_INFO, 1, 2,
                          sizeof(struct virtio_snd_pcm_info), NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(query(s, VIRTIO_SND_R_JACK_INFO, 2, 1,
                          sizeof(struct virtio_snd_jack_info), NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(query(s, VIRTIO_SND_R_CHMAP_INFO, 0, 1, 8, NULL), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 2), ==,
                    VIRTIO_SND_S_BAD_MSG);

    /* The lifecycle order: START only when prepared. */
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, 0), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_STOP, 0), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_RELEASE, 0), ==,
                    VIRTIO_SND_S_BAD_MSG);

    /* Parameters the stream does not offer. */
    g_assert_cmphex(set_params(s, 0, 0, 0, VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES,
                               BUFFER_BYTES), ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(set_params(s, 0, 0, 9, VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES,
                               BUFFER_BYTES), ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(set_params(s, 0, 0, 2, VIRTIO_SND_PCM_FMT_S16,
                               RATE_COUNT, PERIOD_BYTES,
                               BUFFER_BYTES), ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(set_params(s, 0, 0, 2, VIRTIO_SND_PCM_FMT_IMA_ADPCM,
                               VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES,
                               BUFFER_BYTES), ==, VIRTIO_SND_S_BAD_MSG);
    /* Sizes the device cannot run (the spec does not forbid them). */
    g_assert_cmphex(set_params(s, 0, 0, 2, VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES,
                               BUFFER_BYTES + FRAME_BYTES), ==,
                    VIRTIO_SND_S_NOT_SUPP);
    g_assert_cmphex(set_params(s, 0, 0, 2, VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, 0, BUFFER_BYTES),
                    ==, VIRTIO_SND_S_NOT_SUPP);
    g_assert_cmphex(set_params(s, 0, 0, 2, VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES, 0),
                    ==, VIRTIO_SND_S_NOT_SUPP);
    g_assert_cmphex(set_params(s, 0, 1u << VIRTIO_SND_PCM_F_SHMEM_HOST, 2,
                               VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES,
                               BUFFER_BYTES), ==, VIRTIO_SND_S_BAD_MSG);

    /* Unknown codes, remapping no jack offers, controls not negotiated. */
    stl_le_p(req, 0x0999);
    g_assert_cmphex(ctrl(s, req, 8), ==, VIRTIO_SND_S_NOT_SUPP);
    g_assert_cmphex(ctrl(s, &remap, sizeof(remap)), ==,
                    VIRTIO_SND_S_NOT_SUPP);
    g_assert_cmphex(query(s, VIRTIO_SND_R_CTL_INFO, 0, 1, 92, NULL), ==,
                    VIRTIO_SND_S_NOT_SUPP);

    /* I/O for a capture stream on tx, for no stream, for an idle stream. */
    io_expect_error(s, VIRTIO_SND_VQ_TX, 1);
    io_expect_error(s, VIRTIO_SND_VQ_TX, 99);
    io_expect_error(s, VIRTIO_SND_VQ_TX, 0);
    io_expect_error(s, VIRTIO_SND_VQ_RX, 99);

    /* Too little room for the reply: BAD_MSG if the status fits... */
    g_assert_cmpuint(ctrl_xfer(s, &q, sizeof(q), reply, sizeof(reply)), ==,
                     4);
    g_assert_cmphex(ldl_le_p(reply), ==, VIRTIO_SND_S_BAD_MSG);
    /* ... else completed with nothing written, and not carried out. */
    g_assert_cmphex(set_params_std(s, 0), ==, VIRTIO_SND_S_OK);
    prep.stream_id = cpu_to_le32(0);
    g_assert_cmpuint(ctrl_xfer(s, &prep, sizeof(prep), reply, 2), ==, 0);
    g_assert_cmphex(reply[0], ==, 0xa5);
    g_assert_cmpuint(ctrl_xfer(s, &prep, sizeof(prep), NULL, 0), ==, 0);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, 0), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_RELEASE, 0), ==,
                    VIRTIO_SND_S_BAD_MSG);

    /* After all that, the device still plays. */
    io_cycle(s, 0);
    vsnd_stop(s);
}

/*
 * Control elements (VIRTIO_SND_F_CTLS): a volume and a switch per stream.
 */

#define F_CTLS (1ull << VIRTIO_SND_F_CTLS)
#define CTL_INFO_SPEC 92            /* the spec's item size */
#define CTL_INFO_LINUX64 96         /* what a 64-bit Linux guest asks for */

static VSnd *vsnd_start_ctls(const char *props)
{
    return vsnd_start_with("none,id=snd0", props, F_CTLS);
}

static uint32_t ctl_read(VSnd *s, uint32_t id, uint32_t values[2])
{
    struct virtio_snd_ctl_hdr req = {
        .hdr.code = cpu_to_le32(VIRTIO_SND_R_CTL_READ),
        .control_id = cpu_to_le32(id),
    };
    uint8_t reply[sizeof(struct virtio_snd_hdr) +
                  sizeof(struct virtio_snd_ctl_value)];
    uint32_t used = ctrl_xfer(s, &req, sizeof(req), reply, sizeof(reply));
    uint32_t status = ldl_le_p(reply);
    size_t i;

    g_assert_cmpuint(used, ==, status == VIRTIO_SND_S_OK ? sizeof(reply) : 4);
    if (status == VIRTIO_SND_S_OK) {
        values[0] = ldl_le_p(reply + 4);
        values[1] = ldl_le_p(reply + 8);
        /* Past the control's values the reply is zero. */
        for (i = 12; i < sizeof(reply); i++) {
            g_assert_cmpuint(reply[i], ==, 0);
        }
    }
    return status;
}

static uint32_t ctl_write(VSnd *s, uint32_t id, uint32_t v0, uint32_t v1)
{
    struct {
        struct virtio_snd_ctl_hdr hdr;
        struct virtio_snd_ctl_value value;
    } req;

    memset(&req, 0, sizeof(req));
    req.hdr.hdr.code = cpu_to_le32(VIRTIO_SND_R_CTL_WRITE);
    req.hdr.control_id = cpu_to_le32(id);
    req.value.value.integer[0] = cpu_to_le32(v0);
    req.value.value.integer[1] = cpu_to_le32(v1);
    return ctrl(s, &req, sizeof(req));
}

/* A request of only a virtio_snd_ctl_hdr, with @room bytes for the reply. */
static uint32_t ctl_simple(VSnd *s, uint32_t code, uint32_t id, void *reply,
                           size_t room, uint32_t *used)
{
    struct virtio_snd_ctl_hdr req = {
        .hdr.code = cpu_to_le32(code),
        .control_id = cpu_to_le32(id),
    };

    *used = ctrl_xfer(s, &req, sizeof(req), reply, room);
    return ldl_le_p(reply);
}

static void test_ctl_config(void)
{
    VSnd *s = vsnd_start("");
    QVirtioDevice *vdev = &s->dev->vdev;

    /* Offered by default, with two controls per stream. */
    g_assert_true(qvirtio_get_features(vdev) & F_CTLS);
    g_assert_cmpuint(qvirtio_config_readl(vdev, 12), ==, 4);
    vsnd_stop(s);

    s = vsnd_start(",streams=5");
    g_assert_cmpuint(qvirtio_config_readl(&s->dev->vdev, 12), ==, 10);
    vsnd_stop(s);

    /* ctls=off: VIRTIO 1.2's device, 12 bytes of configuration. */
    s = vsnd_start(",ctls=off");
    vdev = &s->dev->vdev;
    g_assert_false(qvirtio_get_features(vdev) & F_CTLS);
    check_config(s, 2, 2, 16);
    g_assert_cmphex(qvirtio_config_readl(vdev, 12), ==, 0xffffffff);
    g_assert_cmphex(query(s, VIRTIO_SND_R_CTL_INFO, 0, 1, CTL_INFO_SPEC,
                          NULL), ==, VIRTIO_SND_S_NOT_SUPP);
    vsnd_stop(s);
}

static void test_ctl_info(void)
{
    static const char *const names[4] = {
        "PCM Playback Volume", "PCM Playback Switch",
        "Capture Volume", "Capture Switch",
    };
    VSnd *s = vsnd_start_ctls(",streams=4");
    uint8_t items[8][CTL_INFO_LINUX64], spec[8][CTL_INFO_SPEC];
    int i;

    g_assert_cmpuint(qvirtio_config_readl(&s->dev->vdev, 12), ==, 8);
    g_assert_cmphex(query(s, VIRTIO_SND_R_CTL_INFO, 0, 8, CTL_INFO_LINUX64,
                          items), ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(query(s, VIRTIO_SND_R_CTL_INFO, 0, 8, CTL_INFO_SPEC,
                          spec), ==, VIRTIO_SND_S_OK);
    for (i = 0; i < 8; i++) {
        bool volume = !(i & 1);
        uint32_t dir = (i / 2) & 1;     /* stream i / 2 */

        g_assert_cmpuint(ldl_le_p(items[i]), ==, 0);
        g_assert_cmpuint(ldl_le_p(items[i] + 4), ==,
                         (volume ? VIRTIO_SND_CTL_ROLE_VOLUME
                                 : VIRTIO_SND_CTL_ROLE_MUTE) << 1 | dir);
        g_assert_cmpuint(ldl_le_p(items[i] + 8), ==,
                         volume ? VIRTIO_SND_CTL_TYPE_INTEGER
                                : VIRTIO_SND_CTL_TYPE_BOOLEAN);
        g_assert_cmphex(ldl_le_p(items[i] + 12), ==,
                        (1 << VIRTIO_SND_CTL_ACCESS_READ) |
                        (1 << VIRTIO_SND_CTL_ACCESS_WRITE) |
                        (volume ? 1 << VIRTIO_SND_CTL_ACCESS_TLV_READ : 0));
        g_assert_cmpuint(ldl_le_p(items[i] + 16), ==, volume ? 2 : 1);
        g_assert_cmpuint(ldl_le_p(items[i] + 20), ==, i / 4);  /* index */
        g_assert_cmpstr((char *)items[i] + 24, ==, names[i % 4]);
        /* integer min, max, step: at 72 for 96-byte items, 68 for 92. */
        g_assert_cmpuint(ldl_le_p(items[i] + 68), ==, 0);
        g_assert_cmpuint(ldl_le_p(items[i] + 72), ==, 0);
        g_assert_cmpuint(ldl_le_p(items[i] + 76), ==, volume ? 120 : 0);
        g_assert_cmpuint(ldl_le_p(items[i] + 80), ==, volume ? 1 : 0);
        g_assert_cmpmem(spec[i], 68, items[i], 68);
        g_assert_cmpuint(ldl_le_p(spec[i] + 68), ==, 0);
        g_assert_cmpuint(ldl_le_p(spec[i] + 72), ==, volume ? 120 : 0);
        g_assert_cmpuint(ldl_le_p(spec[i] + 76), ==, volume ? 1 : 0);
    }
    /* One at a time, from the middle; too small items; past the end. */
    g_assert_cmphex(query(s, VIRTIO_SND_R_CTL_INFO, 5, 1, CTL_INFO_LINUX64,
                          items), ==, VIRTIO_SND_S_OK);
    g_assert_cmpstr((char *)items[0] + 24, ==, "PCM Playback Switch");
    g_assert_cmphex(query(s, VIRTIO_SND_R_CTL_INFO, 0, 1, CTL_INFO_SPEC - 1,
                          NULL), ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(query(s, VIRTIO_SND_R_CTL_INFO, 7, 2, CTL_INFO_SPEC,
                          NULL), ==, VIRTIO_SND_S_BAD_MSG);
    vsnd_stop(s);
}

static void test_ctl_values(void)
{
    VSnd *s = vsnd_start_ctls("");
    uint32_t v[2];
    VSndMsg ev[2];
    int id;

    /* Defaults: volumes at 120 (0 dB), switches on. */
    for (id = 0; id < 4; id++) {
        g_assert_cmphex(ctl_read(s, id, v), ==, VIRTIO_SND_S_OK);
        g_assert_cmpuint(v[0], ==, id & 1 ? 1 : 120);
        g_assert_cmpuint(v[1], ==, id & 1 ? 0 : 120);
    }

    /* A round trip; a change is notified, a write of the same is not. */
    ev[0] = event_queue(s);
    g_assert_cmphex(ctl_write(s, 0, 60, 90), ==, VIRTIO_SND_S_OK);
    event_done(s, &ev[0], VIRTIO_SND_EVT_CTL_NOTIFY,
               0 | (1u << VIRTIO_SND_CTL_EVT_MASK_VALUE) << 16);
    g_assert_cmphex(ctl_read(s, 0, v), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(v[0], ==, 60);
    g_assert_cmpuint(v[1], ==, 90);
    ev[1] = event_queue(s);
    g_assert_cmphex(ctl_write(s, 0, 60, 90), ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(ctl_write(s, 3, 0, 0), ==, VIRTIO_SND_S_OK);
    event_done(s, &ev[1], VIRTIO_SND_EVT_CTL_NOTIFY,
               3 | (1u << VIRTIO_SND_CTL_EVT_MASK_VALUE) << 16);
    g_assert_cmphex(ctl_read(s, 3, v), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(v[0], ==, 0);

    /* Out of range: refused, and nothing changes. */
    g_assert_cmphex(ctl_write(s, 0, 121, 0), ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(ctl_write(s, 0, 0, 0xffffffff), ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(ctl_write(s, 1, 2, 0), ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(ctl_write(s, 3, 0x80000001, 0), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(ctl_read(s, 0, v), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(v[0], ==, 60);
    g_assert_cmpuint(v[1], ==, 90);
    g_assert_cmphex(ctl_read(s, 1, v), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(v[0], ==, 1);

    /* No such control; malformed lengths. */
    g_assert_cmphex(ctl_write(s, 4, 1, 1), ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(ctl_read(s, 4, v), ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(ctl_read(s, 0xffffffff, v), ==, VIRTIO_SND_S_BAD_MSG);

    /* They survive a playback cycle (RELEASE, PREPARE)... */
    io_cycle(s, 0);
    io_cycle(s, 1);
    g_assert_cmphex(ctl_read(s, 0, v), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(v[0], ==, 60);
    g_assert_cmphex(ctl_read(s, 3, v), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(v[0], ==, 0);

    /* ... but a device reset restores the defaults. */
    vsnd_reset(s);
    g_assert_cmphex(ctl_read(s, 0, v), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(v[0], ==, 120);
    g_assert_cmpuint(v[1], ==, 120);
    g_assert_cmphex(ctl_read(s, 3, v), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(v[0], ==, 1);
    vsnd_stop(s);
}

static void test_ctl_tlv(void)
{
    VSnd *s = vsnd_start_ctls("");
    uint8_t reply[4 + 64];
    uint32_t used;
    struct {
        struct virtio_snd_ctl_hdr hdr;
        uint32_t tlv[4];
    } tw = {
        .hdr.hdr.code = cpu_to_le32(VIRTIO_SND_R_CTL_TLV_WRITE),
        .tlv = { cpu_to_le32(1), cpu_to_le32(8), 0, 0 },
    };

    /* ALSA's DB_SCALE: min -60.00 dB, step 0.50 dB, min is mute. */
    g_assert_cmphex(ctl_simple(s, VIRTIO_SND_R_CTL_TLV_READ, 2, reply,
                               sizeof(reply), &used), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(used, ==, 4 + 16);
    g_assert_cmpuint(ldl_le_p(reply + 4), ==, 1);
    g_assert_cmpuint(ldl_le_p(reply + 8), ==, 8);
    g_assert_cmpint((int32_t)ldl_le_p(reply + 12), ==, -6000);
    g_assert_cmphex(ldl_le_p(reply + 16), ==, 0x10000 | 50);
    /* Too little room: as much as fits. */
    g_assert_cmphex(ctl_simple(s, VIRTIO_SND_R_CTL_TLV_READ, 0, reply,
                               4 + 12, &used), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(used, ==, 4 + 12);

    /* What the controls do not allow. */
    g_assert_cmphex(ctl_simple(s, VIRTIO_SND_R_CTL_TLV_READ, 1, reply,
                               sizeof(reply), &used), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmpuint(used, ==, 4);
    g_assert_cmphex(ctl_simple(s, VIRTIO_SND_R_CTL_ENUM_ITEMS, 0, reply,
                               sizeof(reply), &used), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(ctrl(s, &tw, sizeof(tw)), ==, VIRTIO_SND_S_BAD_MSG);
    tw.hdr.hdr.code = cpu_to_le32(VIRTIO_SND_R_CTL_TLV_COMMAND);
    g_assert_cmphex(ctrl(s, &tw, sizeof(tw)), ==, VIRTIO_SND_S_BAD_MSG);
    /* A TLV longer than its message. */
    tw.tlv[1] = cpu_to_le32(12);
    g_assert_cmphex(ctrl(s, &tw, sizeof(tw)), ==, VIRTIO_SND_S_BAD_MSG);
    vsnd_stop(s);
}

/* Queue @n messages on stream 0 and play them to the end. */
static void play_messages(VSnd *s, int n)
{
    VSndMsg m[8];
    int i;

    g_assert_cmpint(n, <=, 8);
    g_assert_cmphex(set_params_std(s, 0), ==, VIRTIO_SND_S_OK);
    prepare_start(s, 0);
    for (i = 0; i < n; i++) {
        m[i] = io_queue(s, VIRTIO_SND_VQ_TX, 0, PERIOD_BYTES, false);
    }
    for (i = 0; i < n; i++) {
        step_until_used(s, VIRTIO_SND_VQ_TX, 1000);
        g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &m[i], STATUS_LEN), ==,
                        VIRTIO_SND_S_OK);
    }
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_STOP, 0), ==,
                    VIRTIO_SND_S_OK);
    qtest_clock_step(s->qts, 100 * MS);     /* the audio layer drains */
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_RELEASE, 0), ==,
                    VIRTIO_SND_S_OK);
}

/* Frames of the wav file whose both channels are within @tol of @value. */
static size_t count_frames(const int16_t *x, size_t frames, int value,
                           int tol)
{
    size_t i, n = 0;

    for (i = 0; i < frames; i++) {
        n += abs(x[2 * i] - value) <= tol && abs(x[2 * i + 1] - value) <= tol;
    }
    return n;
}

/*
 * The volume reaches the voice: through QEMU's wav backend, whose mixing
 * engine scales samples by level / 255 (the PipeWire backend does it in
 * PipeWire instead, see tests/e2e/test_controls.py). The device plays
 * messages of 0x1111 (4369) in every sample: at the volume set before
 * PREPARE, value 60 (-30 dB on the PipeWire backend's curve; level 81,
 * which the mixing engine makes 4369 * 81 / 255 = 1388), then muted by the
 * switch, then at 0 dB again; a last muted cycle pushes the end of that
 * out of the audio layer. (A device reset would close the voice, and the
 * wav backend would start its file afresh.)
 */
static void test_ctl_volume_reaches_voice(void)
{
    g_autofree char *dir = g_dir_make_tmp("virtio-snd-ctl-XXXXXX", NULL);
    g_autofree char *wav = g_build_filename(dir, "out.wav", NULL);
    g_autofree char *audiodev = g_strdup_printf("wav,id=snd0,path=%s", wav);
    g_autofree uint8_t *data = NULL;
    VSnd *s = vsnd_start_with(audiodev, "", F_CTLS);
    const int16_t *x;
    size_t len, frames, quiet, muted, full, i, first_full, last_quiet;
    /* 4 messages of 10 ms at 48 kHz become 1764 frames at 44.1 kHz. */
    const size_t played = 4 * 441;

    g_assert_cmphex(ctl_write(s, 0, 60, 60), ==, VIRTIO_SND_S_OK);
    play_messages(s, 4);
    g_assert_cmphex(ctl_write(s, 1, 0, 0), ==, VIRTIO_SND_S_OK);
    play_messages(s, 4);
    g_assert_cmphex(ctl_write(s, 0, 120, 120), ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(ctl_write(s, 1, 1, 0), ==, VIRTIO_SND_S_OK);
    play_messages(s, 4);
    g_assert_cmphex(ctl_write(s, 1, 0, 0), ==, VIRTIO_SND_S_OK);
    play_messages(s, 2);
    vsnd_stop(s);

    g_assert_true(g_file_get_contents(wav, (char **)&data, &len, NULL));
    g_assert_cmpuint(len, >, 44);
    x = (const int16_t *)(data + 44);
    frames = (len - 44) / 4;
    for (i = 0; i < 2 * frames; i++) {
        ((int16_t *)x)[i] = le16_to_cpu(x[i]);
    }
    quiet = count_frames(x, frames, 4369 * 81 / 255, 4);
    full = count_frames(x, frames, 4369, 4);
    muted = count_frames(x, frames, 0, 0);
    g_test_message("%zu frames: %zu at -30 dB, %zu at 0 dB, %zu silent",
                   frames, quiet, full, muted);
    g_assert_cmpuint(quiet, >=, played * 9 / 10);
    g_assert_cmpuint(quiet, <=, played * 11 / 10);
    g_assert_cmpuint(full, >=, played * 9 / 10);
    g_assert_cmpuint(muted, >=, played);
    /* In that order: every quiet frame before the first full one. */
    first_full = last_quiet = 0;
    for (i = 0; i < frames; i++) {
        if (!first_full && count_frames(x + 2 * i, 1, 4369, 4)) {
            first_full = i;
        }
        if (count_frames(x + 2 * i, 1, 4369 * 81 / 255, 4)) {
            last_quiet = i;
        }
    }
    g_assert_cmpuint(last_quiet + played, <, first_full);
    unlink(wav);
    rmdir(dir);
}

/*
 * Fuzzing: random and mutated requests on all four queues.
 *
 * Requests are built from valid templates and then, often, broken: codes
 * known and unknown (the control element ones too), ids past the end,
 * start_id + count wrapping around, item sizes too small or huge, lengths
 * cut or padded. Every chain is cut into descriptors at random points (a
 * header sometimes one byte a descriptor), its device-writable part is
 * exact, too short, too long, missing or made device-readable, and a few
 * break virtio's rules outright (a zero-length descriptor, a readable one
 * after a writable one), which must only make QEMU flag the device as
 * needing a reset. In between the lifecycle requests come in any order,
 * the virtual clock runs, and the device is reset now and then.
 *
 * Each used element must name a chain the device holds and claim no more
 * than its device-writable length (vq_take_used()); the status written
 * must be one the spec defines and agree with that length; some chains
 * are read back in full to check that the device wrote nothing into their
 * device-readable part nor around the chain. Afterwards the device must
 * still play and record. QTEST_VSND_FUZZ_SEED (a number, or "random") and
 * QTEST_VSND_FUZZ_COUNT replay or vary a run; QTEST_VSND_FUZZ_VERBOSE=1
 * prints every operation.
 */

#define FUZZ_SEED_DEFAULT 20240917u
#define FUZZ_COUNT_DEFAULT 100000u
#define FUZZ_SEGS_MAX 32            /* descriptors in one chain at most */
#define FUZZ_CANARY 16              /* guard bytes either side of a chain */
#define FUZZ_IMAGE_MAX 4096         /* chains read back whole up to this */
#define FUZZ_REQ_MAX 1024           /* bytes of a control request */
#define FUZZ_ROOM_MAX 65536         /* device-writable bytes of a request */
#define FUZZ_STREAMS 2              /* the device's defaults */
#define FUZZ_JACKS 2
#define FUZZ_CHMAPS 16

typedef struct FuzzChain {
    uint64_t mem;                   /* canary, readable part, room, canary */
    uint32_t out_len;               /* device-readable bytes */
    uint32_t room;                  /* bytes after them meant for the device */
    uint32_t in_len;                /* of which device-writable: room or 0 */
    bool breaks_virtio;
    uint8_t *image;                 /* what mem held when queued, if kept */
} FuzzChain;

typedef struct Fuzz {
    VSnd *s;
    GRand *rand;
    bool verbose;
    uint32_t op;
    FuzzChain chain[VIRTIO_SND_VQ_MAX][VQ_DESC_MAX];
    bool unkicked[VIRTIO_SND_VQ_MAX];
    unsigned long sent[VIRTIO_SND_VQ_MAX], used[VIRTIO_SND_VQ_MAX];
    unsigned long status[4];        /* replies OK, BAD_MSG, NOT_SUPP, IO_ERR */
    unsigned long resets, broken, releases, steps, checked;
} Fuzz;

static const char *const fuzz_queue_name[VIRTIO_SND_VQ_MAX] = {
    "ctrl", "event", "tx", "rx",
};

static uint32_t fz_below(Fuzz *f, uint32_t n)
{
    return n > 1 ? g_rand_int_range(f->rand, 0, MIN(n, (uint32_t)G_MAXINT32))
                 : 0;
}

static bool fz_percent(Fuzz *f, unsigned int percent)
{
    return fz_below(f, 100) < percent;
}

/* Values that find off-by-one and overflow mistakes, or any value. */
static uint32_t fz_interesting(Fuzz *f)
{
    static const uint32_t v[] = {
        0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 63, 64, 0xff, 0x100, 0xffff,
        0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
    };

    return fz_percent(f, 75) ? v[fz_below(f, ARRAY_SIZE(v))]
                             : g_rand_int(f->rand);
}

/* An id for @n items: usually one of them or the one past the end. */
static uint32_t fz_id(Fuzz *f, uint32_t n)
{
    return fz_percent(f, 80) ? fz_below(f, n + 1) : fz_interesting(f);
}

static void fz_bytes(Fuzz *f, uint8_t *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = g_rand_int(f->rand);
    }
}

static void fz_log(Fuzz *f, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void fz_log(Fuzz *f, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    if (!f->verbose) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_test_message("fuzz %u: %s", f->op, msg);
}

/*
 * Cut @len bytes at @addr into at most @max descriptors: whole, at one
 * random point, at a few, or at every byte.
 */
static unsigned int fuzz_split(Fuzz *f, VSndSeg *seg, uint64_t addr,
                               uint32_t len, bool write, unsigned int max)
{
    uint32_t pieces, done = 0, i;

    if (!len) {
        return 0;
    }
    switch (fz_below(f, 8)) {
    case 0:
        pieces = len;
        break;
    case 1:
    case 2:
        pieces = 2;
        break;
    case 3:
        pieces = 3 + fz_below(f, 6);
        break;
    default:
        pieces = 1;
        break;
    }
    pieces = MAX(MIN(MIN(pieces, len), max), 1);
    for (i = 0; i < pieces; i++) {
        uint32_t left = len - done;
        uint32_t piece = i + 1 == pieces ? left
                         : 1 + fz_below(f, left - (pieces - i - 1));

        seg[i] = (VSndSeg) { addr + done, piece, write };
        done += piece;
    }
    return pieces;
}

/* The reply the device put in a completed chain, checked against @len. */
static void fuzz_check_reply(Fuzz *f, int q, FuzzChain *c, uint32_t len)
{
    uint64_t room = c->mem + FUZZ_CANARY + c->out_len;
    uint32_t status;

    if (q == VIRTIO_SND_VQ_EVENT) {
        /* An event is 8 bytes, cut short by a smaller buffer. */
        g_assert_cmpuint(len, ==, MIN(c->in_len, 8));
        return;
    }
    if (q == VIRTIO_SND_VQ_CONTROL) {
        /* The status heads the reply; nowhere to put it, nothing written. */
        if (c->in_len < sizeof(struct virtio_snd_hdr)) {
            g_assert_cmpuint(len, ==, 0);
            return;
        }
        status = qtest_readl(f->s->qts, room);
        g_assert_cmpuint(len, >=, sizeof(struct virtio_snd_hdr));
        if (status != VIRTIO_SND_S_OK) {
            g_assert_cmpuint(len, ==, sizeof(struct virtio_snd_hdr));
        }
    } else {
        /* The status ends the message; for rx the frames come before. */
        if (c->in_len < STATUS_LEN) {
            g_assert_cmpuint(len, ==, 0);
            return;
        }
        status = qtest_readl(f->s->qts, room + c->in_len - STATUS_LEN);
        g_assert_cmpuint(len, >=, STATUS_LEN);
        g_assert(status == VIRTIO_SND_S_OK || status == VIRTIO_SND_S_IO_ERR);
        if (q == VIRTIO_SND_VQ_TX || status != VIRTIO_SND_S_OK) {
            g_assert_cmpuint(len, ==, STATUS_LEN);
        }
    }
    g_assert_cmphex(status, >=, VIRTIO_SND_S_OK);
    g_assert_cmphex(status, <=, VIRTIO_SND_S_IO_ERR);
    f->status[status - VIRTIO_SND_S_OK]++;
}

/* Take back what the device has finished on @q and check it. */
static void fuzz_drain(Fuzz *f, int q)
{
    unsigned int n = vq_fetch_used(f->s, q);
    uint32_t head, len;

    /* Only what one look at the used ring finds: one read when empty. */
    while (n-- && vq_take_used(f->s, q, &head, &len)) {
        FuzzChain *c = &f->chain[q][head];

        fz_log(f, "%s: head %u used, len %u of %u", fuzz_queue_name[q],
               head, len, c->in_len);
        g_assert_cmphex(c->mem, !=, 0);
        /* QEMU completes no chain that breaks virtio's rules. */
        g_assert_false(c->breaks_virtio);
        fuzz_check_reply(f, q, c, len);
        if (c->image) {
            size_t size = FUZZ_CANARY * 2 + c->out_len + c->room;
            g_autofree uint8_t *now = g_malloc(size);
            size_t keep = FUZZ_CANARY + c->out_len + (c->in_len ? 0 : c->room);

            /* Nothing written before the writable part, nor after it. */
            qtest_memread(f->s->qts, c->mem, now, size);
            g_assert_cmpmem(now, keep, c->image, keep);
            g_assert_cmpmem(now + size - FUZZ_CANARY, FUZZ_CANARY,
                            c->image + size - FUZZ_CANARY, FUZZ_CANARY);
            g_free(c->image);
            f->checked++;
        }
        guest_free(f->s->alloc, c->mem);
        memset(c, 0, sizeof(*c));
        f->used[q]++;
    }
}

static void fuzz_drain_all(Fuzz *f)
{
    int q;

    for (q = 0; q < VIRTIO_SND_VQ_MAX; q++) {
        fuzz_drain(f, q);
    }
}

static void fuzz_kick(Fuzz *f, int q)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    vq_notify(f->s, q);
    f->unkicked[q] = false;
    fuzz_drain(f, q);
    /*
     * Control requests are answered at once (unless the device is
     * broken): from the device's bottom half, right after the kick.
     */
    while (q == VIRTIO_SND_VQ_CONTROL && f->s->pending[q]) {
        g_assert(g_get_monotonic_time() < deadline);
        g_usleep(100);
        fuzz_drain(f, q);
    }
}

/* A virtio reset: whatever the device held is gone with the queues. */
static void fuzz_reset(Fuzz *f)
{
    int q, i;

    /* Half the time the driver negotiates the control elements. */
    f->s->features = fz_percent(f, 50) ? F_CTLS : 0;
    fz_log(f, "reset%s", f->s->features ? " with controls" : "");
    vsnd_reset(f->s);
    for (q = 0; q < VIRTIO_SND_VQ_MAX; q++) {
        for (i = 0; i < VQ_DESC_MAX; i++) {
            FuzzChain *c = &f->chain[q][i];

            if (c->mem) {
                guest_free(f->s->alloc, c->mem);
            }
            g_free(c->image);
            memset(c, 0, sizeof(*c));
        }
        f->unkicked[q] = false;
    }
    f->resets++;
}

/*
 * Get every I/O message back: each stream is stopped and released, as a
 * driver does, whatever state it is in. Then none may be left.
 */
static void fuzz_release_all(Fuzz *f)
{
    VSnd *s = f->s;
    uint32_t i;
    int q;

    fz_log(f, "release every stream");
    for (q = 0; q < VIRTIO_SND_VQ_MAX; q++) {
        if (f->unkicked[q]) {
            fuzz_kick(f, q);
        }
    }
    fuzz_drain_all(f);
    for (i = 0; i < FUZZ_STREAMS; i++) {
        pcm_cmd(s, VIRTIO_SND_R_PCM_STOP, i);
        pcm_cmd(s, VIRTIO_SND_R_PCM_RELEASE, i);
    }
    fuzz_drain_all(f);
    g_assert_cmpuint(s->pending[VIRTIO_SND_VQ_TX], ==, 0);
    g_assert_cmpuint(s->pending[VIRTIO_SND_VQ_RX], ==, 0);
    f->releases++;
}

/*
 * Queue a chain on @q: @out_len device-readable bytes, of which the first
 * @out_init are @out (the rest is left as guest memory has it), then
 * @room bytes for the device, cut into descriptors at random. Returns
 * false if @q has too few free descriptors.
 */
static bool fuzz_queue(Fuzz *f, int q, const uint8_t *out, uint32_t out_init,
                       uint32_t out_len, uint32_t room)
{
    VSnd *s = f->s;
    VSndSeg seg[FUZZ_SEGS_MAX + 1];
    unsigned int budget = MIN(FUZZ_SEGS_MAX, s->ring[q].nfree);
    unsigned int n = 0, i;
    bool room_readable = room && fz_percent(f, 4);
    /* A zero-length descriptor, or a device-readable one too late. */
    bool breaks = fz_below(f, 4000) == 0;
    size_t size = FUZZ_CANARY * 2 + out_len + room;
    uint64_t base;
    FuzzChain *c;
    uint32_t head;

    if (budget < 4) {
        return false;
    }
    budget -= 2;                    /* one for the room, one to break */
    base = guest_alloc(s->alloc, size);
    n = fuzz_split(f, seg, base + FUZZ_CANARY, out_len, false, budget);
    n += fuzz_split(f, seg + n, base + FUZZ_CANARY + out_len, room,
                    !room_readable, budget + 1 - n);
    if (breaks || n == 0) {
        bool late_readable = n > 0 && seg[n - 1].write && fz_percent(f, 50);

        breaks = true;
        if (late_readable) {
            seg[n++] = (VSndSeg) { base, FUZZ_CANARY, false };
        } else {
            /* A zero-length descriptor anywhere in the chain. */
            i = fz_below(f, n + 1);
            memmove(&seg[i + 1], &seg[i], (n - i) * sizeof(seg[0]));
            seg[i] = (VSndSeg) { base + FUZZ_CANARY, 0, fz_percent(f, 50) };
            n++;
        }
    }

    if (size <= FUZZ_IMAGE_MAX && fz_percent(f, 15)) {
        uint8_t *image = g_malloc(size);

        /* Canaries, the request, the room: all read back on return. */
        memset(image, 0x5c, size);
        if (out_init) {
            memcpy(image + FUZZ_CANARY, out, out_init);
        }
        memset(image + FUZZ_CANARY + out_init, 0, out_len - out_init);
        memset(image + FUZZ_CANARY + out_len, 0xa5, room);
        qtest_memwrite(s->qts, base, image, size);
        head = vq_add(s, q, seg, n);
        c = &f->chain[q][head];
        c->image = image;
    } else {
        if (out_init) {
            qtest_memwrite(s->qts, base + FUZZ_CANARY, out, out_init);
        }
        head = vq_add(s, q, seg, n);
        c = &f->chain[q][head];
    }
    g_assert_cmphex(c->mem, ==, 0);
    c->mem = base;
    c->out_len = out_len;
    c->room = room;
    c->in_len = room_readable ? 0 : room;
    c->breaks_virtio = breaks;
    g_assert_cmpuint(s->ring[q].in_len[head], ==, c->in_len);
    f->sent[q]++;
    fz_log(f, "%s: head %u, %u descriptors, %u readable bytes, "
           "%u writable%s", fuzz_queue_name[q], head, n, out_len, c->in_len,
           breaks ? ", breaks virtio" : "");

    if (breaks) {
        /* QEMU marks the device broken when it gets to the chain. */
        vq_notify(s, q);
        fuzz_drain(f, q);
        if (q != VIRTIO_SND_VQ_EVENT) {
            QVirtioDevice *vdev = &s->dev->vdev;

            g_assert_cmphex(vdev->bus->get_status(vdev) &
                            VIRTIO_CONFIG_S_NEEDS_RESET, ==,
                            VIRTIO_CONFIG_S_NEEDS_RESET);
        }
        f->broken++;
        fuzz_reset(f);
    } else if (fz_percent(f, 75)) {
        fuzz_kick(f, q);
    } else {
        f->unkicked[q] = true;
    }
    return true;
}

/* SET_PARAMS with values the stream takes, unless @mutate. */
static uint32_t fuzz_set_params(Fuzz *f, uint8_t *req, bool mutate)
{
    static const uint8_t formats[] = {
        VIRTIO_SND_PCM_FMT_S8, VIRTIO_SND_PCM_FMT_U8, VIRTIO_SND_PCM_FMT_S16,
        VIRTIO_SND_PCM_FMT_U16, VIRTIO_SND_PCM_FMT_S32,
        VIRTIO_SND_PCM_FMT_U32, VIRTIO_SND_PCM_FMT_FLOAT,
    };
    static const uint8_t sample_bytes[] = { 1, 1, 2, 2, 4, 4, 4 };
    unsigned int fmt = fz_below(f, ARRAY_SIZE(formats));
    uint8_t channels = 1 + fz_below(f, 8);
    uint32_t period = sample_bytes[fmt] * channels * (1 + fz_below(f, 2048));
    struct virtio_snd_pcm_set_params p = {
        .hdr.hdr.code = cpu_to_le32(VIRTIO_SND_R_PCM_SET_PARAMS),
        .hdr.stream_id = cpu_to_le32(fz_below(f, FUZZ_STREAMS)),
        .period_bytes = cpu_to_le32(period),
        .buffer_bytes = cpu_to_le32(period * (1 + fz_below(f, 8))),
        .features = cpu_to_le32(fz_percent(f, 50) ? 0 :
                                1u << VIRTIO_SND_PCM_F_EVT_XRUNS),
        .channels = channels,
        .format = formats[fmt],
        .rate = fz_below(f, RATE_COUNT),
    };

    switch (mutate ? fz_below(f, 14) : G_MAXUINT32) {
    case 0:
        p.format = fz_below(f, 64);
        break;
    case 1:
        p.channels = fz_below(f, 256);
        break;
    case 2:
        p.rate = fz_below(f, 256);
        break;
    case 3:
        p.period_bytes = cpu_to_le32(fz_interesting(f));
        break;
    case 4:
        p.buffer_bytes = cpu_to_le32(fz_interesting(f));
        break;
    case 5:
        p.features = cpu_to_le32(fz_percent(f, 50) ? 1u << fz_below(f, 32)
                                                   : fz_interesting(f));
        break;
    case 6:
        p.padding = g_rand_int(f->rand);
        break;
    case 7:
        p.hdr.stream_id = cpu_to_le32(fz_id(f, FUZZ_STREAMS));
        break;
    }
    memcpy(req, &p, sizeof(p));
    return sizeof(p);
}

/*
 * A control request in @req: a template, often mutated. Returns its
 * length; *@reply is the room its reply needs.
 */
static uint32_t fuzz_ctrl_request(Fuzz *f, uint8_t *req, uint64_t *reply)
{
    static const struct {
        uint32_t code, items, size;
    } queries[] = {
        { VIRTIO_SND_R_JACK_INFO, FUZZ_JACKS,
          sizeof(struct virtio_snd_jack_info) },
        { VIRTIO_SND_R_PCM_INFO, FUZZ_STREAMS,
          sizeof(struct virtio_snd_pcm_info) },
        { VIRTIO_SND_R_CHMAP_INFO, FUZZ_CHMAPS,
          sizeof(struct virtio_snd_chmap_info) },
        { VIRTIO_SND_R_CTL_INFO, 4, CTL_INFO_SPEC },
    };
    static const uint32_t pcm_codes[] = {
        VIRTIO_SND_R_PCM_PREPARE, VIRTIO_SND_R_PCM_RELEASE,
        VIRTIO_SND_R_PCM_START, VIRTIO_SND_R_PCM_STOP,
        VIRTIO_SND_R_PCM_SET_PARAMS, VIRTIO_SND_R_PCM_INFO,
    };
    static const uint32_t odd_codes[] = {
        0, VIRTIO_SND_R_JACK_REMAP + 1, VIRTIO_SND_R_PCM_STOP + 1,
        VIRTIO_SND_R_CHMAP_INFO + 1, VIRTIO_SND_R_CTL_TLV_COMMAND + 1, 0xff,
        0x400, VIRTIO_SND_EVT_PCM_XRUN, VIRTIO_SND_S_OK, 0xffffffff,
    };
    uint32_t len, code, i;

    *reply = sizeof(struct virtio_snd_hdr);
    switch (fz_below(f, 10)) {
    case 0:
    case 1: {
        unsigned int k = fz_below(f, ARRAY_SIZE(queries));
        uint32_t items = queries[k].items, size = queries[k].size;
        struct virtio_snd_query_info q = {
            .hdr.code = cpu_to_le32(queries[k].code),
        };
        uint32_t start = fz_id(f, items), count, item;

        if (fz_percent(f, 10)) {
            /* start_id + count wraps around */
            start = 0xffffffff - fz_below(f, 4);
            count = 1 + fz_below(f, 8);
        } else if (fz_percent(f, 70)) {
            count = fz_below(f, items + 2 - MIN(start, items));
        } else {
            count = fz_interesting(f);
        }
        switch (fz_below(f, 8)) {
        case 0:
            item = size + 1 + fz_below(f, 32);
            break;
        case 1:
            item = fz_below(f, size);
            break;
        case 2:
            item = fz_interesting(f);
            break;
        default:
            item = size;
            break;
        }
        q.start_id = cpu_to_le32(start);
        q.count = cpu_to_le32(count);
        q.size = cpu_to_le32(item);
        memcpy(req, &q, sizeof(q));
        len = sizeof(q);
        *reply += (uint64_t)count * item;
        break;
    }
    case 2:
        len = fuzz_set_params(f, req, true);
        break;
    case 3:
    case 4:
    case 5: {
        struct virtio_snd_pcm_hdr h = {
            .hdr.code = cpu_to_le32(pcm_codes[fz_below(f, 4)]),
            .stream_id = cpu_to_le32(fz_percent(f, 85) ?
                                     fz_below(f, FUZZ_STREAMS) :
                                     fz_id(f, FUZZ_STREAMS)),
        };

        memcpy(req, &h, sizeof(h));
        len = sizeof(h);
        break;
    }
    case 6: {
        struct virtio_snd_jack_remap r = {
            .hdr.hdr.code = cpu_to_le32(VIRTIO_SND_R_JACK_REMAP),
            .hdr.jack_id = cpu_to_le32(fz_id(f, FUZZ_JACKS)),
            .association = cpu_to_le32(fz_interesting(f)),
            .sequence = cpu_to_le32(fz_interesting(f)),
        };

        memcpy(req, &r, sizeof(r));
        len = sizeof(r);
        break;
    }
    case 7:
        /*
         * Control element requests (negotiated after half the resets):
         * any layout, or a CTL_WRITE of the right length with values
         * about the controls' ranges.
         */
        code = VIRTIO_SND_R_CTL_INFO + fz_below(f, 8);
        if (fz_percent(f, 40)) {
            code = VIRTIO_SND_R_CTL_WRITE;
            len = sizeof(struct virtio_snd_ctl_hdr) +
                  sizeof(struct virtio_snd_ctl_value);
            memset(req, 0, len);
            stl_le_p(req, code);
            stl_le_p(req + 4, fz_id(f, 4));
            for (i = 0; i < 2; i++) {
                stl_le_p(req + 8 + 4 * i, fz_percent(f, 80) ?
                         fz_below(f, 124) : fz_interesting(f));
            }
            break;
        }
        len = sizeof(struct virtio_snd_ctl_hdr) + 4 * fz_below(f, 48);
        fz_bytes(f, req, len);
        stl_le_p(req, code);
        stl_le_p(req + 4, fz_id(f, 4));
        *reply += fz_below(f, 256);
        break;
    case 8:
        /* Codes nothing has. */
        len = sizeof(struct virtio_snd_hdr) + fz_below(f, 32);
        fz_bytes(f, req, len);
        stl_le_p(req, fz_percent(f, 70) ? odd_codes[fz_below(f,
                                                  ARRAY_SIZE(odd_codes))]
                                        : g_rand_int(f->rand));
        break;
    default:
        /* A known code with a body of any length. */
        len = fz_below(f, 48);
        fz_bytes(f, req, len);
        if (len >= 4) {
            code = fz_percent(f, 50) ? pcm_codes[fz_below(f,
                                                ARRAY_SIZE(pcm_codes))]
                                     : queries[fz_below(f,
                                               ARRAY_SIZE(queries))].code;
            stl_le_p(req, code);
        }
        break;
    }

    /* Mutations */
    while (fz_percent(f, 30)) {
        switch (fz_below(f, 4)) {
        case 0:
            if (len) {
                req[fz_below(f, len)] ^= 1 + fz_below(f, 255);
            }
            break;
        case 1:
            /* Cut short, or padded with junk. */
            i = fz_below(f, len + 9);
            if (i > len) {
                fz_bytes(f, req + len, i - len);
            }
            len = i;
            break;
        case 2:
            if (len >= 4) {
                stl_le_p(req + 4 * fz_below(f, len / 4), fz_interesting(f));
            }
            break;
        default:
            /* Another code for the same body. */
            if (len >= 4) {
                stl_le_p(req, fz_percent(f, 70) ?
                         pcm_codes[fz_below(f, ARRAY_SIZE(pcm_codes))] :
                         odd_codes[fz_below(f, ARRAY_SIZE(odd_codes))]);
            }
            break;
        }
    }
    g_assert_cmpuint(len, <=, FUZZ_REQ_MAX);
    return len;
}

static void fuzz_ctrl(Fuzz *f)
{
    uint8_t req[FUZZ_REQ_MAX];
    uint64_t reply;
    uint32_t len = fuzz_ctrl_request(f, req, &reply);
    uint32_t room;

    switch (fz_below(f, 10)) {
    case 0:
        room = 0;                       /* nowhere to answer */
        break;
    case 1:
        room = fz_below(f, sizeof(struct virtio_snd_hdr) + 1);
        break;
    case 2:
        room = reply ? reply - 1 : 0;   /* one byte short */
        break;
    case 3:
        room = reply + 1 + fz_below(f, 64);
        break;
    case 4:
        room = fz_below(f, 1024);
        break;
    default:
        room = reply;
        break;
    }
    room = MIN(room, FUZZ_ROOM_MAX);
    if (!len && !room) {
        room = 1;
    }
    if (f->verbose) {
        g_autofree char *hex = g_malloc(2 * len + 1);
        uint32_t i;

        for (i = 0; i < len; i++) {
            sprintf(hex + 2 * i, "%02x", req[i]);
        }
        hex[2 * len] = 0;
        fz_log(f, "ctrl request %s, room %u", hex, room);
    }
    fuzz_queue(f, VIRTIO_SND_VQ_CONTROL, req, len, len, room);
}

/*
 * A stream taken through its lifecycle by valid requests (which may still
 * be refused in the state the stream is in), so that streams run often.
 */
static void fuzz_walk(Fuzz *f)
{
    uint8_t req[sizeof(struct virtio_snd_pcm_set_params)];
    uint32_t stream, len;

    if (f->unkicked[VIRTIO_SND_VQ_CONTROL]) {
        fuzz_kick(f, VIRTIO_SND_VQ_CONTROL);
    }
    len = fuzz_set_params(f, req, false);
    stream = ldl_le_p(req + 4);
    fz_log(f, "stream %u: set parameters, prepare, start", stream);
    ctrl(f->s, req, len);
    pcm_cmd(f->s, VIRTIO_SND_R_PCM_PREPARE, stream);
    if (fz_percent(f, 75)) {
        pcm_cmd(f->s, VIRTIO_SND_R_PCM_START, stream);
    }
}

/* Bytes of frames for an I/O message: whole periods, odd sizes, none. */
static uint32_t fuzz_data_len(Fuzz *f)
{
    switch (fz_below(f, 10)) {
    case 0:
    case 1:
        return 0;
    case 2:
    case 3:
        return 1 + fz_below(f, 16);
    case 4:
    case 5:
    case 6:
        return FRAME_BYTES * (1 + fz_below(f, 1024));
    default:
        return fz_below(f, 8192);
    }
}

/* A stream id for an I/O message on a queue meant for @stream. */
static uint32_t fuzz_io_stream(Fuzz *f, uint32_t stream)
{
    return fz_percent(f, 70) ? stream : fz_id(f, FUZZ_STREAMS + 2);
}

static void fuzz_tx(Fuzz *f)
{
    uint8_t hdr[XFER_LEN];
    uint32_t hdr_len = fz_percent(f, 95) ? XFER_LEN : fz_below(f, XFER_LEN);
    uint32_t data_len = hdr_len == XFER_LEN ? fuzz_data_len(f) : 0;
    uint32_t room;

    stl_le_p(hdr, fuzz_io_stream(f, 0));
    switch (fz_below(f, 16)) {
    case 0:
        room = 0;
        break;
    case 1:
        room = 1 + fz_below(f, STATUS_LEN - 1);
        break;
    case 2:
        room = STATUS_LEN + 1 + fz_below(f, 64);    /* frames writable */
        break;
    default:
        room = STATUS_LEN;
        break;
    }
    if (!hdr_len && !data_len && !room) {
        room = STATUS_LEN;
    }
    fuzz_queue(f, VIRTIO_SND_VQ_TX, hdr, hdr_len, hdr_len + data_len, room);
}

static void fuzz_rx(Fuzz *f)
{
    uint8_t hdr[XFER_LEN + 64];
    uint32_t hdr_len = XFER_LEN;
    uint32_t room;

    stl_le_p(hdr, fuzz_io_stream(f, 1));
    if (fz_percent(f, 5)) {
        hdr_len = fz_below(f, XFER_LEN);
    } else if (fz_percent(f, 5)) {
        hdr_len = XFER_LEN + 1 + fz_below(f, 64);   /* frames readable */
        fz_bytes(f, hdr + XFER_LEN, hdr_len - XFER_LEN);
    }
    switch (fz_below(f, 16)) {
    case 0:
        room = 0;
        break;
    case 1:
        room = 1 + fz_below(f, STATUS_LEN - 1);
        break;
    default:
        room = fuzz_data_len(f) + STATUS_LEN;
        break;
    }
    if (!hdr_len && !room) {
        room = STATUS_LEN;
    }
    fuzz_queue(f, VIRTIO_SND_VQ_RX, hdr, hdr_len, hdr_len, room);
}

static void fuzz_event(Fuzz *f)
{
    uint32_t room;

    switch (fz_below(f, 8)) {
    case 0:
        room = 1 + fz_below(f, sizeof(struct virtio_snd_event) - 1);
        break;
    case 1:
        room = sizeof(struct virtio_snd_event) + 1 + fz_below(f, 64);
        break;
    default:
        room = sizeof(struct virtio_snd_event);
        break;
    }
    fuzz_queue(f, VIRTIO_SND_VQ_EVENT, NULL, 0, 0, room);
}

/* Room on @q for a chain: I/O messages held too long are released. */
static bool fuzz_make_room(Fuzz *f, int q)
{
    if (f->s->ring[q].nfree >= FUZZ_SEGS_MAX &&
        f->s->pending[q] + 1 < f->s->vq[q]->size) {
        return true;
    }
    switch (q) {
    case VIRTIO_SND_VQ_TX:
    case VIRTIO_SND_VQ_RX:
        fuzz_release_all(f);
        return true;
    case VIRTIO_SND_VQ_EVENT:
        /* Only xruns take these: wait for them, or a reset. */
        return f->s->ring[q].nfree >= 4;
    default:
        return true;
    }
}

static uint32_t fuzz_env(const char *name, uint32_t dflt)
{
    const char *v = g_getenv(name);

    if (!v || !*v) {
        return dflt;
    }
    if (!strcmp(v, "random")) {
        return g_random_int();
    }
    return g_ascii_strtoull(v, NULL, 0);
}

/*
 * Fuzz @count operations; with @migrate_every, migrate the device to a
 * new QEMU after every that many, whatever it holds, and go on there.
 */
static void fuzz_run(uint32_t count, uint32_t migrate_every)
{
    g_autofree Fuzz *f = g_new0(Fuzz, 1);
    uint32_t seed = fuzz_env("QTEST_VSND_FUZZ_SEED", FUZZ_SEED_DEFAULT);
    gint64 start = g_get_monotonic_time();
    unsigned long migrations = 0;
    int q;

    g_test_message("fuzz: seed %u, %u operations (replay with "
                   "QTEST_VSND_FUZZ_SEED=%u QTEST_VSND_FUZZ_%sCOUNT=%u)",
                   seed, count, seed, migrate_every ? "MIGRATE_" : "", count);
    f->rand = g_rand_new_with_seed(seed);
    f->verbose = fuzz_env("QTEST_VSND_FUZZ_VERBOSE", 0);
    f->s = vsnd_start("");
    check_config(f->s, FUZZ_JACKS, FUZZ_STREAMS, FUZZ_CHMAPS);

    for (f->op = 0; f->op < count; f->op++) {
        uint32_t what = fz_below(f, 1000);

        if (what < 400) {
            fuzz_ctrl(f);
        } else if (what < 620) {
            if (fuzz_make_room(f, VIRTIO_SND_VQ_TX)) {
                fuzz_tx(f);
            }
        } else if (what < 800) {
            if (fuzz_make_room(f, VIRTIO_SND_VQ_RX)) {
                fuzz_rx(f);
            }
        } else if (what < 850) {
            if (fuzz_make_room(f, VIRTIO_SND_VQ_EVENT)) {
                fuzz_event(f);
            }
        } else if (what < 960) {
            uint64_t ns = fz_percent(f, 50) ? fz_below(f, 12 * MS)
                                             : fz_below(f, 200 * MS);

            fz_log(f, "clock step %" PRIu64 " ns", ns);
            qtest_clock_step(f->s->qts, ns);
            fuzz_drain_all(f);
            f->steps++;
        } else if (what < 985) {
            fuzz_walk(f);
        } else if (what < 998) {
            /* A notification with nothing new, or a late one. */
            q = fz_below(f, VIRTIO_SND_VQ_MAX);
            fz_log(f, "%s: notify", fuzz_queue_name[q]);
            fuzz_kick(f, q);
        } else if (what < 999) {
            fuzz_release_all(f);
        } else {
            fuzz_reset(f);
        }
        if (f->op % 1000 == 999) {
            g_assert_true(qtest_probe_child(f->s->qts));
        }
        if (migrate_every && f->op % migrate_every == migrate_every - 1) {
            fz_log(f, "migrate");
            vsnd_migrate(f->s, "none,id=snd0", "");
            migrations++;
        }
    }

    /* The device still works: it plays and records. */
    fuzz_release_all(f);
    io_cycle(f->s, 0);
    io_cycle(f->s, 1);
    g_assert_true(qtest_probe_child(f->s->qts));

    g_test_message("fuzz: %u operations in %.1f s: %lu ctrl, %lu event, "
                   "%lu tx, %lu rx chains (%lu, %lu, %lu, %lu returned, "
                   "%lu read back whole); replies %lu OK, %lu BAD_MSG, "
                   "%lu NOT_SUPP, %lu IO_ERR; %lu clock steps, %lu "
                   "releases, %lu chains breaking virtio, %lu resets",
                   count, (g_get_monotonic_time() - start) / 1e6,
                   f->sent[0], f->sent[1], f->sent[2], f->sent[3],
                   f->used[0], f->used[1], f->used[2], f->used[3], f->checked,
                   f->status[0], f->status[1], f->status[2], f->status[3],
                   f->steps, f->releases, f->broken, f->resets);
    if (migrate_every) {
        g_test_message("fuzz: %lu migrations", migrations);
    }
    for (q = 0; q < VIRTIO_SND_VQ_MAX; q++) {
        int i;

        for (i = 0; i < VQ_DESC_MAX; i++) {
            if (f->chain[q][i].mem) {
                guest_free(f->s->alloc, f->chain[q][i].mem);
            }
            g_free(f->chain[q][i].image);
        }
    }
    g_rand_free(f->rand);
    vsnd_stop(f->s);
}

static void test_fuzz(void)
{
    fuzz_run(fuzz_env("QTEST_VSND_FUZZ_COUNT", FUZZ_COUNT_DEFAULT), 0);
}

/* The fuzzer's states, I/O messages in flight included, migrate. */
static void test_fuzz_migrate(void)
{
    fuzz_run(fuzz_env("QTEST_VSND_FUZZ_MIGRATE_COUNT", 20000), 2000);
}

/*
 * Run QEMU with the space-separated @args after the machine options and
 * return its stderr; it must exit with a failure within 30 s.
 */
static char *qemu_must_fail(const char *args)
{
    static const char *const machine[] = {
        "-M", "pc", "-nic", "none", "-display", "none", "-accel", "qtest",
    };
    g_auto(GStrv) extra = g_strsplit(args, " ", -1);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    GString *out = g_string_new("");
    char buf[512];
    ssize_t n;
    GPid pid;
    int fd, status, i;

    g_ptr_array_add(argv, (char *)g_getenv("QTEST_QEMU_BINARY"));
    for (i = 0; i < ARRAY_SIZE(machine); i++) {
        g_ptr_array_add(argv, (char *)machine[i]);
    }
    for (i = 0; extra[i]; i++) {
        g_ptr_array_add(argv, extra[i]);
    }
    g_ptr_array_add(argv, NULL);
    g_assert(g_spawn_async_with_pipes(NULL, (char **)argv->pdata, NULL,
                                      G_SPAWN_DO_NOT_REAP_CHILD |
                                      G_SPAWN_STDOUT_TO_DEV_NULL,
                                      NULL, NULL, &pid, NULL, NULL, &fd,
                                      &err));
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (g_get_monotonic_time() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            g_assert_not_reached();
        }
        g_usleep(10 * 1000);
    }
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        g_string_append_len(out, buf, n);
    }
    close(fd);
    g_spawn_close_pid(pid);
    g_assert(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), !=, 0);
    return g_string_free(out, false);
}

/* Migration tests */

/*
 * Streams in every state cross over: a prepared playback stream with
 * messages queued, a running one in the middle of its messages, a stopped
 * capture stream and a released one; a control's value and the event it
 * raised (no event buffer was given) come along too.
 */
static void test_migration(void)
{
    const char *props = ",streams=4";
    VSnd *s = vsnd_start_with("none,id=snd0", props, F_CTLS);
    VSndMsg pre[2], run[3], cap, ev;
    uint32_t v[2];
    int i, done;

    /* Stream 0 (playback): prepared, two messages waiting for START. */
    g_assert_cmphex(set_params_std(s, 0), ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 0), ==,
                    VIRTIO_SND_S_OK);
    for (i = 0; i < 2; i++) {
        pre[i] = io_queue(s, VIRTIO_SND_VQ_TX, 0, PERIOD_BYTES, false);
    }
    /* Stream 2 (playback): running, three 20 ms messages, some played. */
    g_assert_cmphex(set_params_std(s, 2), ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 2), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, 2), ==,
                    VIRTIO_SND_S_OK);
    for (i = 0; i < 3; i++) {
        run[i] = io_queue(s, VIRTIO_SND_VQ_TX, 2, 2 * PERIOD_BYTES, false);
    }
    qtest_clock_step(s->qts, 15 * MS);
    for (done = 0; used_ready(s, VIRTIO_SND_VQ_TX); done++) {
        g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &run[done], STATUS_LEN),
                        ==, VIRTIO_SND_S_OK);
    }
    g_assert_cmpint(done, <, 3);
    /* Stream 1 (capture): stopped. Stream 3 (capture): released. */
    g_assert_cmphex(set_params_std(s, 1), ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(set_params_std(s, 3), ==, VIRTIO_SND_S_OK);
    for (i = 1; i <= 3; i += 2) {
        g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, i), ==,
                        VIRTIO_SND_S_OK);
    }
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, 1), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_STOP, 1), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_RELEASE, 3), ==,
                    VIRTIO_SND_S_OK);
    /* Stream 0's volume; its CTL_NOTIFY waits for an event buffer. */
    g_assert_cmphex(ctl_write(s, 0, 100, 80), ==, VIRTIO_SND_S_OK);
    g_assert_false(used_ready(s, VIRTIO_SND_VQ_TX));

    vsnd_migrate(s, "none,id=snd0", props);

    /* The pending event, then the control's value. */
    ev = event_queue(s);
    event_done(s, &ev, VIRTIO_SND_EVT_CTL_NOTIFY,
               0 | (1u << VIRTIO_SND_CTL_EVT_MASK_VALUE) << 16);
    g_assert_cmphex(ctl_read(s, 0, v), ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(v[0], ==, 100);
    g_assert_cmpuint(v[1], ==, 80);

    /* The running stream goes on by itself and returns its messages. */
    for (i = done; i < 3; i++) {
        step_until_used(s, VIRTIO_SND_VQ_TX, 1000);
        g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &run[i], STATUS_LEN),
                        ==, VIRTIO_SND_S_OK);
    }
    /* The prepared one still holds its messages until START. */
    qtest_clock_step(s->qts, 100 * MS);
    g_assert_false(used_ready(s, VIRTIO_SND_VQ_TX));
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, 0), ==,
                    VIRTIO_SND_S_OK);
    for (i = 0; i < 2; i++) {
        step_until_used(s, VIRTIO_SND_VQ_TX, 1000);
        g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &pre[i], STATUS_LEN),
                        ==, VIRTIO_SND_S_OK);
    }
    /* The stopped capture stream starts again and captures. */
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, 1), ==,
                    VIRTIO_SND_S_OK);
    cap = io_queue(s, VIRTIO_SND_VQ_RX, 1, PERIOD_BYTES, false);
    step_until_used(s, VIRTIO_SND_VQ_RX, 1000);
    g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_RX, &cap,
                            PERIOD_BYTES + STATUS_LEN), ==, VIRTIO_SND_S_OK);
    /* The released one cannot start but may be prepared again. */
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, 3), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 3), ==,
                    VIRTIO_SND_S_OK);
    vsnd_stop(s);
}

/* A destination with other properties refuses the migration and exits. */
static void test_migration_mismatch(void)
{
    VSnd *s = vsnd_start(",streams=4");
    g_autofree char *dir = g_dir_make_tmp("vsnd-migrate-XXXXXX", NULL);
    g_autofree char *sock = g_strdup_printf("%s/migrate.sock", dir);
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    QTestState *dst = vsnd_start_incoming("none,id=snd0", ",streams=2", uri);
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    qtest_set_expected_status(dst, EXIT_FAILURE);
    vsnd_migrate_out(s->qts, uri, true);
    while (qtest_probe_child(dst)) {
        g_assert(g_get_monotonic_time() < deadline);
        g_usleep(10 * 1000);
    }
    qtest_quit(dst);
    unlink(sock);
    rmdir(dir);
    vsnd_stop(s);
}

/*
 * "-audio none,model=virtio" gives the machine a virtio-sound-pci on the
 * audiodev -audio defines, as for QEMU's other sound cards.
 */
static void test_audio_model(void)
{
    QTestState *qts = qtest_init("-M pc -nic none -audio none,model=virtio");
    QDict *rsp = qtest_qmp(qts, "{'execute': 'query-pci'}");
    const QListEntry *e;
    QList *children;
    int found = 0;

    e = qlist_first(qdict_get_qlist(rsp, "return"));
    e = qlist_first(qdict_get_qlist(qobject_to(QDict, qlist_entry_obj(e)),
                                    "devices"));
    for (; e; e = qlist_next(e)) {
        QDict *dev = qobject_to(QDict, qlist_entry_obj(e));
        QDict *id = qdict_get_qdict(dev, "id");
        QDict *class = qdict_get_qdict(dev, "class_info");

        if (qdict_get_int(id, "vendor") == 0x1af4 &&     /* virtio */
            qdict_get_int(id, "device") == 0x1040 + VIRTIO_ID_SOUND) {
            g_assert_cmphex(qdict_get_int(class, "class"), ==,
                            PCI_CLASS_MULTIMEDIA_AUDIO);
            found++;
        }
    }
    g_assert_cmpint(found, ==, 1);
    qobject_unref(rsp);

    /* The device -audio made, on the audiodev it defined. */
    rsp = qtest_qmp(qts, "{'execute': 'qom-list', 'arguments': "
                    "{'path': '/machine/unattached'}}");
    children = qdict_get_qlist(rsp, "return");
    found = 0;
    for (e = qlist_first(children); e; e = qlist_next(e)) {
        QDict *prop = qobject_to(QDict, qlist_entry_obj(e));
        g_autofree char *path = NULL;
        QDict *val;

        if (g_strcmp0(qdict_get_str(prop, "type"),
                      "child<virtio-sound-pci>")) {
            continue;
        }
        path = g_strdup_printf("/machine/unattached/%s",
                               qdict_get_str(prop, "name"));
        val = qtest_qmp(qts, "{'execute': 'qom-get', 'arguments': "
                        "{'path': %s, 'property': 'audiodev'}}", path);
        g_assert_cmpstr(qdict_get_str(val, "return"), ==, "audiodev0");
        qobject_unref(val);
        found++;
    }
    g_assert_cmpint(found, ==, 1);
    qobject_unref(rsp);
    qtest_quit(qts);
}

static void test_bad_properties(void)
{
    g_autofree char *no_audiodev = NULL;
    g_autofree char *streams = NULL;

    no_audiodev = qemu_must_fail("-audiodev none,id=snd0 "
                                 "-device virtio-sound-pci");
#if QEMU_VERSION_MAJOR >= 10
    /* As upstream's: the default audiodev, and here there is none. */
    g_assert_nonnull(strstr(no_audiodev, "no default audio driver"));
#else
    g_assert_nonnull(strstr(no_audiodev, "needs an audio backend"));
#endif
    streams = qemu_must_fail("-audiodev none,id=snd0 "
                             "-device virtio-sound-pci,audiodev=snd0,"
                             "streams=0");
    g_assert_nonnull(strstr(streams, "streams must be 1 to"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/virtio-snd/config", test_config);
    qtest_add_func("/virtio-snd/config-props", test_config_props);
    qtest_add_func("/virtio-snd/pcm-info", test_pcm_info);
    qtest_add_func("/virtio-snd/pcm-channels", test_pcm_channels);
    qtest_add_func("/virtio-snd/jack-chmap-info", test_jack_chmap_info);
    qtest_add_func("/virtio-snd/playback", test_playback);
    qtest_add_func("/virtio-snd/returns-apart", test_returns_apart);
    qtest_add_func("/virtio-snd/capture", test_capture);
    qtest_add_func("/virtio-snd/xrun-event", test_xrun_event);
    qtest_add_func("/virtio-snd/capture-overrun", test_capture_overrun);
    qtest_add_func("/virtio-snd/odd-frames", test_odd_frames);
    qtest_add_func("/virtio-snd/latency-bytes", test_latency_bytes);
    qtest_add_func("/virtio-snd/malformed", test_malformed);
    qtest_add_func("/virtio-snd/prepare-first", test_prepare_first);
    qtest_add_func("/virtio-snd/reentry/tx", test_reentry_tx);
    qtest_add_func("/virtio-snd/reentry/rx", test_reentry_rx);
    qtest_add_func("/virtio-snd/reentry/event", test_reentry_event);
    qtest_add_func("/virtio-snd/reentry/ctrl", test_reentry_ctrl);
    qtest_add_func("/virtio-snd/bad-properties", test_bad_properties);
    qtest_add_func("/virtio-snd/audio-model", test_audio_model);
    qtest_add_func("/virtio-snd/ctl/config", test_ctl_config);
    qtest_add_func("/virtio-snd/ctl/info", test_ctl_info);
    qtest_add_func("/virtio-snd/ctl/values", test_ctl_values);
    qtest_add_func("/virtio-snd/ctl/tlv", test_ctl_tlv);
    qtest_add_func("/virtio-snd/ctl/volume-reaches-voice",
                   test_ctl_volume_reaches_voice);
    qtest_add_func("/virtio-snd/migration", test_migration);
    qtest_add_func("/virtio-snd/migration-mismatch", test_migration_mismatch);
    qtest_add_func("/virtio-snd/fuzz", test_fuzz);
    qtest_add_func("/virtio-snd/fuzz-migrate", test_fuzz_migrate);
    return g_test_run();
}
