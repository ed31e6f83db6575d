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
 * When the PipeWire daemon goes away (a restart), the streams go with it
 * and the daemon connects again on the backend's schedule
 * (audio/pwaudio-retry.c), then gives each prepared stream a new one.
 * Whenever a running stream gets no graph cycle for VPW_STALL_US (PipeWire
 * away, a stream not linked to anything), it goes on at its rate on the
 * host's clock, dropping what the guest plays and recording silence, as
 * QEMU's backend does: a guest whose stream made no progress for about
 * its buffer's time (at least 100 ms) fails its write with an I/O error
 * (Linux's ALSA core).
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
#include "audio/pwaudio-retry.h"
#include "audio/pwaudio-ring.h"
#include "audio/pwaudio-timing.h"
#include "audio/pwaudio-volume.h"
#include "vus.h"

/*
 * How long a running stream may go without a graph cycle before it is
 * paced on the host's clock: longer than PipeWire takes to run a stream it
 * has just activated (some tens of ms), shorter than the 100 ms a guest's
 * ALSA waits for progress at the least.
 */
#define VPW_STALL_US 60000

/* How often the paced streams move, and how often stalls are looked for. */
#define VPW_PACE_MS 5
#define VPW_WATCH_MS 20

typedef struct PwVoice {
    VusStream *s;
    struct pw_stream *stream;
    struct spa_hook listener;
    QPwStreamGeometry geo;
    QPwFormat format;
    QPwRing ring;
    uint8_t *ring_data;
    bool output;
    uint32_t period_bytes;              /* the guest's */
    VSndPcmParams params;               /* the guest's, for its silence */
    QPwChannelVolumes volume;           /* the guest's controls, if set */
    bool has_volume;
    uint32_t cycle_bytes;               /* the last graph cycle's; atomic */
    int64_t cycle_us;                   /* when it ran; atomic */
    /* Main loop. */
    bool active;                        /* started, not stopped */
    int64_t active_since_us;
    guint stop_timer;                   /* deactivates a stopped playback */
    bool paced;                         /* no cycles: on the host's clock */
    VusClock clock;                     /* started when paced */
    /* Playback: the realtime thread primes once per request. */
    uint32_t prime_req;                 /* main loop increments; atomic */
    uint32_t primed_for;                /* realtime thread */
} PwVoice;

static struct {
    struct pw_thread_loop *loop;
    struct pw_context *context;
    struct pw_core *core;               /* NULL while PipeWire is away */
    struct spa_hook core_listener;
    bool core_failed;                   /* atomic: the core said it failed */
    bool core_answered;                 /* atomic: the core said hello */
    bool up;                            /* main loop: the core answered */
    bool lost;                          /* main loop: a loss was reported */
    QPwRetry retry;
    guint watch;                        /* vpw_watch(); 0 with no voice on */
    guint watch_ms;
    const char *stream_name;
    const char *out_target;
    const char *in_target;
    int wake_fd;                        /* the process callbacks' doorbell */
    GPtrArray *voices;                  /* PwVoice, main loop */
    GPtrArray *draining;                /* released, playing out their ring */
} vpw;

/* Realtime thread: ask the main loop to run the voices. */
static void vpw_wake(void)
{
    uint64_t one = 1;

    if (write(vpw.wake_fd, &one, sizeof(one)) < 0) {
        /* The counter is full: the main loop has a wake-up pending. */
    }
}

static void vpw_core_lost(void);
static void vpw_core_up(void);

/* Main loop: the doorbell rang. */
static gboolean vpw_on_wake(gint fd, GIOCondition cond, gpointer opaque)
{
    uint64_t count;
    guint i;

    if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN) {
        return G_SOURCE_REMOVE;
    }
    if (qatomic_xchg(&vpw.core_failed, false) && vpw.core) {
        vpw_core_lost();
    }
    if (qatomic_xchg(&vpw.core_answered, false)) {
        vpw_core_up();
    }
    for (i = 0; i < vpw.voices->len; i++) {
        PwVoice *v = g_ptr_array_index(vpw.voices, i);

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
static void vpw_on_process_out(void *opaque)
{
    PwVoice *v = opaque;
    uint32_t stride = v->geo.bytes_per_frame;
    struct pw_buffer *b = pw_stream_dequeue_buffer(v->stream);
    struct spa_data *d;
    uint32_t len, got = 0, prime_req;

    if (!b) {
        return;
    }
    d = &b->buffer->datas[0];
    if (!d->data || !d->chunk) {
        pw_stream_queue_buffer(v->stream, b);
        return;
    }
    len = qpw_cycle_bytes(d->maxsize, b->requested, stride);
    qatomic_set(&v->cycle_bytes, len);
    qatomic_set(&v->cycle_us, g_get_monotonic_time());  /* no syscall */
    prime_req = qatomic_load_acquire(&v->prime_req);
    if (v->primed_for != prime_req &&
        qpw_ring_fill(&v->ring) >= qpw_prime_bytes(&v->geo, len, true)) {
        v->primed_for = prime_req;
    }
    if (v->primed_for == prime_req) {
        got = qpw_ring_read(&v->ring, d->data, len);
    }
    vsnd_pcm_fill_silence(&v->params, (uint8_t *)d->data + got, len - got);
    if (qpw_wake_out(qpw_ring_fill(&v->ring), len)) {
        vpw_wake();
    }
    d->chunk->offset = 0;
    d->chunk->stride = stride;
    d->chunk->size = len;
    pw_stream_queue_buffer(v->stream, b);
}

/* Realtime thread: into the ring; what does not fit is lost. */
static void vpw_on_process_in(void *opaque)
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
        qatomic_set(&v->cycle_us, g_get_monotonic_time());
        qpw_ring_write(&v->ring, (uint8_t *)d->data + offset, size);
        if (qpw_wake_in(qpw_ring_fill(&v->ring), v->period_bytes)) {
            vpw_wake();
        }
    }
    pw_stream_queue_buffer(v->stream, b);
}

