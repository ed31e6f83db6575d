/*
 * qpw-drift-sink: a PipeWire sink whose clock is not the host's.
 *
 * A real sound card runs on its own crystal, some tens to hundreds of ppm
 * away from the host's clock. This test tool is an Audio/Sink node that
 * drives the graph itself and runs its cycles at the nominal rate offset
 * by --ppm, timed on CLOCK_MONOTONIC: at --ppm 300 and 48 kHz the graph
 * takes 48014.4 frames per second of host time, like a card that fast.
 * Everything linked to it (the QEMU stream under test) follows that pace,
 * and it publishes that rate against the host's clock in the graph's
 * position (clock.rate_diff), as a card's driver does.
 *
 * It records what it plays (--record FILE, a 16-bit WAV). When it ends
 * (SIGINT or SIGTERM, or --seconds) it prints a line of cycles, frames,
 * cycles late (a tick found the cycle it started before not done yet: a
 * peer, or its own thread, was late), cycles lost, ticks that woke up
 * late, ticks where it was not the graph's driver, and the rate measured;
 * two lines of the wall-clock times of the ticks that found cycles late
 * and of those that found cycles lost; and a line of the cycles that
 * brought less than their length (played out with silence) and of the
 * quanta the graph ran, in the order it first ran them.
 *
 * It is the card: each tick of its clock stands for one quantum of the
 * card's time, played whether the graph delivered it or not. Like a real
 * card's driver, it ticks at the graph's quantum, which its peers'
 * node.latency may make smaller than its own --quantum (the position's
 * clock.duration, read at each tick and again when the cycle has run:
 * see follow_cycle_length()). A cycle that is late may be lost: its
 * frames never arrive. The card plays silence for it, as real hardware
 * does when it is not fed; and for the part of a cycle a peer did not
 * bring. So the frames it counts are the whole length of each cycle its
 * process callback ran plus a quantum of silence for each cycle lost,
 * and the rate is that count at each tick against the host time the tick
 * woke up at, fitted by least squares. A lost cycle does not bend the
 * rate; it is counted and printed apart, so a graph that did not follow
 * its clock still shows: as cycles lost, or as cycles short (printed, and
 * silence in the recording).
 *
 * The points of the fit are the ticks after the first --settle seconds
 * (while its peers link, the graph may pause) that found their cycle done
 * and woke up on time:
 * - a tick finds its cycle done when a cycle arrived since the tick
 *   before. At a tick that finds it late, a late cycle and a lost one
 *   cannot be told apart yet. At one that finds it done, the cycles
 *   started before have arrived or never will (cycles end in order), so
 *   the cycles lost are the ticks since the first such tick (each started
 *   a cycle) less the cycles received since. (If the cycle that arrived
 *   was an older late one, the count is one too many at that tick, and
 *   right again at the next tick that finds its cycle done.)
 * - a tick that woke up more than MAX_LATENESS after its time (its thread
 *   was held up) does not stand for the card's time.
 * The wake-up times, unlike the process callback's, do not wander with
 * the graph's load. While it is not the graph's driver its ticks start no
 * cycle and these counts mean nothing; such ticks are counted and
 * printed.
 *
 * Its process callback runs on its main thread, as its clock does; run
 * it with realtime scheduling (chrt -f) where the machine is busy.
 * --stall-at S makes that thread sleep once, --stall-ms long, in the
 * process callback at S seconds of its clock: a sink that falls behind
 * its own clock, to show that the cycles it loses so are counted and do
 * not bend the rate; with --stall-every E, again every E seconds after:
 * a graph that stalls now and then, for its peers to ride out.
 *
 * Copyright (c) 2026 The qemu-pipewire-sound authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pipewire/pipewire.h>
#include <spa/node/io.h>
#include <spa/param/audio/format-utils.h>
#include <spa/utils/result.h>

/*
 * A card further off than this is not a crystal error but a wrong rate.
 * It is four times the 0.5 % the backend follows a card's clock at most,
 * so that a test can show the backend stops there.
 */
