/*
 * Virtio sound device (VIRTIO 1.2, 5.14).
 *
 * Serves the control, event, tx and rx virtqueues and connects each PCM
 * stream to a voice of QEMU's audio layer. Guest data is never trusted:
 * requests are parsed by virtio-snd-req.c, which only reads and writes
 * inside the element's buffers, and the PCM lifecycle is decided by
 * virtio-snd-pcm.c. Malformed requests are logged as guest errors and
 * answered with a status; nothing here asserts on what the guest sent.
 *
 * Timing: a stream's I/O messages move through virtio-snd-io.c, run from
 * its voice's callback: a message is returned to the guest when the audio
 * layer has taken its last byte (playback) or filled it (capture), so the
 * guest's ALSA pointer follows the real audio clock. At START the audio
 * layer's buffer is empty and would take a short guest buffer whole, so
 * the stream is also paced (VSndPcmPacer): the device never gets more
 * than half the guest's buffer ahead of the stream's clock.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "hw/qdev-properties.h"
#include "migration/qemu-file-types.h"
#include "migration/vmstate.h"
#include "hw/audio/virtio-snd.h"
#include "audio/audio_int.h"        /* the audiodev's options */
#include "standard-headers/linux/virtio_ids.h"
#include "virtio-snd-req.h"
#include "virtio-snd-pcm.h"
#include "virtio-snd-ctl.h"
#include "virtio-snd-core.h"
#include "virtio-snd-io.h"
#include "trace.h"

#define VIRTIO_SND_QUEUE_SIZE 64

/* Events kept while the guest has given no buffer for them. */
#define VIRTIO_SND_EVENTS_MAX 32

/* An I/O message the device holds until the audio layer is done with it. */
typedef struct VirtIOSoundXfer {
    VirtQueueElement *elem;
    VSndIoMsg msg;
} VirtIOSoundXfer;

struct VirtIOSoundStream {
    VirtIOSound *snd;
    uint32_t id;
    VSndIoStream io;                    /* its state and its messages */
    SWVoiceOut *voice_out;
    SWVoiceIn *voice_in;
    QEMUTimer *return_timer;            /* capture: returns a held message */
    struct audsettings opened;          /* the voice's settings */
};

static bool virtio_snd_is_output(const VirtIOSoundStream *s)
{
    return s->io.pcm.caps.direction == VIRTIO_SND_D_OUTPUT;
}

/* Handing used elements back */

/* A used element waiting for virtio_snd_done_bh(). */
struct VirtIOSoundDone {
    unsigned int queue;
    VirtQueueElement *elem;
    unsigned int len;
    QSIMPLEQ_ENTRY(VirtIOSoundDone) next;
};

/*
 * Give @elem back on @queue with @len bytes used, soon. Handing an element
 * back writes to guest memory (the bounce buffer of a buffer that is not
 * RAM is written then), and the guest may have aimed a buffer at a
 * register that resets this very device. Done from the audio layer's
 * callbacks, that reset would close the voices the audio layer is
 * iterating over; done from our queue handlers, it would pull the streams
 * away under them. So every element goes back from a bottom half guarded
 * by the transport's re-entrancy guard: the memory core refuses the
 * device's writes to its own registers while it runs, and what runs it
 * holds no state of ours.
 */
static void virtio_snd_complete(VirtIOSound *snd, unsigned int queue,
                                VirtQueueElement *elem, size_t len)
{
    VirtIOSoundDone *d = g_new(VirtIOSoundDone, 1);

    d->queue = queue;
    d->elem = elem;
    d->len = len;
    QSIMPLEQ_INSERT_TAIL(&snd->done, d, next);
    qemu_bh_schedule(snd->done_bh);
}

static void virtio_snd_flush_events(VirtIOSound *snd);

/*
 * Push every used element, then notify the queues that got some. Elements
 * are pushed in the order they were completed, so a RELEASE's reply
 * follows the messages it handed back.
 */
static void virtio_snd_done_bh(void *opaque)
{
    VirtIOSound *snd = opaque;
    VirtIODevice *vdev = VIRTIO_DEVICE(snd);
    uint32_t resets = snd->resets;
    unsigned int notify = 0, i;
    VirtIOSoundDone *d;

    virtio_snd_flush_events(snd);
    while ((d = QSIMPLEQ_FIRST(&snd->done))) {
        QSIMPLEQ_REMOVE_HEAD(&snd->done, next);
        trace_virtio_snd_push(d->queue, d->len);
        notify |= 1u << d->queue;
        virtqueue_push(snd->queues[d->queue], d->elem, d->len);
        g_free(d->elem);
        g_free(d);
        if (snd->resets != resets) {
            /*
             * The write reset the device by another way than its own
             * registers (the guard stops those): the rest went with the
             * queues, and there is no one to notify.
             */
            return;
        }
    }
    for (i = 0; i < VIRTIO_SND_QUEUE_COUNT; i++) {
        if (notify & (1u << i)) {
            virtio_notify(vdev, snd->queues[i]);
        }
    }
}

/* The bottom half's work now, under the same guard. */
static void virtio_snd_done_now(VirtIOSound *snd)
{
    bool engaged = snd->guard->engaged_in_io;

    qemu_bh_cancel(snd->done_bh);
    snd->guard->engaged_in_io = true;
    virtio_snd_done_bh(snd);
    snd->guard->engaged_in_io = engaged;
}

/*
 * When the VM stops, hand back what is done: a migration saves the guest's
 * memory after this, and the device's state without these elements.
 */
static void virtio_snd_vm_state_change(void *opaque, bool running,
                                       RunState state)
{
    if (!running) {
        virtio_snd_done_now(opaque);
    }
}

/* On reset, unplug and loadvm the queues go away: forget what is done. */
static void virtio_snd_done_drop_all(VirtIOSound *snd)
{
    VirtIOSoundDone *d;

    while ((d = QSIMPLEQ_FIRST(&snd->done))) {
        QSIMPLEQ_REMOVE_HEAD(&snd->done, next);
        virtqueue_detach_element(snd->queues[d->queue], d->elem, 0);
        g_free(d->elem);
        g_free(d);
    }
}

/* Events */

