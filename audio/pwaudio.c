/*
 * QEMU PipeWire audio backend
 *
 * Glue between QEMU's audio layer (audio_pcm_ops) and PipeWire: one
 * pw_thread_loop and core connection per -audiodev, one pw_stream per
 * voice. Audio travels between QEMU's audio timer and PipeWire's realtime
 * process callback through a lock-free QPwRing per stream; formats,
 * sizes and volumes come from the pwaudio-*.c units, so this file only
 * wires them to the two APIs.
 *
 * Threads: QEMU's audio callbacks run in its main loop. PipeWire events
 * (core, stream state, format, drain timer) run in the thread loop with
 * its lock held, and QEMU takes that lock around every PipeWire call.
 * The process callbacks run in PipeWire's realtime data thread
 * (PW_STREAM_FLAG_RT_PROCESS): they touch only the ring and a few atomic
 * counters, and never block, allocate, log or take the loop lock.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/module.h"
#include "qemu/atomic.h"
#include "audio.h"

#include <pipewire/pipewire.h>
#include <spa/param/format-utils.h>
#include <spa/param/audio/format-utils.h>
#include <spa/param/props.h>
#include <spa/utils/result.h>

#define AUDIO_CAP "pipewire"
#include "audio_int.h"
#include "trace.h"

#include "pwaudio-format.h"
#include "pwaudio-ring.h"
#include "pwaudio-timing.h"
#include "pwaudio-volume.h"

/* How long audiodev init waits for the daemon to answer its first sync. */
#define QPW_CONNECT_TIMEOUT_US (5 * G_USEC_PER_SEC)

/*
 * A guest OS plays anything; "Music" is the generic role that session
 * managers route like an ordinary media player.
 */
#define QPW_MEDIA_ROLE "Music"

/* Per -audiodev: the thread loop and the connection to the daemon. */
typedef struct QPwAudio {
    Audiodev *dev;
    struct pw_thread_loop *loop;
    struct pw_context *context;
    struct pw_core *core;
    struct spa_hook core_listener;

    /* Under the loop lock. */
    int sync_seq;
    bool synced;
    int dead_res;

    /* Set (release) by the loop thread when the connection is gone. */
    bool dead;

    /* QEMU's thread only: the loss has been told to the user. */
    bool dead_reported;
} QPwAudio;

/* Per voice: one pw_stream and the ring feeding or fed by it. */
typedef struct QPwStream {
    QPwAudio *pw;
    const char *dir;                /* "playback" or "capture" */
    char *name;                     /* node.name; also names it in messages */
    struct pw_stream *stream;       /* NULL: connection already gone */
    struct spa_hook listener;

    QPwStreamGeometry geo;
    QPwFormat format;
    bool big_endian;
    enum spa_audio_format spa_format;
    QPwRing ring;
    uint8_t *ring_buf;

    /* Written by the realtime thread, read by QEMU's: xrun statistics. */
    uint32_t xruns;
    size_t xrun_frames;
    uint32_t xruns_reported;        /* QEMU's thread */

    /*
     * Playback: the realtime thread has started taking audio from the
     * ring since the stream was last started (QEMU clears it).
     */
    bool primed;

    /*
     * Playback stop: QEMU has handed over its last audio, so the stream
     * plays the ring out and a loop timer deactivates it afterwards.
     * @draining is read by the realtime thread (the ring running dry is
     * then no underrun); the rest is under the loop lock.
     */
    bool draining;
    bool stop_pending;
    bool deactivated;
    struct spa_source *drain_timer;

    /* Set (release) by the loop thread when the stream fails; @error first. */
    bool failed;
    char *error;

    /* QEMU's thread: the stream is gone and silence is paced by the clock. */
    bool silent;
    bool failed_reported;
    RateCtl rate;
} QPwStream;

/* The audio layer allocates voice_size_out bytes and uses them as hw. */
typedef struct QPwVoiceOut {
    HWVoiceOut hw;
    QPwStream s;
} QPwVoiceOut;

typedef struct QPwVoiceIn {
    HWVoiceIn hw;
    QPwStream s;
} QPwVoiceIn;

/* Formats: QEMU's enum <-> ours. */

