/*
 * QEMU PipeWire audio backend
 *
 * Glue between QEMU's audio layer (audio_pcm_ops) and PipeWire: one
 * pw_thread_loop and core connection per -audiodev, one pw_stream per
 * voice. Audio travels between QEMU's audio layer and PipeWire's realtime
 * process callback through a lock-free QPwRing per stream; formats,
 * sizes, volumes and the reconnect schedule come from the pwaudio-*.c
 * units, so this file only wires them to the two APIs.
 *
 * Threads: QEMU's audio callbacks run in its main loop. PipeWire events
 * (core, stream state, format, drain and retry timers) run in the thread
 * loop with its lock held, and QEMU takes that lock around every PipeWire
 * call. The process callbacks run in PipeWire's data thread
 * (PW_STREAM_FLAG_RT_PROCESS), which the context's configuration
 * (client-rt.conf: module-rt) makes realtime where the user may have it,
 * that thread only: they touch the ring and a few atomic counters, and may
 * schedule a bottom half (an eventfd write), but never block, allocate,
 * log or take the loop lock.
 *
 * The daemon going away: the core's error event marks the connection
 * lost, and every voice falls back to silence paced by QEMU's clock (so
 * the guest never stalls); a loop timer then tears the dead core and
 * streams down and retries connecting (pwaudio-retry.h). Once the daemon
 * answers again, each voice gets a new stream with its old format,
 * properties, active state and volume over its old ring, and goes back to
 * the ring as soon as PipeWire runs that stream. The loop thread tells
 * QEMU's thread which stream to use through a per-stream epoch.
 *
 * Wake-ups: the voices are in poll mode, so QEMU's audio timer leaves
 * them alone and the backend runs the audio layer itself. Once a voice's
 * user has said its period (audio_set_period_hint_*()), the stream asks
 * for a quantum of at most that period, and its process callback
 * schedules a bottom half that runs the audio layer as soon as the
 * playback ring runs low or a capture period is in. A QEMU timer per
 * voice covers the rest: clock-paced silence, voices with no period hint,
 * graph cycles longer than the period, capture periods longer than the
 * cycle, a graph that stalls.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/atomic.h"
#include "qemu/queue.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "pwaudio-compat.h"

#include <math.h>
#include <sched.h>
#include <pipewire/pipewire.h>
#include <pipewire/extensions/metadata.h>
#include <spa/param/format-utils.h>
#include <spa/param/audio/format-utils.h>
#include <spa/param/props.h>
#include <spa/utils/result.h>

#define AUDIO_CAP "pipewire"
#include "audio_int.h"
#include "trace.h"

#include "pwaudio-format.h"
#include "pwaudio-retry.h"
#include "pwaudio-ring.h"
#include "pwaudio-timing.h"
#include "pwaudio-volume.h"

/* How long a connection may wait for the daemon to answer its first sync. */
#define QPW_CONNECT_TIMEOUT_US (5 * G_USEC_PER_SEC)

/*
 * How long a started stream may take to run before its voice goes on in
 * paced silence. A linked stream ran 0.5 to 24 ms after its start in
 * tests/e2e/test_pwaudio_graph.py (2026-12-06, qpw_enable to
 * qpw_state_changed in its traces). The guest's audio waits in the ring
 * (and the guest's own buffer) meanwhile, so this is also about the
 * longest a start can hold the guest up; Linux 6.12 (the test guest's)
 * fails a PCM write with EIO when the position has not moved for 100 ms
 * (or 1.1 buffers, if longer).
 */
#define QPW_START_GRACE_MS 50

/*
 * How long a voice's target that came back (out.name, in.name) is left to
 * the session manager before the voice's stream is moved back to it: a
 * margin for it to set the new node up, not a measured need (the move
 * was tested with this value only).
 */
#define QPW_TARGET_SETTLE_MS 500

/*
 * How long after PipeWire failed a stream (for example a session manager
 * that found no node to link it to, just after a restart) the voice gets
 * a new one; meanwhile it goes on in paced silence.
 */
#define QPW_STREAM_RETRY_MS 500

/*
 * A guest OS plays anything; "Music" is the generic role that session
 * managers route like an ordinary media player.
 */
#define QPW_MEDIA_ROLE "Music"

/* Where an audiodev's connection to the daemon stands. */
typedef enum QPwConnState {
    QPW_CONN_SYNCING,   /* connected, waiting for the daemon's first answer */
    QPW_CONN_UP,        /* the daemon answered: every voice has a stream */
    QPW_CONN_LOST,      /* the core failed; the retry timer tears it down */
    QPW_CONN_DOWN,      /* no core; the retry timer tries to connect */
} QPwConnState;

typedef struct QPwStream QPwStream;

/* Per -audiodev: the thread loop and the connection to the daemon. */
typedef struct QPwAudio {
    Audiodev *dev;
    QPwAudioState *audio;               /* its voices' (set by each) */
    QEMUBH *wake_bh;                    /* runs the audio layer now */
    struct pw_thread_loop *loop;
    struct pw_context *context;

    /* Everything below is under the loop lock. */
    struct pw_core *core;               /* NULL while QPW_CONN_DOWN */
    struct spa_hook core_listener;
    /*
     * Watches the nodes come and go, for the voices' targets: the
     * registry id of the node named by out.name ([0]) and in.name ([1]),
     * SPA_ID_INVALID while there is none.
     */
    struct pw_registry *registry;
    struct spa_hook registry_listener;
    uint32_t target_id[2];
    struct spa_source *target_timer;    /* a target is back: settle, move */
    /* The session manager's "default" metadata, where streams are moved. */
    struct pw_metadata *metadata;
    uint32_t metadata_id;
    QPwConnState state;
    int sync_seq;
    int lost_res;                       /* why the connection went */

    /* Init is over: from now on a lost connection is retried. */
    bool started;
    struct spa_source *retry_timer;
    QPwRetry retry;

    /* Every voice of this audiodev, whether it has a stream or not. */
    QLIST_HEAD(, QPwStream) streams;
    uint32_t last_epoch;

    /*
     * The data thread's scheduling policy, as its first process callback
     * found it (-1 until then), and whether QEMU's thread has said so.
     */
    int data_thread_policy;
    bool data_thread_reported;
} QPwAudio;

/* Per voice: one pw_stream and the ring feeding or fed by it. */
struct QPwStream {
    QPwAudio *pw;
    QLIST_ENTRY(QPwStream) link;    /* in pw->streams, under the loop lock */
    enum pw_direction direction;
    const char *dir;                /* "playback" or "capture" */
    char *name;                     /* node.name; also names it in messages */

    /* What every stream of this voice is created with. */
    struct pw_properties *props;
    struct spa_audio_info_raw info;

    /*
     * Under the loop lock: the current stream (NULL while there is no
     * connection), and whether it failed, which leaves it in place but
     * useless until the next connection.
     */
    struct pw_stream *stream;
    struct spa_hook listener;
    bool failed;

    /*
     * Under the loop lock: what QEMU last asked for, applied to every new
     * stream. @active is the stream's wanted state, which for playback
     * stays on until the drain after a stop is over.
     */
    bool active;
    bool have_volume;
    QPwChannelVolumes volume;

    /*
     * Non-zero (stored with release by the loop thread) while the current
     * stream carries the ring's audio; a new value for each new stream,
     * 0 while there is none. QEMU's thread follows it in qpw_stream_silent().
     */
    uint32_t epoch;

    /*
     * Changed by QEMU's thread under the loop lock (the period hint); the
     * realtime thread reads only @wake_period_bytes, atomically.
     */
    QPwStreamGeometry geo;
    uint32_t wake_period_bytes;     /* the hint in bytes; 0: never wake */

    /*
     * The length of the last graph cycle (realtime thread), and the one
     * QEMU's thread last traced.
     */
    uint32_t cycle_bytes;
    uint32_t cycle_traced;

    /*
     * A playback voice on QEMU's clock and the graph stalling (see
     * qpw_stall_room()): when the realtime thread last took audio from
     * the ring (g_get_monotonic_time(), low 32 bits, never 0; 0: not
     * since the last start), and, on QEMU's thread, the most the last
     * stall let the ring hold above its mark and when, whether a stall is
     * going on, and what was left of an earlier one when it began.
     */
    uint32_t cycle_start_us;
    uint32_t stall_peak;
    int64_t stall_peak_us;
    bool stalled;
    uint32_t stall_base;

    /*
     * QEMU's thread: runs the audio layer when nothing else has for as
     * long as the voice can wait (qpw_run_delay_ns()).
     */
    QEMUTimer *run_timer;
    bool running;                   /* QEMU has the voice enabled */
    enum spa_audio_format spa_format;
    /* What QEMU was told; its silence pads underruns (any thread). */
    struct audio_pcm_info *pcm;
    QPwRing ring;
    uint8_t *ring_buf;

    /* Written by the realtime thread, read by QEMU's: xrun statistics. */
    uint32_t xruns;
    size_t xrun_frames;
    uint32_t xruns_reported;        /* QEMU's thread */
    /* Playback cycles with no buffer to fill: PipeWire had none free. */
    uint32_t no_buffer;
    uint32_t no_buffer_reported;    /* QEMU's thread */

    /*
     * Playback priming, one writer each: @prime_requests is bumped
     * (atomically) by whoever wants the next cycles to wait for a full
     * ring again (a start, a new stream); @primed_for is written by the
     * realtime thread alone, to the request it has primed for. The stream
     * takes audio from the ring while the two are equal. A request made
     * while the realtime thread is priming is not lost: it sees the
     * counter move on the next cycle.
     */
    uint32_t prime_requests;
    uint32_t primed_for;

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

    /*
     * Under the loop lock: a start that PipeWire has not run within
     * qpw_start_grace_ms() (nothing links the stream: no session manager,
     * no such target) falls back to paced silence; said once per voice.
     */
    struct spa_source *start_timer;
    bool said_not_running;
    bool said_failed;

