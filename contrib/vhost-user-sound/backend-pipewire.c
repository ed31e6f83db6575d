/*
 * vhost-user-sound: the PipeWire backend.
 *
 * One pw_thread_loop for the daemon and one pw_stream per prepared PCM
 * stream. Audio passes through a lock-free ring (audio/pwaudio-ring.c)
 * between the daemon's main loop and the stream's realtime process
 * callback, sized and primed as QEMU's PipeWire backend does for a sound
 * card that tells it its period (audio/pwaudio-timing.c): the graph runs
 * at the guest's period where it can, and the process callback wakes the
 * main loop (an eventfd) when the ring needs it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"

#include <glib-unix.h>
#include <sys/eventfd.h>
#include <pipewire/pipewire.h>
#include <spa/param/audio/format-utils.h>
#include <spa/param/props.h>

#include "audio/pwaudio-format.h"
#include "audio/pwaudio-ring.h"
#include "audio/pwaudio-timing.h"
#include "audio/pwaudio-volume.h"
#include "vus.h"

typedef struct PwVoice {
    VusStream *s;
    struct pw_stream *stream;
    struct spa_hook listener;
    QPwStreamGeometry geo;
    QPwRing ring;
    uint8_t *ring_data;
    bool output;
    uint32_t period_bytes;              /* the guest's */
    uint32_t cycle_bytes;               /* the last graph cycle's; atomic */
    bool active;                        /* main loop: started, not stopped */
    bool primed;                        /* realtime thread */
} PwVoice;

static struct {
    struct pw_thread_loop *loop;
    struct pw_context *context;
    struct pw_core *core;
    const char *stream_name;
    const char *target;
    int wake_fd;                        /* the process callbacks' doorbell */
    GPtrArray *voices;                  /* PwVoice, main loop */
} pw;

/* Realtime thread: ask the main loop to run the voices. */
static void pw_wake(void)
{
    uint64_t one = 1;

    if (write(pw.wake_fd, &one, sizeof(one)) < 0) {
        /* The counter is full: the main loop has a wake-up pending. */
    }
}

/* Main loop: the doorbell rang. */
static gboolean pw_on_wake(gint fd, GIOCondition cond, gpointer opaque)
{
    uint64_t count;
    guint i;

    if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN) {
        return G_SOURCE_REMOVE;
    }
    for (i = 0; i < pw.voices->len; i++) {
        PwVoice *v = g_ptr_array_index(pw.voices, i);

        vus_stream_run(v->s);
    }
    return G_SOURCE_CONTINUE;
}

/*
 * Realtime thread: fill the graph's buffer from the ring. A started
 * stream plays silence until the ring holds this cycle and the next, so
 * that a sound does not start with a dropout; after that, what the ring
 * lacks is played as silence.
 */
static void pw_on_process_out(void *opaque)
{
    PwVoice *v = opaque;
    uint32_t stride = v->geo.bytes_per_frame;
    struct pw_buffer *b = pw_stream_dequeue_buffer(v->stream);
    struct spa_data *d;
    uint32_t len, got = 0;

    if (!b) {
        return;
    }
    d = &b->buffer->datas[0];
    if (!d->data || !d->chunk) {
        pw_stream_queue_buffer(v->stream, b);
        return;
    }
    len = d->maxsize - d->maxsize % stride;
    if (b->requested && b->requested < len / stride) {
        len = (uint32_t)b->requested * stride;
    }
    qatomic_set(&v->cycle_bytes, len);
    if (!v->primed &&
        qpw_ring_fill(&v->ring) >= qpw_prime_bytes(&v->geo, len, true)) {
        v->primed = true;
    }
    if (v->primed) {
        got = qpw_ring_read(&v->ring, d->data, len);
    }
    memset((uint8_t *)d->data + got, 0, len - got);
    if (qpw_wake_out(qpw_ring_fill(&v->ring), len)) {
        pw_wake();
    }
    d->chunk->offset = 0;
    d->chunk->stride = stride;
    d->chunk->size = len;
    pw_stream_queue_buffer(v->stream, b);
}

/* Realtime thread: into the ring; what does not fit is lost. */
static void pw_on_process_in(void *opaque)
{
    PwVoice *v = opaque;
    struct pw_buffer *b = pw_stream_dequeue_buffer(v->stream);
    struct spa_data *d;

    if (!b) {
        return;
    }
    d = &b->buffer->datas[0];
    if (d->data && d->chunk) {
        uint32_t offset = MIN(d->chunk->offset, d->maxsize);
        uint32_t size = MIN(d->chunk->size, d->maxsize - offset);

        qatomic_set(&v->cycle_bytes, size);
        qpw_ring_write(&v->ring, (uint8_t *)d->data + offset, size);
        if (qpw_wake_in(qpw_ring_fill(&v->ring), v->period_bytes)) {
            pw_wake();
        }
    }
    pw_stream_queue_buffer(v->stream, b);
}

static const struct pw_stream_events pw_out_events = {
    PW_VERSION_STREAM_EVENTS,
    .process = pw_on_process_out,
};