static const struct pw_stream_events vpw_out_events = {
    PW_VERSION_STREAM_EVENTS,
    .process = vpw_on_process_out,
};

static const struct pw_stream_events vpw_in_events = {
    PW_VERSION_STREAM_EVENTS,
    .process = vpw_on_process_in,
};

/* Loop thread: the connection failed (PipeWire went away, or is not up). */
static void vpw_on_core_error(void *opaque, uint32_t id, int seq, int res,
                              const char *message)
{
    if (id == PW_ID_CORE) {
        qatomic_set(&vpw.core_failed, true);
        vpw_wake();
    }
}

/* Loop thread: the server's first word: the connection is up. */
static void vpw_on_core_info(void *opaque, const struct pw_core_info *info)
{
    qatomic_set(&vpw.core_answered, true);
    vpw_wake();
}

static const struct pw_core_events vpw_core_events = {
    PW_VERSION_CORE_EVENTS,
    .info = vpw_on_core_info,
    .error = vpw_on_core_error,
};

static bool vpw_connect(PwVoice *v);
static void vpw_apply_volume(PwVoice *v);

/* Loop lock held: connect, and give every prepared stream a new stream. */
static bool vpw_core_connect(void)
{
    guint i;

    vpw.core = pw_context_connect(vpw.context, NULL, 0);
    if (!vpw.core) {
        return false;
    }
    pw_core_add_listener(vpw.core, &vpw.core_listener, &vpw_core_events, NULL);
    for (i = 0; i < vpw.voices->len; i++) {
        PwVoice *v = g_ptr_array_index(vpw.voices, i);

        /* No process callback runs: what the ring held is stale. */
        qpw_ring_drop(&v->ring);
        qatomic_inc(&v->prime_req);
        if (vpw_connect(v)) {
            vpw_apply_volume(v);
            pw_stream_set_active(v->stream, v->active);
        }
    }
    return true;
}

static gboolean vpw_reconnect(gpointer opaque)
{
    bool ok;

    pw_thread_loop_lock(vpw.loop);
    ok = vpw_core_connect();
    pw_thread_loop_unlock(vpw.loop);
    if (!ok) {
        g_timeout_add(qpw_retry_failed(&vpw.retry), vpw_reconnect, NULL);
    }
    return G_SOURCE_REMOVE;
}

static void vpw_watch_arm(void);

/*
 * Main loop, every VPW_WATCH_MS while a voice runs (VPW_PACE_MS while one
 * is paced): a running voice with no stream, or none of whose cycles came
 * for VPW_STALL_US, moves on the host's clock until its cycles come back
 * (playback then primes its ring again).
 */