    /*
     * Under the loop lock: the voice's target (out.name, in.name) went
     * away under its current stream, or was not there when the stream was
     * made, so the session manager linked the stream elsewhere or not at
     * all (see qpw_on_node_added()).
     */
    bool target_gone;

    /* QEMU's thread: the epoch it runs on (0: clock-paced silence). */
    uint32_t seen_epoch;
    RateCtl rate;

    /*
     * A voice on QEMU's clock (see qpw_follow_card_clock()): the graph's
     * position and the stream's rate-match area, set by the loop thread
     * (io_changed) and used by the realtime thread, which writes the rest
     * (and the loop thread while no process callback runs); QEMU's thread
     * reads @card_ppm, the card's offset it follows, and @follow_nudge,
     * a copy of @follow's nudge, to trace them.
     */
    struct spa_io_position *io_position;
    struct spa_io_rate_match *io_rate_match;
    QPwCardFollower follow;
    int follow_nudge;
    int32_t card_ppm;               /* the card's offset followed, or 0 */
    int32_t card_ppm_traced;        /* QEMU's thread */
    int follow_nudge_traced;        /* QEMU's thread */
};

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

/* Which stream QEMU's side uses (loop thread, lock held). */

/* QEMU's side stops using the ring and runs on paced silence. */
static void qpw_stream_unpublish(QPwStream *s)
{
    qatomic_store_release(&s->epoch, 0);
}

/* QEMU's side uses the ring of the current stream, from a fresh start. */
static void qpw_stream_publish(QPwStream *s)
{
    QPwAudio *pw = s->pw;

    /* 0 means "none", so skip it when the counter wraps. */
    if (++pw->last_epoch == 0) {
        ++pw->last_epoch;
    }
    trace_qpw_stream_published(s->name, pw->last_epoch);
    qatomic_store_release(&s->epoch, pw->last_epoch);
}

/* The current stream exists, has not failed and its core is alive. */
static bool qpw_stream_usable(QPwStream *s)
{
    return s->stream && !s->failed && s->pw->state == QPW_CONN_UP;
}

/*
 * A new stream is published once it can carry audio: at once for a
 * stopped voice, as every voice is when QEMU creates it (a start then
 * waits for the stream like any other), else, after a reconnect, once
 * PipeWire runs it. Publishing a running voice earlier would let QEMU
 * fill the ring of a stream that the session manager has not linked yet
 * (it may be restarting too), which stalls the guest instead of keeping
 * it on paced silence until sound can flow.
 */
static void qpw_stream_check_flowing(QPwStream *s)
{
    if (qatomic_read(&s->epoch) || !qpw_stream_usable(s)) {
        return;
    }
    if (!s->active ||
        pw_stream_get_state(s->stream, NULL) == PW_STREAM_STATE_STREAMING) {
        qpw_stream_publish(s);
    }
}

static void qpw_stream_disconnect_locked(QPwStream *s);
static int qpw_stream_connect_locked(QPwStream *s);

/* The node named by out.name or in.name (@dir_index 0 or 1), or NULL. */
static const char *qpw_target_name(QPwAudio *pw, unsigned int dir_index)
{
    return dir_index == 0 ? pw->dev->u.pipewire.out->name
                          : pw->dev->u.pipewire.in->name;
}

static unsigned int qpw_dir_index(QPwStream *s)
{
    return s->direction == PW_DIRECTION_OUTPUT ? 0 : 1;
}

/*
 * How long a start may take to run: QPW_START_GRACE_MS, or the user's
 * period if longer. A stream connected just before its start (a guest that
 * prepares and starts at once) took up to 73 ms to run here (2026-12-06);
 * a guest with periods that long has a buffer that waits longer still
 * before Linux calls the stream stuck (1.1 buffers).
 */
static uint32_t qpw_start_grace_ms(QPwStream *s)
{
    uint64_t period_ms = qpw_frames_to_us(s->geo.period_hint_frames,
                                          s->geo.rate) / 1000;

    return MAX(QPW_START_GRACE_MS, MIN(period_ms, UINT32_MAX));
}

/*
 * Loop thread, lock held: a started stream that PipeWire does not run
 * (nothing links it) must not hold the guest up: its voice goes on in
 * silence paced by QEMU's clock, as with no daemon, and goes back to the
 * stream once PipeWire runs it (qpw_stream_check_flowing()).
 */
static void qpw_on_start_timer(void *opaque, uint64_t expirations)
{
    QPwStream *s = opaque;

    /* The same timer gives a failed stream its next try. */
    if (s->failed && s->pw->state == QPW_CONN_UP) {
        trace_qpw_stream_retry(s->name, s->dir);
        qpw_stream_disconnect_locked(s);
        qpw_stream_connect_locked(s);
        return;
    }
    if (!s->active || !qpw_stream_usable(s) || !qatomic_read(&s->epoch) ||
        pw_stream_get_state(s->stream, NULL) == PW_STREAM_STATE_STREAMING) {
        return;
    }
    trace_qpw_not_running(s->name, s->dir, qpw_start_grace_ms(s));
    if (!s->said_not_running) {
        s->said_not_running = true;
        dolog("audiodev '%s': PipeWire has not run %s stream '%s' %d ms "
              "after its start: nothing links it to a %s (is a session "
              "manager such as WirePlumber running? does %s exist?); it goes "
              "on in silence until PipeWire runs it\n",
              s->pw->dev->id, s->dir, s->name, qpw_start_grace_ms(s),
              s->direction == PW_DIRECTION_OUTPUT ? "sink" : "source",
              qpw_target_name(s->pw, qpw_dir_index(s)) ?:
              "the default node");
    }
    qpw_stream_unpublish(s);
}

/* Loop lock held: (re)arm a loop timer @ms from now; 0 disarms it. */
static void qpw_arm_timer_ms(QPwAudio *pw, struct spa_source *timer,
                             uint32_t ms)
{
    struct timespec when = {
        .tv_sec = ms / 1000,
        .tv_nsec = ms % 1000 * 1000000L,
    };

    pw_loop_update_timer(pw_thread_loop_get_loop(pw->loop), timer, &when,
                         NULL, false);
}

/* Loop lock held: (re)arm the start timer @ms from now; 0 disarms it. */
static void qpw_stream_arm_start_timer_locked(QPwStream *s, uint32_t ms)
{
    if (!s->start_timer && ms) {
        s->start_timer = pw_loop_add_timer(pw_thread_loop_get_loop(s->pw->loop),
                                           qpw_on_start_timer, s);
    }
    if (s->start_timer) {
        qpw_arm_timer_ms(s->pw, s->start_timer, ms);
    }
}

/* Record QEMU's wish and apply it to the stream, if there is one. */
static void qpw_stream_set_active_locked(QPwStream *s, bool active)
{
    int r;

    s->active = active;
    trace_qpw_enable(s->name, active);
    if (qpw_stream_usable(s)) {
        r = pw_stream_set_active(s->stream, active);
        if (r < 0) {
            dolog("audiodev '%s': cannot %s %s stream '%s': %s\n",
                  s->pw->dev->id, active ? "start" : "stop", s->dir, s->name,
                  spa_strerror(r));
        }
    }
    qpw_stream_arm_start_timer_locked(s, active && qpw_stream_usable(s) ?
                                      qpw_start_grace_ms(s) : 0);
    qpw_stream_check_flowing(s);
}

/* Apply the volume QEMU last set, if any, to the stream. */
static void qpw_stream_apply_volume_locked(QPwStream *s)
{
    float mute = s->volume.mute ? 1.0f : 0.0f;
    int r;

    if (!s->have_volume || !qpw_stream_usable(s)) {
        return;
    }
    r = pw_stream_set_control(s->stream,
                              SPA_PROP_channelVolumes, s->volume.channels,
                              s->volume.values,
                              SPA_PROP_mute, 1, &mute,
                              0);
    if (r < 0) {
        dolog("audiodev '%s': cannot set the volume of %s stream '%s': %s\n",
              s->pw->dev->id, s->dir, s->name, spa_strerror(r));
    }
}

/* Stream events (loop thread, lock held). */