/* Fill the event buffers the guest gave with the events waiting. */
static void virtio_snd_flush_events(VirtIOSound *snd)
{
    VirtQueue *vq = snd->queues[VIRTIO_SND_VQ_EVENT];

    while (snd->events_count) {
        struct virtio_snd_event *ev = &snd->events[snd->events_head];
        VirtQueueElement *elem = virtqueue_pop(vq, sizeof(*elem));
        size_t len;

        if (!elem) {
            break;
        }
        len = vsnd_iov_from_buf(elem->in_sg, elem->in_num, 0, ev, sizeof(*ev));
        if (len < sizeof(*ev)) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "virtio-snd: event buffer of %zu bytes is too "
                          "small\n", len);
        }
        trace_virtio_snd_event(le32_to_cpu(ev->hdr.code),
                               le32_to_cpu(ev->data));
        snd->events_head = (snd->events_head + 1) % VIRTIO_SND_EVENTS_MAX;
        snd->events_count--;
        virtio_snd_complete(snd, VIRTIO_SND_VQ_EVENT, elem, len);
    }
}

/* Queue an event; when the guest gives no buffers the oldest are dropped. */
static void virtio_snd_post_event(VirtIOSound *snd, uint32_t code,
                                  uint32_t data)
{
    unsigned int tail;

    if (snd->events_count == VIRTIO_SND_EVENTS_MAX) {
        trace_virtio_snd_event_dropped(code, data);
        snd->events_head = (snd->events_head + 1) % VIRTIO_SND_EVENTS_MAX;
        snd->events_count--;
    }
    tail = (snd->events_head + snd->events_count) % VIRTIO_SND_EVENTS_MAX;
    snd->events[tail].hdr.code = cpu_to_le32(code);
    snd->events[tail].data = cpu_to_le32(data);
    snd->events_count++;
    qemu_bh_schedule(snd->done_bh);     /* which fills the buffers */
}

static void virtio_snd_handle_event(VirtIODevice *vdev, VirtQueue *vq)
{
    qemu_bh_schedule(VIRTIO_SND(vdev)->done_bh);
}

/* I/O messages (virtio-snd-io.c) */

static unsigned int virtio_snd_data_queue(VirtIOSoundStream *s)
{
    return virtio_snd_is_output(s) ? VIRTIO_SND_VQ_TX : VIRTIO_SND_VQ_RX;
}

static VirtIOSoundStream *virtio_snd_stream_of(VSndIoStream *io)
{
    return container_of(io, VirtIOSoundStream, io);
}