#define MAX_PPM 20000.0

/*
 * A tick that woke up later than this after its time is not a point of
 * the fit. On the 2-core test machine, realtime, 95 % of the ticks woke
 * within 0.3 ms; at either end of an 8 s fit, each millisecond that one
 * tick is late moves the rate by 2 ppm. In one run at 0 ppm, seven ticks
 * that woke 1 to 5 ms late put the rate at -13.8 ppm, +0.3 without them.
 */
#define MAX_LATENESS 0.001  /* seconds */

/*
 * The wall-clock times of the ticks that found cycles late, and of those
 * that found cycles lost, are kept, up to this many each, and printed at
 * the end: a reader of QEMU's trace (timed on the wall clock) can then
 * tell the stretches in which the graph, not the stream under test,
 * stalled or lost a cycle.
 */
#define MAX_TIMES 4096
/* The quanta the report lists, in the order the graph first ran them. */
#define MAX_QUANTA 8

typedef struct TimeList {
    double t[MAX_TIMES];
    unsigned n;
    bool full;                  /* a time did not fit */
} TimeList;

typedef struct {
    double ppm;
    uint32_t rate;
    uint32_t channels;
    uint32_t quantum;
    double seconds;
    double settle;
    double stall_at;
    double stall_every;
    double stall_ms;
    const char *name;
    const char *record;
} Options;

/* Least-squares fit of frames received against host time. */
typedef struct {
    uint64_t n;
    double t0;
    double sx, sy, sxx, sxy;
} RateFit;

typedef struct {
    Options opt;
    struct pw_main_loop *loop;
    struct pw_stream *stream;
    struct spa_hook listener;
    struct spa_source *timer;
    struct timespec start;
    struct spa_io_position *position;   /* the graph's, once it has one */
    uint64_t ticks;             /* timer expirations so far */
    uint64_t card_frames;       /* the card's time at the last tick */
    uint32_t quantum;           /* the graph's at the last tick */
    uint64_t cycles;            /* process callbacks so far */
    uint64_t frames;            /* frames played so far, received or not */
    uint64_t late;              /* ticks after the settling with no cycle */
    uint64_t woke_late;         /* ticks after the settling that woke late */
    uint64_t not_driving;       /* ticks after the settling not driving */
    uint64_t cycles_at_tick;
    bool settled;               /* past --settle, with cycles running */
    bool counting;              /* the counts at the first done tick taken */
    uint64_t ticks0, cycles0, frames0;  /* those counts */
    int64_t lost;               /* cycles lost since, at the last done tick */
    double lost_frames;         /* their frames, each at the quantum then */
    TimeList found_late;        /* wall-clock times, see MAX_TIMES */
    TimeList found_lost;
    uint64_t short_cycles;      /* cycles that brought less than their length */
    uint64_t short_frames;      /* the silence they were played out with */
    uint32_t quanta[MAX_QUANTA];    /* the quanta run, in order of first run */
    unsigned n_quanta;
    double next_stall;          /* --stall-at, then every --stall-every s */
    RateFit fit;
    FILE *wav;
    uint64_t wav_bytes;
} DriftSink;