static gboolean vpw_watch(gpointer opaque)
{
    int64_t now = g_get_monotonic_time();
    guint i;

    for (i = 0; i < vpw.voices->len; i++) {
        PwVoice *v = g_ptr_array_index(vpw.voices, i);
        int64_t last = MAX(qatomic_read(&v->cycle_us), v->active_since_us);
        bool stalled = !v->stream || now - last > VPW_STALL_US;

        if (!v->active) {
            continue;
        }
        if (stalled && !v->paced) {
            vus_clock_start(&v->clock);
        } else if (!stalled && v->paced) {
            qatomic_inc(&v->prime_req);
        }
        v->paced = stalled;
        if (v->paced) {
            VusStream *st = v->s;

            vus_stream_run(st);
            if (st->backend != v) {
                break;          /* released meanwhile: the front end went */
            }
            vus_clock_catch_up(&v->clock, &st->io.pcm.params);
        }
    }
    vpw.watch = 0;
    vpw_watch_arm();
    return G_SOURCE_REMOVE;
}

/* Main loop: run vpw_watch() as often as the voices need it. */
static void vpw_watch_arm(void)
{
    guint ms = 0, i;

    for (i = 0; i < vpw.voices->len; i++) {
        PwVoice *v = g_ptr_array_index(vpw.voices, i);

        if (v->active) {
            ms = v->paced ? VPW_PACE_MS : (ms ? ms : VPW_WATCH_MS);
            if (ms == VPW_PACE_MS) {
                break;
            }
        }
    }
    if (vpw.watch && vpw.watch_ms != ms) {
        g_source_remove(vpw.watch);
        vpw.watch = 0;
    }
    if (ms && !vpw.watch) {
        vpw.watch = g_timeout_add(ms, vpw_watch, NULL);
        vpw.watch_ms = ms;
    }
}

/*
 * Main loop: the core failed. Drop the streams (the voices go on paced)
 * and try again: at once after a loss, on the retry schedule after a try
 * that failed.
 */
static void vpw_core_lost(void)
{
    guint i;

    pw_thread_loop_lock(vpw.loop);
    for (i = 0; i < vpw.voices->len + vpw.draining->len; i++) {
        PwVoice *v = i < vpw.voices->len ?
                     g_ptr_array_index(vpw.voices, i) :
                     g_ptr_array_index(vpw.draining, i - vpw.voices->len);

        if (v->stream) {
            pw_stream_destroy(v->stream);
            v->stream = NULL;
        }
        if (v->active && !v->paced) {   /* paced from now on */
            v->paced = true;
            vus_clock_start(&v->clock);
        }
    }
    spa_hook_remove(&vpw.core_listener);
    pw_core_disconnect(vpw.core);
    vpw.core = NULL;
    pw_thread_loop_unlock(vpw.loop);
    vpw_watch_arm();
    if (vpw.up) {
        vpw.up = false;
        vpw.lost = true;
        g_printerr("vhost-user-sound: lost the connection to PipeWire\n");
        qpw_retry_start(&vpw.retry, g_get_monotonic_time());
        g_idle_add(vpw_reconnect, NULL);
    } else {
        g_timeout_add(qpw_retry_failed(&vpw.retry), vpw_reconnect, NULL);
    }
}

/*
 * Main loop: the core answered (and has not failed since: a core that
 * answered and failed before this ran is gone already).
 */
static void vpw_core_up(void)
{
    if (vpw.up || !vpw.core) {
        return;
    }
    vpw.up = true;
    if (vpw.lost) {
        vpw.lost = false;
        g_printerr("vhost-user-sound: reconnected to PipeWire after %u "
                   "failed tries\n", qpw_retry_failures(&vpw.retry));
    }
}

static bool vpw_init_backend(const char *stream_name, const char *out_target,
                             const char *in_target)
{
    pw_init(NULL, NULL);
    vpw.stream_name = stream_name ? stream_name : "virtio-sound";
    vpw.out_target = out_target;
    vpw.in_target = in_target;
    vpw.voices = g_ptr_array_new();
    vpw.draining = g_ptr_array_new();
    vpw.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    vpw.loop = pw_thread_loop_new("vhost-user-sound", NULL);
    vpw.context = vpw.loop ? pw_context_new(pw_thread_loop_get_loop(vpw.loop),
                                          NULL, 0)
                         : NULL;
    if (vpw.wake_fd < 0 || !vpw.context || pw_thread_loop_start(vpw.loop) < 0) {
        g_printerr("vhost-user-sound: cannot start PipeWire's thread\n");
        return false;
    }
    qpw_retry_init(&vpw.retry, QPW_RETRY_FIRST_MS, QPW_RETRY_MAX_MS);
    pw_thread_loop_lock(vpw.loop);
    vpw_core_connect();
    pw_thread_loop_unlock(vpw.loop);
    if (!vpw.core) {
        g_printerr("vhost-user-sound: cannot connect to PipeWire: %s\n",
                   g_strerror(errno));
        return false;
    }
    g_unix_fd_add(vpw.wake_fd, G_IO_IN, vpw_on_wake, NULL);
    return true;
}

