/*
 * vhost-user-sound: a virtio-sound device (VIRTIO 1.2, 5.14) served from
 * a process of its own over vhost-user, to a VMM with a vhost-user-snd
 * front end (QEMU's vhost-user-snd-pci).
 *
 * The guest's requests are answered by the same code as QEMU's own
 * virtio-snd device: the control queue and the checks of I/O messages by
 * hw/audio/virtio-snd-core.c (the same validation, statuses, PCM state
 * machine and control elements), and each stream's I/O messages move
 * through hw/audio/virtio-snd-io.c (the same pacing, return timing,
 * latency and xruns), to and from its backend (vus.h): PipeWire, or a
 * null card. The streams' clock is the host's monotonic clock.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"
#include "qemu/timer.h"

#include <glib-unix.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>

#include "libvhost-user-glib.h"
#include "standard-headers/linux/virtio_config.h"
#include "hw/audio/virtio-snd-core.h"
#include "hw/audio/virtio-snd-io.h"
#include "vus.h"

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
    VSndIoMsg msg;
} VusMsg;

typedef struct VusDev {
    VugDev vug;
    const VusBackend *backend;
    uint32_t streams;
    bool offer_ctls;
    VSndCtls *ctls;
    VusStream *stream;                  /* [streams] */
    int sock;                           /* the front end's; -1: none yet */
    GMainLoop *loop;
} VusDev;

/* The device this process serves. */
static VusDev vus_dev = { .sock = -1 };

static VusDev *vus_of(VuDev *vu)
{
    return container_of(vu, VusDev, vug.parent);
}

static bool vus_is_output(const VusStream *s)
{
    return s->io.pcm.caps.direction == VIRTIO_SND_D_OUTPUT;
}

/* The queue a stream's messages come on. */
static int vus_data_queue(const VusStream *s)
{
    return vus_is_output(s) ? VUS_QUEUE_TX : VUS_QUEUE_RX;
}

/* Giving messages back */

/*
 * Whether queue @qidx can take messages back and tell the guest: started,
 * and with the front end's notifier, which comes after the queue starts
 * (libvhost-user gives up the connection on a notify without one).
 */
static bool vus_queue_ready(VusDev *d, int qidx)
{
    VuVirtq *vq = vu_get_queue(&d->vug.parent, qidx);

    return vu_queue_started(&d->vug.parent, vq) && vq->call_fd >= 0;
}

static void vus_push(VusDev *d, int queue, VuVirtqElement *elem, size_t len)
{
    VuDev *vu = &d->vug.parent;
    VuVirtq *vq = vu_get_queue(vu, queue);

    vu_queue_push(vu, vq, elem, len);
    if (vq->call_fd >= 0) {
        vu_queue_notify(vu, vq);
    }
    free(elem);
}

/* A reset, or the front end gone: what is held is the guest's no more. */
static void vus_stream_forget_all(VusStream *s)
{
    VSndIoMsg *m;

    while ((m = vsnd_io_pop(&s->io))) {
        VusMsg *vm = container_of(m, VusMsg, msg);

        free(vm->elem);
        g_free(vm);
    }
}

/*
 * Tell the guest of an event, if it has given a buffer for it: unlike
 * QEMU's device, which keeps 32 until it does, the daemon keeps none
 * (Linux's driver keeps its event queue full).
 */
static void vus_post_event(VusDev *d, uint32_t code, uint32_t data)
{
    VuDev *vu = &d->vug.parent;
    VuVirtqElement *elem;
    struct virtio_snd_event ev = {
        .hdr.code = cpu_to_le32(code),
        .data = cpu_to_le32(data),
    };
    size_t len;

    if (!vus_queue_ready(d, VUS_QUEUE_EVENT)) {
        return;                         /* stopped: its ring is not ours */
    }
    elem = vu_queue_pop(vu, vu_get_queue(vu, VUS_QUEUE_EVENT),
                        sizeof(*elem));
    if (!elem) {
        return;                         /* the guest listens to none now */
    }
    len = vsnd_iov_from_buf(elem->in_sg, elem->in_num, 0, &ev, sizeof(ev));
    vus_push(d, VUS_QUEUE_EVENT, elem, len);
}

/* Moving audio: the streams' messages (virtio-snd-io.c) and the backend */

static VusStream *vus_stream_of(VSndIoStream *io)
{
    return container_of(io, VusStream, io);
}

/*
 * The streams' clock: the host's CLOCK_MONOTONIC, which the wake timers
 * count on and which goes on while the VM stops.
 */
static int64_t vus_now_ns(void)
{
    return get_clock();
}