static double clock_s(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static void time_list_add(TimeList *l)
{
    if (l->n == MAX_TIMES) {
        l->full = true;
        return;
    }
    l->t[l->n++] = clock_s(CLOCK_REALTIME);
}

static void time_list_print(const TimeList *l, const char *what)
{
    printf("qpw-drift-sink: cycles found %s at (wall clock, s):", what);
    for (unsigned i = 0; i < l->n; i++) {
        printf(" %.3f", l->t[i]);
    }
    printf("%s\n", l->full ? " (and on)" : "");
}

/* The card's frames per second of host time. */
static double card_rate(const Options *o)
{
    return o->rate * (1 + o->ppm / 1e6);
}

/* The quantum the graph runs now: its next cycle's length. */
static uint32_t graph_quantum(const DriftSink *d)
{
    uint64_t duration = d->position ? d->position->clock.duration : 0;

    return duration > 0 && duration <= 8192 ? duration : d->opt.quantum;
}

static void fit_add(RateFit *f, double t, double frames)
{
    if (f->n++ == 0) {
        f->t0 = t;
    }
    t -= f->t0;
    f->sx += t;
    f->sy += frames;
    f->sxx += t * t;
    f->sxy += t * frames;
}

/* Frames per second of host time, or 0 with fewer than 3 points. */
static double fit_rate(const RateFit *f)
{
    double n = f->n;
    double d = n * f->sxx - f->sx * f->sx;

    return f->n < 3 || d <= 0 ? 0 : (n * f->sxy - f->sx * f->sy) / d;
}

static void put_le(FILE *f, uint32_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        fputc((v >> (8 * i)) & 0xff, f);
    }
}

/* A 16-bit PCM WAV header for @data_bytes of audio. */
static void wav_header(DriftSink *d, uint32_t data_bytes)
{
    uint32_t frame = d->opt.channels * 2;

    fseek(d->wav, 0, SEEK_SET);
    fputs("RIFF", d->wav);
    put_le(d->wav, 36 + data_bytes, 4);
    fputs("WAVEfmt ", d->wav);
    put_le(d->wav, 16, 4);
    put_le(d->wav, 1, 2);
    put_le(d->wav, d->opt.channels, 2);
    put_le(d->wav, d->opt.rate, 4);
    put_le(d->wav, d->opt.rate * frame, 4);
    put_le(d->wav, frame, 2);
    put_le(d->wav, 16, 2);
    fputs("data", d->wav);
    put_le(d->wav, data_bytes, 4);
}

/* The next tick: when the card has played @card_frames since the start. */
static void arm_tick(DriftSink *d)
{
    uint64_t ns = (uint64_t)llround(d->card_frames / card_rate(&d->opt) *
                                    1e9);
    struct timespec next = {
        .tv_sec = d->start.tv_sec + (d->start.tv_nsec + ns) / 1000000000,
        .tv_nsec = (d->start.tv_nsec + ns) % 1000000000,
    };

    pw_loop_update_timer(pw_main_loop_get_loop(d->loop), d->timer, &next,
                         NULL, true);
}

/*
 * Main loop thread: the cycle that has just run was @ran frames long, not
 * the quantum its tick read, when the quantum changed as it started (a
 * peer joined): the next tick comes when the card has played those.
 * Scheduled by the old quantum, the card would have sat idle for the
 * difference, once, and read that much slow. PipeWire 0.3.65's position
 * has no separate target length: @ran is its clock.duration, taken to be
 * the length of the cycle that has just run (the server changes it
 * between cycles when it recalculates the graph; should it land within
 * one, this corrects by the same step the wrong way, once).
 */
static void follow_cycle_length(DriftSink *d, uint32_t ran)
{
    if (ran != d->quantum) {
        d->card_frames = d->card_frames - d->quantum + ran;
        d->quantum = ran;
        arm_tick(d);
    }
}

/* Main loop thread: remember the quanta the graph runs (the first few). */
static void note_quantum(DriftSink *d, uint32_t quantum)
{
    for (unsigned i = 0; i < d->n_quanta; i++) {
        if (d->quanta[i] == quantum) {
            return;
        }
    }
    if (d->n_quanta < MAX_QUANTA) {
        d->quanta[d->n_quanta++] = quantum;
    }
}

/*
 * Main loop thread: one graph cycle of audio has arrived. The card plays
 * the whole cycle: what did not arrive (a peer that gave less, as a
 * source linked in does in the cycle in which the quantum changes) is
 * silence, in the count and in the recording.
 */