static bool qpw_format_from_audio(AudioFormat fmt, QPwFormat *out)
{
    switch (fmt) {
    case AUDIO_FORMAT_U8:
        *out = QPW_FORMAT_U8;
        return true;
    case AUDIO_FORMAT_S8:
        *out = QPW_FORMAT_S8;
        return true;
    case AUDIO_FORMAT_U16:
        *out = QPW_FORMAT_U16;
        return true;
    case AUDIO_FORMAT_S16:
        *out = QPW_FORMAT_S16;
        return true;
    case AUDIO_FORMAT_U32:
        *out = QPW_FORMAT_U32;
        return true;
    case AUDIO_FORMAT_S32:
        *out = QPW_FORMAT_S32;
        return true;
    case AUDIO_FORMAT_F32:
        *out = QPW_FORMAT_F32;
        return true;
    default:
        return false;
    }
}

static AudioFormat qpw_format_to_audio(QPwFormat fmt)
{
    switch (fmt) {
    case QPW_FORMAT_U8:
        return AUDIO_FORMAT_U8;
    case QPW_FORMAT_S8:
        return AUDIO_FORMAT_S8;
    case QPW_FORMAT_U16:
        return AUDIO_FORMAT_U16;
    case QPW_FORMAT_S16:
        return AUDIO_FORMAT_S16;
    case QPW_FORMAT_U32:
        return AUDIO_FORMAT_U32;
    case QPW_FORMAT_S32:
        return AUDIO_FORMAT_S32;
    case QPW_FORMAT_F32:
        return AUDIO_FORMAT_F32;
    default:
        g_assert_not_reached();
    }
}

/* Core events (loop thread, lock held). */

static void qpw_on_core_done(void *opaque, uint32_t id, int seq)
{
    QPwAudio *pw = opaque;

    if (id == PW_ID_CORE && seq == pw->sync_seq) {
        pw->synced = true;
        pw_thread_loop_signal(pw->loop, false);
    }
}

static void qpw_on_core_error(void *opaque, uint32_t id, int seq, int res,
                              const char *message)
{
    QPwAudio *pw = opaque;

    trace_qpw_core_error(pw->dev->id, id, seq, res, message ? message : "");

    /*
     * An error about one of our streams also reaches that stream's state
     * callback; one about the core itself means the connection is gone
     * (-EPIPE when the daemon exits), which ends every stream at once.
     */
    if (id == PW_ID_CORE && !qatomic_read(&pw->dead)) {
        pw->dead_res = res;
        qatomic_store_release(&pw->dead, true);
        pw_thread_loop_signal(pw->loop, false);
    }
}

static const struct pw_core_events qpw_core_events = {
    PW_VERSION_CORE_EVENTS,
    .done = qpw_on_core_done,
    .error = qpw_on_core_error,
};

/* Stream events (loop thread, lock held). */

static void qpw_on_state_changed(void *opaque, enum pw_stream_state old,
                                 enum pw_stream_state state,
                                 const char *error)
{
    QPwStream *s = opaque;

    trace_qpw_state_changed(s->name, pw_stream_state_as_string(old),
                            pw_stream_state_as_string(state),
                            error ? error : "");
    if (state == PW_STREAM_STATE_ERROR && !qatomic_read(&s->failed)) {
        s->error = g_strdup(error ? error : "unknown error");
        qatomic_store_release(&s->failed, true);
    }
}

static void qpw_on_param_changed(void *opaque, uint32_t id,
                                 const struct spa_pod *param)
{
    QPwStream *s = opaque;
    struct spa_audio_info_raw info = { 0 };
    uint32_t media_type, media_subtype;
    bool match = false;

    if (id != SPA_PARAM_Format || !param) {
        return;
    }
    if (spa_format_parse(param, &media_type, &media_subtype) >= 0 &&
        media_type == SPA_MEDIA_TYPE_audio &&
        media_subtype == SPA_MEDIA_SUBTYPE_raw &&
        spa_format_audio_raw_parse(param, &info) >= 0) {
        match = info.format == s->spa_format &&
                info.rate == s->geo.rate &&
                info.channels == s->geo.channels;
    }
    trace_qpw_format_negotiated(s->name, info.format, info.rate,
                                info.channels, match);

    /*
     * We offered exactly one format and told QEMU that is what it gets;
     * anything else would be played back as noise, so fail the stream
     * (its voice then carries on in silence) rather than misread it.
     */
    if (!match) {
        pw_stream_set_error(s->stream, -EINVAL,
                            "negotiated format is not the one offered");
    }
}

/* Process callbacks (realtime data thread). */

static void qpw_count_xrun(QPwStream *s, uint32_t bytes)
{
    qatomic_inc(&s->xruns);
    qatomic_add(&s->xrun_frames, bytes / s->geo.bytes_per_frame);
}