static void qpw_on_state_changed(void *opaque, enum pw_stream_state old,
                                 enum pw_stream_state state,
                                 const char *error)
{
    QPwStream *s = opaque;

    trace_qpw_state_changed(s->name, pw_stream_state_as_string(old),
                            pw_stream_state_as_string(state),
                            error ? error : "");

    /*
     * ERROR: PipeWire failed the stream (e.g. refused its format);
     * UNCONNECTED: its node or the whole connection went away under it
     * (the latter is reported once for all streams, as a lost connection).
     * Either way it carries nothing any more, until the next connection
     * gives the voice a new stream.
     */
    if ((state == PW_STREAM_STATE_ERROR ||
         state == PW_STREAM_STATE_UNCONNECTED) && !s->failed) {
        s->failed = true;
        qpw_stream_unpublish(s);
        if (s->pw->state != QPW_CONN_UP) {
            return;
        }
        if (!s->said_failed) {
            s->said_failed = true;
            dolog("audiodev '%s': %s stream '%s' failed (%s); it goes on "
                  "in silence and gets a new stream every %d ms until one "
                  "works\n", s->pw->dev->id, s->dir, s->name,
                  error ? error : "its node went away", QPW_STREAM_RETRY_MS);
        }
        qpw_stream_arm_start_timer_locked(s, QPW_STREAM_RETRY_MS);
        return;
    }
    /*
     * A running stream that PipeWire stops running (its link or its
     * target went away) gets the same grace as a start before its voice
     * goes on in silence.
     */
    if (s->active && old == PW_STREAM_STATE_STREAMING &&
        state != PW_STREAM_STATE_STREAMING) {
        qpw_stream_arm_start_timer_locked(s, qpw_start_grace_ms(s));
    }
    qpw_stream_check_flowing(s);
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

/*
 * Any thread: from the next cycle on, the playback stream plays silence
 * until the ring holds enough to start on (see qpw_on_process_out()).
 * The increment is sequentially consistent, so the realtime thread that
 * sees the new request also sees a ring drop requested before it.
 */
static void qpw_stream_request_prime(QPwStream *s)
{
    /* Priming is no stall: the graph takes nothing from the ring then. */
    qatomic_set(&s->cycle_start_us, 0);
    qatomic_fetch_inc(&s->prime_requests);
}

static void qpw_count_xrun(QPwStream *s, uint32_t bytes)
{
    qatomic_inc(&s->xruns);
    qatomic_add(&s->xrun_frames, bytes / s->geo.bytes_per_frame);
}

/*
 * Realtime thread: have QEMU's main loop run the audio layer now, if
 * @needed. Scheduling a bottom half is a few atomic operations (its
 * flags, a lock-free list insert) and, when the main loop is waiting,
 * a write to the loop's eventfd: a system call, but one that does not
 * block here, with no allocation and no lock.
 */
static void qpw_stream_wake(QPwStream *s, bool needed)
{
    if (needed) {
        qemu_bh_schedule(s->pw->wake_bh);
    }
}

/*
 * Realtime thread: note the thread's scheduling policy once, for QEMU's
 * thread to report (qpw_report_scheduling()); a system call that does not
 * block, made in the first cycle only.
 */
static void qpw_note_data_thread(QPwAudio *pw)
{
    if (unlikely(qatomic_read(&pw->data_thread_policy) < 0)) {
        /* module-rt also asks for SCHED_RESET_ON_FORK: not a policy. */
        qatomic_set(&pw->data_thread_policy,
                    sched_getscheduler(0) & ~SCHED_RESET_ON_FORK);
    }
}

/*
 * Realtime thread, or any while no process callback runs: the next cycle
 * starts with the resampler out and nothing counted.
 */
static void qpw_stream_stop_following(QPwStream *s)
{
    qpw_card_stop(&s->follow);
    qatomic_set(&s->follow_nudge, 0);
}

/*
 * Realtime thread, at the start of the process callback (in capture the
 * resampler has run for this cycle already: the ratio set here applies
 * from the next one): a voice that QEMU's timer alone empties or refills
 * (no period hint: HDA, usb-audio, AC97) has the stream's resampler
 * follow the card's clock, see qpw_card_follow(). A woken voice
 * (virtio-sound) is paced by this stream and follows the card by itself:
 * left a pass-through, bit-exact.
 */
static void qpw_follow_card_clock(QPwStream *s, bool woken)
{
    struct spa_io_rate_match *io = qatomic_read(&s->io_rate_match);
    struct spa_io_position *pos = qatomic_read(&s->io_position);
    double diff = 1.0, cycle_frames = 0, ratio;

    if (io && !woken && pos && pos->clock.rate.denom) {
        diff = qpw_card_diff(pos->clock.rate_diff);
        cycle_frames = (double)pos->clock.duration * s->geo.rate *
                       pos->clock.rate.num / pos->clock.rate.denom;
    }
    ratio = qpw_card_follow(&s->follow, diff, cycle_frames);
    qatomic_set(&s->follow_nudge, s->follow.nudge);
    if (!ratio) {
        if (io) {
            io->flags &= ~SPA_IO_RATE_MATCH_FLAG_ACTIVE;
        }
        qatomic_set(&s->card_ppm, 0);
        return;
    }
    /* The ratio is the resampler's output's rate over its input's. */
    io->rate = s->direction == PW_DIRECTION_OUTPUT ? ratio : 1.0 / ratio;
    io->flags |= SPA_IO_RATE_MATCH_FLAG_ACTIVE;
    qatomic_set(&s->card_ppm, lround((diff - 1.0) * 1e6));
}

static void qpw_on_process_out(void *opaque)
{
    QPwStream *s = opaque;
    bool woken = qatomic_read(&s->wake_period_bytes) != 0;
    uint32_t stride = s->geo.bytes_per_frame;
    struct pw_buffer *b = pw_stream_dequeue_buffer(s->stream);
    struct spa_data *d;
    uint32_t len, got, prime_req;

    qpw_note_data_thread(s->pw);
    qpw_follow_card_clock(s, woken);
    if (!b) {
        /* Every buffer is queued already; nothing to fill this cycle. */
        qatomic_inc(&s->no_buffer);
        return;
    }
    d = &b->buffer->datas[0];
    if (!d->data || !d->chunk) {
        pw_stream_queue_buffer(s->stream, b);
        return;
    }

    /* The resampler may want fewer frames than fit; give it just that. */
    len = qpw_cycle_bytes(d->maxsize, b->requested, stride);
    qatomic_set(&s->cycle_bytes, len);

    /*
     * After a start, play silence until QEMU has queued this cycle's
     * worth plus what the cycles until its next write take (a timer
     * period), or as much as it ever queues: starting on too little puts
     * a dropout a few milliseconds into every sound, and counts it as an
     * underrun. The zero-length read carries out a drop requested by
     * qpw_enable_out() first, so stale audio does not count. The
     * geometry's quantum is not used: PipeWire may run a smaller one.
     */
    prime_req = qatomic_load_acquire(&s->prime_requests);
    if (s->primed_for != prime_req) {
        uint32_t need = qpw_prime_bytes(&s->geo, len, woken);

        qatomic_set(&s->cycle_start_us, 0);

        qpw_ring_read(&s->ring, d->data, 0);
        if (qpw_ring_fill(&s->ring) < need && !qatomic_read(&s->draining)) {
            audio_pcm_info_clear_buf(s->pcm, d->data, len / stride);
            qpw_stream_wake(s, woken);
            goto done;
        }
        s->primed_for = prime_req;
    }
    /*
     * When the graph last took audio, for qpw_stall_room(); reading the
     * monotonic clock does not block.
     */
    qatomic_set(&s->cycle_start_us,
                woken ? 0 : (uint32_t)g_get_monotonic_time() | 1);

    got = qpw_ring_read(&s->ring, d->data, len);
    if (got < len) {
        audio_pcm_info_clear_buf(s->pcm, (uint8_t *)d->data + got,
                                 (len - got) / stride);
        if (!qatomic_read(&s->draining)) {
            qpw_count_xrun(s, len - got);
        }
    }
    qpw_stream_wake(s, woken && qpw_wake_out(qpw_ring_fill(&s->ring), len));

done:
    d->chunk->offset = 0;
    d->chunk->stride = stride;
    d->chunk->size = len;
    qpw_card_count(&s->follow, len / stride);
    pw_stream_queue_buffer(s->stream, b);
}

static void qpw_on_process_in(void *opaque)
{
    QPwStream *s = opaque;
    uint32_t period = qatomic_read(&s->wake_period_bytes);
    struct pw_buffer *b = pw_stream_dequeue_buffer(s->stream);
    struct spa_data *d;

    qpw_note_data_thread(s->pw);
    qpw_follow_card_clock(s, period != 0);
    if (!b) {
        return;
    }
    d = &b->buffer->datas[0];
    if (d->data && d->chunk) {
        uint32_t offset = MIN(d->chunk->offset, d->maxsize);
        uint32_t size = MIN(d->chunk->size, d->maxsize - offset);
        uint32_t put = qpw_ring_write(&s->ring, (uint8_t *)d->data + offset,
                                      size);

        qatomic_set(&s->cycle_bytes, size);
        qpw_card_count(&s->follow, size / s->geo.bytes_per_frame);

        /* QEMU has not kept up: the newest audio is what gets lost. */
        if (put < size) {
            qpw_count_xrun(s, size - put);
        }
        qpw_stream_wake(s, period &&
                        qpw_wake_in(qpw_ring_fill(&s->ring), period));
    }
    pw_stream_queue_buffer(s->stream, b);
}

/* Loop thread: the graph's position or the rate-match area comes or goes. */
static void qpw_on_io_changed(void *opaque, uint32_t id, void *area,
                              uint32_t size)
{
    QPwStream *s = opaque;

    if (id == SPA_IO_Position) {
        qatomic_set(&s->io_position,
                    size >= sizeof(struct spa_io_position) ? area : NULL);
    } else if (id == SPA_IO_RateMatch) {
        qatomic_set(&s->io_rate_match,
                    size >= sizeof(struct spa_io_rate_match) ? area : NULL);
    }
}

static const struct pw_stream_events qpw_out_events = {
    PW_VERSION_STREAM_EVENTS,
    .state_changed = qpw_on_state_changed,
    .param_changed = qpw_on_param_changed,
    .io_changed = qpw_on_io_changed,
    .process = qpw_on_process_out,
};

static const struct pw_stream_events qpw_in_events = {
    PW_VERSION_STREAM_EVENTS,
    .state_changed = qpw_on_state_changed,
    .param_changed = qpw_on_param_changed,
    .io_changed = qpw_on_io_changed,
    .process = qpw_on_process_in,
};

/* Loop thread, lock held: the drain after a playback stop is over. */
static void qpw_on_drain_timer(void *opaque, uint64_t expirations)
{
    QPwStream *s = opaque;

    if (!s->stop_pending) {
        return;
    }
    s->stop_pending = false;
    s->deactivated = true;
    qpw_stream_set_active_locked(s, false);
}

/* Loop lock held: forget a pending drain. */
static void qpw_stream_cancel_drain_locked(QPwStream *s)
{
    struct timespec zero = { 0 };

    if (s->drain_timer) {
        pw_loop_update_timer(pw_thread_loop_get_loop(s->pw->loop),
                             s->drain_timer, &zero, NULL, false);
    }
    s->stop_pending = false;
}

/* Streams and the connection (loop lock held). */

/*
 * Take @s off QEMU's side and destroy its stream, which also takes the
 * node out of the data loop: no process callback runs once this returns,
 * so the ring stays valid for the next stream or can be freed.
 */
static void qpw_stream_disconnect_locked(QPwStream *s)
{
    qpw_stream_unpublish(s);
    /* A drain cut short: the next stream starts stopped, as it would be. */
    if (s->stop_pending) {
        qpw_stream_cancel_drain_locked(s);
        s->active = false;
        s->deactivated = true;
    }
    if (!s->stream) {
        return;
    }
    /* No events about a stream we are done with. */
    spa_hook_remove(&s->listener);
    spa_zero(s->listener);
    qatomic_set(&s->io_position, NULL);
    qatomic_set(&s->io_rate_match, NULL);
    pw_stream_destroy(s->stream);
    s->stream = NULL;
    s->failed = false;
}

/*
 * Loop lock held: a stream was just made for a voice whose target is not
 * among the nodes (all known by now: the connection is up only once the
 * daemon answered a sync sent after the registry was asked for them).
 * Follow the target once it shows, as after an unplug.
 */
static void qpw_stream_note_missing_target(QPwStream *s)
{
    QPwAudio *pw = s->pw;
    unsigned int i = qpw_dir_index(s);
    const char *target = qpw_target_name(pw, i);

    if (pw->registry && target && pw->target_id[i] == SPA_ID_INVALID) {
        trace_qpw_target_missing(s->name, s->dir, target);
        s->target_gone = true;
    }
}

/*
 * Give @s a stream on the current core, with its format, properties,
 * target, active state and volume; QEMU's side uses it once it can carry
 * audio (qpw_stream_check_flowing()). On failure @s has no stream and
 * stays silent; returns -1.
 */
static int qpw_stream_connect_locked(QPwStream *s)
{
    QPwAudio *pw = s->pw;
    const struct spa_pod *params[1];
    uint8_t pod_buf[1024];
    struct spa_pod_builder b = SPA_POD_BUILDER_INIT(pod_buf, sizeof(pod_buf));
    struct pw_properties *props;
    const char *what;
    int r;

    params[0] = spa_format_audio_raw_build(&b, SPA_PARAM_EnumFormat,
                                           &s->info);
    props = pw_properties_copy(s->props);
    if (!params[0] || !props) {
        pw_properties_free(props);
        r = -ENOMEM;
        what = "create";
        goto fail;
    }

    /*
     * No process callback runs now (the previous stream, if any, is
     * destroyed, the new one not connected), so this thread may stand in
     * for the playback consumer: what QEMU queued before the connection
     * went is stale, and must not prime the new stream. The new stream
     * starts with its resampler out, nothing counted.
     */
    if (s->direction == PW_DIRECTION_OUTPUT) {
        qpw_ring_drop(&s->ring);
        qpw_stream_request_prime(s);
    }
    qpw_stream_stop_following(s);

    /* Takes @props, even on failure. */
    s->stream = pw_stream_new(pw->core, s->name, props);
    if (!s->stream) {
        r = -errno;
        what = "create";
        goto fail;
    }
    s->failed = false;
    pw_stream_add_listener(s->stream, &s->listener,
                           s->direction == PW_DIRECTION_OUTPUT ?
                           &qpw_out_events : &qpw_in_events, s);
    r = pw_stream_connect(s->stream, s->direction, PW_ID_ANY,
                          PW_STREAM_FLAG_AUTOCONNECT |
                          PW_STREAM_FLAG_MAP_BUFFERS |
                          PW_STREAM_FLAG_RT_PROCESS |
                          PW_STREAM_FLAG_INACTIVE,
                          params, 1);
    if (r < 0) {
        qpw_stream_disconnect_locked(s);
        what = "connect";
        goto fail;
    }

    if (s->active) {
        qpw_stream_set_active_locked(s, true);
    }
    qpw_stream_apply_volume_locked(s);
    qpw_stream_check_flowing(s);
    qpw_stream_note_missing_target(s);
    return 0;

fail:
    dolog("audiodev '%s': cannot %s %s stream '%s': %s\n",
          pw->dev->id, what, s->dir, s->name, spa_strerror(r));
    return -1;
}

/* Run the retry timer @delay_ms from now (0: on the next loop iteration). */
static void qpw_retry_arm(QPwAudio *pw, uint64_t delay_ms)
{
    /* An all-zero timespec would disarm it: 1 ns is "at once". */
    struct timespec when = {
        .tv_sec = delay_ms / 1000,
        .tv_nsec = delay_ms % 1000 * 1000000 + (delay_ms ? 0 : 1),
    };

    pw_loop_update_timer(pw_thread_loop_get_loop(pw->loop), pw->retry_timer,
                         &when, NULL, false);
}

static void qpw_retry_disarm(QPwAudio *pw)
{
    struct timespec zero = { 0 };

    pw_loop_update_timer(pw_thread_loop_get_loop(pw->loop), pw->retry_timer,
                         &zero, NULL, false);
}

/* A try to connect failed (@res says why): schedule the next one. */
static void qpw_retry_later(QPwAudio *pw, int res)
{
    uint32_t next_ms = qpw_retry_failed(&pw->retry);

    trace_qpw_reconnect_failed(pw->dev->id, qpw_retry_failures(&pw->retry),
                               res, next_ms);
    qpw_retry_arm(pw, next_ms);
}

/*
 * The connection is gone (@res says why): QEMU's side stops using every
 * ring right away. The streams and core are torn down later, from the
 * retry timer, never from inside the callback that reported the loss.
 */
static void qpw_conn_lost(QPwAudio *pw, int res)
{
    QPwStream *s;

    QLIST_FOREACH(s, &pw->streams, link) {
        qpw_stream_unpublish(s);
    }
    trace_qpw_connection_lost(pw->dev->id, res);
    if (pw->state == QPW_CONN_UP && pw->started) {
        dolog("audiodev '%s': lost the connection to PipeWire (%s); its "
              "voices go on in silence until it is back\n",
              pw->dev->id, spa_strerror(res));
        qpw_retry_start(&pw->retry, g_get_monotonic_time());
    }
    pw->state = QPW_CONN_LOST;
    pw->lost_res = res;
}

/* The daemon has answered a new connection: give every voice a stream. */
static void qpw_conn_back(QPwAudio *pw)
{
    uint64_t ms = qpw_retry_elapsed_us(&pw->retry, g_get_monotonic_time())
                  / 1000;
    QPwStream *s;

    qpw_retry_disarm(pw);
    trace_qpw_reconnected(pw->dev->id, qpw_retry_failures(&pw->retry) + 1,
                          ms);
    dolog("audiodev '%s': reconnected to PipeWire after %" PRIu64 ".%01"
          PRIu64 " s\n", pw->dev->id, ms / 1000, ms % 1000 / 100);
    QLIST_FOREACH(s, &pw->streams, link) {
        if (!s->stream) {
            qpw_stream_connect_locked(s);
        }
    }
}

/* Core events (loop thread, lock held). */

static void qpw_on_core_done(void *opaque, uint32_t id, int seq)
{
    QPwAudio *pw = opaque;

    if (id != PW_ID_CORE || seq != pw->sync_seq ||
        pw->state != QPW_CONN_SYNCING) {
        return;
    }
    pw->state = QPW_CONN_UP;
    if (pw->started) {
        qpw_conn_back(pw);
    } else {
        pw_thread_loop_signal(pw->loop, false);     /* qpw_audio_init() */
    }
}

static void qpw_on_core_error(void *opaque, uint32_t id, int seq, int res,
                              const char *message)
{
    QPwAudio *pw = opaque;
    bool was_up;

    trace_qpw_core_error(pw->dev->id, id, seq, res, message ? message : "");

    /*
     * An error about one of our streams also reaches that stream's state
     * callback; one about the core itself means the connection is gone
     * (-EPIPE when the daemon exits), which ends every stream at once.
     */
    if (id != PW_ID_CORE || pw->state == QPW_CONN_LOST ||
        pw->state == QPW_CONN_DOWN) {
        return;
    }
    was_up = pw->state == QPW_CONN_UP;
    qpw_conn_lost(pw, res);
    if (!pw->started) {
        pw_thread_loop_signal(pw->loop, false);     /* qpw_audio_init() */
    } else if (was_up) {
        qpw_retry_arm(pw, 0);
    } else {
        /* A new connection the daemon dropped is a failed try. */
        qpw_retry_later(pw, res);
    }
}

static const struct pw_core_events qpw_core_events = {
    PW_VERSION_CORE_EVENTS,
    .done = qpw_on_core_done,
    .error = qpw_on_core_error,
};

/*
 * Loop lock held: move @s's stream back to its target, as a user's mixer
 * does: by naming the target for the stream's node in the session
 * manager's "default" metadata (WirePlumber links a new stream with the
 * same properties where it last was, so a new stream would not do).
 * Without the metadata, a new stream is the best there is.
 */
static void qpw_stream_move_to_target(QPwStream *s)
{
    QPwAudio *pw = s->pw;
    const char *target = qpw_target_name(pw, qpw_dir_index(s));
    uint32_t node = pw_stream_get_node_id(s->stream);

    trace_qpw_target_back(s->name, s->dir, target);
    if (pw->metadata && node != SPA_ID_INVALID) {
        pw_metadata_set_property(pw->metadata, node, "target.object", NULL,
                                 target);
        return;
    }
    qpw_stream_disconnect_locked(s);
    qpw_stream_connect_locked(s);
}

/*
 * Loop thread, lock held: a target that had gone away under a voice's
 * stream (a headset unplugged) is back. The session manager moved that
 * stream to another node and does not move it back on its own.
 */
static void qpw_on_target_timer(void *opaque, uint64_t expirations)
{
    QPwAudio *pw = opaque;
    QPwStream *s;

    QLIST_FOREACH(s, &pw->streams, link) {
        if (!s->target_gone ||
            pw->target_id[qpw_dir_index(s)] == SPA_ID_INVALID) {
            continue;
        }
        s->target_gone = false;
        if (qpw_stream_usable(s)) {
            qpw_stream_move_to_target(s);
        }
    }
}

/* Loop thread, lock held: bind the "default" metadata when it shows. */
static void qpw_metadata_added(QPwAudio *pw, uint32_t id,
                               const struct spa_dict *props)
{
    const char *name = props ? spa_dict_lookup(props, "metadata.name") : NULL;

    if (pw->metadata || !name || strcmp(name, "default") != 0) {
        return;
    }
    pw->metadata = pw_registry_bind(pw->registry, id,
                                    PW_TYPE_INTERFACE_Metadata,
                                    PW_VERSION_METADATA, 0);
    pw->metadata_id = id;
}

static void qpw_metadata_drop(QPwAudio *pw)
{
    if (pw->metadata) {
        pw_proxy_destroy((struct pw_proxy *)pw->metadata);
        pw->metadata = NULL;
    }
}

/*
 * Loop thread, lock held: a node appeared; if it is a voice's target,
 * note its id, and if it had gone away under a stream, move that stream
 * back once the session manager has had QPW_TARGET_SETTLE_MS to take the
 * new node in.
 */
static void qpw_on_node_added(void *opaque, uint32_t id, uint32_t perms,
                              const char *type, uint32_t version,
                              const struct spa_dict *props)
{
    QPwAudio *pw = opaque;
    const char *name = props ? spa_dict_lookup(props, PW_KEY_NODE_NAME)
                             : NULL;
    QPwStream *s;
    unsigned int i;

    if (strcmp(type, PW_TYPE_INTERFACE_Metadata) == 0) {
        qpw_metadata_added(pw, id, props);
        return;
    }
    if (!name || strcmp(type, PW_TYPE_INTERFACE_Node) != 0) {
        return;
    }
    for (i = 0; i < ARRAY_SIZE(pw->target_id); i++) {
        const char *target = qpw_target_name(pw, i);

        if (!target || strcmp(target, name) != 0) {
            continue;
        }
        pw->target_id[i] = id;
        QLIST_FOREACH(s, &pw->streams, link) {
            if (qpw_dir_index(s) == i && s->target_gone) {
                qpw_arm_timer_ms(pw, pw->target_timer, QPW_TARGET_SETTLE_MS);
            }
        }
    }
}

/* Loop thread, lock held: an object went away; was it a target? */
static void qpw_on_global_removed(void *opaque, uint32_t id)
{
    QPwAudio *pw = opaque;
    QPwStream *s;
    unsigned int i;

    if (pw->metadata && id == pw->metadata_id) {
        qpw_metadata_drop(pw);
    }
    for (i = 0; i < ARRAY_SIZE(pw->target_id); i++) {
        if (pw->target_id[i] != id) {
            continue;
        }
        pw->target_id[i] = SPA_ID_INVALID;
        QLIST_FOREACH(s, &pw->streams, link) {
            if (qpw_dir_index(s) == i && s->stream) {
                trace_qpw_target_gone(s->name, s->dir, qpw_target_name(pw, i));
                s->target_gone = true;
            }
        }
    }
}

static const struct pw_registry_events qpw_registry_events = {
    PW_VERSION_REGISTRY_EVENTS,
    .global = qpw_on_node_added,
    .global_remove = qpw_on_global_removed,
};

/* Loop lock held: watch the registry if a voice has a target to follow. */
static void qpw_registry_open(QPwAudio *pw)
{
    pw->target_id[0] = pw->target_id[1] = SPA_ID_INVALID;
    if (!qpw_target_name(pw, 0) && !qpw_target_name(pw, 1)) {
        return;
    }
    if (!pw->target_timer) {
        pw->target_timer = pw_loop_add_timer(pw_thread_loop_get_loop(pw->loop),
                                             qpw_on_target_timer, pw);
    }
    pw->registry = pw_core_get_registry(pw->core, PW_VERSION_REGISTRY, 0);
    if (pw->registry) {
        pw_registry_add_listener(pw->registry, &pw->registry_listener,
                                 &qpw_registry_events, pw);
    }
}

static void qpw_registry_close(QPwAudio *pw)
{
    QPwStream *s;

    qpw_metadata_drop(pw);
    if (pw->registry) {
        spa_hook_remove(&pw->registry_listener);
        spa_zero(pw->registry_listener);
        pw_proxy_destroy((struct pw_proxy *)pw->registry);
        pw->registry = NULL;
    }
    if (pw->target_timer) {
        qpw_arm_timer_ms(pw, pw->target_timer, 0);
    }
    QLIST_FOREACH(s, &pw->streams, link) {
        s->target_gone = false;
    }
}

/*
 * Connect to the daemon and ask it for a round trip; the connection is up
 * (QPW_CONN_UP) once it answers. Returns 0, or a negative errno with
 * *@what saying which step failed, leaving no core behind.
 */
static int qpw_conn_open(QPwAudio *pw, const char **what)
{
    int r;

    pw->core = pw_context_connect(pw->context, NULL, 0);
    if (!pw->core) {
        r = -errno;
        *what = "cannot connect to the PipeWire daemon";
        return r < 0 ? r : -EIO;
    }
    pw_core_add_listener(pw->core, &pw->core_listener, &qpw_core_events, pw);
    qpw_registry_open(pw);
    pw->state = QPW_CONN_SYNCING;
    pw->sync_seq = pw_core_sync(pw->core, PW_ID_CORE, 0);
    if (pw->sync_seq < 0) {
        r = pw->sync_seq;
        qpw_registry_close(pw);
        spa_hook_remove(&pw->core_listener);
        spa_zero(pw->core_listener);
        pw_core_disconnect(pw->core);
        pw->core = NULL;
        pw->state = QPW_CONN_DOWN;
        *what = "cannot talk to the PipeWire daemon";
        return r;
    }
    return 0;
}

/* Destroy every stream, then the core they were made on. */
static void qpw_conn_close(QPwAudio *pw)
{
    QPwStream *s;

    QLIST_FOREACH(s, &pw->streams, link) {
        qpw_stream_disconnect_locked(s);
    }
    if (pw->core) {
        qpw_registry_close(pw);
        spa_hook_remove(&pw->core_listener);
        spa_zero(pw->core_listener);
        pw_core_disconnect(pw->core);
        pw->core = NULL;
    }
    pw->state = QPW_CONN_DOWN;
}

/*
 * Loop thread, lock held: after a loss, tear the dead connection down and
 * try a new one; after a failed try, try again; a try the daemon has not
 * answered within QPW_CONNECT_TIMEOUT_US counts as failed.
 */
static void qpw_on_retry_timer(void *opaque, uint64_t expirations)
{
    QPwAudio *pw = opaque;
    const char *what;
    int r;

    switch (pw->state) {
    case QPW_CONN_UP:
        return;
    case QPW_CONN_SYNCING:
        qpw_conn_lost(pw, -ETIMEDOUT);
        /* fall through */
    case QPW_CONN_LOST:
        qpw_conn_close(pw);
        break;
    case QPW_CONN_DOWN:
        break;
    }

    r = qpw_conn_open(pw, &what);
    if (r < 0) {
        qpw_retry_later(pw, r);
        return;
    }
    /* Until the daemon answers: then qpw_conn_back() disarms it. */
    qpw_retry_arm(pw, QPW_CONNECT_TIMEOUT_US / 1000);
}

/* QEMU's side. */

/*
 * Main loop: how long before @now (g_get_monotonic_time()) a playback
 * voice on QEMU's clock had the graph last take audio from its ring (0:
 * not since its start, or woken).
 */
static uint64_t qpw_stream_since_cycle_us(QPwStream *s, int64_t now)
{
    return qpw_stall_since_us(now, qatomic_read(&s->cycle_start_us));
}

/* Main loop: how long a graph cycle of @cycle_bytes lasts. */
static uint64_t qpw_stream_cycle_us(QPwStream *s, uint32_t cycle_bytes)
{
    return qpw_frames_to_us(cycle_bytes / s->geo.bytes_per_frame,
                            s->geo.rate);
}

/* Main loop: a stall is over; trace the most it made room for. */
static void qpw_stream_end_stall(QPwStream *s)
{
    if (s->stalled) {
        s->stalled = false;
        trace_qpw_stall(s->name, s->stall_peak);
    }
}

/* Main loop: the voice starts afresh; no stall is owed to it. */
static void qpw_stream_forget_stall(QPwStream *s)
{
    qpw_stream_end_stall(s);
    s->stall_peak = 0;
}

/*
 * True while the voice has no stream that carries audio: the connection
 * is lost or not back yet, or its stream failed. The voice then runs on
 * silence paced by QEMU's clock, so the guest's device keeps working,
 * until the loop thread publishes a new stream (a new epoch); then the
 * voice goes back to its ring, from a clean start.
 */
static bool qpw_stream_silent(QPwStream *s)
{
    uint32_t epoch = qatomic_load_acquire(&s->epoch);
    bool ran_silent = s->seen_epoch == 0;

    if (epoch == s->seen_epoch) {
        return epoch == 0;
    }
    s->seen_epoch = epoch;
    if (epoch == 0) {
        audio_rate_start(&s->rate);
        trace_qpw_silent(s->name);
        return true;
    }
    /*
     * The loop thread took the stream away and gave it back (a start
     * that ran late) between two of our calls: no audio went to the
     * silence meanwhile, so what the ring holds is still next in line.
     * Dropping it would cut the head off the sound.
     */
    if (!ran_silent) {
        return false;
    }

    /*
     * Whatever the ring holds was queued for, or captured by, the stream
     * before the silence: after the audio the silence took, it is stale.
     * Drop it, each side as the ring allows (QEMU produces playback and
     * consumes capture).
     */
    if (s->direction == PW_DIRECTION_OUTPUT) {
        qpw_ring_request_drop(&s->ring);
        qpw_stream_request_prime(s);
        qpw_stream_forget_stall(s);
    } else {
        qpw_ring_drop(&s->ring);
    }
    trace_qpw_resumed(s->name, epoch);
    return false;
}

/* Main loop: trace playback cycles that found no buffer, as they come. */
static void qpw_report_no_buffer(QPwStream *s)
{
    uint32_t n = qatomic_read(&s->no_buffer);

    if (n != s->no_buffer_reported) {
        s->no_buffer_reported = n;
        trace_qpw_no_buffer(s->name, n);
    }
}

static void qpw_report_xruns(QPwStream *s, const char *kind)
{
    uint32_t n = qatomic_read(&s->xruns);

    if (n != s->xruns_reported) {
        s->xruns_reported = n;
        trace_qpw_xrun(s->name, kind, n, qatomic_read(&s->xrun_frames));
    }
}

/*
 * Main loop: how long after QEMU's audio layer last ran @s needs it again,
 * if the process callback does not wake it first. The backend runs the
 * audio layer for its voices, which are in poll mode (QEMU's audio timer
 * skips them): a voice whose graph wakes QEMU every cycle then costs one
 * main-loop wake-up a cycle, not that plus one every timer period.
 */
static int64_t qpw_run_delay_ns(QPwStream *s)
{
    uint32_t cycle = qatomic_read(&s->cycle_bytes);
    uint64_t delay = qpw_run_delay_us(&s->geo,
                                      qatomic_read(&s->wake_period_bytes),
                                      cycle, s->seen_epoch != 0,
                                      s->direction == PW_DIRECTION_INPUT);

    /* Playback on QEMU's clock: see a stall as it starts. */
    if (s->direction == PW_DIRECTION_OUTPUT && s->seen_epoch && cycle) {
        uint64_t since = qpw_stream_since_cycle_us(s, g_get_monotonic_time());

        delay = MIN(delay, qpw_stall_check_us(since,
                                              qpw_stream_cycle_us(s, cycle)));
    }
    return delay * SCALE_US;
}

/* Main loop: the audio layer last ran (or the voice started) at @now. */
static void qpw_stream_arm_run_timer(QPwStream *s, int64_t now)
{
    timer_mod(s->run_timer, now + qpw_run_delay_ns(s));
}

/*
 * Main loop: run the audio layer now. Not while the VM is stopped: QEMU's
 * timer does not run then either, and a device must not touch guest
 * memory behind a migration's back. Only QEMU's thread adds and removes
 * streams, so it may walk the list without the loop lock.
 */
static void qpw_run_audio(QPwAudio *pw)
{
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    QPwStream *s;

    if (pw->audio && pw->audio->vm_running) {
        audio_run(pw->audio, "pipewire");
    }
    QLIST_FOREACH(s, &pw->streams, link) {
        if (s->running) {
            qpw_stream_arm_run_timer(s, now);
        }
    }
}

static void qpw_on_run_timer(void *opaque)
{
    QPwStream *s = opaque;

    qpw_run_audio(s->pw);
}

/* Main loop: the voice starts or stops. */
static void qpw_stream_set_running(QPwStream *s, bool running)
{
    s->running = running;
    if (running) {
        qpw_stream_arm_run_timer(s, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL));
    } else {
        timer_del(s->run_timer);
    }
}

