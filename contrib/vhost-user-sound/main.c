/*
 * vhost-user-sound: a virtio-sound device (VIRTIO 1.2, 5.14) served from
 * a process of its own over vhost-user, to a VMM with a vhost-user-snd
 * front end (QEMU's vhost-user-snd-pci).
 *
 * The control queue is answered by the same core as QEMU's own
 * virtio-snd device (hw/audio/virtio-snd-core.c): the same validation,
 * the same statuses, the same PCM state machine and control elements.
 * Audio goes to a backend; this version has the null one, a card on the
 * host's monotonic clock that plays into nothing and records silence.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"

#include <glib-unix.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "libvhost-user-glib.h"
#include "standard-headers/linux/virtio_config.h"
#include "hw/audio/virtio-snd-core.h"

enum {
    VUS_QUEUE_CONTROL,
    VUS_QUEUE_EVENT,
    VUS_QUEUE_TX,
    VUS_QUEUE_RX,
    VUS_QUEUES,
};

#define VUS_STREAMS_MAX 64

/*
 * As QEMU's device: a line out and a mic jack, and the channel maps of
 * its first streams' channel counts (map i: i / 2 + 1 channels, output
 * for even i), here up to the two channels the streams offer.
 */
#define VUS_JACKS 2
#define VUS_CHMAPS 4

/* An I/O message the device holds until its audio has moved. */
typedef struct VusMsg {
    VuVirtqElement *elem;
    VSndXfer xfer;
    size_t done;                        /* data bytes played or recorded */
} VusMsg;

typedef struct VusDev VusDev;

typedef struct VusStream {
    VusDev *dev;
    uint32_t id;
    VSndPcmStream pcm;
    GQueue msgs;                        /* VusMsg, oldest first */
    /* The null card's clock: bytes moved since START, and when that was. */
    int64_t start_ns;
    uint64_t moved;
    guint tick;                         /* its GLib timeout; 0 when stopped */
} VusStream;

struct VusDev {
    VugDev vug;
    uint32_t streams;
    bool offer_ctls;
    VSndCtls *ctls;
    VusStream *stream;                  /* [streams] */
    int sock;                           /* the front end's; -1: none yet */
    GMainLoop *loop;
};

static VusDev *vus_of(VuDev *vu)
{
    return container_of(vu, VusDev, vug.parent);
}

static bool vus_is_output(const VusStream *s)
{
    return s->pcm.caps.direction == VIRTIO_SND_D_OUTPUT;
}

/* Giving messages back */

static void vus_push(VusDev *d, int queue, VuVirtqElement *elem, size_t len)
{
    VuDev *vu = &d->vug.parent;
    VuVirtq *vq = vu_get_queue(vu, queue);

    vu_queue_push(vu, vq, elem, len);
    vu_queue_notify(vu, vq);
    free(elem);
}

/* Give @m back with @status; for capture, its frames before the status. */
static void vus_msg_return(VusStream *s, VusMsg *m, uint32_t status)
{
    size_t len = vsnd_xfer_write_status(m->elem->in_sg, m->elem->in_num,
                                        &m->xfer, status, 0);

    if (len && !vus_is_output(s)) {
        len += m->done;
    }
    vus_push(s->dev, vus_is_output(s) ? VUS_QUEUE_TX : VUS_QUEUE_RX,
             m->elem, len);
    g_free(m);
}

static void vus_stream_return_all(VusStream *s)
{
    VusMsg *m;

    while ((m = g_queue_pop_head(&s->msgs))) {
        vus_msg_return(s, m, VIRTIO_SND_S_OK);
    }
}

/* The front end stopped the queues: what is held is the guest's no more. */
static void vus_stream_forget_all(VusStream *s)
{
    VusMsg *m;

    while ((m = g_queue_pop_head(&s->msgs))) {
        free(m->elem);
        g_free(m);
    }
}