static int64_t virtio_snd_now(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

static size_t virtio_snd_io_play(VSndIoStream *io, const uint8_t *buf,
                                 size_t len)
{
    return AUD_write(virtio_snd_stream_of(io)->voice_out, (void *)buf, len);
}

/*
 * QEMU 7.2's mixing engine converts only mono and stereo: for more
 * channels AUD_read() counts every channel but fills only one, so the
 * rest keeps the silence @buf came with.
 */
static size_t virtio_snd_io_capture(VSndIoStream *io, uint8_t *buf,
                                    size_t len)
{
    return AUD_read(virtio_snd_stream_of(io)->voice_in, buf, len);
}

/*
 * Capture frames go into a message the device may hold for a while, but
 * guest RAM mapped for a message becomes dirty for migration only when
 * the message goes back (the unmap). A migration copies RAM while the
 * guest runs and then, the VM stopped, only what is dirty: the frames of
 * a held message written since its pages were last copied would reach
 * the destination stale, while the device's state says they were
 * written. So mark the @len bytes at @offset of the message dirty as
 * they are written. Buffers that are not RAM (bounce buffers) are
 * written back when the message goes back.
 */
static void virtio_snd_io_captured(VSndIoStream *io, VSndIoMsg *m,
                                   size_t offset, size_t len)
{
    unsigned int i;

    for (i = 0; i < m->in_num && len; i++) {
        MemoryRegion *mr;
        ram_addr_t in_mr;
        size_t part;

        if (offset >= m->in_sg[i].iov_len) {
            offset -= m->in_sg[i].iov_len;
            continue;
        }
        part = MIN(m->in_sg[i].iov_len - offset, len);
        mr = memory_region_from_host((uint8_t *)m->in_sg[i].iov_base + offset,
                                     &in_mr);
        if (mr) {
            memory_region_set_dirty(mr, in_mr, part);
        }
        offset = 0;
        len -= part;
    }
}

static void virtio_snd_io_complete(VSndIoStream *io, VSndIoMsg *m,
                                   size_t len, uint32_t status,
                                   uint32_t latency)
{
    VirtIOSoundStream *s = virtio_snd_stream_of(io);
    VirtIOSoundXfer *x = container_of(m, VirtIOSoundXfer, msg);

    trace_virtio_snd_xfer_done(s->id, m->xfer.data_len, m->done, status,
                               latency);
    virtio_snd_complete(s->snd, virtio_snd_data_queue(s), x->elem, len);
    g_free(x);
}

static void virtio_snd_io_xrun(VSndIoStream *io)
{
    VirtIOSoundStream *s = virtio_snd_stream_of(io);

    trace_virtio_snd_xrun(s->id);
    if (io->pcm.params.features & (1u << VIRTIO_SND_PCM_F_EVT_XRUNS)) {
        virtio_snd_post_event(s->snd, VIRTIO_SND_EVT_PCM_XRUN, s->id);
    }
}

static void virtio_snd_io_wake_at(VSndIoStream *io, int64_t due_ns)
{
    timer_mod(virtio_snd_stream_of(io)->return_timer, due_ns);
}

static void virtio_snd_io_lead_ended(VSndIoStream *io, uint64_t bytes)
{
    trace_virtio_snd_capture_lead(virtio_snd_stream_of(io)->id, bytes);
}

static void virtio_snd_io_dropped(VSndIoStream *io, uint64_t bytes)
{
    trace_virtio_snd_capture_dropped(virtio_snd_stream_of(io)->id, bytes);
}

static const VSndIoOps virtio_snd_io_ops = {
    .play = virtio_snd_io_play,
    .capture = virtio_snd_io_capture,
    .captured = virtio_snd_io_captured,
    .complete = virtio_snd_io_complete,
    .xrun = virtio_snd_io_xrun,
    .wake_at = virtio_snd_io_wake_at,
    .lead_ended = virtio_snd_io_lead_ended,
    .dropped = virtio_snd_io_dropped,
};

/* On reset and unplug the queues go away: forget the messages. */
static void virtio_snd_stream_drop_all(VirtIOSoundStream *s)
{
    VSndIoMsg *m;

    while ((m = vsnd_io_pop(&s->io))) {
        VirtIOSoundXfer *x = container_of(m, VirtIOSoundXfer, msg);

        virtqueue_detach_element(s->snd->queues[virtio_snd_data_queue(s)],
                                 x->elem, 0);
        g_free(x->elem);
        g_free(x);
    }
}

/* The voice's callbacks: its audio layer runs them at every cycle. */
static void virtio_snd_output_cb(void *opaque, int avail)
{
    VirtIOSoundStream *s = opaque;

    vsnd_io_play(&s->io, MAX(avail, 0), virtio_snd_now());
}

static void virtio_snd_input_cb(void *opaque, int avail)
{
    VirtIOSoundStream *s = opaque;

    /*
     * Without the mixing engine the audio layer offers INT_MAX, and reads
     * from the backend whatever is asked: what it holds is not known.
     */
    vsnd_io_record(&s->io, avail == INT_MAX ? VSND_IO_AVAIL_ANY
                                            : MAX(avail, 0),
                   virtio_snd_now());
}

/* Capture: a full message waited for its time. */
static void virtio_snd_return_timer_cb(void *opaque)
{
    VirtIOSoundStream *s = opaque;

    vsnd_io_wake(&s->io, virtio_snd_now());
}

static VirtIOSoundXfer *virtio_snd_xfer_new(VirtQueueElement *elem,
                                            const VSndXfer *xfer)
{
    VirtIOSoundXfer *x = g_new0(VirtIOSoundXfer, 1);

    x->elem = elem;
    x->msg = (VSndIoMsg) {
        .out_sg = elem->out_sg,
        .out_num = elem->out_num,
        .in_sg = elem->in_sg,
        .in_num = elem->in_num,
        .xfer = *xfer,
    };
    return x;
}

static VSndCore virtio_snd_core(VirtIOSound *snd);

/* Queue a message on its stream, or answer it at once when it is bad. */
static void virtio_snd_handle_xfer(VirtIOSound *snd, VSndCore *core,
                                   uint32_t dir, VirtQueueElement *elem)
{
    VirtIOSoundXfer *x;
    VSndXfer xfer;
    size_t used;

    if (vsnd_core_xfer(core, dir, elem->out_sg, elem->out_num,
                       elem->in_sg, elem->in_num, &xfer, &used) !=
        VIRTIO_SND_S_OK) {
        trace_virtio_snd_xfer_bad(dir, xfer.stream_id);
        virtio_snd_complete(snd, dir == VIRTIO_SND_D_OUTPUT ?
                            VIRTIO_SND_VQ_TX : VIRTIO_SND_VQ_RX, elem, used);
        return;
    }
    x = virtio_snd_xfer_new(elem, &xfer);
    vsnd_io_queue(&snd->stream[xfer.stream_id].io, &x->msg);
    trace_virtio_snd_xfer(xfer.stream_id, xfer.data_len);
}

static void virtio_snd_handle_data(VirtIODevice *vdev, VirtQueue *vq,
                                   uint32_t dir)
{
    VirtIOSound *snd = VIRTIO_SND(vdev);
    VSndCore core = virtio_snd_core(snd);
    VirtQueueElement *elem;

    while ((elem = virtqueue_pop(vq, sizeof(*elem)))) {
        virtio_snd_handle_xfer(snd, &core, dir, elem);
    }
}

static void virtio_snd_handle_tx(VirtIODevice *vdev, VirtQueue *vq)
{
    virtio_snd_handle_data(vdev, vq, VIRTIO_SND_D_OUTPUT);
}

static void virtio_snd_handle_rx(VirtIODevice *vdev, VirtQueue *vq)
{
    virtio_snd_handle_data(vdev, vq, VIRTIO_SND_D_INPUT);
}

/* PCM streams and their voices */

static AudioFormat virtio_snd_audio_format(uint8_t format)
{
    switch (format) {
    case VIRTIO_SND_PCM_FMT_S8:
        return AUDIO_FORMAT_S8;
    case VIRTIO_SND_PCM_FMT_U8:
        return AUDIO_FORMAT_U8;
    case VIRTIO_SND_PCM_FMT_S16:
        return AUDIO_FORMAT_S16;
    case VIRTIO_SND_PCM_FMT_U16:
        return AUDIO_FORMAT_U16;
    case VIRTIO_SND_PCM_FMT_S32:
        return AUDIO_FORMAT_S32;
    case VIRTIO_SND_PCM_FMT_U32:
        return AUDIO_FORMAT_U32;
    default:
        /* SET_PARAMS accepts nothing outside VSND_PCM_FORMATS_SUPPORTED. */
        return AUDIO_FORMAT_F32;
    }
}

/*
 * Give the stream's voice the volume and mute of its controls (when the
 * guest negotiated them): on every open, as a re-opened voice starts at
 * unity gain, and whenever the guest changes them.
 */
static void virtio_snd_stream_apply_volume(VirtIOSoundStream *s)
{
    VSndCtlStreamVolume sv;
    Volume vol = { 0 };
    uint32_t i;

    if (!s->snd->ctl_table ||
        !virtio_vdev_has_feature(VIRTIO_DEVICE(s->snd), VIRTIO_SND_F_CTLS)) {
        return;
    }
    vsnd_ctls_stream_volume(s->snd->ctl_table, s->id, s->io.pcm.params.channels,
                            &sv);
    vol.mute = sv.mute;
    vol.channels = sv.channels;
    for (i = 0; i < sv.channels; i++) {
        vol.vol[i] = sv.level[i];
    }
    trace_virtio_snd_volume(s->id, sv.mute, sv.channels, sv.level[0],
                            sv.level[sv.channels > 1]);
    if (s->voice_out) {
        audio_set_volume_out(s->voice_out, &vol);
    }
    if (s->voice_in) {
        audio_set_volume_in(s->voice_in, &vol);
    }
}

/* Open (or re-open with new parameters) the stream's voice. */
static bool virtio_snd_stream_open(VirtIOSoundStream *s)
{
    const VSndPcmParams *p = &s->io.pcm.params;
    struct audsettings as = {
        .freq = vsnd_pcm_rate_hz(p->rate),
        .nchannels = p->channels,
        .fmt = virtio_snd_audio_format(p->format),
        .endianness = 0,                /* virtio is little-endian */
    };
    g_autofree char *name = g_strdup_printf("virtio-snd.%s%u",
                                            virtio_snd_is_output(s) ? "out"
                                                                    : "in",
                                            s->id);

    /*
     * The guest moves audio a period at a time: a backend that knows it
     * can keep its own buffering below the guest's and move each period
     * when it comes rather than on the audio layer's timer.
     */
    /*
     * The audio layer keeps a voice opened again with the same settings,
     * and what it still holds: the room it had when empty still applies.
     */
    if (!(s->voice_out || s->voice_in) || as.freq != s->opened.freq ||
        as.nchannels != s->opened.nchannels || as.fmt != s->opened.fmt) {
        vsnd_io_new_audio(&s->io);
    }
    s->opened = as;
    if (virtio_snd_is_output(s)) {
        s->voice_out = AUD_open_out(VSND_AUDIO(&s->snd->card), s->voice_out,
                                    name, s, virtio_snd_output_cb, &as);
        audio_set_period_hint_out(s->voice_out, vsnd_pcm_period_us(p));
    } else {
        s->voice_in = AUD_open_in(VSND_AUDIO(&s->snd->card), s->voice_in,
                                  name, s, virtio_snd_input_cb, &as);
        audio_set_period_hint_in(s->voice_in, vsnd_pcm_period_us(p));
    }
    virtio_snd_stream_apply_volume(s);
    return s->voice_out || s->voice_in;
}

static void virtio_snd_voice_set_active(VirtIOSoundStream *s, bool on)
{
    if (s->voice_out) {
        AUD_set_active_out(s->voice_out, on);
    }
    if (s->voice_in) {
        AUD_set_active_in(s->voice_in, on);
    }
}

static void virtio_snd_stream_close(VirtIOSoundStream *s)
{
    if (s->voice_out) {
        AUD_close_out(VSND_AUDIO(&s->snd->card), s->voice_out);
        s->voice_out = NULL;
    }
    if (s->voice_in) {
        AUD_close_in(VSND_AUDIO(&s->snd->card), s->voice_in);
        s->voice_in = NULL;
    }
}

/* Carry out a lifecycle request the state machine allowed. */
static uint32_t virtio_snd_pcm_act(VirtIOSoundStream *s,
                                   const VSndCtrlRequest *req)
{
    switch (req->code) {
    case VIRTIO_SND_R_PCM_SET_PARAMS:
        /*
         * From PREPARED the stream may hold messages queued for the old
         * parameters; PARAMS_SET takes no I/O and cannot be released, so
         * hand them back now as RELEASE would rather than strand them.
         */
        vsnd_io_return_all(&s->io);
        s->io.pcm.params = req->params;
        break;
    case VIRTIO_SND_R_PCM_PREPARE:
        if (!virtio_snd_stream_open(s)) {
            return VIRTIO_SND_S_IO_ERR;
        }
        break;
    case VIRTIO_SND_R_PCM_START:
        /*
         * Only here: a stream resumed after a migration or a VM stop goes
         * on where it was, with nothing owed.
         */
        vsnd_io_start(&s->io, virtio_snd_now());
        virtio_snd_voice_set_active(s, true);
        break;
    case VIRTIO_SND_R_PCM_STOP:
        vsnd_io_set_active(&s->io, false, virtio_snd_now());
        virtio_snd_voice_set_active(s, false);
        break;
    case VIRTIO_SND_R_PCM_RELEASE:
        /*
         * The voice stays open: closing it now would cut off what the
         * backend still holds of the last messages (it drains after STOP).
         * The next PREPARE re-opens it with whatever parameters are set.
         */
        vsnd_io_return_all(&s->io);
        break;
    }
    return VIRTIO_SND_S_OK;
}

/* The control queue (virtio-snd-core.c) */

static VSndPcmStream *virtio_snd_core_pcm(void *opaque, uint32_t stream)
{
    VirtIOSound *snd = opaque;

    return &snd->stream[stream].io.pcm;
}

static uint32_t virtio_snd_core_pcm_act(void *opaque, uint32_t stream,
                                        const VSndCtrlRequest *req,
                                        VSndPcmState next)
{
    VirtIOSound *snd = opaque;
    VirtIOSoundStream *s = &snd->stream[stream];
    uint32_t status = virtio_snd_pcm_act(s, req);

    if (status == VIRTIO_SND_S_OK) {
        trace_virtio_snd_pcm_state(s->id, vsnd_pcm_state_name(s->io.pcm.state),
                                   vsnd_pcm_state_name(next));
    }
    return status;
}

/*
 * A control value the guest changed reaches the stream's voice at once,
 * and an EVT_CTL_NOTIFY tells the guest's other listeners (its driver
 * reports no change to ALSA by itself).
 */
static void virtio_snd_core_ctl_changed(void *opaque, uint32_t ctl)
{
    VirtIOSound *snd = opaque;
    const VSndCtl *c = &snd->ctl_table->ctl[ctl];

    trace_virtio_snd_ctl_changed(ctl, c->value[0], c->value[1]);
    virtio_snd_stream_apply_volume(&snd->stream[c->stream]);
    virtio_snd_post_event(snd, VIRTIO_SND_EVT_CTL_NOTIFY,
                          ctl | (1u << VIRTIO_SND_CTL_EVT_MASK_VALUE) << 16);
}

static const VSndCoreOps virtio_snd_core_ops = {
    .pcm = virtio_snd_core_pcm,
    .pcm_act = virtio_snd_core_pcm_act,
    .ctl_changed = virtio_snd_core_ctl_changed,
};

static VSndDeviceCounts virtio_snd_counts(VirtIOSound *snd)
{
    return (VSndDeviceCounts) {
        .jacks = snd->jacks,
        .streams = snd->streams,
        .chmaps = snd->chmaps,
        .controls = snd->ctl_table ? snd->ctl_table->count : 0,
        .ctls = snd->ctl_table &&
                virtio_vdev_has_feature(VIRTIO_DEVICE(snd), VIRTIO_SND_F_CTLS),
    };
}

static VSndCore virtio_snd_core(VirtIOSound *snd)
{
    return (VSndCore) {
        .counts = virtio_snd_counts(snd),
        .ctls = snd->ctl_table,
        .ops = &virtio_snd_core_ops,
        .opaque = snd,
    };
}

static void virtio_snd_handle_ctrl_elem(VirtIOSound *snd,
                                        VirtQueueElement *elem)
{
    VSndCore core = virtio_snd_core(snd);
    VSndCtrlRequest req;
    uint32_t status;
    size_t len = vsnd_core_ctrl(&core, elem->out_sg, elem->out_num,
                                elem->in_sg, elem->in_num, &req, &status);

    trace_virtio_snd_ctrl(req.code, req.id, status);
    virtio_snd_complete(snd, VIRTIO_SND_VQ_CONTROL, elem, len);
}

static void virtio_snd_handle_ctrl(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOSound *snd = VIRTIO_SND(vdev);
    VirtQueueElement *elem;

    while ((elem = virtqueue_pop(vq, sizeof(*elem)))) {
        virtio_snd_handle_ctrl_elem(snd, elem);
    }
}

/* The device */

static void virtio_snd_get_config(VirtIODevice *vdev, uint8_t *config)
{
    VirtIOSound *snd = VIRTIO_SND(vdev);
    struct virtio_snd_config cfg = {
        .jacks = cpu_to_le32(snd->jacks),
        .streams = cpu_to_le32(snd->streams),
        .chmaps = cpu_to_le32(snd->chmaps),
        .controls = cpu_to_le32(snd->ctl_table ? snd->ctl_table->count : 0),
    };

    memcpy(config, &cfg, vdev->config_len);
}

static uint64_t virtio_snd_get_features(VirtIODevice *vdev, uint64_t features,
                                        Error **errp)
{
    if (VIRTIO_SND(vdev)->ctls) {
        virtio_add_feature(&features, VIRTIO_SND_F_CTLS);
    }
    return features;
}

/*
 * VIRTIO 1.2 does not make SET_PARAMS a stream's first command: a driver
 * may PREPARE at once, with the device's parameters. So after realize and
 * reset every stream has parameters of the device's choosing, as if they
 * had been set.
 */
static void virtio_snd_stream_set_defaults(VirtIOSoundStream *s)
{
    vsnd_pcm_default_params(&s->io.pcm.caps, &s->io.pcm.params);
    s->io.pcm.state = VSND_PCM_STATE_PARAMS_SET;
}

/*
 * The most channels a stream can carry intact to or from the audiodev.
 * QEMU 7.2's mixing engine converts mono and stereo only: through it a
 * stream of 3 to 8 channels comes out garbled (and captures zeros beyond
 * the first channels). Without it (mixing-engine=off, -audiodev pipewire's
 * default) the backend gets the guest's stream as it is.
 */
static uint8_t virtio_snd_channels_max(VirtIOSound *snd, bool out)
{
    Audiodev *dev = VSND_AUDIODEV(&snd->card);
    AudiodevPerDirectionOptions *pdo;

    if (!dev) {
        return 2;
    }
    pdo = out ? audio_get_pdo_out(dev) : audio_get_pdo_in(dev);
    return pdo->has_mixing_engine && !pdo->mixing_engine ?
           VSND_PCM_CHANNELS_MAX : 2;
}

/* Stream i is for playback when i is even, for capture when it is odd. */
static void virtio_snd_stream_init(VirtIOSound *snd, uint32_t id)
{
    VirtIOSoundStream *s = &snd->stream[id];

    s->snd = snd;
    s->id = id;
    s->io.pcm.caps = (VSndPcmCaps) {
        .features = 1u << VIRTIO_SND_PCM_F_EVT_XRUNS,
        .formats = VSND_PCM_FORMATS_SUPPORTED,
        .rates = VSND_PCM_RATES_ALL,
        .direction = id & 1 ? VIRTIO_SND_D_INPUT : VIRTIO_SND_D_OUTPUT,
        .channels_min = 1,
        .channels_max = virtio_snd_channels_max(snd, !(id & 1)),
    };
    virtio_snd_stream_set_defaults(s);
    vsnd_io_init(&s->io, &virtio_snd_io_ops);
    s->return_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL,
                                   virtio_snd_return_timer_cb, s);
}