static void qpw_stream_fini(QPwStream *s)
{
    QPwAudio *pw = s->pw;

    if (pw) {
        pw_thread_loop_lock(pw->loop);
        if (QLIST_IS_INSERTED(s, link)) {
            QLIST_REMOVE(s, link);
        }
        qpw_stream_disconnect_locked(s);
        if (s->drain_timer) {
            pw_loop_destroy_source(pw_thread_loop_get_loop(pw->loop),
                                   s->drain_timer);
            s->drain_timer = NULL;
        }
        if (s->start_timer) {
            pw_loop_destroy_source(pw_thread_loop_get_loop(pw->loop),
                                   s->start_timer);
            s->start_timer = NULL;
        }
        pw_thread_loop_unlock(pw->loop);
    }
    timer_free(s->run_timer);
    s->run_timer = NULL;
    g_free(s->ring_buf);
    s->ring_buf = NULL;
    g_free(s->name);
    s->name = NULL;
    pw_properties_free(s->props);
    s->props = NULL;
}

/*
 * Fill @s's format, geometry, ring and stream properties for @as. Fills
 * @obt with the settings QEMU must use, which are those PipeWire will
 * see. Returns -1 after a message on failure.
 */
static int qpw_stream_setup(QPwStream *s,
                            AudiodevPipewirePerDirectionOptions *pdo,
                            struct audsettings *as, struct audsettings *obt)
{
    const char *id = s->pw->dev->id;
    const char *reason;
    QPwFormat fmt, obt_fmt;
    bool be, obt_be;

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
                           s->pw->dev->timer_period, &reason)) {
        dolog("audiodev '%s': %s stream '%s': %s\n", id, s->dir, s->name,
              reason);
        return -1;
    }
    qpw_geometry_set_min_quantum(&s->geo, pdo->min_quantum);
    s->spa_format = qpw_format_to_spa(fmt, be);

    s->ring_buf = g_malloc0(s->geo.capacity_bytes);
    if (!qpw_ring_init(&s->ring, s->ring_buf, s->geo.capacity_bytes,
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

    s->info.format = s->spa_format;
    s->info.rate = s->geo.rate;
    s->info.channels = s->geo.channels;
    if (!qpw_channel_positions(s->info.channels, s->info.position)) {
        dolog("audiodev '%s': %s stream '%s': no channel layout for %u "
              "channels\n", id, s->dir, s->name, s->info.channels);
        return -1;
    }

    trace_qpw_stream_new(s->name, s->dir, qpw_format_name(fmt), as->freq,
                         as->nchannels, s->geo.node_latency,
                         s->geo.highwater_bytes, s->geo.capacity_bytes);

    s->props = pw_properties_new(
        PW_KEY_MEDIA_TYPE, "Audio",
        PW_KEY_MEDIA_CATEGORY,
        s->direction == PW_DIRECTION_OUTPUT ? "Playback" : "Capture",
        PW_KEY_MEDIA_ROLE, QPW_MEDIA_ROLE,
        PW_KEY_APP_NAME, "QEMU",
        PW_KEY_NODE_NAME, s->name,
        PW_KEY_MEDIA_NAME, s->name,
        PW_KEY_NODE_LATENCY, s->geo.node_latency,
        /*
         * The guest's mixer owns the stream's volume: a session manager
         * restoring a volume it saved for an earlier QEMU stream would
         * override what the guest just set.
         */
        "state.restore-props", "false",
        NULL);
    if (!s->props) {
        dolog("audiodev '%s': %s stream '%s': cannot make its properties\n",
              id, s->dir, s->name);
        return -1;
    }
    if (pdo->name &&
        pw_properties_set(s->props, PW_KEY_TARGET_OBJECT, pdo->name) < 0) {
        dolog("audiodev '%s': %s stream '%s': cannot set its target\n",
              id, s->dir, s->name);
        return -1;
    }
    return 0;
}

/*
 * Set up @s for @as, fill @info with what QEMU gets and, if the daemon is
 * there, connect its stream, inactive; without a connection the voice
 * starts silent and gets its stream when the daemon is back. On failure
 * the caller runs qpw_stream_fini().
 */
static int qpw_stream_init(QPwStream *s, QPwAudio *pw,
                           AudiodevPipewirePerDirectionOptions *pdo,
                           enum pw_direction dir, struct audsettings *as,
                           struct audio_pcm_info *info)
{
    struct audsettings obt;
    int r = 0;

    s->pw = pw;
    s->direction = dir;
    s->run_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, qpw_on_run_timer, s);
    s->dir = dir == PW_DIRECTION_OUTPUT ? "playback" : "capture";
    s->name = g_strdup(pdo->stream_name ? pdo->stream_name : pw->dev->id);

    if (qpw_stream_setup(s, pdo, as, &obt) < 0) {
        return -1;
    }
    /* Before any process callback can pad with its silence. */
    audio_pcm_init_info(info, &obt);
    s->pcm = info;

    pw_thread_loop_lock(pw->loop);
    QLIST_INSERT_HEAD(&pw->streams, s, link);
    if (pw->state == QPW_CONN_UP) {
        r = qpw_stream_connect_locked(s);
    }
    s->seen_epoch = qatomic_read(&s->epoch);
    pw_thread_loop_unlock(pw->loop);

    if (!s->seen_epoch) {
        audio_rate_start(&s->rate);
        trace_qpw_silent(s->name);
    }
    return r;
}