/* The formats the device offers, as the ring's units know them. */
static bool vpw_format(uint8_t virtio_format, QPwFormat *fmt)
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

/*
 * Loop lock held: the voice's stream, connected inactive; false on
 * failure, or while PipeWire is away.
 */
static bool vpw_connect(PwVoice *v)
{
    struct spa_audio_info_raw info = {
        .format = qpw_format_to_spa(v->format, false),  /* virtio: LE */
        .rate = v->geo.rate,
        .channels = v->geo.channels,
    };
    uint8_t buf[1024];
    struct spa_pod_builder pb = SPA_POD_BUILDER_INIT(buf, sizeof(buf));
    const struct spa_pod *params[1];
    struct pw_properties *props;
    const char *target;
    g_autofree char *node = g_strdup_printf("vhost-user-sound.%s%u",
                                            v->output ? "out" : "in",
                                            v->s->id);

    qpw_channel_positions(info.channels, info.position);
    params[0] = spa_format_audio_raw_build(&pb, SPA_PARAM_EnumFormat, &info);
    props = pw_properties_new(
        PW_KEY_MEDIA_TYPE, "Audio",
        PW_KEY_MEDIA_CATEGORY, v->output ? "Playback" : "Capture",
        PW_KEY_MEDIA_ROLE, "Music",
        PW_KEY_MEDIA_NAME, vpw.stream_name,
        PW_KEY_NODE_NAME, node,
        PW_KEY_NODE_LATENCY, v->geo.node_latency,
        NULL);
    target = v->output ? vpw.out_target : vpw.in_target;
    if (target) {
        pw_properties_set(props, PW_KEY_TARGET_OBJECT, target);
    }
    if (!vpw.core) {
        pw_properties_free(props);
        return false;
    }
    v->stream = pw_stream_new(vpw.core, vpw.stream_name, props);
    if (!v->stream) {
        return false;
    }
    pw_stream_add_listener(v->stream, &v->listener,
                           v->output ? &vpw_out_events : &vpw_in_events, v);
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

static void vpw_voice_free(PwVoice *v)
{
    if (v->stream) {
        pw_thread_loop_lock(vpw.loop);
        pw_stream_destroy(v->stream);
        pw_thread_loop_unlock(vpw.loop);
    }
    g_free(v->ring_data);
    g_free(v);
}

static gboolean vpw_voice_drained(gpointer opaque)
{
    g_ptr_array_remove(vpw.draining, opaque);
    vpw_voice_free(opaque);
    return G_SOURCE_REMOVE;
}

/*
 * The stream is the guest's no more. A playback stream still playing
 * what its ring holds (the guest releases right after its last message
 * came back) goes once that has played, with two graph cycles more for
 * the buffers in the graph, so that the sound keeps its tail.
 */
static void vpw_release(VusStream *s)
{
    PwVoice *v = s->backend;
    uint64_t drain_us;

    if (!v) {
        return;
    }
    g_ptr_array_remove(vpw.voices, v);
    s->backend = NULL;
    if (v->stop_timer) {
        g_source_remove(v->stop_timer);
        v->stop_timer = 0;
    }
    vpw_watch_arm();
    drain_us = qpw_geometry_drain_us(&v->geo, qpw_ring_fill(&v->ring),
                                     qatomic_read(&v->cycle_bytes));
    if (v->output && v->stream && qpw_ring_fill(&v->ring)) {
        g_ptr_array_add(vpw.draining, v);
        g_timeout_add(drain_us / 1000 + 1, vpw_voice_drained, v);
        return;
    }
    vpw_voice_free(v);
}

static bool vpw_prepare(VusStream *s)
{
    const VSndPcmParams *p = &s->io.pcm.params;
    uint32_t period_us = vsnd_pcm_period_us(p);
    const char *why = NULL;
    QPwFormat fmt;
    PwVoice *v;
    bool ok;

    vpw_release(s);
    v = g_new0(PwVoice, 1);
    v->s = s;
    v->output = s->io.pcm.caps.direction == VIRTIO_SND_D_OUTPUT;
    v->period_bytes = p->period_bytes;
    v->params = *p;
    if (!vpw_format(p->format, &fmt) ||
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
    g_ptr_array_add(vpw.voices, v);

    v->format = fmt;
    pw_thread_loop_lock(vpw.loop);
    ok = vpw_connect(v) || !vpw.core;     /* away: a stream on its return */
    pw_thread_loop_unlock(vpw.loop);
    if (!ok) {
        g_printerr("vhost-user-sound: stream %u: PipeWire refused the "
                   "stream\n", s->id);
        vpw_release(s);
    }
    return ok;
}

static void vpw_set_active(PwVoice *v, bool on)
{
    pw_thread_loop_lock(vpw.loop);
    if (v->stream) {
        pw_stream_set_active(v->stream, on);
    }
    pw_thread_loop_unlock(vpw.loop);
}

static gboolean vpw_stop_drained(gpointer opaque)
{
    PwVoice *v = opaque;

    v->stop_timer = 0;
    vpw_set_active(v, false);
    return G_SOURCE_REMOVE;
}

/*
 * START. Playback primes its ring again (the realtime thread does, at its
 * next cycle); capture starts from an empty ring, which this thread, its
 * reader, may empty.
 */
static void vpw_start(VusStream *s)
{
    PwVoice *v = s->backend;

    if (!v) {
        return;                         /* its PREPARE failed */
    }
    if (v->stop_timer) {
        g_source_remove(v->stop_timer);
        v->stop_timer = 0;
    }
    qatomic_inc(&v->prime_req);
    if (!v->output) {
        qpw_ring_drop(&v->ring);
    }
    v->active = true;
    v->active_since_us = g_get_monotonic_time();
    v->paced = !v->stream;
    vus_clock_start(&v->clock);
    vpw_set_active(v, true);
    vpw_watch_arm();
}

/*
 * STOP: capture stops now; playback plays out what its ring holds (and
 * two cycles more for the graph's buffers) before its stream goes idle,
 * so that the sink may suspend.
 */
static void vpw_stop(VusStream *s)
{
    PwVoice *v = s->backend;
    uint64_t drain_us;

    if (!v) {
        return;
    }
    v->active = false;
    v->paced = false;
    vpw_watch_arm();
    if (!v->output) {
        vpw_set_active(v, false);
        return;
    }
    drain_us = qpw_geometry_drain_us(&v->geo, qpw_ring_fill(&v->ring),
                                     qatomic_read(&v->cycle_bytes));
    v->stop_timer = g_timeout_add(drain_us / 1000 + 1, vpw_stop_drained, v);
}

static size_t vpw_avail(VusStream *s)
{
    PwVoice *v = s->backend;
    uint32_t mark;

    if (!v) {
        return 0;
    }
    if (v->paced) {
        return vus_clock_avail(&v->clock, &s->io.pcm.params);
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

/* What the ring holds; paced, nothing waits. */
static size_t vpw_held(VusStream *s)
{
    PwVoice *v = s->backend;

    return v && !v->paced ? qpw_ring_fill(&v->ring) : 0;
}

static void vpw_move(VusStream *s, uint8_t *buf, size_t len)
{
    PwVoice *v = s->backend;

    if (v->paced) {
        v->clock.moved += len;          /* capture: @buf holds silence */
    } else if (v->output) {
        qpw_ring_write(&v->ring, buf, len);
    } else {
        qpw_ring_read(&v->ring, buf, len);
    }
}

/* Loop lock held: the stream gets the guest's volume and mute. */
static void vpw_apply_volume(PwVoice *v)
{
    float mute = v->volume.mute;

    if (v->stream && v->has_volume) {
        pw_stream_set_control(v->stream, SPA_PROP_channelVolumes,
                              v->volume.channels, v->volume.values,
                              SPA_PROP_mute, 1, &mute, 0);
    }
}

static void vpw_volume(VusStream *s, bool mute, const uint8_t *levels,
                      uint32_t channels)
{
    PwVoice *v = s->backend;

    if (!v || !qpw_volume_fill(&v->volume, mute, levels, channels,
                               v->geo.channels)) {
        return;
    }
    v->has_volume = true;
    pw_thread_loop_lock(vpw.loop);
    vpw_apply_volume(v);
    pw_thread_loop_unlock(vpw.loop);
}

const VusBackend vus_backend_pipewire = {
    .name = "pipewire",
    .init = vpw_init_backend,
    .prepare = vpw_prepare,
    .start = vpw_start,
    .stop = vpw_stop,
    .release = vpw_release,
    .avail = vpw_avail,
    .held = vpw_held,
    .move = vpw_move,
    .volume = vpw_volume,
};