/* Forget every stream's messages, voice and parameters. */
static void virtio_snd_streams_reset(VirtIOSound *snd)
{
    uint32_t i;

    virtio_snd_done_drop_all(snd);
    for (i = 0; i < snd->streams; i++) {
        VirtIOSoundStream *s = &snd->stream[i];

        virtio_snd_stream_drop_all(s);
        virtio_snd_stream_close(s);
        virtio_snd_stream_set_defaults(s);
        vsnd_io_set_active(&s->io, false, virtio_snd_now());
    }
    snd->events_head = 0;
    snd->events_count = 0;
}

static void virtio_snd_reset(VirtIODevice *vdev)
{
    VirtIOSound *snd = VIRTIO_SND(vdev);

    trace_virtio_snd_reset();
    snd->resets++;
    virtio_snd_streams_reset(snd);
    if (snd->ctl_table) {
        vsnd_ctls_reset(snd->ctl_table);    /* defaults, as after power-on */
    }
}

static bool virtio_snd_check_properties(VirtIOSound *snd, Error **errp)
{
    if (!vsnd_audio_has_backend(&snd->card)) {
        error_setg(errp, "virtio-sound needs an audio backend: "
                   "-device virtio-sound-pci,audiodev=ID");
        return false;
    }
    if (snd->streams < 1 || snd->streams > VIRTIO_SND_STREAMS_MAX) {
        error_setg(errp, "virtio-sound: streams must be 1 to %d, not %u",
                   VIRTIO_SND_STREAMS_MAX, snd->streams);
        return false;
    }
    if (snd->jacks > VIRTIO_SND_JACKS_MAX) {
        error_setg(errp, "virtio-sound: jacks must be 0 to %d, not %u",
                   VIRTIO_SND_JACKS_MAX, snd->jacks);
        return false;
    }
    if (snd->chmaps > VIRTIO_SND_CHMAPS_MAX) {
        error_setg(errp, "virtio-sound: chmaps must be 0 to %d, not %u",
                   VIRTIO_SND_CHMAPS_MAX, snd->chmaps);
        return false;
    }
    return true;
}