static void qpw_stream_set_volume(QPwStream *s, Volume *vol)
{
    QPwChannelVolumes cv;
    uint32_t n_levels = vol->channels > 0 ? vol->channels : 0;

    n_levels = MIN(n_levels, AUDIO_MAX_CHANNELS);
    if (!qpw_volume_fill(&cv, vol->mute, vol->vol, n_levels,
                         s->geo.channels)) {
        return;
    }
    trace_qpw_volume(s->name, vol->mute, cv.channels,
                     n_levels ? vol->vol[0] : QPW_VOLUME_MAX_LEVEL);

    /* Kept for the streams of later connections, too. */
    pw_thread_loop_lock(s->pw->loop);
    s->volume = cv;
    s->have_volume = true;
    qpw_stream_apply_volume_locked(s);
    pw_thread_loop_unlock(s->pw->loop);
}

/*
 * The voice's user moves audio in periods of @period_us: ask PipeWire for
 * a quantum of at most that, now and for every later stream, and wake
 * QEMU from the process callback from now on (0: back to the timer).
 */
static void qpw_stream_set_period_hint(QPwStream *s, uint32_t period_us)
{
    uint32_t frames;

    pw_thread_loop_lock(s->pw->loop);
    if (qpw_geometry_set_period_hint(&s->geo, period_us)) {
        const struct spa_dict_item item =
            SPA_DICT_ITEM_INIT(PW_KEY_NODE_LATENCY, s->geo.node_latency);
        const struct spa_dict dict = SPA_DICT_INIT(&item, 1);

        pw_properties_set(s->props, PW_KEY_NODE_LATENCY, s->geo.node_latency);
        if (s->stream) {
            pw_stream_update_properties(s->stream, &dict);
        }
    }
    frames = MIN(s->geo.period_hint_frames,
                 s->geo.capacity_bytes / s->geo.bytes_per_frame);
    qatomic_set(&s->wake_period_bytes, frames * s->geo.bytes_per_frame);
    pw_thread_loop_unlock(s->pw->loop);
    if (s->running) {
        /* The longest wait allowed may have just become shorter. */
        qpw_stream_arm_run_timer(s, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL));
    }
    trace_qpw_period_hint(s->name, s->dir, period_us, s->geo.node_latency);
}