static size_t vus_io_play(VSndIoStream *io, const uint8_t *buf, size_t len)
{
    vus_dev.backend->move(vus_stream_of(io), (uint8_t *)buf, len);
    return len;
}

static size_t vus_io_capture(VSndIoStream *io, uint8_t *buf, size_t len)
{
    vus_dev.backend->move(vus_stream_of(io), buf, len);
    return len;
}

static void vus_io_complete(VSndIoStream *io, VSndIoMsg *m, size_t len,
                            uint32_t status, uint32_t latency)
{
    VusMsg *vm = container_of(m, VusMsg, msg);

    vus_push(&vus_dev, vus_data_queue(vus_stream_of(io)), vm->elem, len);
    g_free(vm);
}

static void vus_io_xrun(VSndIoStream *io)
{
    if (io->pcm.params.features & (1u << VIRTIO_SND_PCM_F_EVT_XRUNS)) {
        vus_post_event(&vus_dev, VIRTIO_SND_EVT_PCM_XRUN,
                       vus_stream_of(io)->id);
    }
}

/*
 * A capture message waiting for its time goes back at that time, to the
 * nanosecond: GLib's timeouts count in milliseconds, and 4.5 ms rounded
 * up to 5 ms (a 5 ms period) had the guest record 6 % slow.
 */
static gboolean vus_stream_woken(gint fd, GIOCondition cond, gpointer opaque)
{
    VusStream *s = opaque;
    uint64_t expirations;

    if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN) {
        return G_SOURCE_REMOVE;
    }
    if (vus_queue_ready(&vus_dev, vus_data_queue(s))) {
        vsnd_io_wake(&s->io, vus_now_ns());
    }
    return G_SOURCE_CONTINUE;
}

/* Arm (@due_ns, on the streams' clock) or with 0 disarm @s's timer. */
static void vus_stream_wake_set(VusStream *s, int64_t due_ns)
{
    struct itimerspec at = {
        .it_value = {
            .tv_sec = due_ns / NANOSECONDS_PER_SECOND,
            .tv_nsec = due_ns % NANOSECONDS_PER_SECOND,
        },
    };

    timerfd_settime(s->wake_fd, TFD_TIMER_ABSTIME, &at, NULL);
}

static void vus_io_wake_at(VSndIoStream *io, int64_t due_ns)
{
    vus_stream_wake_set(vus_stream_of(io), MAX(due_ns, 1));
}

static size_t vus_io_held(VSndIoStream *io)
{
    return vus_dev.backend->held(vus_stream_of(io));
}

static const VSndIoOps vus_io_ops = {
    .play = vus_io_play,
    .held = vus_io_held,
    .capture = vus_io_capture,
    .complete = vus_io_complete,
    .xrun = vus_io_xrun,
    .wake_at = vus_io_wake_at,
};

/*
 * Move what the backend allows between a running stream's messages and
 * the backend. A stopped queue (the VM stopped) can take nothing back:
 * the stream waits, and its backend's next run after the restart goes on.
 */
void vus_stream_run(VusStream *s)
{
    size_t avail;

    if (s->io.pcm.state != VSND_PCM_STATE_RUNNING ||
        !vus_queue_ready(&vus_dev, vus_data_queue(s))) {
        return;
    }
    avail = vus_dev.backend->avail(s);
    if (vus_is_output(s)) {
        vsnd_io_play(&s->io, avail, vus_now_ns());
    } else {
        vsnd_io_record(&s->io, avail, vus_now_ns());
    }
}

/* Whole frames' bytes a stream of @params moves from @start_us to now. */
static uint64_t vus_clock_due(const VSndPcmParams *params, int64_t start_us)
{
    uint64_t frame = MAX(vsnd_pcm_frame_bytes(params), 1);
    int64_t us = MAX(g_get_monotonic_time() - start_us, 0);

    return muldiv64(us, vsnd_pcm_bytes_per_second(params), 1000000) /
           frame * frame;
}

void vus_clock_start(VusClock *c)
{
    c->start_us = g_get_monotonic_time();
    c->moved = 0;
}

uint64_t vus_clock_avail(const VusClock *c, const VSndPcmParams *params)
{
    return vus_clock_due(params, c->start_us) - c->moved;
}

void vus_clock_catch_up(VusClock *c, const VSndPcmParams *params)
{
    c->moved = MAX(c->moved, vus_clock_due(params, c->start_us));
}

static gboolean vus_stream_run_once(gpointer opaque)
{
    vus_stream_run(opaque);
    return G_SOURCE_REMOVE;
}