static void virtio_snd_realize(DeviceState *dev, Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOSound *snd = VIRTIO_SND(dev);
    uint32_t i;

    if (!virtio_snd_check_properties(snd, errp)) {
        return;
    }
    if (!vsnd_audio_register(&snd->card, "virtio-sound", errp)) {
        return;
    }

    /* VIRTIO 1.2's configuration: jacks, streams, chmaps; 1.3's controls. */
    virtio_init(vdev, VIRTIO_ID_SOUND,
                snd->ctls ? sizeof(struct virtio_snd_config)
                          : offsetof(struct virtio_snd_config, controls));
    snd->queues[VIRTIO_SND_VQ_CONTROL] =
        virtio_add_queue(vdev, VIRTIO_SND_QUEUE_SIZE, virtio_snd_handle_ctrl);
    snd->queues[VIRTIO_SND_VQ_EVENT] =
        virtio_add_queue(vdev, VIRTIO_SND_QUEUE_SIZE, virtio_snd_handle_event);
    snd->queues[VIRTIO_SND_VQ_TX] =
        virtio_add_queue(vdev, VIRTIO_SND_QUEUE_SIZE, virtio_snd_handle_tx);
    snd->queues[VIRTIO_SND_VQ_RX] =
        virtio_add_queue(vdev, VIRTIO_SND_QUEUE_SIZE, virtio_snd_handle_rx);

    /*
     * The guard of the transport, whose registers are the ones a guest
     * can reach (virtio-pci's BARs belong to the proxy, not to us).
     */
    snd->guard = &qdev_get_parent_bus(dev)->parent->mem_reentrancy_guard;
    QSIMPLEQ_INIT(&snd->done);
    snd->done_bh = qemu_bh_new_guarded(virtio_snd_done_bh, snd, snd->guard);
    snd->vm_state = qemu_add_vm_change_state_handler(
        virtio_snd_vm_state_change, snd);

    snd->stream = g_new0(VirtIOSoundStream, snd->streams);
    for (i = 0; i < snd->streams; i++) {
        virtio_snd_stream_init(snd, i);
    }
    snd->events = g_new0(struct virtio_snd_event, VIRTIO_SND_EVENTS_MAX);
    if (snd->ctls) {
        uint8_t dirs[VIRTIO_SND_STREAMS_MAX];

        for (i = 0; i < snd->streams; i++) {
            dirs[i] = snd->stream[i].io.pcm.caps.direction;
        }
        snd->ctl_table = vsnd_ctls_new(dirs, snd->streams);
    }
}