static void on_process(void *opaque)
{
    DriftSink *d = opaque;
    struct pw_buffer *b = pw_stream_dequeue_buffer(d->stream);
    uint32_t stride = d->opt.channels * 2;
    uint32_t ran = graph_quantum(d);
    uint32_t cycle = ran * stride;
    static const uint8_t silence[4096];
    uint32_t size = 0;

    follow_cycle_length(d, ran);
    note_quantum(d, ran);
    if (!b) {
        return;
    }
    if (d->next_stall > 0 &&
        d->card_frames >= d->next_stall * d->opt.rate) {
        struct timespec ts = {
            .tv_sec = (time_t)(d->opt.stall_ms / 1000),
            .tv_nsec = (long)(fmod(d->opt.stall_ms, 1000) * 1e6),
        };

        nanosleep(&ts, NULL);
        if (d->opt.stall_every > 0) {
            /* The next one after this cycle's time, not in a backlog. */
            while (d->card_frames >= d->next_stall * d->opt.rate) {
                d->next_stall += d->opt.stall_every;
            }
        } else {
            d->next_stall = 0;
        }
    }
    if (b->buffer->n_datas > 0 && b->buffer->datas[0].data) {
        struct spa_data *sd = &b->buffer->datas[0];
        uint32_t offset = SPA_MIN(sd->chunk->offset, sd->maxsize);

        size = SPA_MIN(SPA_MIN(sd->chunk->size, sd->maxsize - offset), cycle);
        if (d->wav) {
            fwrite(SPA_PTROFF(sd->data, offset, void), 1, size, d->wav);
        }
    }
    if (size < cycle) {
        d->short_cycles++;
        d->short_frames += (cycle - size) / stride;
    }
    if (d->wav) {
        for (uint32_t n = size; n < cycle; n += sizeof(silence)) {
            fwrite(silence, 1, SPA_MIN(sizeof(silence), cycle - n), d->wav);
        }
        d->wav_bytes += cycle;
    }
    d->frames += cycle / stride;
    d->cycles++;
    pw_stream_queue_buffer(d->stream, b);
}

/*
 * Say how fast the card's clock runs against the monotonic clock, in the
 * graph's position (clock.rate_diff), where its followers read it: a real
 * card's driver publishes its estimate of that ratio (from a DLL on the
 * hardware's position) before each cycle; this card knows it exactly.
 */
static void publish_rate(DriftSink *d)
{
    if (d->position) {
        d->position->clock.rate_diff = card_rate(&d->opt) / d->opt.rate;
    }
}

/*
 * A tick found the cycle it started before done: count the cycles lost
 * since the first such tick and, with @on_time, add the frames the card
 * has played by @now, received or silence, to the fit.
 */
static void count_card_frames(DriftSink *d, double now, bool on_time)
{
    int64_t started, received;

    if (!d->counting) {
        d->counting = true;
        d->ticks0 = d->ticks;
        d->cycles0 = d->cycles;
        d->frames0 = d->frames;
    }
    /* Ticks since the first done one, that one included, this one not. */
    started = d->ticks - d->ticks0;
    received = d->cycles - d->cycles0;
    /*
     * The cycles found lost since the last done tick were started at
     * about the quantum the graph has now; those found before keep the
     * quantum they were counted at, so a quantum that changes (a peer
     * joining) does not revalue them and step the fit.
     */
    if (started - received > d->lost) {
        time_list_add(&d->found_lost);
    }
    d->lost_frames += (double)(started - received - d->lost) * d->quantum;
    d->lost = started - received;
    if (on_time) {
        fit_add(&d->fit, now, (double)(d->frames - d->frames0) +
                d->lost_frames);
    }
}

/*
 * Main loop thread: the card's clock ticks. The ticks are on an absolute
 * schedule (the next one when the card has played the quantum this one
 * starts, counted from the start), so a late wake-up does not shift the
 * ones after it.
 */