/* Playback. */

/*
 * Set up a voice's stream and tell QEMU the format it gets (@info), how
 * many frames its own buffer holds (@samples): one latency's worth, and
 * that the backend runs the audio layer for it (@poll_mode: see
 * qpw_run_delay_ns()).
 */
static int qpw_voice_init(QPwStream *s, QPwAudio *pw, QPwAudioState *audio,
                          enum pw_direction dir, struct audsettings *as,
                          struct audio_pcm_info *info, size_t *samples,
                          int *poll_mode)
{
    AudiodevPipewirePerDirectionOptions *pdo =
        dir == PW_DIRECTION_OUTPUT ? pw->dev->u.pipewire.out
                                   : pw->dev->u.pipewire.in;
    struct audsettings obt;

    pw->audio = audio;
    if (qpw_stream_init(s, pw, pdo, dir, as, info) < 0) {
        qpw_stream_fini(s);
        return -1;
    }
    obt = (struct audsettings) {
        .freq = info->freq,
        .nchannels = info->nchannels,
    };
    *samples = audio_buffer_frames(
        qapi_AudiodevPipewirePerDirectionOptions_base(pdo), &obt,
        s->geo.latency_us);
    *poll_mode = 1;
    return 0;
}

static int qpw_init_out(HWVoiceOut *hw, struct audsettings *as,
                        void *drv_opaque)
{
    return qpw_voice_init(&container_of(hw, QPwVoiceOut, hw)->s, drv_opaque,
                          hw->s, PW_DIRECTION_OUTPUT, as, &hw->info,
                          &hw->samples, &hw->poll_mode);
}