static void virtio_snd_unrealize(DeviceState *dev)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOSound *snd = VIRTIO_SND(dev);
    int i;

    qemu_del_vm_change_state_handler(snd->vm_state);
    virtio_snd_streams_reset(snd);
    qemu_bh_delete(snd->done_bh);
    for (i = 0; i < snd->streams; i++) {
        timer_free(snd->stream[i].return_timer);
    }
    g_free(snd->stream);
    g_free(snd->events);
    vsnd_ctls_free(snd->ctl_table);
    snd->ctl_table = NULL;
    vsnd_audio_remove(&snd->card);
    for (i = 0; i < VIRTIO_SND_QUEUE_COUNT; i++) {
        virtio_delete_queue(snd->queues[i]);
    }
    virtio_cleanup(vdev);
}

/* Migration */

/*
 * The device's state travels as the vmstate "virtio-snd" (version
 * VIRTIO_SND_VMSTATE_VERSION) inside the virtio device's own, so it is
 * loaded after the virtqueues:
 *
 *   config    streams, jacks, chmaps and controls: the destination must
 *             have been started with the same device properties
 *   events    the ring of events waiting for an event buffer
 *   controls  every control's values
 *   stream[]  each stream's lifecycle state, parameters, whether it
 *             reported an xrun, and the I/O messages it holds, each saved
 *             with qemu_put_virtqueue_element() and how many of its bytes
 *             were already played or captured
 *
 * The voices are not migrated: virtio_snd_post_load() re-opens them for
 * the streams that had one, with their parameters and volumes, and
 * re-activates the running ones, which go on from the first byte not yet
 * played. What the source's audio backend still held is lost: that is
 * the gap a listener hears.
 */
#define VIRTIO_SND_VMSTATE_VERSION 1

static VirtIOSoundMigConfig virtio_snd_mig_config(VirtIOSound *snd)
{
    return (VirtIOSoundMigConfig) {
        .streams = snd->streams,
        .jacks = snd->jacks,
        .chmaps = snd->chmaps,
        .controls = snd->ctl_table ? snd->ctl_table->count : 0,
    };
}

static int virtio_snd_config_pre_save(void *opaque)
{
    VirtIOSoundMigConfig *cfg = opaque;

    *cfg = virtio_snd_mig_config(container_of(cfg, VirtIOSound, mig_config));
    return 0;
}

/* The source's configuration must be ours: fail clearly if it is not. */
static int virtio_snd_config_post_load(void *opaque, int version_id)
{
    VirtIOSoundMigConfig *src = opaque;
    VirtIOSoundMigConfig ours =
        virtio_snd_mig_config(container_of(src, VirtIOSound, mig_config));
    static const struct {
        const char *name;
        size_t offset;
    } items[] = {
        { "streams", offsetof(VirtIOSoundMigConfig, streams) },
        { "jacks", offsetof(VirtIOSoundMigConfig, jacks) },
        { "chmaps", offsetof(VirtIOSoundMigConfig, chmaps) },
        { "controls", offsetof(VirtIOSoundMigConfig, controls) },
    };
    bool ok = true;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(items); i++) {
        uint32_t a = *(uint32_t *)((uint8_t *)src + items[i].offset);
        uint32_t b = *(uint32_t *)((uint8_t *)&ours + items[i].offset);

        if (a != b) {
            error_report("virtio-snd: the migration source has %u %s, this "
                         "device %u: start the destination with the same "
                         "virtio-sound properties (streams, jacks, chmaps, "
                         "ctls)", a, items[i].name, b);
            ok = false;
        }
    }
    return ok ? 0 : -EINVAL;
}

static const VMStateDescription vmstate_virtio_snd_config = {
    .name = "virtio-snd/config",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = virtio_snd_config_pre_save,
    .post_load = virtio_snd_config_post_load,
    .fields = (VMStateField[]) {
        VMSTATE_UINT32(streams, VirtIOSoundMigConfig),
        VMSTATE_UINT32(jacks, VirtIOSoundMigConfig),
        VMSTATE_UINT32(chmaps, VirtIOSoundMigConfig),
        VMSTATE_UINT32(controls, VirtIOSoundMigConfig),
        VMSTATE_END_OF_LIST()
    },
};

