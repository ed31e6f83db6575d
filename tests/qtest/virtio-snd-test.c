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
#include "hw/pci/pci_regs.h"
#include "libqos/libqos-pc.h"
#include "libqos/virtio.h"
#include "libqos/virtio-pci.h"
#include "standard-headers/linux/virtio_config.h"
#include "standard-headers/linux/virtio_ids.h"
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
#define RATES_EXPECTED 0xffffULL     /* all 16 rates the spec defines */

typedef struct VSnd {
    QOSState *qs;
    QTestState *qts;
    QGuestAllocator *alloc;
    QVirtioPCIDevice *dev;
    QVirtQueue *vq[VIRTIO_SND_VQ_MAX];
    unsigned int pending[VIRTIO_SND_VQ_MAX];    /* chains the device holds */
} VSnd;

/* An I/O message: header, frames and status, in one guest allocation. */
typedef struct VSndMsg {
    uint32_t head;
    uint64_t addr;
    uint32_t data_len;
} VSndMsg;

/* Setup and teardown */

static VSnd *vsnd_start(const char *props)
{
    VSnd *s = g_new0(VSnd, 1);
    QPCIAddress addr = { .devfn = QPCI_DEVFN(PCI_SLOT_SND, 0) };
    QVirtioDevice *vdev;
    int i;

    s->qs = qtest_pc_boot("-M pc -nic none -audiodev none,id=snd0 "
                          "-device virtio-sound-pci,audiodev=snd0,addr=%x.0%s",
                          PCI_SLOT_SND, props);
    s->qts = s->qs->qts;
    s->alloc = &s->qs->alloc;
    s->dev = virtio_pci_new(s->qs->pcibus, &addr);
    g_assert_nonnull(s->dev);
    vdev = &s->dev->vdev;
    g_assert_cmpint(vdev->device_type, ==, VIRTIO_ID_SOUND);

    qvirtio_pci_device_enable(s->dev);
    qvirtio_start_device(vdev);
    g_assert(qvirtio_get_features(vdev) & (1ull << VIRTIO_F_VERSION_1));
    qvirtio_set_features(vdev, 1ull << VIRTIO_F_VERSION_1);
    for (i = 0; i < VIRTIO_SND_VQ_MAX; i++) {
        s->vq[i] = qvirtqueue_setup(vdev, s->alloc, i);
    }
    qvirtio_set_driver_ok(vdev);
    return s;
}

static void vsnd_stop(VSnd *s)
{
    int i;

    for (i = 0; i < VIRTIO_SND_VQ_MAX; i++) {
        qvirtqueue_cleanup(s->dev->vdev.bus, s->vq[i], s->alloc);
    }
    qvirtio_pci_destructor(&s->dev->obj);
    g_free(s->dev);
    qtest_shutdown(s->qs);
    g_free(s);
}

/* Virtqueue helpers */

/*
 * libqos hands out descriptors in order and never reuses them: start
 * again at descriptor 0 when a chain of @n would run past the table,
 * which is only safe once the device has given every chain back.
 */
static void vq_reserve(VSnd *s, int q, unsigned int n)
{
    QVirtQueue *vq = s->vq[q];

    if (vq->free_head + n > vq->size) {
        g_assert_cmpuint(s->pending[q], ==, 0);
        vq->free_head = 0;
        vq->num_free = vq->size;
    }
}

/* Whether the device has put an element on @q's used ring we did not take. */
static bool used_ready(VSnd *s, int q)
{
    QVirtQueue *vq = s->vq[q];

    return qtest_readw(s->qts, vq->used + offsetof(struct vring_used, idx)) !=
           vq->last_used_idx;
}