/* Whether the guest took the control elements (VIRTIO_SND_F_CTLS). */
static bool vus_ctls_negotiated(VusDev *d)
{
    return d->vug.parent.features & (1ULL << VIRTIO_SND_F_CTLS);
}

/* The stream's volume and mute, from its controls, to its backend. */
static void vus_stream_apply_volume(VusStream *s)
{
    VSndCtlStreamVolume sv;

    if (!vus_ctls_negotiated(&vus_dev)) {
        return;
    }
    vsnd_ctls_stream_volume(vus_dev.ctls, s->id, s->io.pcm.params.channels,
                            &sv);
    vus_dev.backend->volume(s, sv.mute, sv.level, sv.channels);
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
        .ctls = vus_ctls_negotiated(d),
    };
}

static VSndPcmStream *vus_core_pcm(void *opaque, uint32_t stream)
{
    VusDev *d = opaque;

    return &d->stream[stream].io.pcm;
}

static uint32_t vus_core_pcm_act(void *opaque, uint32_t stream,
                                 const VSndCtrlRequest *req,
                                 VSndPcmState next)
{
    VusStream *s = &((VusDev *)opaque)->stream[stream];

    switch (req->code) {
    case VIRTIO_SND_R_PCM_SET_PARAMS:
        /* Messages for the old parameters go back, as RELEASE would. */
        vus_dev.backend->release(s);
        vsnd_io_return_all(&s->io);
        s->io.pcm.params = req->params;
        break;
    case VIRTIO_SND_R_PCM_PREPARE:
        if (!vus_dev.backend->prepare(s)) {
            return VIRTIO_SND_S_IO_ERR;
        }
        vus_stream_apply_volume(s);
        break;
    case VIRTIO_SND_R_PCM_START:
        vsnd_io_start(&s->io, vus_now_ns());
        vus_dev.backend->start(s);
        /* What the guest gave before, once the core has made it RUNNING. */
        g_idle_add(vus_stream_run_once, s);
        break;
    case VIRTIO_SND_R_PCM_STOP:
        vsnd_io_set_active(&s->io, false, vus_now_ns());
        vus_dev.backend->stop(s);
        break;
    case VIRTIO_SND_R_PCM_RELEASE:
        vus_dev.backend->release(s);
        vsnd_io_return_all(&s->io);
        break;
    }
    return VIRTIO_SND_S_OK;
}

/*
 * The guest changed a control: it reaches the stream's backend, and an
 * EVT_CTL_NOTIFY tells the guest's other listeners.
 */
static void vus_core_ctl_changed(void *opaque, uint32_t ctl)
{
    VusDev *d = opaque;

    vus_stream_apply_volume(&d->stream[d->ctls->ctl[ctl].stream]);
    vus_post_event(opaque, VIRTIO_SND_EVT_CTL_NOTIFY,
                   ctl | (1u << VIRTIO_SND_CTL_EVT_MASK_VALUE) << 16);
}

static const VSndCoreOps vus_core_ops = {
    .pcm = vus_core_pcm,
    .pcm_act = vus_core_pcm_act,
    .ctl_changed = vus_core_ctl_changed,
};

static VSndCore vus_core(VusDev *d)
{
    return (VSndCore) {
        .counts = vus_counts(d),
        .ctls = d->ctls,
        .ops = &vus_core_ops,
        .opaque = d,
    };
}

static void vus_handle_control(VuDev *vu, int qidx)
{
    VusDev *d = vus_of(vu);
    VuVirtq *vq = vu_get_queue(vu, qidx);
    VSndCore core = vus_core(d);
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
    VSndCore core = vus_core(d);
    uint32_t dir = qidx == VUS_QUEUE_TX ? VIRTIO_SND_D_OUTPUT
                                        : VIRTIO_SND_D_INPUT;
    VuVirtqElement *elem;

    while ((elem = vu_queue_pop(vu, vq, sizeof(*elem)))) {
        VSndXfer xfer;
        size_t used;
        VusMsg *m;

        if (vsnd_core_xfer(&core, dir, elem->out_sg, elem->out_num,
                           elem->in_sg, elem->in_num, &xfer, &used) !=
            VIRTIO_SND_S_OK) {
            vus_push(d, qidx, elem, used);
            continue;
        }
        m = g_new0(VusMsg, 1);
        m->elem = elem;
        m->msg = (VSndIoMsg) {
            .out_sg = elem->out_sg,
            .out_num = elem->out_num,
            .in_sg = elem->in_sg,
            .in_num = elem->in_num,
            .xfer = xfer,
        };
        vsnd_io_queue(&d->stream[xfer.stream_id].io, &m->msg);
        vus_stream_run(&d->stream[xfer.stream_id]);
    }
}