static void qpw_fini_out(HWVoiceOut *hw)
{
    QPwVoiceOut *v = container_of(hw, QPwVoiceOut, hw);

    qpw_stream_fini(&v->s);
}

/*
 * Main loop: the frames a playback ring on QEMU's clock may hold above
 * its high-water mark now (see qpw_stall_frames()), from when the graph
 * last took audio from it and its cycle of @cycle_bytes. Without this,
 * HDA's codec throws 42 ms of audio away at a stall of some 20 ms or
 * more.
 */
static uint32_t qpw_stall_room(QPwStream *s, uint32_t cycle_bytes)
{
    int64_t now = g_get_monotonic_time();
    uint64_t since = qpw_stream_since_cycle_us(s, now);
    uint32_t left = qpw_stall_left(&s->geo, s->stall_peak,
                                   now - s->stall_peak_us);

    if (!qpw_stalled(since, qpw_stream_cycle_us(s, cycle_bytes))) {
        qpw_stream_end_stall(s);
        return left;
    }
    if (!s->stalled) {
        s->stalled = true;
        s->stall_base = left;
    }
    s->stall_peak = qpw_stall_frames(&s->geo, s->stall_base, since);
    s->stall_peak_us = now;
    return s->stall_peak;
}

/*
 * How much more QEMU may queue now, for the graph cycle the process
 * callback last got (before the first, the quantum asked for): up to the
 * high-water mark, at least that cycle plus a timer period, and, when the
 * process callback wakes QEMU as the ring runs low, only what the next
 * two graph cycles take: taking more would only run the guest's clock
 * ahead of the audio clock. On QEMU's clock alone, also what a stall of
 * the graph's allows (qpw_stall_room()).
 */
static uint32_t qpw_out_room(QPwStream *s)
{
    uint32_t cycle = qatomic_read(&s->cycle_bytes);
    bool woken = qatomic_read(&s->wake_period_bytes) != 0;
    uint32_t mark;

    if (!cycle) {
        cycle = s->geo.quantum_frames * s->geo.bytes_per_frame;
    }
    mark = qpw_highwater_bytes(&s->geo, cycle, woken);
    if (!woken) {
        mark += qpw_stall_room(s, cycle) * s->geo.bytes_per_frame;
    }
    return qpw_ring_room_below(&s->ring, mark);
}

/*
 * Exactly what qpw_write() would take now. Reporting more would let the
 * audio layer take the excess from the guest and keep it in its own
 * buffer (buf_emul, or the mixing engine's mix_buf), adding latency, and
 * a stop leaves it there, to be played ahead of the next start's audio.
 */
static size_t qpw_buffer_get_free(HWVoiceOut *hw)
{
    QPwStream *s = &container_of(hw, QPwVoiceOut, hw)->s;

    if (qpw_stream_silent(s)) {
        return audio_rate_peek_bytes(&s->rate, &hw->info);
    }
    return qpw_out_room(s);
}

/*
 * Main loop: say once what scheduling the data thread got. Without
 * realtime scheduling a busy host delays it past the graph's deadline, and
 * PipeWire plays silence for the cycle it missed.
 */
static void qpw_report_scheduling(QPwAudio *pw)
{
    int policy = qatomic_read(&pw->data_thread_policy);
    bool realtime = policy == SCHED_FIFO || policy == SCHED_RR;

    if (pw->data_thread_reported || policy < 0) {
        return;
    }
    pw->data_thread_reported = true;
    trace_qpw_data_thread(pw->dev->id, policy, realtime);
    if (!realtime) {
        dolog("audiodev '%s': PipeWire's data thread has no realtime "
              "scheduling (neither RTKit nor RLIMIT_RTPRIO allowed it): on a "
              "busy host the sound can drop out\n", pw->dev->id);
    }
}

/* Main loop: trace the card clock correction when it changes. */
static void qpw_report_card_clock(QPwStream *s)
{
    int32_t ppm = qatomic_read(&s->card_ppm);
    int nudge = qatomic_read(&s->follow_nudge);

    if (ppm != s->card_ppm_traced || nudge != s->follow_nudge_traced) {
        s->card_ppm_traced = ppm;
        s->follow_nudge_traced = nudge;
        trace_qpw_card_clock(s->name, ppm, nudge * QPW_CARD_NUDGE_PPM);
    }
}

/*
 * Main loop: trace the graph cycle the stream runs when it changes, by
 * more than the frame a resampling stream's cycles wander by.
 */
static void qpw_report_cycle(QPwStream *s)
{
    uint32_t cycle = qatomic_read(&s->cycle_bytes);
    uint32_t frame = s->geo.bytes_per_frame;

    if (cycle > s->cycle_traced + frame || cycle + frame < s->cycle_traced) {
        s->cycle_traced = cycle;
        trace_qpw_cycle(s->name, cycle / frame, s->geo.quantum_frames);
    }
}

static size_t qpw_write(HWVoiceOut *hw, void *buf, size_t len)
{
    QPwStream *s = &container_of(hw, QPwVoiceOut, hw)->s;
    uint32_t n;

    if (qpw_stream_silent(s)) {
        return audio_rate_get_bytes(&s->rate, &hw->info, len);
    }
    qpw_report_scheduling(s->pw);
    qpw_report_xruns(s, "underrun");
    qpw_report_no_buffer(s);
    qpw_report_cycle(s);
    qpw_report_card_clock(s);
    n = qpw_ring_write(&s->ring, buf, MIN(MIN(len, UINT32_MAX),
                                          qpw_out_room(s)));
    trace_qpw_write(s->name, len, n, qpw_ring_fill(&s->ring));
    return n;
}

/* Loop lock held: QEMU starts the voice. */
static void qpw_start_out_locked(QPwStream *s)
{
    qpw_stream_cancel_drain_locked(s);
    qatomic_set(&s->draining, false);
    /*
     * If the stream was stopped before the ring ran dry (nothing was
     * pulling, or the connection went), what is left is stale: drop it
     * rather than play it ahead of the new audio. The drop goes first, so
     * the priming it asks for next cannot start on the stale audio.
     */
    if (s->deactivated) {
        s->deactivated = false;
        qpw_ring_request_drop(&s->ring);
    }
    qpw_stream_request_prime(s);
    qpw_stream_set_active_locked(s, true);
}

/* Loop lock held: QEMU stops the voice and nothing is to be played out. */
static void qpw_stop_out_now_locked(QPwStream *s)
{
    qpw_stream_cancel_drain_locked(s);
    qatomic_set(&s->draining, true);
    s->deactivated = true;
    qpw_stream_set_active_locked(s, false);
}

/*
 * Loop lock held: QEMU stops a voice once it has handed over all of its
 * audio, which may still be in the ring: let it play out, then deactivate
 * from the loop. Deactivating now would cut up to a latency's worth of
 * the end of every sound.
 */
static void qpw_drain_out_locked(QPwStream *s)
{
    struct pw_loop *loop = pw_thread_loop_get_loop(s->pw->loop);
    uint64_t wait = qpw_geometry_drain_us(&s->geo, qpw_ring_fill(&s->ring),
                                          qatomic_read(&s->cycle_bytes));
    struct timespec when = {
        .tv_sec = wait / G_USEC_PER_SEC,
        .tv_nsec = (wait % G_USEC_PER_SEC) * 1000,
    };

    qatomic_set(&s->draining, true);
    if (!s->drain_timer) {
        s->drain_timer = pw_loop_add_timer(loop, qpw_on_drain_timer, s);
    }
    if (s->drain_timer &&
        pw_loop_update_timer(loop, s->drain_timer, &when, NULL, false) >= 0) {
        s->stop_pending = true;
    } else {
        /* No timer: stop now, losing the tail rather than the stop. */
        qpw_stop_out_now_locked(s);
    }
}