/* Take the next used element of @q, which must be @head; returns its length. */
static uint32_t wait_used(VSnd *s, int q, uint32_t head)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    uint32_t got, len;

    while (!qvirtqueue_get_buf(s->qts, s->vq[q], &got, &len)) {
        g_assert(g_get_monotonic_time() < deadline);
        g_usleep(100);
    }
    g_assert_cmpuint(got, ==, head);
    s->pending[q]--;
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
    QVirtQueue *vq = s->vq[VIRTIO_SND_VQ_CONTROL];
    uint64_t addr = guest_alloc(s->alloc, req_len + reply_len);
    uint32_t head, len;

    qtest_memwrite(s->qts, addr, req, req_len);
    qtest_memset(s->qts, addr + req_len, 0xa5, reply_len);
    vq_reserve(s, VIRTIO_SND_VQ_CONTROL, 2);
    head = qvirtqueue_add(s->qts, vq, addr, req_len, false, reply_len > 0);
    if (reply_len) {
        qvirtqueue_add(s->qts, vq, addr + req_len, reply_len, true, false);
    }
    qvirtqueue_kick(s->qts, &s->dev->vdev, vq, head);
    s->pending[VIRTIO_SND_VQ_CONTROL]++;
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
    QVirtQueue *vq = s->vq[q];
    bool tx = q == VIRTIO_SND_VQ_TX;
    VSndMsg m = { .data_len = data_len };

    m.addr = guest_alloc(s->alloc, XFER_LEN + data_len + STATUS_LEN);
    qtest_writel(s->qts, m.addr, cpu_to_le32(stream));
    qtest_memset(s->qts, m.addr + XFER_LEN, tx ? 0x11 : 0xa5, data_len);
    qtest_memset(s->qts, m.addr + XFER_LEN + data_len, 0xff, STATUS_LEN);

    vq_reserve(s, q, 4);
    if (split_hdr) {
        m.head = qvirtqueue_add(s->qts, vq, m.addr, 2, false, true);
        qvirtqueue_add(s->qts, vq, m.addr + 2, XFER_LEN - 2, false, true);
    } else {
        m.head = qvirtqueue_add(s->qts, vq, m.addr, XFER_LEN, false, true);
    }
    if (data_len) {
        qvirtqueue_add(s->qts, vq, m.addr + XFER_LEN, data_len, !tx, true);
    }
    qvirtqueue_add(s->qts, vq, m.addr + XFER_LEN + data_len, STATUS_LEN,
                   true, false);
    qvirtqueue_kick(s->qts, &s->dev->vdev, vq, m.head);
    s->pending[q]++;
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
    QVirtQueue *vq = s->vq[VIRTIO_SND_VQ_EVENT];
    VSndMsg m = { .data_len = sizeof(struct virtio_snd_event) };

    m.addr = guest_alloc(s->alloc, m.data_len);
    qtest_memset(s->qts, m.addr, 0xff, m.data_len);
    vq_reserve(s, VIRTIO_SND_VQ_EVENT, 1);
    m.head = qvirtqueue_add(s->qts, vq, m.addr, m.data_len, true, false);
    qvirtqueue_kick(s->qts, &s->dev->vdev, vq, m.head);
    s->pending[VIRTIO_SND_VQ_EVENT]++;
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
        g_assert_cmpuint(info[i].channels_max, ==, 8);
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

static void test_jack_chmap_info(void)
{
    VSnd *s = vsnd_start("");
    struct virtio_snd_jack_info jack[2];
    struct virtio_snd_chmap_info map[16];
    static const uint8_t eight[8] = {
        VIRTIO_SND_CHMAP_FL, VIRTIO_SND_CHMAP_FR, VIRTIO_SND_CHMAP_RL,
        VIRTIO_SND_CHMAP_RR, VIRTIO_SND_CHMAP_FC, VIRTIO_SND_CHMAP_LFE,
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
    g_assert_cmpuint(map[0].positions[0], ==, VIRTIO_SND_CHMAP_FC);
    g_assert_cmpmem(map[3].positions, 2, eight, 2);
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

static void test_capture(void)
{
    VSnd *s = vsnd_start("");
    g_autofree uint8_t *data = g_malloc(PERIOD_BYTES);
    VSndMsg m[3];
    int i, j;

    g_assert_cmphex(set_params_std(s, 1), ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 1), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, 1), ==,
                    VIRTIO_SND_S_OK);
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

    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_STOP, 1), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_RELEASE, 1), ==,
                    VIRTIO_SND_S_OK);
    vsnd_stop(s);
}