/* Controls: each control's values, VSND_CTL_VALUES_MAX of them. */
static int virtio_snd_put_ctls(QEMUFile *f, void *pv, size_t size,
                               const VMStateField *field, JSONWriter *vmdesc)
{
    VirtIOSound *snd = pv;
    uint32_t i, j;

    for (i = 0; snd->ctl_table && i < snd->ctl_table->count; i++) {
        for (j = 0; j < VSND_CTL_VALUES_MAX; j++) {
            qemu_put_be32(f, snd->ctl_table->ctl[i].value[j]);
        }
    }
    return 0;
}

static int virtio_snd_get_ctls(QEMUFile *f, void *pv, size_t size,
                               const VMStateField *field)
{
    VirtIOSound *snd = pv;
    uint32_t i, j;

    /* The count was checked with the configuration. */
    for (i = 0; snd->ctl_table && i < snd->ctl_table->count; i++) {
        VSndCtl *c = &snd->ctl_table->ctl[i];

        for (j = 0; j < VSND_CTL_VALUES_MAX; j++) {
            uint32_t v = qemu_get_be32(f);

            if (j < vsnd_ctl_count(snd->ctl_table, i) &&
                v > vsnd_ctl_max(snd->ctl_table, i)) {
                error_report("virtio-snd: control %u value %u out of range",
                             i, v);
                return -EINVAL;
            }
            c->value[j] = v;
        }
    }
    return 0;
}

static const VMStateInfo vmstate_info_virtio_snd_ctls = {
    .name = "virtio-snd-ctls",
    .get = virtio_snd_get_ctls,
    .put = virtio_snd_put_ctls,
};

/*
 * A stream's I/O messages in flight: their count, then each element and
 * how many of its data bytes were played (tx) or captured (rx).
 */
static int virtio_snd_put_xfers(QEMUFile *f, void *pv, size_t size,
                                const VMStateField *field, JSONWriter *vmdesc)
{
    VirtIOSoundStream *s = pv;
    uint64_t to_go = 0;
    GList *l;

    for (l = g_queue_peek_head_link(&s->io.msgs); l; l = l->next) {
        VSndIoMsg *m = l->data;

        to_go += m->xfer.data_len - m->done;
    }
    qemu_put_be32(f, g_queue_get_length(&s->io.msgs));
    for (l = g_queue_peek_head_link(&s->io.msgs); l; l = l->next) {
        VirtIOSoundXfer *x = container_of(l->data, VirtIOSoundXfer, msg);

        qemu_put_virtqueue_element(VIRTIO_DEVICE(s->snd), f, x->elem);
        qemu_put_be64(f, x->msg.done);
    }
    trace_virtio_snd_migrate_stream(s->id, vsnd_pcm_state_name(s->io.pcm.state),
                                    g_queue_get_length(&s->io.msgs), to_go);
    return 0;
}

/* Take a message back; it is parsed again as when it first came. */
static int virtio_snd_get_xfer(QEMUFile *f, VirtIOSoundStream *s)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s->snd);
    VirtQueueElement *elem = qemu_get_virtqueue_element(vdev, f,
                                                        sizeof(*elem));
    uint64_t done = qemu_get_be64(f);
    uint32_t dir = s->io.pcm.caps.direction;
    VSndXfer xfer = { 0 };
    VirtIOSoundXfer *x;

    if (vsnd_xfer_parse(dir, s->snd->streams, elem->out_sg, elem->out_num,
                        vsnd_iov_size(elem->in_sg, elem->in_num),
                        &xfer) != VIRTIO_SND_S_OK ||
        xfer.stream_id != s->id || done > xfer.data_len) {
        error_report("virtio-snd: stream %u: a migrated I/O message does "
                     "not parse again", s->id);
        g_free(elem);
        return -EINVAL;
    }
    x = virtio_snd_xfer_new(elem, &xfer);
    x->msg.done = done;
    vsnd_io_queue(&s->io, &x->msg);
    return 0;
}

static int virtio_snd_get_xfers(QEMUFile *f, void *pv, size_t size,
                                const VMStateField *field)
{
    VirtIOSoundStream *s = pv;
    bool starved = s->io.starved;       /* loaded; a queued message clears */
    uint32_t n = qemu_get_be32(f);
    /*
     * The queue's size as loaded (before this state): the guest may have
     * made it smaller, and some QEMU versions make it larger than the
     * device asks for (Debian's 10.0 gives every queue 1024 entries).
     */
    uint32_t room = virtio_queue_get_num(VIRTIO_DEVICE(s->snd),
                                         virtio_snd_data_queue(s));
    uint32_t i;
    int ret;

    if (n > room) {
        error_report("virtio-snd: stream %u: %u I/O messages in flight, "
                     "more than its queue holds (%u)", s->id, n, room);
        return -EINVAL;
    }
    for (i = 0; i < n; i++) {
        ret = virtio_snd_get_xfer(f, s);
        if (ret) {
            return ret;
        }
    }
    s->io.starved = starved;
    return 0;
}

static const VMStateInfo vmstate_info_virtio_snd_xfers = {
    .name = "virtio-snd-xfers",
    .get = virtio_snd_get_xfers,
    .put = virtio_snd_put_xfers,
};

/* Check what a stream was loaded with before anything acts on it. */
static int virtio_snd_stream_post_load(void *opaque, int version_id)
{
    VirtIOSoundStream *s = opaque;

    if (s->io.pcm.state >= VSND_PCM_STATE__MAX) {
        error_report("virtio-snd: stream %u: unknown state %u", s->id,
                     s->io.pcm.state);
        return -EINVAL;
    }
    if (s->io.pcm.state != VSND_PCM_STATE_INITIAL &&
        vsnd_pcm_params_check(&s->io.pcm.caps, &s->io.pcm.params) !=
        VIRTIO_SND_S_OK) {
        error_report("virtio-snd: stream %u: migrated parameters are not "
                     "valid for it", s->id);
        return -EINVAL;
    }
    if (!g_queue_is_empty(&s->io.msgs) &&
        !vsnd_pcm_state_accepts_io(s->io.pcm.state)) {
        error_report("virtio-snd: stream %u: I/O messages in state %s",
                     s->id, vsnd_pcm_state_name(s->io.pcm.state));
        return -EINVAL;
    }
    return 0;
}