/* The device */

/* Give back every message the streams of queue @qidx hold, if it runs. */
static void vus_return_held(VusDev *d, int qidx)
{
    uint32_t i;

    if (!vus_queue_ready(d, qidx)) {
        return;
    }
    for (i = 0; i < d->streams; i++) {
        if (vus_data_queue(&d->stream[i]) == qidx) {
            vsnd_io_return_all(&d->stream[i].io);
        }
    }
}

/*
 * A reset (or the front end gone): the streams start afresh, and the
 * messages they held belong to rings that are no more.
 */
static void vus_streams_reset(VusDev *d)
{
    uint32_t i;

    for (i = 0; i < d->streams; i++) {
        VusStream *s = &d->stream[i];

        d->backend->release(s);
        vus_stream_forget_all(s);
        vsnd_io_set_active(&s->io, false, vus_now_ns());
        vus_stream_wake_set(s, 0);
        vsnd_pcm_default_params(&s->io.pcm.caps, &s->io.pcm.params);
        s->io.pcm.state = VSND_PCM_STATE_PARAMS_SET;
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

/*
 * The vhost-user spec's RESET_DEVICE request and its protocol feature,
 * which libvhost-user does not name: the front end sends it when the
 * guest resets the device (after stopping the queues).
 */
#define VUS_USER_RESET_DEVICE           34
#define VUS_PROTOCOL_F_RESET_DEVICE     13

static uint64_t vus_get_protocol_features(VuDev *vu)
{
    return (1ULL << VHOST_USER_PROTOCOL_F_CONFIG) |
           (1ULL << VHOST_USER_PROTOCOL_F_MQ) |
           (1ULL << VUS_PROTOCOL_F_RESET_DEVICE);
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
    if (d->offer_ctls && len < sizeof(cfg)) {
        g_printerr("vhost-user-sound: --controls, but the front end's "
                   "configuration space has no room for them: give it "
                   "controls=on\n");
    }
    memset(config, 0, len);
    memcpy(config, &cfg, MIN(len, sizeof(cfg)));
    return 0;
}

/*
 * The configuration space is read-only: a guest's write is ignored (an
 * error here would make libvhost-user give up the connection).
 */
static int vus_set_config(VuDev *vu, const uint8_t *data, uint32_t offset,
                          uint32_t size, uint32_t flags)
{
    qemu_log_mask(LOG_GUEST_ERROR, "vhost-user-sound: the guest wrote %u "
                  "bytes at %u of the read-only configuration space\n",
                  size, offset);
    return 0;
}

/*
 * The front end stops the queues when the VM stops as well as before a
 * reset. The streams keep their state and their messages (a message given
 * back now would reach a guest that is not told of it: the front end tears
 * its notifiers down) and go on at their backend's next run once the
 * queue runs again; a reset (vus_process_msg()) lets go of them.
 */
static void vus_queue_set_started(VuDev *vu, int qidx, bool started)
{
    static const vu_queue_handler_cb handlers[VUS_QUEUES] = {
        [VUS_QUEUE_CONTROL] = vus_handle_control,
        [VUS_QUEUE_TX] = vus_handle_data,
        [VUS_QUEUE_RX] = vus_handle_data,
    };
    VusDev *d = vus_of(vu);
    uint32_t i;

    if (qidx < 0 || qidx >= VUS_QUEUES) {
        return;
    }
    vu_set_queue_handler(vu, vu_get_queue(vu, qidx),
                         started ? handlers[qidx] : NULL);
    /*
     * The streams' clock went on while the queue stopped (the VM's did
     * not): a stream that ran out of messages gets its period of grace
     * again before it reports an xrun.
     */
    for (i = 0; started && i < d->streams; i++) {
        if (vus_data_queue(&d->stream[i]) == qidx) {
            d->stream[i].io.empty_since_ns = -1;
        }
    }
}

/*
 * After a reset no element taken from the rings is in use any more.
 * libvhost-user counts those it handed out and not back (inuse), and
 * refuses to hand out a ring's size of them; its own reset does not
 * clear the count, so the device does, for the elements it let go of.
 */
static void vus_queues_forget(VuDev *vu)
{
    int i;

    for (i = 0; i < VUS_QUEUES; i++) {
        vu_get_queue(vu, i)->inuse = 0;
    }
}

/*
 * Before libvhost-user sees a message: a reset starts the streams
 * afresh; a new memory table would unmap what held messages point at,
 * so they go back first.
 */
static int vus_process_msg(VuDev *vu, VhostUserMsg *msg, int *do_reply)
{
    VusDev *d = vus_of(vu);

    switch (msg->request) {
    case VUS_USER_RESET_DEVICE:
        vus_streams_reset(d);
        vus_queues_forget(vu);
        *do_reply = false;
        return 1;
    case VHOST_USER_SET_MEM_TABLE:
    case VHOST_USER_ADD_MEM_REG:
    case VHOST_USER_REM_MEM_REG:
        vus_return_held(d, VUS_QUEUE_TX);
        vus_return_held(d, VUS_QUEUE_RX);
        return 0;
    }
    return 0;
}

static const VuDevIface vus_iface = {
    .process_msg = vus_process_msg,
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

        s->id = i;
        /* As QEMU's device: even streams play, odd ones record. */
        dirs[i] = i & 1 ? VIRTIO_SND_D_INPUT : VIRTIO_SND_D_OUTPUT;
        s->io.pcm.caps = (VSndPcmCaps) {
            .features = 1u << VIRTIO_SND_PCM_F_EVT_XRUNS,
            .formats = VSND_PCM_FORMATS_SUPPORTED,
            .rates = VSND_PCM_RATES_ALL,
            .direction = dirs[i],
            .channels_min = 1,
            .channels_max = 2,
        };
        vsnd_io_init(&s->io, &vus_io_ops);
        s->io.audio_bounded = true;     /* the backends' rings and clocks */
        s->wake_fd = timerfd_create(CLOCK_MONOTONIC,
                                    TFD_NONBLOCK | TFD_CLOEXEC);
        if (s->wake_fd < 0) {
            g_printerr("vhost-user-sound: timerfd_create: %s\n",
                       g_strerror(errno));
            exit(1);
        }
        g_unix_fd_add(s->wake_fd, G_IO_IN, vus_stream_woken, s);
    }
    d->ctls = vsnd_ctls_new(dirs, streams);
    vus_streams_reset(d);
}

/* Options, the socket, the main loop */

static const VusBackend *vus_backend_named(const char *name)
{
    static const VusBackend *const backends[] = {
        &vus_backend_pipewire, &vus_backend_null,
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(backends); i++) {
        if (!strcmp(backends[i]->name, name)) {
            return backends[i];
        }
    }
    return NULL;
}

static char *opt_socket_path;
static int opt_fd = -1;
static int opt_streams = 2;
static char *opt_backend;
static char *opt_stream_name;
static char *opt_out_target;
static char *opt_in_target;
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
      "where the audio goes: pipewire (default) or null (a card on the "
      "host's clock that plays into nothing and records silence)", "NAME" },
    { "stream-name", 0, 0, G_OPTION_ARG_STRING, &opt_stream_name,
      "the PipeWire streams' media.name (default \"virtio-sound\")",
      "NAME" },
    { "out-target", 0, 0, G_OPTION_ARG_STRING, &opt_out_target,
      "the PipeWire node (name or serial) to play to (default: the "
      "session manager's choice)", "NODE" },
    { "in-target", 0, 0, G_OPTION_ARG_STRING, &opt_in_target,
      "the PipeWire node (name or serial) to record from (default: the "
      "session manager's choice)", "NODE" },
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
    VusDev *d = &vus_dev;
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
    d->backend = vus_backend_named(opt_backend ? opt_backend : "pipewire");
    if (!d->backend) {
        g_printerr("vhost-user-sound: --backend %s: not one of: pipewire, "
                   "null\n", opt_backend);
        return 2;
    }
    /* Guest errors go to stderr, as QEMU's -d guest_errors would. */
    qemu_set_log(LOG_GUEST_ERROR, &error_fatal);

    if (!d->backend->init(opt_stream_name, opt_out_target, opt_in_target)) {
        return 1;
    }
    vus_dev_init(d, opt_streams, opt_controls);
    d->loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGTERM, vus_on_signal, d->loop);
    g_unix_signal_add(SIGINT, vus_on_signal, d->loop);
    if (opt_socket_path) {
        lsock = vus_listen(opt_socket_path, &local_err);
        if (lsock < 0) {
            error_report_err(local_err);
            return 1;
        }
        g_unix_fd_add(lsock, G_IO_IN, vus_on_connect, d);
    } else if (!vus_serve(d, opt_fd)) {
        return 1;
    }
    g_main_loop_run(d->loop);

    if (lsock >= 0) {
        close(lsock);
        unlink(opt_socket_path);
    }
    vus_streams_reset(d);
    if (d->sock >= 0) {
        vug_deinit(&d->vug);
        close(d->sock);
    }
    vsnd_ctls_free(d->ctls);
    g_free(d->stream);
    g_main_loop_unref(d->loop);
    return 0;
}