/* A playback stream that runs dry reports one xrun, if asked to. */
static void test_xrun_event(void)
{
    VSnd *s = vsnd_start("");
    VSndMsg ev[2], m;
    int i;

    for (i = 0; i < 2; i++) {
        ev[i] = event_queue(s);
    }
    g_assert_cmphex(set_params(s, 0, 1u << VIRTIO_SND_PCM_F_EVT_XRUNS, 2,
                               VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES,
                               BUFFER_BYTES), ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 0), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, 0), ==,
                    VIRTIO_SND_S_OK);

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

/* A whole playback cycle with one message; checks the device still works. */
static void playback_cycle(VSnd *s)
{
    VSndMsg m;

    g_assert_cmphex(set_params_std(s, 0), ==, VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 0), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_START, 0), ==,
                    VIRTIO_SND_S_OK);
    m = io_queue(s, VIRTIO_SND_VQ_TX, 0, PERIOD_BYTES, false);
    step_until_used(s, VIRTIO_SND_VQ_TX, 1000);
    g_assert_cmphex(io_done(s, VIRTIO_SND_VQ_TX, &m, STATUS_LEN), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_STOP, 0), ==,
                    VIRTIO_SND_S_OK);
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_RELEASE, 0), ==,
                    VIRTIO_SND_S_OK);
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

    /* The lifecycle order: parameters first, START only when prepared. */
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 0), ==,
                    VIRTIO_SND_S_BAD_MSG);
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
                               VIRTIO_SND_PCM_RATE_24000 + 1, PERIOD_BYTES,
                               BUFFER_BYTES), ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(set_params(s, 0, 0, 2, VIRTIO_SND_PCM_FMT_IMA_ADPCM,
                               VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES,
                               BUFFER_BYTES), ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(set_params(s, 0, 0, 2, VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES,
                               BUFFER_BYTES + FRAME_BYTES), ==,
                    VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(set_params(s, 0, 0, 2, VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, 0, BUFFER_BYTES),
                    ==, VIRTIO_SND_S_BAD_MSG);
    g_assert_cmphex(set_params(s, 0, 1u << VIRTIO_SND_PCM_F_SHMEM_HOST, 2,
                               VIRTIO_SND_PCM_FMT_S16,
                               VIRTIO_SND_PCM_RATE_48000, PERIOD_BYTES,
                               BUFFER_BYTES), ==, VIRTIO_SND_S_BAD_MSG);
    /* Still no parameters, so still no PREPARE. */
    g_assert_cmphex(pcm_cmd(s, VIRTIO_SND_R_PCM_PREPARE, 0), ==,
                    VIRTIO_SND_S_BAD_MSG);

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
    playback_cycle(s);
    vsnd_stop(s);
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

static void test_bad_properties(void)
{
    g_autofree char *no_audiodev = NULL;
    g_autofree char *streams = NULL;

    no_audiodev = qemu_must_fail("-audiodev none,id=snd0 "
                                 "-device virtio-sound-pci");
    g_assert_nonnull(strstr(no_audiodev, "needs an audio backend"));
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
    qtest_add_func("/virtio-snd/jack-chmap-info", test_jack_chmap_info);
    qtest_add_func("/virtio-snd/playback", test_playback);
    qtest_add_func("/virtio-snd/capture", test_capture);
    qtest_add_func("/virtio-snd/xrun-event", test_xrun_event);
    qtest_add_func("/virtio-snd/malformed", test_malformed);
    qtest_add_func("/virtio-snd/bad-properties", test_bad_properties);
    return g_test_run();
}