static void qpw_on_process_out(void *opaque)
{
    QPwStream *s = opaque;
    uint32_t stride = s->geo.bytes_per_frame;
    struct pw_buffer *b = pw_stream_dequeue_buffer(s->stream);
    struct spa_data *d;
    uint32_t len, got;

    if (!b) {
        /* Every buffer is queued already; nothing to fill this cycle. */
        return;
    }
    d = &b->buffer->datas[0];
    if (!d->data || !d->chunk) {
        pw_stream_queue_buffer(s->stream, b);
        return;
    }

    len = d->maxsize - d->maxsize % stride;
    /* The resampler may want fewer frames than fit; give it just that. */
    if (b->requested && b->requested < len / stride) {
        len = (uint32_t)b->requested * stride;
    }

    /*
     * After a start, play silence until QEMU has queued this cycle's
     * worth plus what the cycles until its next write take (a timer
     * period), or as much as it ever queues: starting on too little puts
     * a dropout a few milliseconds into every sound, and counts it as an
     * underrun. The zero-length read carries out a drop requested by
     * qpw_enable_out() first, so stale audio does not count.
     */
    if (!qatomic_read(&s->primed)) {
        uint32_t need = len + s->geo.period_frames * stride;

        qpw_ring_read(&s->ring, d->data, 0);
        if (qpw_ring_fill(&s->ring) < MIN(need, s->geo.highwater_bytes) &&
            !qatomic_read(&s->draining)) {
            qpw_format_fill_silence(s->format, s->big_endian, d->data, len);
            goto done;
        }
        qatomic_set(&s->primed, true);
    }

    got = qpw_ring_read_padded(&s->ring, d->data, len);
    if (got < len && !qatomic_read(&s->draining)) {
        qpw_count_xrun(s, len - got);
    }

done:
    d->chunk->offset = 0;
    d->chunk->stride = stride;
    d->chunk->size = len;
    pw_stream_queue_buffer(s->stream, b);
}

static void qpw_on_process_in(void *opaque)
{
    QPwStream *s = opaque;
    struct pw_buffer *b = pw_stream_dequeue_buffer(s->stream);
    struct spa_data *d;

    if (!b) {
        return;
    }
    d = &b->buffer->datas[0];
    if (d->data && d->chunk) {
        uint32_t offset = MIN(d->chunk->offset, d->maxsize);
        uint32_t size = MIN(d->chunk->size, d->maxsize - offset);
        uint32_t put = qpw_ring_write(&s->ring, (uint8_t *)d->data + offset,
                                      size);

        /* QEMU has not kept up: the newest audio is what gets lost. */
        if (put < size) {
            qpw_count_xrun(s, size - put);
        }
    }
    pw_stream_queue_buffer(s->stream, b);
}

static const struct pw_stream_events qpw_out_events = {
    PW_VERSION_STREAM_EVENTS,
    .state_changed = qpw_on_state_changed,
    .param_changed = qpw_on_param_changed,
    .process = qpw_on_process_out,
};

static const struct pw_stream_events qpw_in_events = {
    PW_VERSION_STREAM_EVENTS,
    .state_changed = qpw_on_state_changed,
    .param_changed = qpw_on_param_changed,
    .process = qpw_on_process_in,
};

/* Loop thread, lock held: the drain after a playback stop is over. */
static void qpw_on_drain_timer(void *opaque, uint64_t expirations)
{
    QPwStream *s = opaque;
    int r;

    if (!s->stop_pending) {
        return;
    }
    s->stop_pending = false;
    r = pw_stream_set_active(s->stream, false);
    s->deactivated = r >= 0;
    trace_qpw_enable(s->name, false);
}

/* QEMU's side. */

/*
 * True once the stream can no longer carry audio: the daemon is gone, the
 * stream failed, or there never was one. The voice then runs on clock-
 * paced silence so the guest's device keeps working; the cause is told
 * once per audiodev (connection) or once per stream (stream failure).
 */