static const struct pw_stream_events pw_in_events = {
    PW_VERSION_STREAM_EVENTS,
    .process = pw_on_process_in,
};

static bool pw_init_backend(const char *stream_name, const char *target)
{
    pw_init(NULL, NULL);
    pw.stream_name = stream_name ? stream_name : "virtio-sound";
    pw.target = target;
    pw.voices = g_ptr_array_new();
    pw.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pw.loop = pw_thread_loop_new("vhost-user-sound", NULL);
    pw.context = pw.loop ? pw_context_new(pw_thread_loop_get_loop(pw.loop),
                                          NULL, 0)
                         : NULL;
    if (pw.wake_fd < 0 || !pw.context || pw_thread_loop_start(pw.loop) < 0) {
        g_printerr("vhost-user-sound: cannot start PipeWire's thread\n");
        return false;
    }
    pw_thread_loop_lock(pw.loop);
    pw.core = pw_context_connect(pw.context, NULL, 0);
    pw_thread_loop_unlock(pw.loop);
    if (!pw.core) {
        g_printerr("vhost-user-sound: cannot connect to PipeWire: %s\n",
                   g_strerror(errno));
        return false;
    }
    g_unix_fd_add(pw.wake_fd, G_IO_IN, pw_on_wake, NULL);
    return true;
}

/* The formats the device offers, as the ring's units know them. */
static bool pw_format(uint8_t virtio_format, QPwFormat *fmt)
{
    static const QPwFormat formats[] = {
        [VIRTIO_SND_PCM_FMT_S8] = QPW_FORMAT_S8,
        [VIRTIO_SND_PCM_FMT_U8] = QPW_FORMAT_U8,
        [VIRTIO_SND_PCM_FMT_S16] = QPW_FORMAT_S16,
        [VIRTIO_SND_PCM_FMT_U16] = QPW_FORMAT_U16,
        [VIRTIO_SND_PCM_FMT_S32] = QPW_FORMAT_S32,
        [VIRTIO_SND_PCM_FMT_U32] = QPW_FORMAT_U32,
        [VIRTIO_SND_PCM_FMT_FLOAT] = QPW_FORMAT_F32,
    };

    if (virtio_format >= G_N_ELEMENTS(formats) ||
        (!formats[virtio_format] && virtio_format != VIRTIO_SND_PCM_FMT_U8)) {
        return false;
    }
    *fmt = formats[virtio_format];
    return true;
}

/* Loop lock held: the stream, connected inactive; false on failure. */
static bool pw_connect(PwVoice *v, QPwFormat fmt)
{
    struct spa_audio_info_raw info = {
        .format = qpw_format_to_spa(fmt, false),    /* virtio: LE */
        .rate = v->geo.rate,
        .channels = v->geo.channels,
    };
    uint8_t buf[1024];
    struct spa_pod_builder pb = SPA_POD_BUILDER_INIT(buf, sizeof(buf));
    const struct spa_pod *params[1];
    struct pw_properties *props;
    g_autofree char *node = g_strdup_printf("vhost-user-sound.%s%u",
                                            v->output ? "out" : "in",
                                            v->s->id);

    qpw_channel_positions(info.channels, info.position);
    params[0] = spa_format_audio_raw_build(&pb, SPA_PARAM_EnumFormat, &info);
    props = pw_properties_new(
        PW_KEY_MEDIA_TYPE, "Audio",
        PW_KEY_MEDIA_CATEGORY, v->output ? "Playback" : "Capture",
        PW_KEY_MEDIA_ROLE, "Music",
        PW_KEY_MEDIA_NAME, pw.stream_name,
        PW_KEY_NODE_NAME, node,
        PW_KEY_NODE_LATENCY, v->geo.node_latency,
        NULL);
    if (pw.target) {
        pw_properties_set(props, PW_KEY_TARGET_OBJECT, pw.target);
    }
    v->stream = pw_stream_new(pw.core, pw.stream_name, props);
    if (!v->stream) {
        return false;
    }
    pw_stream_add_listener(v->stream, &v->listener,
                           v->output ? &pw_out_events : &pw_in_events, v);
    return pw_stream_connect(v->stream,
                             v->output ? PW_DIRECTION_OUTPUT
                                       : PW_DIRECTION_INPUT,
                             PW_ID_ANY,
                             PW_STREAM_FLAG_AUTOCONNECT |
                             PW_STREAM_FLAG_MAP_BUFFERS |
                             PW_STREAM_FLAG_RT_PROCESS |
                             PW_STREAM_FLAG_INACTIVE,
                             params, 1) == 0;
}

static void pw_voice_free(PwVoice *v)
{
    if (v->stream) {
        pw_thread_loop_lock(pw.loop);
        pw_stream_destroy(v->stream);
        pw_thread_loop_unlock(pw.loop);
    }
    g_free(v->ring_data);
    g_free(v);
}

static gboolean pw_voice_drained(gpointer opaque)
{
    pw_voice_free(opaque);
    return G_SOURCE_REMOVE;
}