static void vus_post_event(VusDev *d, uint32_t code, uint32_t data)
{
    VuDev *vu = &d->vug.parent;
    VuVirtqElement *elem;
    struct virtio_snd_event ev = {
        .hdr.code = cpu_to_le32(code),
        .data = cpu_to_le32(data),
    };
    size_t len;

    elem = vu_queue_pop(vu, vu_get_queue(vu, VUS_QUEUE_EVENT),
                        sizeof(*elem));
    if (!elem) {
        return;                         /* the guest listens to none now */
    }
    len = vsnd_iov_from_buf(elem->in_sg, elem->in_num, 0, &ev, sizeof(ev));
    vus_push(d, VUS_QUEUE_EVENT, elem, len);
}

/* The null card */

/* Whole frames of the stream the card's clock has moved since START. */
static uint64_t vus_null_due(VusStream *s)
{
    const VSndPcmParams *p = &s->pcm.params;
    uint64_t frame = MAX(vsnd_pcm_frame_bytes(p), 1);
    int64_t ns = g_get_monotonic_time() * 1000 - s->start_ns;

    return muldiv64(ns, vsnd_pcm_bytes_per_second(p), 1000000000) /
           frame * frame;
}

/*
 * Play (take) or record (silence) what the clock says, from the oldest
 * message on; a message goes back once less than a frame of it is left.
 * What the guest gave no message for is lost, as on a card.
 */
static gboolean vus_null_tick(gpointer opaque)
{
    VusStream *s = opaque;
    size_t frame = MAX(vsnd_pcm_frame_bytes(&s->pcm.params), 1);
    uint64_t due = vus_null_due(s);
    uint64_t owed = due - s->moved;
    VusMsg *m;

    while (owed && (m = g_queue_peek_head(&s->msgs))) {
        size_t n = MIN(m->xfer.data_len - m->done, owed);

        if (!vus_is_output(s)) {
            static const uint8_t zeros[4096];

            n = MIN(n, sizeof(zeros));
            vsnd_iov_from_buf(m->elem->in_sg, m->elem->in_num, m->done,
                              zeros, n);
        }
        m->done += n;
        owed -= n;
        if (m->xfer.data_len - m->done < frame) {
            g_queue_pop_head(&s->msgs);
            vus_msg_return(s, m, VIRTIO_SND_S_OK);
        }
    }
    s->moved = due;
    return G_SOURCE_CONTINUE;
}

static void vus_null_start(VusStream *s)
{
    uint32_t period_ms = vsnd_pcm_period_us(&s->pcm.params) / 1000;

    s->start_ns = g_get_monotonic_time() * 1000;
    s->moved = 0;
    s->tick = g_timeout_add(MAX(period_ms / 2, 1), vus_null_tick, s);
}

static void vus_null_stop(VusStream *s)
{
    if (s->tick) {
        g_source_remove(s->tick);
        s->tick = 0;
    }
}

/* The control queue: the core, and what its requests do here */

/* What the guest may address, with the controls if it took them. */
static VSndDeviceCounts vus_counts(VusDev *d)
{
    return (VSndDeviceCounts) {
        .jacks = VUS_JACKS,
        .streams = d->streams,
        .chmaps = VUS_CHMAPS,
        .controls = d->ctls->count,
        .ctls = d->vug.parent.features & (1ULL << VIRTIO_SND_F_CTLS),
    };
}

static VSndPcmStream *vus_core_pcm(void *opaque, uint32_t stream)
{
    VusDev *d = opaque;

    return &d->stream[stream].pcm;
}

static uint32_t vus_core_pcm_act(void *opaque, uint32_t stream,
                                 const VSndCtrlRequest *req,
                                 VSndPcmState next)
{
    VusStream *s = &((VusDev *)opaque)->stream[stream];

    switch (req->code) {
    case VIRTIO_SND_R_PCM_SET_PARAMS:
        /* Messages for the old parameters go back, as RELEASE would. */
        vus_stream_return_all(s);
        s->pcm.params = req->params;
        break;
    case VIRTIO_SND_R_PCM_START:
        vus_null_start(s);
        break;
    case VIRTIO_SND_R_PCM_STOP:
        vus_null_stop(s);
        break;
    case VIRTIO_SND_R_PCM_RELEASE:
        vus_stream_return_all(s);
        break;
    }
    return VIRTIO_SND_S_OK;
}