static bool qpw_stream_silent(QPwStream *s)
{
    QPwAudio *pw = s->pw;
    bool dead, failed;

    if (s->silent) {
        return true;
    }
    dead = qatomic_load_acquire(&pw->dead);
    failed = qatomic_load_acquire(&s->failed);
    if (!dead && !failed && s->stream) {
        return false;
    }

    if (dead) {
        if (!pw->dead_reported) {
            pw->dead_reported = true;
            dolog("audiodev '%s': lost the connection to PipeWire (%s); "
                  "its voices go on in silence\n",
                  pw->dev->id, spa_strerror(pw->dead_res));
        }
    } else if (!s->failed_reported) {
        s->failed_reported = true;
        dolog("audiodev '%s': %s stream '%s' failed (%s); "
              "it goes on in silence\n",
              pw->dev->id, s->dir, s->name, s->error ? s->error : "no stream");
    }
    s->silent = true;
    audio_rate_start(&s->rate);
    trace_qpw_silent(s->name);
    return true;
}

static void qpw_report_xruns(QPwStream *s, const char *kind)
{
    uint32_t n = qatomic_read(&s->xruns);

    if (n != s->xruns_reported) {
        s->xruns_reported = n;
        trace_qpw_xrun(s->name, kind, n, qatomic_read(&s->xrun_frames));
    }
}

static void qpw_stream_fini(QPwStream *s)
{
    QPwAudio *pw = s->pw;

    if (s->stream || s->drain_timer) {
        pw_thread_loop_lock(pw->loop);
        if (s->drain_timer) {
            pw_loop_destroy_source(pw_thread_loop_get_loop(pw->loop),
                                   s->drain_timer);
            s->drain_timer = NULL;
        }
        if (s->stream) {
            /*
             * Also takes the node out of the data loop, so the process
             * callback is not running once this returns and the ring can
             * go.
             */
            pw_stream_destroy(s->stream);
            s->stream = NULL;
        }
        pw_thread_loop_unlock(pw->loop);
    }
    g_free(s->ring_buf);
    s->ring_buf = NULL;
    g_free(s->name);
    s->name = NULL;
    g_free(s->error);
    s->error = NULL;
}

/*
 * Set up @s for @as and connect its stream, inactive. Fills @obt with the
 * settings QEMU must use, which are those PipeWire will see. On failure
 * the caller runs qpw_stream_fini().
 */
static int qpw_stream_init(QPwStream *s, QPwAudio *pw,
                           AudiodevPipewirePerDirectionOptions *pdo,
                           enum pw_direction dir, struct audsettings *as,
                           struct audsettings *obt)
{
    const char *id = pw->dev->id;
    struct spa_audio_info_raw info = { 0 };
    const struct spa_pod *params[1];
    uint8_t pod_buf[1024];
    struct spa_pod_builder b = SPA_POD_BUILDER_INIT(pod_buf, sizeof(pod_buf));
    struct pw_properties *props;
    const char *reason;
    QPwFormat fmt, obt_fmt;
    bool be, obt_be;
    int r;

    s->pw = pw;
    s->dir = dir == PW_DIRECTION_OUTPUT ? "playback" : "capture";
    s->name = g_strdup(pdo->has_stream_name ? pdo->stream_name : id);

    if (!qpw_format_from_audio(as->fmt, &fmt)) {
        dolog("audiodev '%s': %s: unsupported sample format %d\n",
              id, s->dir, as->fmt);
        return -1;
    }
    be = as->endianness;
    /*
     * QEMU's mixing engine has no byte-swapping float path: it writes and
     * reads f32 in host order whatever endianness was asked for.
     */
    if (fmt == QPW_FORMAT_F32 &&
        qapi_AudiodevPipewirePerDirectionOptions_base(pdo)->mixing_engine) {
        be = QPW_HOST_BIG_ENDIAN;
    }

    if (!qpw_geometry_init(&s->geo, fmt, (uint32_t)as->nchannels,
                           (uint32_t)as->freq, pdo->latency,
                           pw->dev->timer_period, &reason)) {
        dolog("audiodev '%s': %s stream '%s': %s\n", id, s->dir, s->name,
              reason);
        return -1;
    }
    s->format = fmt;
    s->big_endian = be;
    s->spa_format = qpw_format_to_spa(fmt, be);

    s->ring_buf = g_malloc0(s->geo.capacity_bytes);
    if (!qpw_ring_init(&s->ring, s->ring_buf, s->geo.capacity_bytes, fmt, be,
                       s->geo.bytes_per_frame)) {
        dolog("audiodev '%s': %s stream '%s': cannot set up its buffer\n",
              id, s->dir, s->name);
        return -1;
    }