static void qpw_enable_out(HWVoiceOut *hw, bool enable)
{
    QPwStream *s = &container_of(hw, QPwVoiceOut, hw)->s;
    bool silent = qpw_stream_silent(s);

    if (silent) {
        audio_rate_start(&s->rate);
    }
    qpw_stream_set_running(s, enable);
    /* Even when silent: the state is kept for the next stream. */
    pw_thread_loop_lock(s->pw->loop);
    if (enable) {
        qpw_stream_forget_stall(s);
        qpw_start_out_locked(s);
    } else if (silent) {
        qpw_stop_out_now_locked(s);
    } else {
        qpw_drain_out_locked(s);
    }
    pw_thread_loop_unlock(s->pw->loop);
}

static void qpw_volume_out(HWVoiceOut *hw, Volume *vol)
{
    qpw_stream_set_volume(&container_of(hw, QPwVoiceOut, hw)->s, vol);
}

static void qpw_period_hint_out(HWVoiceOut *hw, uint32_t period_us)
{
    qpw_stream_set_period_hint(&container_of(hw, QPwVoiceOut, hw)->s,
                               period_us);
}

/* Capture. */

static int qpw_init_in(HWVoiceIn *hw, struct audsettings *as,
                       void *drv_opaque)
{
    return qpw_voice_init(&container_of(hw, QPwVoiceIn, hw)->s, drv_opaque,
                          hw->s, PW_DIRECTION_INPUT, as, &hw->info,
                          &hw->samples, &hw->poll_mode);
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

        audio_pcm_info_clear_buf(&hw->info, buf,
                                 bytes / hw->info.bytes_per_frame);
        return bytes;
    }
    qpw_report_scheduling(s->pw);
    qpw_report_xruns(s, "overrun");
    qpw_report_cycle(s);
    qpw_report_card_clock(s);
    n = qpw_ring_read(&s->ring, buf, MIN(len, UINT32_MAX));
    trace_qpw_read(s->name, len, n, qpw_ring_fill(&s->ring));
    return n;
}

static void qpw_enable_in(HWVoiceIn *hw, bool enable)
{
    QPwStream *s = &container_of(hw, QPwVoiceIn, hw)->s;

    if (qpw_stream_silent(s)) {
        audio_rate_start(&s->rate);
    } else if (enable) {
        /*
         * Whatever was captured before this start is stale. QEMU is the
         * ring's consumer here, so it may drop it directly.
         */
        qpw_ring_drop(&s->ring);
    }
    qpw_stream_set_running(s, enable);
    /* Even when silent: the state is kept for the next stream. */
    pw_thread_loop_lock(s->pw->loop);
    qpw_stream_set_active_locked(s, enable);
    pw_thread_loop_unlock(s->pw->loop);
}

static void qpw_volume_in(HWVoiceIn *hw, Volume *vol)
{
    qpw_stream_set_volume(&container_of(hw, QPwVoiceIn, hw)->s, vol);
}

static void qpw_period_hint_in(HWVoiceIn *hw, uint32_t period_us)
{
    qpw_stream_set_period_hint(&container_of(hw, QPwVoiceIn, hw)->s,
                               period_us);
}

/* The driver. */

static bool qpw_validate_pdo(Audiodev *dev, const char *dir,
                             AudiodevPipewirePerDirectionOptions *pdo,
                             Error **errp)
{
    const char *reason;

    if (!pdo->has_latency) {
        pdo->has_latency = true;
        pdo->latency = QPW_LATENCY_DEFAULT_US;
    } else if (!qpw_latency_validate(pdo->latency, &reason)) {
        qpw_init_error(errp, "audiodev '%s': %s.latency=%" PRIu32 ": %s",
                       dev->id, dir, pdo->latency, reason);
        return false;
    }
    if (!pdo->has_min_quantum) {
        pdo->has_min_quantum = true;
        pdo->min_quantum = QPW_MIN_QUANTUM_DEFAULT_US;
    } else if (!qpw_min_quantum_validate(pdo->min_quantum, &reason)) {
        qpw_init_error(errp, "audiodev '%s': %s.min-quantum=%" PRIu32
                       ": %s", dev->id, dir, pdo->min_quantum, reason);
        return false;
    }
    return true;
}

static void qpw_audio_free(QPwAudio *pw)
{
    /*
     * Stop the loop first: nothing may dispatch into what goes next, so
     * the rest needs no lock. QEMU has finished every voice by now.
     */
    if (pw->loop) {
        pw_thread_loop_stop(pw->loop);
    }
    if (pw->retry_timer) {
        pw_loop_destroy_source(pw_thread_loop_get_loop(pw->loop),
                               pw->retry_timer);
    }
    if (pw->core) {
        qpw_conn_close(pw);
    }
    if (pw->target_timer) {
        pw_loop_destroy_source(pw_thread_loop_get_loop(pw->loop),
                               pw->target_timer);
    }
    if (pw->context) {
        pw_context_destroy(pw->context);
    }
    if (pw->loop) {
        pw_thread_loop_destroy(pw->loop);
    }
    /* No process callback is left to schedule it. */
    if (pw->wake_bh) {
        qemu_bh_delete(pw->wake_bh);
    }
    g_free(pw);
}

/*
 * The first connection, which QEMU waits for: without a daemon there is
 * no audiodev. Returns 0 or a negative errno with *@what saying which
 * step failed.
 */
static int qpw_audio_connect(QPwAudio *pw, const char **what)
{
    int64_t deadline = g_get_monotonic_time() + QPW_CONNECT_TIMEOUT_US;
    int err;

    pw_thread_loop_lock(pw->loop);
    err = qpw_conn_open(pw, what);
    if (err < 0) {
        pw_thread_loop_unlock(pw->loop);
        return err;
    }

    /*
     * A round trip proves the daemon really talks to us before the guest
     * gets a sound card that depends on it.
     */
    while (pw->state == QPW_CONN_SYNCING &&
           g_get_monotonic_time() < deadline) {
        pw_thread_loop_timed_wait(pw->loop, 1);
    }
    if (pw->state != QPW_CONN_UP) {
        err = pw->state == QPW_CONN_LOST ? pw->lost_res : -ETIMEDOUT;
        pw_thread_loop_unlock(pw->loop);
        *what = "no answer from the PipeWire daemon";
        return err;
    }

    /* From now on a lost connection is retried from this timer. */
    pw->retry_timer = pw_loop_add_timer(pw_thread_loop_get_loop(pw->loop),
                                        qpw_on_retry_timer, pw);
    if (!pw->retry_timer) {
        err = -errno;
        pw_thread_loop_unlock(pw->loop);
        *what = "cannot create its reconnect timer";
        return err < 0 ? err : -ENOMEM;
    }
    pw->started = true;
    pw_thread_loop_unlock(pw->loop);
    return 0;
}

/* Main loop: a process callback asked for the audio layer to run now. */
static void qpw_on_wake(void *opaque)
{
    qpw_run_audio(opaque);
}

static void *qpw_audio_init(Audiodev *dev, Error **errp)
{
    static bool qpw_initialized;
    AudiodevPipewireOptions *opts = &dev->u.pipewire;
    QPwAudio *pw;
    const char *what;
    int err;

    assert(dev->driver == AUDIODEV_DRIVER_PIPEWIRE);

    if (!qpw_validate_pdo(dev, "in", opts->in, errp) ||
        !qpw_validate_pdo(dev, "out", opts->out, errp)) {
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
    pw->wake_bh = qemu_bh_new(qpw_on_wake, pw);
    pw->state = QPW_CONN_DOWN;
    pw->data_thread_policy = -1;
    QLIST_INIT(&pw->streams);
    if (!qpw_retry_init(&pw->retry, QPW_RETRY_FIRST_MS, QPW_RETRY_MAX_MS)) {
        g_assert_not_reached();
    }

    pw->loop = pw_thread_loop_new("qemu-pipewire", NULL);
    if (!pw->loop) {
        err = -errno;
        what = "cannot create its PipeWire thread";
        goto fail;
    }
    /*
     * client-rt.conf, as PipeWire's own realtime clients use: its
     * module-rt gives the data thread (our process callbacks) realtime
     * priority, directly or through RTKit, and leaves QEMU's other threads
     * alone.
     */
    pw->context = pw_context_new(pw_thread_loop_get_loop(pw->loop),
                                 pw_properties_new(PW_KEY_CONFIG_NAME,
                                                   "client-rt.conf", NULL),
                                 0);
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
    err = qpw_audio_connect(pw, &what);
    if (err < 0) {
        goto fail;
    }

    trace_qpw_connected(dev->id, pw_get_library_version());
    return pw;

fail:
    /* Tried as the implicit default, QEMU just goes on to the next driver. */
    trace_qpw_init_failed(dev->id, what, err);
    qpw_init_error(errp, "audiodev '%s': %s: %s", dev->id, what,
                   spa_strerror(err));
    qpw_audio_free(pw);
    return NULL;
}
QPW_DEFINE_DRIVER_INIT(qpw_audio_init)

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
    .period_hint_out = qpw_period_hint_out,

    .init_in = qpw_init_in,
    .fini_in = qpw_fini_in,
    .read = qpw_read,
    .run_buffer_in = audio_generic_run_buffer_in,
    .enable_in = qpw_enable_in,
    .volume_in = qpw_volume_in,
    .period_hint_in = qpw_period_hint_in,
};

static struct audio_driver qpw_audio_driver = {
    .name = "pipewire",
    QPW_DRIVER_DESCR("PipeWire https://pipewire.org/")
    .init = QPW_DRIVER_INIT(qpw_audio_init),
    .fini = qpw_audio_fini,
    .pcm_ops = &qpw_pcm_ops,
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