/* The guest changed a control: tell its other listeners. */
static void vus_core_ctl_changed(void *opaque, uint32_t ctl)
{
    vus_post_event(opaque, VIRTIO_SND_EVT_CTL_NOTIFY,
                   ctl | (1u << VIRTIO_SND_CTL_EVT_MASK_VALUE) << 16);
}

static const VSndCoreOps vus_core_ops = {
    .pcm = vus_core_pcm,
    .pcm_act = vus_core_pcm_act,
    .ctl_changed = vus_core_ctl_changed,
};

static void vus_handle_control(VuDev *vu, int qidx)
{
    VusDev *d = vus_of(vu);
    VuVirtq *vq = vu_get_queue(vu, qidx);
    VSndCore core = {
        .counts = vus_counts(d),
        .ctls = d->ctls,
        .ops = &vus_core_ops,
        .opaque = d,
    };
    VuVirtqElement *elem;

    while ((elem = vu_queue_pop(vu, vq, sizeof(*elem)))) {
        VSndCtrlRequest req;
        uint32_t status;
        size_t len = vsnd_core_ctrl(&core, elem->out_sg, elem->out_num,
                                    elem->in_sg, elem->in_num, &req, &status);

        vus_push(d, VUS_QUEUE_CONTROL, elem, len);
    }
}

/* The tx and rx queues */

static void vus_handle_data(VuDev *vu, int qidx)
{
    VusDev *d = vus_of(vu);
    VuVirtq *vq = vu_get_queue(vu, qidx);
    uint32_t dir = qidx == VUS_QUEUE_TX ? VIRTIO_SND_D_OUTPUT
                                        : VIRTIO_SND_D_INPUT;
    VuVirtqElement *elem;

    while ((elem = vu_queue_pop(vu, vq, sizeof(*elem)))) {
        size_t in_len = vsnd_iov_size(elem->in_sg, elem->in_num);
        VSndXfer xfer;
        uint32_t status;
        VusMsg *m;

        status = vsnd_xfer_parse(dir, d->streams, elem->out_sg,
                                 elem->out_num, in_len, &xfer);
        if (status == VIRTIO_SND_S_OK) {
            status = vsnd_xfer_check_stream(dir,
                                            &d->stream[xfer.stream_id].pcm);
        }
        if (status != VIRTIO_SND_S_OK) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "vhost-user-sound: bad %s message for stream %u\n",
                          dir == VIRTIO_SND_D_OUTPUT ? "tx" : "rx",
                          xfer.stream_id);
            vus_push(d, qidx, elem,
                     vsnd_xfer_write_status(elem->in_sg, elem->in_num,
                                            &xfer, status, 0));
            continue;
        }
        m = g_new0(VusMsg, 1);
        m->elem = elem;
        m->xfer = xfer;
        g_queue_push_tail(&d->stream[xfer.stream_id].msgs, m);
    }
}

/* The device */

static void vus_streams_reset(VusDev *d)
{
    uint32_t i;

    for (i = 0; i < d->streams; i++) {
        VusStream *s = &d->stream[i];

        vus_null_stop(s);
        vus_stream_forget_all(s);
        vsnd_pcm_default_params(&s->pcm.caps, &s->pcm.params);
        s->pcm.state = VSND_PCM_STATE_PARAMS_SET;
    }
    vsnd_ctls_reset(d->ctls);
}

static uint64_t vus_get_features(VuDev *vu)
{
    VusDev *d = vus_of(vu);

    return (1ULL << VIRTIO_F_VERSION_1) |
           (1ULL << VHOST_USER_F_PROTOCOL_FEATURES) |
           (d->offer_ctls ? 1ULL << VIRTIO_SND_F_CTLS : 0);
}