    /* What QEMU is told is read back from the SPA format it maps to. */
    if (!qpw_format_from_spa(s->spa_format, &obt_fmt, &obt_be)) {
        g_assert_not_reached();
    }
    *obt = *as;
    obt->fmt = qpw_format_to_audio(obt_fmt);
    obt->endianness = obt_be;

    info.format = s->spa_format;
    info.rate = s->geo.rate;
    info.channels = s->geo.channels;
    if (!qpw_channel_positions(info.channels, info.position)) {
        dolog("audiodev '%s': %s stream '%s': no channel layout for %u "
              "channels\n", id, s->dir, s->name, info.channels);
        return -1;
    }
    params[0] = spa_format_audio_raw_build(&b, SPA_PARAM_EnumFormat, &info);
    if (!params[0]) {
        dolog("audiodev '%s': %s stream '%s': cannot describe its format\n",
              id, s->dir, s->name);
        return -1;
    }

    trace_qpw_stream_new(s->name, s->dir, qpw_format_name(fmt), as->freq,
                         as->nchannels, s->geo.node_latency,
                         s->geo.highwater_bytes, s->geo.capacity_bytes);

    props = pw_properties_new(
        PW_KEY_MEDIA_TYPE, "Audio",
        PW_KEY_MEDIA_CATEGORY,
        dir == PW_DIRECTION_OUTPUT ? "Playback" : "Capture",
        PW_KEY_MEDIA_ROLE, QPW_MEDIA_ROLE,
        PW_KEY_APP_NAME, "QEMU",
        PW_KEY_NODE_NAME, s->name,
        PW_KEY_MEDIA_NAME, s->name,
        PW_KEY_NODE_LATENCY, s->geo.node_latency,
        NULL);
    if (!props) {
        dolog("audiodev '%s': %s stream '%s': cannot make its properties\n",
              id, s->dir, s->name);
        return -1;
    }
    if (pdo->has_name &&
        pw_properties_set(props, PW_KEY_TARGET_OBJECT, pdo->name) < 0) {
        pw_properties_free(props);
        dolog("audiodev '%s': %s stream '%s': cannot set its target\n",
              id, s->dir, s->name);
        return -1;
    }

    pw_thread_loop_lock(pw->loop);
    if (qatomic_read(&pw->dead)) {
        /* No stream: the voice runs silent, see qpw_stream_silent(). */
        pw_thread_loop_unlock(pw->loop);
        pw_properties_free(props);
        return 0;
    }
    /* Takes @props, even on failure. */
    s->stream = pw_stream_new(pw->core, s->name, props);
    if (!s->stream) {
        r = -errno;
        pw_thread_loop_unlock(pw->loop);
        dolog("audiodev '%s': cannot create %s stream '%s': %s\n",
              id, s->dir, s->name, spa_strerror(r));
        return -1;
    }
    pw_stream_add_listener(s->stream, &s->listener,
                           dir == PW_DIRECTION_OUTPUT ?
                           &qpw_out_events : &qpw_in_events, s);
    r = pw_stream_connect(s->stream, dir, PW_ID_ANY,
                          PW_STREAM_FLAG_AUTOCONNECT |
                          PW_STREAM_FLAG_MAP_BUFFERS |
                          PW_STREAM_FLAG_RT_PROCESS |
                          PW_STREAM_FLAG_INACTIVE,
                          params, 1);
    if (r < 0) {
        pw_stream_destroy(s->stream);
        s->stream = NULL;
        pw_thread_loop_unlock(pw->loop);
        dolog("audiodev '%s': cannot connect %s stream '%s': %s\n",
              id, s->dir, s->name, spa_strerror(r));
        return -1;
    }
    pw_thread_loop_unlock(pw->loop);
    return 0;
}

static void qpw_stream_set_volume(QPwStream *s, Volume *vol)
{
    QPwChannelVolumes cv;
    uint32_t n_levels = vol->channels > 0 ? vol->channels : 0;
    float mute;
    int r;

    n_levels = MIN(n_levels, AUDIO_MAX_CHANNELS);

    if (qpw_stream_silent(s) ||
        !qpw_volume_fill(&cv, vol->mute, vol->vol, n_levels,
                         s->geo.channels)) {
        return;
    }
    trace_qpw_volume(s->name, vol->mute, cv.channels,
                     n_levels ? vol->vol[0] : QPW_VOLUME_MAX_LEVEL);
    mute = cv.mute ? 1.0f : 0.0f;

    pw_thread_loop_lock(s->pw->loop);
    r = pw_stream_set_control(s->stream,
                              SPA_PROP_channelVolumes, cv.channels, cv.values,
                              SPA_PROP_mute, 1, &mute,
                              0);
    pw_thread_loop_unlock(s->pw->loop);
    if (r < 0) {
        dolog("audiodev '%s': cannot set the volume of %s stream '%s': %s\n",
              s->pw->dev->id, s->dir, s->name, spa_strerror(r));
    }
}