static void on_tick(void *opaque, uint64_t expirations SPA_UNUSED)
{
    DriftSink *d = opaque;
    double start = d->start.tv_sec + d->start.tv_nsec / 1e9;
    double now = now_s();
    bool on_time = now - start - d->card_frames / card_rate(&d->opt) <=
                   MAX_LATENESS;

    d->ticks++;
    if (d->settled && !on_time) {
        d->woke_late++;
    }
    /* A late cycle's frames may come after this tick: leave the tick out. */
    if (d->settled && d->cycles_at_tick == d->cycles) {
        d->late++;
        time_list_add(&d->found_late);
    } else if (d->settled) {
        count_card_frames(d, now, on_time);
    }
    if (d->settled && !pw_stream_is_driving(d->stream)) {
        d->not_driving++;
    }
    d->settled = d->cycles && d->card_frames >= d->opt.settle * d->opt.rate;
    d->cycles_at_tick = d->cycles;
    d->quantum = graph_quantum(d);
    d->card_frames += d->quantum;
    arm_tick(d);
    if (pw_stream_is_driving(d->stream)) {
        publish_rate(d);
        pw_stream_trigger_process(d->stream);
    }
    if (d->opt.seconds > 0 &&
        d->card_frames >= d->opt.seconds * d->opt.rate) {
        pw_main_loop_quit(d->loop);
    }
}

static void on_state_changed(void *opaque, enum pw_stream_state old,
                             enum pw_stream_state state, const char *error)
{
    DriftSink *d = opaque;

    fprintf(stderr, "qpw-drift-sink: %s -> %s%s%s\n",
            pw_stream_state_as_string(old), pw_stream_state_as_string(state),
            error ? ": " : "", error ? error : "");
    if (state == PW_STREAM_STATE_ERROR) {
        pw_main_loop_quit(d->loop);
    }
}

static void on_io_changed(void *opaque, uint32_t id, void *area,
                          uint32_t size)
{
    DriftSink *d = opaque;

    if (id == SPA_IO_Position) {
        d->position = size >= sizeof(*d->position) ? area : NULL;
    }
}

static const struct pw_stream_events stream_events = {
    PW_VERSION_STREAM_EVENTS,
    .state_changed = on_state_changed,
    .io_changed = on_io_changed,
    .process = on_process,
};

static void on_signal(void *opaque, int signal_number SPA_UNUSED)
{
    DriftSink *d = opaque;

    pw_main_loop_quit(d->loop);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: qpw-drift-sink [options]\n"
            "  --ppm N        clock offset from the host's, -%g..%g "
            "(default 0)\n"
            "  --rate HZ      nominal rate (default 48000)\n"
            "  --channels N   (default 2)\n"
            "  --quantum N    frames per cycle (default 1024)\n"
            "  --name NAME    node.name (default qpw_drift_sink)\n"
            "  --record FILE  write what arrives as a 16-bit WAV\n"
            "  --seconds S    stop after S seconds of its own clock\n"
            "  --settle S     measure from S seconds on (default 1)\n"
            "  --stall-at S   at S seconds, sleep once in the process "
            "callback\n"
            "  --stall-every E  and again every E seconds after it\n"
            "  --stall-ms MS  for so long (default 50)\n",
            MAX_PPM, MAX_PPM);
}