/*
 * The stream is the guest's no more. A playback stream still playing
 * what its ring holds (the guest releases right after its last message
 * came back) goes once that has played, with two graph cycles more for
 * the buffers in the graph, so that the sound keeps its tail.
 */
static void pw_release(VusStream *s)
{
    PwVoice *v = s->backend;
    uint64_t drain_us;

    if (!v) {
        return;
    }
    g_ptr_array_remove(pw.voices, v);
    s->backend = NULL;
    drain_us = qpw_geometry_drain_us(&v->geo, qpw_ring_fill(&v->ring),
                                     qatomic_read(&v->cycle_bytes));
    if (v->output && v->primed && qpw_ring_fill(&v->ring)) {
        g_timeout_add(drain_us / 1000 + 1, pw_voice_drained, v);
        return;
    }
    pw_voice_free(v);
}

static bool pw_prepare(VusStream *s)
{
    const VSndPcmParams *p = &s->pcm.params;
    uint32_t period_us = vsnd_pcm_period_us(p);
    const char *why = NULL;
    QPwFormat fmt;
    PwVoice *v;
    bool ok;

    pw_release(s);
    v = g_new0(PwVoice, 1);
    v->s = s;
    v->output = s->pcm.caps.direction == VIRTIO_SND_D_OUTPUT;
    v->period_bytes = p->period_bytes;
    if (!pw_format(p->format, &fmt) ||
        !qpw_geometry_init(&v->geo, fmt, p->channels, vsnd_pcm_rate_hz(p->rate),
                           QPW_LATENCY_DEFAULT_US, period_us, &why)) {
        g_printerr("vhost-user-sound: stream %u: %s\n", s->id,
                   why ? why : "format not supported");
        g_free(v);
        return false;
    }
    qpw_geometry_set_min_quantum(&v->geo, QPW_MIN_QUANTUM_DEFAULT_US);
    qpw_geometry_set_period_hint(&v->geo, period_us);
    v->ring_data = g_malloc(v->geo.capacity_bytes);
    qpw_ring_init(&v->ring, v->ring_data, v->geo.capacity_bytes,
                  v->geo.bytes_per_frame);
    s->backend = v;
    g_ptr_array_add(pw.voices, v);

    pw_thread_loop_lock(pw.loop);
    ok = pw_connect(v, fmt);
    pw_thread_loop_unlock(pw.loop);
    if (!ok) {
        g_printerr("vhost-user-sound: stream %u: PipeWire refused the "
                   "stream\n", s->id);
        pw_release(s);
    }
    return ok;
}

static void pw_set_active(PwVoice *v, bool on)
{
    pw_thread_loop_lock(pw.loop);
    pw_stream_set_active(v->stream, on);
    pw_thread_loop_unlock(pw.loop);
}

/*
 * START: no process callback runs while the stream is inactive, so this
 * thread may reset what the realtime thread owns.
 */
static void pw_start(VusStream *s)
{
    PwVoice *v = s->backend;

    v->primed = false;
    if (!v->output) {
        qpw_ring_drop(&v->ring);
    }
    v->active = true;
    pw_set_active(v, true);
}

/* STOP: playback plays out what the ring holds; capture stops now. */
static void pw_stop(VusStream *s)
{
    PwVoice *v = s->backend;

    v->active = false;
    if (!v->output) {
        pw_set_active(v, false);
    }
}

static size_t pw_avail(VusStream *s)
{
    PwVoice *v = s->backend;
    uint32_t mark;

    if (!v) {
        return 0;
    }
    if (!v->output) {
        return qpw_ring_fill(&v->ring);
    }
    if (!v->active) {
        return 0;
    }
    mark = qpw_highwater_bytes(&v->geo, qatomic_read(&v->cycle_bytes), true);
    return qpw_ring_room_below(&v->ring, mark);
}

static void pw_move(VusStream *s, uint8_t *buf, size_t len)
{
    PwVoice *v = s->backend;

    if (v->output) {
        qpw_ring_write(&v->ring, buf, len);
    } else {
        qpw_ring_read(&v->ring, buf, len);
    }
}

static void pw_volume(VusStream *s, bool mute, const uint8_t *levels,
                      uint32_t channels)
{
    PwVoice *v = s->backend;
    QPwChannelVolumes vols;
    float mute_value = mute;

    if (!v || !qpw_volume_fill(&vols, mute, levels, channels,
                               v->geo.channels)) {
        return;
    }
    pw_thread_loop_lock(pw.loop);
    pw_stream_set_control(v->stream,
                          SPA_PROP_channelVolumes, vols.channels, vols.values,
                          SPA_PROP_mute, 1, &mute_value, 0);
    pw_thread_loop_unlock(pw.loop);
}

const VusBackend vus_backend_pipewire = {
    .name = "pipewire",
    .init = pw_init_backend,
    .prepare = pw_prepare,
    .start = pw_start,
    .stop = pw_stop,
    .release = pw_release,
    .avail = pw_avail,
    .move = pw_move,
    .volume = pw_volume,
};