/* Under the loop lock. */
static void qpw_stream_activate_locked(QPwStream *s, bool active)
{
    int r = pw_stream_set_active(s->stream, active);

    trace_qpw_enable(s->name, active);
    if (r < 0) {
        dolog("audiodev '%s': cannot %s %s stream '%s': %s\n",
              s->pw->dev->id, active ? "start" : "stop", s->dir, s->name,
              spa_strerror(r));
    }
}

/* Playback. */

static int qpw_init_out(HWVoiceOut *hw, struct audsettings *as,
                        void *drv_opaque)
{
    QPwVoiceOut *v = container_of(hw, QPwVoiceOut, hw);
    QPwAudio *pw = drv_opaque;
    AudiodevPipewirePerDirectionOptions *pdo = pw->dev->u.pipewire.out;
    struct audsettings obt;

    if (qpw_stream_init(&v->s, pw, pdo, PW_DIRECTION_OUTPUT, as, &obt) < 0) {
        qpw_stream_fini(&v->s);
        return -1;
    }
    audio_pcm_init_info(&hw->info, &obt);
    hw->samples = audio_buffer_frames(
        qapi_AudiodevPipewirePerDirectionOptions_base(pdo), &obt,
        v->s.geo.latency_us);
    return 0;
}

static void qpw_fini_out(HWVoiceOut *hw)
{
    QPwVoiceOut *v = container_of(hw, QPwVoiceOut, hw);

    qpw_stream_fini(&v->s);
}

static size_t qpw_buffer_get_free(HWVoiceOut *hw)
{
    QPwStream *s = &container_of(hw, QPwVoiceOut, hw)->s;

    if (qpw_stream_silent(s)) {
        return audio_rate_peek_bytes(&s->rate, &hw->info);
    }
    return qpw_ring_room_below(&s->ring, s->geo.highwater_bytes);
}

static size_t qpw_write(HWVoiceOut *hw, void *buf, size_t len)
{
    QPwStream *s = &container_of(hw, QPwVoiceOut, hw)->s;
    uint32_t n;

    if (qpw_stream_silent(s)) {
        return audio_rate_get_bytes(&s->rate, &hw->info, len);
    }
    qpw_report_xruns(s, "underrun");
    n = qpw_ring_write(&s->ring, buf, MIN(len, UINT32_MAX));
    trace_qpw_write(s->name, len, n, qpw_ring_fill(&s->ring));
    return n;
}

static void qpw_enable_out(HWVoiceOut *hw, bool enable)
{
    QPwStream *s = &container_of(hw, QPwVoiceOut, hw)->s;
    struct pw_loop *loop = pw_thread_loop_get_loop(s->pw->loop);
    struct timespec zero = { 0 };

    if (qpw_stream_silent(s)) {
        audio_rate_start(&s->rate);
        return;
    }

    pw_thread_loop_lock(s->pw->loop);
    if (enable) {
        s->stop_pending = false;
        if (s->drain_timer) {
            pw_loop_update_timer(loop, s->drain_timer, &zero, NULL, false);
        }
        qatomic_set(&s->draining, false);
        qatomic_set(&s->primed, false);
        /*
         * If the drain timer stopped the stream before the ring ran dry
         * (nothing was pulling), what is left is stale: drop it rather
         * than play it ahead of the new audio.
         */
        if (s->deactivated) {
            s->deactivated = false;
            qpw_ring_request_drop(&s->ring);
        }
        qpw_stream_activate_locked(s, true);
    } else {
        /*
         * QEMU stops a voice once it has handed over all of its audio,
         * which may still be in the ring: let it play out, then
         * deactivate from the loop. Deactivating now would cut up to a
         * latency's worth of the end of every sound.
         */
        uint64_t wait = qpw_geometry_drain_us(&s->geo,
                                              qpw_ring_fill(&s->ring));
        struct timespec when = {
            .tv_sec = wait / G_USEC_PER_SEC,
            .tv_nsec = (wait % G_USEC_PER_SEC) * 1000,
        };

        qatomic_set(&s->draining, true);
        if (!s->drain_timer) {
            s->drain_timer = pw_loop_add_timer(loop, qpw_on_drain_timer, s);
        }
        if (s->drain_timer &&
            pw_loop_update_timer(loop, s->drain_timer, &when, NULL,
                                 false) >= 0) {
            s->stop_pending = true;
        } else {
            /* No timer: stop now, losing the tail rather than the stop. */
            qpw_stream_activate_locked(s, false);
            s->deactivated = true;
        }
    }
    pw_thread_loop_unlock(s->pw->loop);
}