/* Parse @s as a number in [@min, @max] into *@out; false if it is not. */
static bool parse_number(const char *what, const char *s, double min,
                         double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max) {
        fprintf(stderr, "qpw-drift-sink: --%s %s: not a number from %g to "
                "%g\n", what, s, min, max);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_options(int argc, char **argv, Options *o)
{
    static const struct option longopts[] = {
        { "ppm", required_argument, NULL, 'p' },
        { "rate", required_argument, NULL, 'r' },
        { "channels", required_argument, NULL, 'c' },
        { "quantum", required_argument, NULL, 'q' },
        { "name", required_argument, NULL, 'n' },
        { "record", required_argument, NULL, 'w' },
        { "seconds", required_argument, NULL, 's' },
        { "settle", required_argument, NULL, 'S' },
        { "stall-at", required_argument, NULL, 'a' },
        { "stall-every", required_argument, NULL, 'e' },
        { "stall-ms", required_argument, NULL, 'm' },
        { "help", no_argument, NULL, 'h' },
        { 0 }
    };
    double v;
    int c;

    *o = (Options) {
        .rate = 48000, .channels = 2, .quantum = 1024,
        .settle = 1, .stall_ms = 50, .name = "qpw_drift_sink",
    };
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (!parse_number("ppm", optarg, -MAX_PPM, MAX_PPM, &o->ppm)) {
                return false;
            }
            break;
        case 'r':
            if (!parse_number("rate", optarg, 8000, 192000, &v)) {
                return false;
            }
            o->rate = v;
            break;
        case 'c':
            if (!parse_number("channels", optarg, 1, 8, &v)) {
                return false;
            }
            o->channels = v;
            break;
        case 'q':
            if (!parse_number("quantum", optarg, 32, 8192, &v)) {
                return false;
            }
            o->quantum = v;
            break;
        case 's':
            if (!parse_number("seconds", optarg, 0, 86400, &o->seconds)) {
                return false;
            }
            break;
        case 'S':
            if (!parse_number("settle", optarg, 0, 3600, &o->settle)) {
                return false;
            }
            break;
        case 'a':
            if (!parse_number("stall-at", optarg, 0, 86400, &o->stall_at)) {
                return false;
            }
            break;
        case 'e':
            if (!parse_number("stall-every", optarg, 0.1, 86400,
                              &o->stall_every)) {
                return false;
            }
            break;
        case 'm':
            if (!parse_number("stall-ms", optarg, 0, 10000, &o->stall_ms)) {
                return false;
            }
            break;
        case 'n':
            o->name = optarg;
            break;
        case 'w':
            o->record = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return false;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "qpw-drift-sink: unexpected argument '%s'\n",
                argv[optind]);
        return false;
    }
    if (o->stall_every > 0 && !(o->stall_at > 0)) {
        fprintf(stderr, "qpw-drift-sink: --stall-every needs --stall-at\n");
        return false;
    }
    if (o->stall_every > 0 && o->stall_ms >= o->stall_every * 1000) {
        fprintf(stderr, "qpw-drift-sink: --stall-ms must be shorter than "
                "--stall-every\n");
        return false;
    }
    return true;
}

static struct pw_properties *sink_props(const Options *o)
{
    return pw_properties_new(
        PW_KEY_MEDIA_TYPE, "Audio",
        PW_KEY_MEDIA_CATEGORY, "Playback",
        PW_KEY_MEDIA_CLASS, "Audio/Sink",
        PW_KEY_NODE_NAME, o->name,
        PW_KEY_NODE_DESCRIPTION, o->name,
        /* It is the card: the graph it is in runs on its clock. */
        PW_KEY_NODE_DRIVER, "true",
        PW_KEY_PRIORITY_DRIVER, "30000",
        PW_KEY_NODE_AUTOCONNECT, "false",
        NULL);
}

static int connect_sink(DriftSink *d)
{
    uint8_t buf[1024];
    struct spa_pod_builder b = SPA_POD_BUILDER_INIT(buf, sizeof(buf));
    struct spa_audio_info_raw info = {
        .format = SPA_AUDIO_FORMAT_S16_LE,
        .rate = d->opt.rate,
        .channels = d->opt.channels,
    };
    const struct spa_pod *params[1];
    struct pw_properties *props = sink_props(&d->opt);

    /* Stereo as a card's: a source can be linked to it channel by channel. */
    if (info.channels == 2) {
        info.position[0] = SPA_AUDIO_CHANNEL_FL;
        info.position[1] = SPA_AUDIO_CHANNEL_FR;
    }

    pw_properties_setf(props, PW_KEY_NODE_LATENCY, "%u/%u", d->opt.quantum,
                       d->opt.rate);
    pw_properties_setf(props, PW_KEY_NODE_RATE, "1/%u", d->opt.rate);
    d->stream = pw_stream_new_simple(pw_main_loop_get_loop(d->loop),
                                     d->opt.name, props, &stream_events, d);
    if (!d->stream) {
        return -errno;
    }
    params[0] = spa_format_audio_raw_build(&b, SPA_PARAM_EnumFormat, &info);
    return pw_stream_connect(d->stream, PW_DIRECTION_INPUT, PW_ID_ANY,
                             PW_STREAM_FLAG_DRIVER |
                             PW_STREAM_FLAG_MAP_BUFFERS, params, 1);
}