static const VMStateDescription vmstate_virtio_snd_stream = {
    .name = "virtio-snd/stream",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = virtio_snd_stream_post_load,
    .fields = (VMStateField[]) {
        VMSTATE_UINT32(io.pcm.state, VirtIOSoundStream),
        VMSTATE_UINT32(io.pcm.params.buffer_bytes, VirtIOSoundStream),
        VMSTATE_UINT32(io.pcm.params.period_bytes, VirtIOSoundStream),
        VMSTATE_UINT32(io.pcm.params.features, VirtIOSoundStream),
        VMSTATE_UINT8(io.pcm.params.channels, VirtIOSoundStream),
        VMSTATE_UINT8(io.pcm.params.format, VirtIOSoundStream),
        VMSTATE_UINT8(io.pcm.params.rate, VirtIOSoundStream),
        VMSTATE_BOOL(io.starved, VirtIOSoundStream),
        {
            .name = "xfers",
            .info = &vmstate_info_virtio_snd_xfers,
            .flags = VMS_SINGLE,
        },
        VMSTATE_END_OF_LIST()
    },
};

/* Start from a device without streams in flight (loadvm into a live VM). */
static int virtio_snd_pre_load(void *opaque)
{
    virtio_snd_streams_reset(opaque);
    return 0;
}

static int virtio_snd_events_post_load(void *opaque, int version_id)
{
    VirtIOSound *snd = opaque;

    if (snd->events_head >= VIRTIO_SND_EVENTS_MAX ||
        snd->events_count > VIRTIO_SND_EVENTS_MAX) {
        error_report("virtio-snd: bad event ring (head %u, %u events)",
                     snd->events_head, snd->events_count);
        return -EINVAL;
    }
    return 0;
}

static const VMStateDescription vmstate_virtio_snd_device = {
    .name = "virtio-snd",
    .version_id = VIRTIO_SND_VMSTATE_VERSION,
    .minimum_version_id = VIRTIO_SND_VMSTATE_VERSION,
    .pre_load = virtio_snd_pre_load,
    .post_load = virtio_snd_events_post_load,
    .fields = (VMStateField[]) {
        VMSTATE_STRUCT(mig_config, VirtIOSound, 1, vmstate_virtio_snd_config,
                       VirtIOSoundMigConfig),
        VMSTATE_UINT32(events_head, VirtIOSound),
        VMSTATE_UINT32(events_count, VirtIOSound),
        VMSTATE_BUFFER_POINTER_UNSAFE(events, VirtIOSound, 0,
                                      VIRTIO_SND_EVENTS_MAX *
                                      sizeof(struct virtio_snd_event)),
        {
            .name = "controls",
            .info = &vmstate_info_virtio_snd_ctls,
            .flags = VMS_SINGLE,
        },
        VMSTATE_STRUCT_VARRAY_POINTER_UINT32(stream, VirtIOSound, streams,
                                             vmstate_virtio_snd_stream,
                                             VirtIOSoundStream),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * On the destination, once the virtqueues are set up: give the streams
 * that had a voice a new one, with their volumes, and set the running
 * ones going. Their held messages continue where the source left off.
 */
static int virtio_snd_stream_resume(VirtIOSoundStream *s)
{
    bool starved = s->io.starved;

    s->io.empty_since_ns = -1;
    switch (s->io.pcm.state) {
    case VSND_PCM_STATE_PREPARED:
    case VSND_PCM_STATE_RUNNING:
    case VSND_PCM_STATE_STOPPED:
        break;
    default:
        return 0;   /* no voice needed; the next PREPARE opens one */
    }
    if (!virtio_snd_stream_open(s)) {
        error_report("virtio-snd: stream %u: the audio backend gives no "
                     "voice for the migrated stream", s->id);
        return -EIO;
    }
    if (s->io.pcm.state == VSND_PCM_STATE_RUNNING) {
        vsnd_io_set_active(&s->io, true, virtio_snd_now());
        virtio_snd_voice_set_active(s, true);
        s->io.starved = starved;    /* an xrun is reported once */
    }
    return 0;
}

static int virtio_snd_post_load(VirtIODevice *vdev)
{
    VirtIOSound *snd = VIRTIO_SND(vdev);
    uint32_t i;
    int ret;

    for (i = 0; i < snd->streams; i++) {
        ret = virtio_snd_stream_resume(&snd->stream[i]);
        if (ret) {
            return ret;
        }
    }
    return 0;
}

static const VMStateDescription vmstate_virtio_snd = {
    .name = "virtio-sound",
    .version_id = VIRTIO_SND_VMSTATE_VERSION,
    .minimum_version_id = VIRTIO_SND_VMSTATE_VERSION,
    .fields = (VMStateField[]) {
        VMSTATE_VIRTIO_DEVICE,
        VMSTATE_END_OF_LIST()
    },
};

static VSndProperty virtio_snd_properties[] = {
    DEFINE_AUDIO_PROPERTIES(VirtIOSound, card),
    DEFINE_PROP_UINT32("streams", VirtIOSound, streams, 2),
    DEFINE_PROP_UINT32("jacks", VirtIOSound, jacks, 2),
    DEFINE_PROP_UINT32("chmaps", VirtIOSound, chmaps, VIRTIO_SND_CHMAPS_MAX),
    DEFINE_PROP_BOOL("ctls", VirtIOSound, ctls, true),
    VSND_PROP_END_OF_LIST
};

static void virtio_snd_class_init(ObjectClass *klass, VSndClassData data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_CLASS(klass);

    set_bit(DEVICE_CATEGORY_SOUND, dc->categories);
    dc->desc = "Virtio sound card";
    dc->vmsd = &vmstate_virtio_snd;
    device_class_set_props(dc, virtio_snd_properties);
    vdc->realize = virtio_snd_realize;
    vdc->unrealize = virtio_snd_unrealize;
    vdc->get_config = virtio_snd_get_config;
    vdc->get_features = virtio_snd_get_features;
    vdc->reset = virtio_snd_reset;
    vdc->vmsd = &vmstate_virtio_snd_device;
    vdc->post_load = virtio_snd_post_load;
}

static const TypeInfo virtio_snd_type_info = {
    .name = TYPE_VIRTIO_SND,
    .parent = TYPE_VIRTIO_DEVICE,
    .instance_size = sizeof(VirtIOSound),
    .class_init = virtio_snd_class_init,
};

static void virtio_snd_register_types(void)
{
    type_register_static(&virtio_snd_type_info);
}

type_init(virtio_snd_register_types)