static void qpw_volume_out(HWVoiceOut *hw, Volume *vol)
{
    qpw_stream_set_volume(&container_of(hw, QPwVoiceOut, hw)->s, vol);
}

/* Capture. */

static int qpw_init_in(HWVoiceIn *hw, struct audsettings *as,
                       void *drv_opaque)
{
    QPwVoiceIn *v = container_of(hw, QPwVoiceIn, hw);
    QPwAudio *pw = drv_opaque;
    AudiodevPipewirePerDirectionOptions *pdo = pw->dev->u.pipewire.in;
    struct audsettings obt;

    if (qpw_stream_init(&v->s, pw, pdo, PW_DIRECTION_INPUT, as, &obt) < 0) {
        qpw_stream_fini(&v->s);
        return -1;
    }
    audio_pcm_init_info(&hw->info, &obt);
    hw->samples = audio_buffer_frames(
        qapi_AudiodevPipewirePerDirectionOptions_base(pdo), &obt,
        v->s.geo.latency_us);
    return 0;
}

static void qpw_fini_in(HWVoiceIn *hw)
{
    QPwVoiceIn *v = container_of(hw, QPwVoiceIn, hw);

    qpw_stream_fini(&v->s);
}

static size_t qpw_read(HWVoiceIn *hw, void *buf, size_t len)
{
    QPwStream *s = &container_of(hw, QPwVoiceIn, hw)->s;
    uint32_t n;

    if (qpw_stream_silent(s)) {
        size_t bytes = audio_rate_get_bytes(&s->rate, &hw->info, len);

        qpw_format_fill_silence(s->format, s->big_endian, buf, bytes);
        return bytes;
    }
    qpw_report_xruns(s, "overrun");
    n = qpw_ring_read(&s->ring, buf, MIN(len, UINT32_MAX));
    trace_qpw_read(s->name, len, n, qpw_ring_fill(&s->ring));
    return n;
}

static void qpw_enable_in(HWVoiceIn *hw, bool enable)
{
    QPwStream *s = &container_of(hw, QPwVoiceIn, hw)->s;

    if (qpw_stream_silent(s)) {
        audio_rate_start(&s->rate);
        return;
    }
    /*
     * Whatever was captured before this start is stale. QEMU is the
     * ring's consumer here, so it may drop it directly.
     */
    if (enable) {
        qpw_ring_drop(&s->ring);
    }
    pw_thread_loop_lock(s->pw->loop);
    qpw_stream_activate_locked(s, enable);
    pw_thread_loop_unlock(s->pw->loop);
}

static void qpw_volume_in(HWVoiceIn *hw, Volume *vol)
{
    qpw_stream_set_volume(&container_of(hw, QPwVoiceIn, hw)->s, vol);
}

/* The driver. */

static bool qpw_validate_pdo(Audiodev *dev, const char *dir,
                             AudiodevPipewirePerDirectionOptions *pdo)
{
    const char *reason;

    if (!pdo->has_latency) {
        pdo->has_latency = true;
        pdo->latency = QPW_LATENCY_DEFAULT_US;
        return true;
    }
    if (!qpw_latency_validate(pdo->latency, &reason)) {
        dolog("audiodev '%s': %s.latency=%" PRIu32 ": %s\n",
              dev->id, dir, pdo->latency, reason);
        return false;
    }
    return true;
}

static void qpw_audio_free(QPwAudio *pw)
{
    /* Stop the loop first: nothing may dispatch into what goes next. */
    if (pw->loop) {
        pw_thread_loop_stop(pw->loop);
    }
    if (pw->core) {
        spa_hook_remove(&pw->core_listener);
        pw_core_disconnect(pw->core);
    }
    if (pw->context) {
        pw_context_destroy(pw->context);
    }
    if (pw->loop) {
        pw_thread_loop_destroy(pw->loop);
    }
    g_free(pw);
}