static void report(DriftSink *d)
{
    double rate = fit_rate(&d->fit);
    double ppm = rate ? (rate / d->opt.rate - 1) * 1e6 : 0;

    printf("qpw-drift-sink: ppm %+.1f asked, %" PRIu64 " cycles, %" PRIu64
           " frames, %" PRIu64 " cycles late, %" PRId64 " lost (counted "
           "as the card's silence), %" PRIu64 " ticks woke late, %" PRIu64
           " not driving, measured %.3f frames/s = %+.1f ppm over %.2f s\n",
           d->opt.ppm, d->cycles, d->frames, d->late, d->lost, d->woke_late,
           d->not_driving, rate, ppm, d->fit.n ? now_s() - d->fit.t0 : 0.0);
    time_list_print(&d->found_late, "late");
    time_list_print(&d->found_lost, "lost");
    printf("qpw-drift-sink: %" PRIu64 " cycles short (%" PRIu64
           " frames of silence added), quanta run:", d->short_cycles,
           d->short_frames);
    for (unsigned i = 0; i < d->n_quanta; i++) {
        printf(" %u", d->quanta[i]);
    }
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    DriftSink d = { 0 };
    struct pw_loop *loop;
    int r;

    if (!parse_options(argc, argv, &d.opt)) {
        return 2;
    }
    d.next_stall = d.opt.stall_at;
    if (d.opt.record) {
        d.wav = fopen(d.opt.record, "wb");
        if (!d.wav) {
            fprintf(stderr, "qpw-drift-sink: %s: %s\n", d.opt.record,
                    strerror(errno));
            return 1;
        }
        wav_header(&d, 0);
    }

    pw_init(&argc, &argv);
    d.loop = pw_main_loop_new(NULL);
    loop = pw_main_loop_get_loop(d.loop);
    pw_loop_add_signal(loop, SIGINT, on_signal, &d);
    pw_loop_add_signal(loop, SIGTERM, on_signal, &d);
    r = connect_sink(&d);
    if (r < 0) {
        fprintf(stderr, "qpw-drift-sink: cannot connect: %s\n",
                spa_strerror(r));
        return 1;
    }

    clock_gettime(CLOCK_MONOTONIC, &d.start);
    d.timer = pw_loop_add_timer(loop, on_tick, &d);
    on_tick(&d, 0);
    pw_main_loop_run(d.loop);

    report(&d);
    /*
     * Off the graph before it goes: destroying a stream that was still
     * linked raced with its data thread (with PipeWire 0.3.65, once in
     * some 60 runs, the player still playing into the sink: this thread
     * died in pw_stream_destroy() and the data thread at the same time).
     */
    pw_loop_destroy_source(loop, d.timer);
    pw_stream_disconnect(d.stream);
    pw_stream_destroy(d.stream);
    pw_main_loop_destroy(d.loop);
    pw_deinit();
    if (d.wav) {
        wav_header(&d, d.wav_bytes);
        if (fclose(d.wav)) {
            fprintf(stderr, "qpw-drift-sink: %s: %s\n", d.opt.record,
                    strerror(errno));
            return 1;
        }
    }
    return 0;
}