static uint64_t vus_get_protocol_features(VuDev *vu)
{
    return (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |
           (1ULL << VHOST_USER_PROTOCOL_F_MQ);
}

static int vus_get_config(VuDev *vu, uint8_t *config, uint32_t len)
{
    VusDev *d = vus_of(vu);
    VSndDeviceCounts counts = vus_counts(d);
    struct virtio_snd_config cfg = {
        .jacks = cpu_to_le32(counts.jacks),
        .streams = cpu_to_le32(counts.streams),
        .chmaps = cpu_to_le32(counts.chmaps),
        .controls = cpu_to_le32(d->offer_ctls ? counts.controls : 0),
    };

    if (len > VHOST_USER_MAX_CONFIG_SIZE) {
        return -EINVAL;
    }
    memset(config, 0, len);
    memcpy(config, &cfg, MIN(len, sizeof(cfg)));
    return 0;
}

/* The configuration space is read-only. */
static int vus_set_config(VuDev *vu, const uint8_t *data, uint32_t offset,
                          uint32_t size, uint32_t flags)
{
    return -EPERM;
}

static void vus_queue_set_started(VuDev *vu, int qidx, bool started)
{
    VusDev *d = vus_of(vu);
    static const vu_queue_handler_cb handlers[VUS_QUEUES] = {
        [VUS_QUEUE_CONTROL] = vus_handle_control,
        [VUS_QUEUE_TX] = vus_handle_data,
        [VUS_QUEUE_RX] = vus_handle_data,
    };

    if (qidx < 0 || qidx >= VUS_QUEUES) {
        return;
    }
    vu_set_queue_handler(vu, vu_get_queue(vu, qidx),
                         started ? handlers[qidx] : NULL);
    /* The front end stops the control queue when the device resets. */
    if (!started && qidx == VUS_QUEUE_CONTROL) {
        vus_streams_reset(d);
    }
}

static const VuDevIface vus_iface = {
    .get_features = vus_get_features,
    .get_protocol_features = vus_get_protocol_features,
    .get_config = vus_get_config,
    .set_config = vus_set_config,
    .queue_set_started = vus_queue_set_started,
};

/* The front end went away, or broke the protocol: nothing left to serve. */
static void vus_panic(VuDev *vu, const char *why)
{
    VusDev *d = vus_of(vu);

    g_printerr("vhost-user-sound: %s\n", why);
    vus_streams_reset(d);
    g_main_loop_quit(d->loop);
}

static void vus_dev_init(VusDev *d, uint32_t streams, bool offer_ctls)
{
    g_autofree uint8_t *dirs = g_new(uint8_t, streams);
    uint32_t i;

    d->streams = streams;
    d->offer_ctls = offer_ctls;
    d->stream = g_new0(VusStream, streams);
    for (i = 0; i < streams; i++) {
        VusStream *s = &d->stream[i];

        s->dev = d;
        s->id = i;
        /* As QEMU's device: even streams play, odd ones record. */
        dirs[i] = i & 1 ? VIRTIO_SND_D_INPUT : VIRTIO_SND_D_OUTPUT;
        s->pcm.caps = (VSndPcmCaps) {
            .formats = VSND_PCM_FORMATS_SUPPORTED,
            .rates = VSND_PCM_RATES_ALL,
            .direction = dirs[i],
            .channels_min = 1,
            .channels_max = 2,
        };
        g_queue_init(&s->msgs);
    }
    d->ctls = vsnd_ctls_new(dirs, streams);
    vus_streams_reset(d);
}

/* Options, the socket, the main loop */

static char *opt_socket_path;
static int opt_fd = -1;
static int opt_streams = 2;
static char *opt_backend;
static gboolean opt_controls;
static gboolean opt_print_caps;

static GOptionEntry vus_options[] = {
    { "socket-path", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket_path,
      "listen on the UNIX socket PATH (created 0600)", "PATH" },
    { "fd", 'f', 0, G_OPTION_ARG_INT, &opt_fd,
      "serve the connected vhost-user socket FD", "FD" },
    { "streams", 0, 0, G_OPTION_ARG_INT, &opt_streams,
      "PCM streams: even ones play, odd ones record (default 2)", "N" },
    { "backend", 'b', 0, G_OPTION_ARG_STRING, &opt_backend,
      "where the audio goes: null (default)", "NAME" },
    { "controls", 0, 0, G_OPTION_ARG_NONE, &opt_controls,
      "offer a volume and a mute per stream (VIRTIO_SND_F_CTLS); the front "
      "end needs controls=on", NULL },
    { "print-capabilities", 'c', 0, G_OPTION_ARG_NONE, &opt_print_caps,
      "print the vhost-user capabilities as JSON and exit", NULL },
    { NULL }
};

/* Listen on @path, created 0600 (the guest's audio goes through it). */
static int vus_listen(const char *path, Error **errp)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int lsock;
    mode_t mask;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        error_setg(errp, "socket path too long: %s", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    lsock = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lsock < 0) {
        error_setg_errno(errp, errno, "socket");
        return -1;
    }
    unlink(path);
    mask = umask(0177);
    if (bind(lsock, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        listen(lsock, 1) < 0) {
        error_setg_errno(errp, errno, "%s", path);
        close(lsock);
        lsock = -1;
    }
    umask(mask);
    return lsock;
}

/* Serve the vhost-user connection @sock; false if it cannot be. */
static bool vus_serve(VusDev *d, int sock)
{
    if (!vug_init(&d->vug, VUS_QUEUES, sock, vus_panic, &vus_iface)) {
        g_printerr("vhost-user-sound: could not start serving\n");
        close(sock);
        return false;
    }
    d->sock = sock;
    return true;
}

/* A front end connects: serve it, and take no other. */
static gboolean vus_on_connect(gint lsock, GIOCondition cond, gpointer opaque)
{
    VusDev *d = opaque;
    int sock = accept(lsock, NULL, NULL);

    if (sock < 0) {
        if (errno == EINTR || errno == EAGAIN) {
            return G_SOURCE_CONTINUE;
        }
        g_printerr("vhost-user-sound: accept: %s\n", g_strerror(errno));
    }
    if (sock < 0 || !vus_serve(d, sock)) {
        g_main_loop_quit(d->loop);
    }
    return G_SOURCE_REMOVE;
}

static gboolean vus_on_signal(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = NULL;
    g_autoptr(GError) err = NULL;
    Error *local_err = NULL;
    VusDev dev = { .sock = -1 };
    int lsock = -1;

    error_init(argv[0]);
    ctx = g_option_context_new("- a virtio-sound device over vhost-user");
    g_option_context_add_main_entries(ctx, vus_options, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        g_printerr("vhost-user-sound: %s\n", err->message);
        return 2;
    }
    if (opt_print_caps) {
        printf("{\n  \"type\": \"sound\"\n}\n");
        return 0;
    }
    if (!opt_socket_path == (opt_fd < 0)) {
        g_printerr("vhost-user-sound: give one of --socket-path and --fd\n");
        return 2;
    }
    if (opt_streams < 1 || opt_streams > VUS_STREAMS_MAX) {
        g_printerr("vhost-user-sound: --streams %d: not a number from 1 to "
                   "%d\n", opt_streams, VUS_STREAMS_MAX);
        return 2;
    }
    if (opt_backend && strcmp(opt_backend, "null")) {
        g_printerr("vhost-user-sound: --backend %s: not one of: null\n",
                   opt_backend);
        return 2;
    }
    /* Guest errors go to stderr, as QEMU's -d guest_errors would. */
    qemu_set_log(LOG_GUEST_ERROR, &error_fatal);

    vus_dev_init(&dev, opt_streams, opt_controls);
    dev.loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGTERM, vus_on_signal, dev.loop);
    g_unix_signal_add(SIGINT, vus_on_signal, dev.loop);
    if (opt_socket_path) {
        lsock = vus_listen(opt_socket_path, &local_err);
        if (lsock < 0) {
            error_report_err(local_err);
            return 1;
        }
        g_unix_fd_add(lsock, G_IO_IN, vus_on_connect, &dev);
    } else if (!vus_serve(&dev, opt_fd)) {
        return 1;
    }
    g_main_loop_run(dev.loop);

    if (lsock >= 0) {
        close(lsock);
        unlink(opt_socket_path);
    }
    vus_streams_reset(&dev);
    if (dev.sock >= 0) {
        vug_deinit(&dev.vug);
        close(dev.sock);
    }
    vsnd_ctls_free(dev.ctls);
    g_free(dev.stream);
    g_main_loop_unref(dev.loop);
    return 0;
}