static void *qpw_audio_init(Audiodev *dev)
{
    static bool qpw_initialized;
    AudiodevPipewireOptions *opts = &dev->u.pipewire;
    QPwAudio *pw;
    const char *what;
    int64_t deadline;
    int err;

    assert(dev->driver == AUDIODEV_DRIVER_PIPEWIRE);

    if (!qpw_validate_pdo(dev, "in", opts->in) ||
        !qpw_validate_pdo(dev, "out", opts->out)) {
        return NULL;
    }

    /*
     * Once per process, from QEMU's main thread. pw_deinit() is never
     * called: other audiodevs may still be using the library.
     */
    if (!qpw_initialized) {
        pw_init(NULL, NULL);
        qpw_initialized = true;
    }

    pw = g_new0(QPwAudio, 1);
    pw->dev = dev;

    pw->loop = pw_thread_loop_new("qemu-pipewire", NULL);
    if (!pw->loop) {
        err = -errno;
        what = "cannot create its PipeWire thread";
        goto fail;
    }
    pw->context = pw_context_new(pw_thread_loop_get_loop(pw->loop), NULL, 0);
    if (!pw->context) {
        err = -errno;
        what = "cannot create its PipeWire context";
        goto fail;
    }
    err = pw_thread_loop_start(pw->loop);
    if (err != 0) {
        err = err < 0 ? err : -err;
        what = "cannot start its PipeWire thread";
        goto fail;
    }

    pw_thread_loop_lock(pw->loop);
    pw->core = pw_context_connect(pw->context, NULL, 0);
    if (!pw->core) {
        err = -errno;
        pw_thread_loop_unlock(pw->loop);
        what = "cannot connect to the PipeWire daemon";
        goto fail;
    }
    pw_core_add_listener(pw->core, &pw->core_listener, &qpw_core_events, pw);

    /*
     * A round trip proves the daemon really talks to us before the guest
     * gets a sound card that depends on it.
     */
    pw->sync_seq = pw_core_sync(pw->core, PW_ID_CORE, 0);
    if (pw->sync_seq < 0) {
        err = pw->sync_seq;
        pw_thread_loop_unlock(pw->loop);
        what = "cannot talk to the PipeWire daemon";
        goto fail;
    }
    deadline = g_get_monotonic_time() + QPW_CONNECT_TIMEOUT_US;
    while (!pw->synced && !qatomic_read(&pw->dead) &&
           g_get_monotonic_time() < deadline) {
        pw_thread_loop_timed_wait(pw->loop, 1);
    }
    if (!pw->synced || qatomic_read(&pw->dead)) {
        err = qatomic_read(&pw->dead) ? pw->dead_res : -ETIMEDOUT;
        pw_thread_loop_unlock(pw->loop);
        what = "no answer from the PipeWire daemon";
        goto fail;
    }
    pw_thread_loop_unlock(pw->loop);

    trace_qpw_connected(dev->id, pw_get_library_version());
    return pw;

fail:
    dolog("audiodev '%s': %s: %s\n", dev->id, what, spa_strerror(err));
    qpw_audio_free(pw);
    return NULL;
}

static void qpw_audio_fini(void *opaque)
{
    qpw_audio_free(opaque);
}

static struct audio_pcm_ops qpw_pcm_ops = {
    .init_out = qpw_init_out,
    .fini_out = qpw_fini_out,
    .write = qpw_write,
    .buffer_get_free = qpw_buffer_get_free,
    .run_buffer_out = audio_generic_run_buffer_out,
    .enable_out = qpw_enable_out,
    .volume_out = qpw_volume_out,

    .init_in = qpw_init_in,
    .fini_in = qpw_fini_in,
    .read = qpw_read,
    .run_buffer_in = audio_generic_run_buffer_in,
    .enable_in = qpw_enable_in,
    .volume_in = qpw_volume_in,
};

static struct audio_driver qpw_audio_driver = {
    .name = "pipewire",
    .descr = "PipeWire https://pipewire.org/",
    .init = qpw_audio_init,
    .fini = qpw_audio_fini,
    .pcm_ops = &qpw_pcm_ops,
    .can_be_default = 1,
    .max_voices_out = INT_MAX,
    .max_voices_in = INT_MAX,
    .voice_size_out = sizeof(QPwVoiceOut),
    .voice_size_in = sizeof(QPwVoiceIn),
};

static void register_audio_pipewire(void)
{
    audio_driver_register(&qpw_audio_driver);
}
type_init(register_audio_pipewire);
