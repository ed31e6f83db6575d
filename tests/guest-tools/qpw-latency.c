/*
 * qpw-latency: audio timing measurements inside the test guest.
 *
 * Round-trip mode (default): opens playback and capture on one ALSA device
 * (hw:0,0), S16_LE, 48 kHz stereo, a period of --period ms and a buffer of
 * --periods periods; links the two streams (snd_pcm_link, so one trigger
 * starts both; --no-link starts them one after the other and corrects by
 * their trigger timestamps), prefills the playback buffer and then polls
 * both: it reads whatever capture has and keeps the playback buffer full
 * (so the playback fill stays between buffer - period and buffer).  The
 * playback signal is silence with a click every --interval ms (the first a
 * quarter interval in; the round trip must be shorter than that): a burst of
 * a 3 kHz cosine (it starts at full amplitude, so its onset is exact).
 * Where host side loops the playback back into the capture (PipeWire: the
 * sink's monitor linked to the source), each click comes back; its onset
 * is the first captured sample whose magnitude exceeds --threshold.
 *
 * Printed (machine-readable "RESULT key=value" lines; -v adds one line
 * per click and per xrun):
 *   latency   round trip per click: frames between the click's position in
 *             the playback stream and its onset in the capture stream
 *             (both count from the common start), in ms; median, min, max.
 *             That is what the device, QEMU and the host add past the
 *             hardware pointers (it can come out a little below 0 when a
 *             restart leaves capture counting ahead of playback); each
 *             onset belongs to the click written last before it was read,
 *             so a round trip must be shorter than the click interval.
 *             An application adds its own buffering
 *             (app_*_ms: CLOCK_MONOTONIC from the return of the write that
 *             held the click's first frame to the return of the read that
 *             held its onset, with the playback buffer kept full).
 *             Clicks that had time to come back and did not are "missed";
 *             onsets with no click waiting for them (none written yet, or
 *             the last one already matched) "spurious".  Each restart
 *             flips the clicks' polarity: onsets of the other polarity,
 *             sent before the restart, are "stale" and ignored.
 *   xruns     -EPIPE (underrun/overrun) seen on each stream, split into
 *             those in the first --settle ms of the run ("start") and the
 *             others.  Linked streams stop together, so the stream that
 *             ran out is told by its avail (>= the buffer).  A stream that
 *             moves nothing for a second while running is a "stall"; other
 *             errors (-EIO, -ESTRPIPE, ...) are "errors".  Each of them
 *             restarts both streams.
 *   drift     each stream's hardware position (snd_pcm_htimestamp) against
 *             CLOCK_MONOTONIC: the least-squares slope over the longest
 *             xrun-free stretch, past its first --settle ms, in ppm of the
 *             nominal rate (nan: no stretch longer than that); a stall of
 *             the device without an xrun (the position slips) counts in
 *             it.  rate_ppm: the median of the slopes over 5 s windows of
 *             every stretch, i.e. the clock rate with such slips left out.
 *
 * Play mode (--mode play): playback only, --duration s of a tone (--tone
 * Hz on the left channel, silence on the right; --tone 0: silence), then
 * drain; prints the time from the stream's start trigger to the end of
 * the drain against the nominal duration (ppm), the fitted drift of the
 * hardware position, and the xruns.  A whole-Hz tone comes from a table
 * computed once (rate / gcd(rate, tone) samples, a whole number of
 * cycles), so the guest's CPU time while playing is the ALSA write path,
 * not a sin() per sample (costly under TCG); other tones call sin().
 *
 * Clock mode (--mode clock [WORD...]): prints the words and CLOCK_MONOTONIC
 * (s) on one line and exits; a host comparing such lines on the serial
 * console with its own clock measures the guest's.
 *
 * Build: gcc -O2 -o qpw-latency qpw-latency.c -lasound -lm
 * (tests/guest-tools/build does this).  Exit status: 0 measured, 1 bad
 * usage, 2 the device could not be opened or set up, 3 gave up after too
 * many errors.
 */

#define _GNU_SOURCE
#include <alsa/asoundlib.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CLICKS 4096
#define MAX_ERRORS 10000
#define MAX_WINDOWS 4096
#define WINDOW_S 5.0
#define WAIT_MS 1000

enum { PLAY, CAP };
static const char *const dir_name[] = { "playback", "capture" };
static FILE *positions;     /* --positions: every position sample */

struct opts {
    const char *device;
    int play_mode, clock_mode;
    unsigned rate, channels, periods;
    double period_ms, duration, interval_ms, threshold, amplitude, tone;
    double settle_ms, click_ms;
    int link, verbose, click_channel;     /* -1: all channels */
};

/* Least-squares line through (t, frames) points, relative to an origin. */
struct fit {
    double n, st, sf, stt, stf, t0, f0;
    double first_t, last_t;
};

struct stream {
    snd_pcm_t *pcm;
    snd_pcm_uframes_t period, buffer;
    unsigned rate;
    long long seg_frames;       /* frames moved since the last (re)start */
    long long total_frames;     /* frames moved over the whole run */
    double progress;            /* CLOCK_MONOTONIC of its last frames */
    double stretch_t0;          /* first position sample of the stretch */
    int xrun_start, xrun_run, errors, stalls;
    struct fit cur, best;
    struct fit win;             /* the current WINDOW_S s of the stretch */
    double win_rate[MAX_WINDOWS];
    int nwin;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "qpw-latency: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(code);
}

static void fit_reset(struct fit *f)
{
    memset(f, 0, sizeof(*f));
}

static void fit_add(struct fit *f, double t, double frames)
{
    if (f->n == 0) {
        f->t0 = t;
        f->f0 = frames;
        f->first_t = t;
    }
    t -= f->t0;
    frames -= f->f0;
    f->n++;
    f->st += t;
    f->sf += frames;
    f->stt += t * t;
    f->stf += t * frames;
    f->last_t = t + f->t0;
}

/* Slope in frames per second; NAN with fewer than 3 points. */
static double fit_slope(const struct fit *f)
{
    double den = f->n * f->stt - f->st * f->st;
    if (f->n < 3 || den <= 0) {
        return NAN;
    }
    return (f->n * f->stf - f->st * f->sf) / den;
}

static double fit_span(const struct fit *f)
{
    return f->n ? f->last_t - f->first_t : 0;
}

/* Keep the current stretch if it is the longest so far; start a new one. */
static void fit_close(struct stream *s)
{
    if (fit_span(&s->cur) > fit_span(&s->best)) {
        s->best = s->cur;
    }
    fit_reset(&s->cur);
    fit_reset(&s->win);
    s->stretch_t0 = 0;
}

static double ppm(double rate, double nominal)
{
    return isnan(rate) ? NAN : (rate / nominal - 1) * 1e6;
}

static double ts_sec(const snd_htimestamp_t *ts)
{
    return ts->tv_sec + ts->tv_nsec * 1e-9;
}

static void setup(struct stream *s, const struct opts *o, int dir)
{
    snd_pcm_hw_params_t *hw;
    snd_pcm_sw_params_t *sw;
    snd_pcm_uframes_t period, buffer, boundary;
    unsigned rate = o->rate;
    int dirn = 0, err;

    err = snd_pcm_open(&s->pcm, o->device, dir == PLAY ?
                       SND_PCM_STREAM_PLAYBACK : SND_PCM_STREAM_CAPTURE, 0);
    if (err < 0) {
        die(2, "open %s %s: %s", o->device, dir_name[dir], snd_strerror(err));
    }
    snd_pcm_hw_params_alloca(&hw);
    snd_pcm_hw_params_any(s->pcm, hw);
    period = (snd_pcm_uframes_t)(o->period_ms * o->rate / 1000 + 0.5);
    buffer = period * o->periods;
#define HW(call, what) \
    if ((err = (call)) < 0) { \
        die(2, "%s %s: %s", dir_name[dir], what, snd_strerror(err)); \
    }
    HW(snd_pcm_hw_params_set_access(s->pcm, hw,
                                    SND_PCM_ACCESS_RW_INTERLEAVED), "access");
    HW(snd_pcm_hw_params_set_format(s->pcm, hw, SND_PCM_FORMAT_S16_LE),
       "format S16_LE");
    HW(snd_pcm_hw_params_set_channels(s->pcm, hw, o->channels), "channels");
    HW(snd_pcm_hw_params_set_rate_resample(s->pcm, hw, 0), "no resampling");
    HW(snd_pcm_hw_params_set_rate_near(s->pcm, hw, &rate, &dirn), "rate");
    HW(snd_pcm_hw_params_set_period_size_near(s->pcm, hw, &period, &dirn),
       "period size");
    buffer = period * o->periods;
    HW(snd_pcm_hw_params_set_buffer_size_near(s->pcm, hw, &buffer),
       "buffer size");
    HW(snd_pcm_hw_params(s->pcm, hw), "hw params");
    snd_pcm_hw_params_get_period_size(hw, &s->period, &dirn);
    snd_pcm_hw_params_get_buffer_size(hw, &s->buffer);
    snd_pcm_hw_params_get_rate(hw, &s->rate, &dirn);

    snd_pcm_sw_params_alloca(&sw);
    snd_pcm_sw_params_current(s->pcm, sw);
    snd_pcm_sw_params_get_boundary(sw, &boundary);
    /* Round trip: started by hand (both together); play: when full. */
    HW(snd_pcm_sw_params_set_start_threshold(s->pcm, sw,
            o->play_mode ? s->buffer : boundary), "start threshold");
    HW(snd_pcm_sw_params_set_stop_threshold(s->pcm, sw, s->buffer),
       "stop threshold");
    HW(snd_pcm_sw_params_set_avail_min(s->pcm, sw, s->period), "avail min");
    HW(snd_pcm_sw_params_set_tstamp_mode(s->pcm, sw, SND_PCM_TSTAMP_ENABLE),
       "timestamp mode");
    HW(snd_pcm_sw_params_set_tstamp_type(s->pcm, sw,
                                         SND_PCM_TSTAMP_TYPE_MONOTONIC),
       "timestamp type");
    HW(snd_pcm_sw_params(s->pcm, sw), "sw params");
#undef HW
}

/* Hardware position of the stream and the time it was reached. */
static void sample_position(struct stream *s, int dir, double settle_s)
{
    snd_pcm_uframes_t avail;
    snd_htimestamp_t ts;
    double t, pos;

    if (snd_pcm_htimestamp(s->pcm, &avail, &ts) < 0) {
        return;
    }
    t = ts_sec(&ts);
    if (t == 0) {
        t = now();
    }
    pos = dir == PLAY ? (double)s->seg_frames - (double)(s->buffer - avail)
                      : (double)s->seg_frames + avail;
    if (positions) {
        fprintf(positions, "%c %.6f %.0f %.6f\n", "pc"[dir], t, pos, now());
    }
    if (s->stretch_t0 == 0) {
        s->stretch_t0 = t;
    }
    if (t - s->stretch_t0 < settle_s) {
        return;     /* still settling after a (re)start */
    }
    fit_add(&s->cur, t, pos);
    fit_add(&s->win, t, pos);
    if (fit_span(&s->win) >= WINDOW_S) {
        if (s->nwin < MAX_WINDOWS) {
            s->win_rate[s->nwin++] = fit_slope(&s->win);
        }
        fit_reset(&s->win);
    }
}

/* The click signal: stream frame -> sample value (all channels alike in
 * round trip mode). */
struct signal {
    long long interval, len, offset;
    double amp, freq;
    int sign;           /* +1 or -1: flipped at each restart */
};

static short click_sample(const struct signal *sig, long long frame)
{
    long long k;
    if (frame < sig->offset) {
        return 0;
    }
    k = (frame - sig->offset) % sig->interval;
    if (k >= sig->len) {
        return 0;
    }
    return (short)lrint(32767 * sig->sign * sig->amp *
                        cos(2 * M_PI * sig->freq * k));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: qpw-latency [options]\n"
"  -D, --device NAME     ALSA device (hw:0,0)\n"
"  -m, --mode MODE       roundtrip (default), play, or clock (print the\n"
"                        words after the options and CLOCK_MONOTONIC in\n"
"                        seconds, and exit)\n"
"  -p, --period MS       period in ms (10)\n"
"  -n, --periods N       periods in the buffer (2)\n"
"  -d, --duration S      seconds to run (10)\n"
"  -r, --rate HZ         sample rate (48000)\n"
"  -c, --channels N      channels (2)\n"
"  -i, --interval MS     round trip: time between clicks (300)\n"
"  -k, --click MS        round trip: click length (2)\n"
"  -C, --click-channel N round trip: click on channel N only (default: all)\n"
"  -a, --amplitude F     click/tone amplitude, 0..1 (0.5)\n"
"  -t, --threshold F     round trip: onset threshold, 0..1 (0.1)\n"
"  -f, --tone HZ         play: tone on the left channel (440; 0: silence)\n"
"  -s, --settle MS       start-up window for xruns and drift (500)\n"
"  -L, --no-link         start the streams one by one, not linked\n"
"  -P, --positions FILE  write each position sample to FILE: stream (p/c),\n"
"                        its timestamp, its position (frames since the\n"
"                        last restart), CLOCK_MONOTONIC when read\n"
"  -v, --verbose         print each click\n");
}

static void parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        { "device", 1, 0, 'D' }, { "mode", 1, 0, 'm' },
        { "period", 1, 0, 'p' }, { "periods", 1, 0, 'n' },
        { "duration", 1, 0, 'd' }, { "rate", 1, 0, 'r' },
        { "channels", 1, 0, 'c' }, { "interval", 1, 0, 'i' },
        { "click", 1, 0, 'k' }, { "amplitude", 1, 0, 'a' },
        { "threshold", 1, 0, 't' }, { "tone", 1, 0, 'f' },
        { "settle", 1, 0, 's' }, { "no-link", 0, 0, 'L' },
        { "positions", 1, 0, 'P' },
        { "click-channel", 1, 0, 'C' }, { "verbose", 0, 0, 'v' }, { "help", 0, 0, 'h' }, { 0 }
    };
    int c;

    *o = (struct opts){ .device = "hw:0,0", .rate = 48000, .channels = 2,
                        .periods = 2, .period_ms = 10, .duration = 10,
                        .interval_ms = 300, .threshold = 0.1,
                        .amplitude = 0.5, .tone = 440, .settle_ms = 500,
                        .click_ms = 2, .link = 1, .click_channel = -1 };
    while ((c = getopt_long(argc, argv, "D:m:p:n:d:r:c:i:k:C:a:t:f:s:P:Lvh", lo,
                            NULL)) != -1) {
        switch (c) {
        case 'D': o->device = optarg; break;
        case 'm':
            if (!strcmp(optarg, "play")) {
                o->play_mode = 1;
            } else if (!strcmp(optarg, "clock")) {
                o->clock_mode = 1;
            } else if (strcmp(optarg, "roundtrip")) {
                die(1, "unknown mode %s", optarg);
            }
            break;
        case 'p': o->period_ms = atof(optarg); break;
        case 'n': o->periods = atoi(optarg); break;
        case 'd': o->duration = atof(optarg); break;
        case 'r': o->rate = atoi(optarg); break;
        case 'c': o->channels = atoi(optarg); break;
        case 'i': o->interval_ms = atof(optarg); break;
        case 'k': o->click_ms = atof(optarg); break;
        case 'C': o->click_channel = atoi(optarg); break;
        case 'a': o->amplitude = atof(optarg); break;
        case 't': o->threshold = atof(optarg); break;
        case 'f': o->tone = atof(optarg); break;
        case 's': o->settle_ms = atof(optarg); break;
        case 'L': o->link = 0; break;
        case 'P':
            positions = fopen(optarg, "w");
            if (!positions) {
                die(1, "%s: %s", optarg, strerror(errno));
            }
            break;
        case 'v': o->verbose = 1; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(1);
        }
    }
    if ((optind < argc && !o->clock_mode) || o->period_ms <= 0 || o->periods < 2 ||
        o->duration <= 0 || o->channels < 1 || o->rate < 1000 ||
        o->interval_ms <= o->click_ms || o->threshold <= 0 ||
        o->click_channel >= (int)o->channels) {
        usage(stderr);
        exit(1);
    }
}

static int cmp_double(const void *a, const void *b);

static void print_stream(struct stream *s, int dir)
{
    struct fit f = fit_span(&s->cur) > fit_span(&s->best) ? s->cur : s->best;
    double med = NAN;

    if (s->nwin) {
        qsort(s->win_rate, s->nwin, sizeof(double), cmp_double);
        med = s->nwin % 2 ? s->win_rate[s->nwin / 2] :
            (s->win_rate[s->nwin / 2 - 1] + s->win_rate[s->nwin / 2]) / 2;
    }
    printf("RESULT %s xruns_start=%d xruns_run=%d stalls=%d errors=%d "
           "frames=%lld drift_ppm=%.1f drift_span_s=%.1f rate_ppm=%.1f "
           "rate_windows=%d\n", dir_name[dir], s->xrun_start, s->xrun_run,
           s->stalls, s->errors, s->total_frames, ppm(fit_slope(&f), s->rate),
           fit_span(&f), ppm(med, s->rate), s->nwin);
}

/* What went wrong on a stream: -EPIPE is an xrun, anything else an error.
 * Returns 1 to go on (after a restart), 0 to give up. */
static int count_failure(struct stream *s, int err, int at_start)
{
    if (err == -EPIPE) {
        if (at_start) {
            s->xrun_start++;
        } else {
            s->xrun_run++;
        }
    } else if (err == -ETIMEDOUT) {
        s->stalls++;
    } else {
        s->errors++;
    }
    return s->xrun_start + s->xrun_run + s->errors + s->stalls < MAX_ERRORS;
}

/* ---- play mode ---------------------------------------------------------- */

/* One whole number of cycles of a whole-Hz tone at rate: *len samples
 * (rate / gcd(rate, tone)); NULL for a tone that is not a whole number of
 * Hz, or none. */
static short *tone_table(const struct opts *o, unsigned rate, size_t *len)
{
    unsigned f = (unsigned)o->tone, a = rate, b = f, t;
    short *tab;
    size_t i;

    if (o->tone <= 0 || (double)f != o->tone || f >= rate) {
        return NULL;
    }
    while (b) {
        t = a % b;
        a = b;
        b = t;
    }
    *len = rate / a;
    tab = malloc(*len * sizeof(*tab));
    if (!tab) {
        return NULL;
    }
    for (i = 0; i < *len; i++) {
        tab[i] = (short)lrint(32767 * o->amplitude *
                              sin(2 * M_PI * f * (double)i / rate));
    }
    return tab;
}

static int run_play(const struct opts *o)
{
    struct stream s = { 0 };
    snd_pcm_status_t *st;
    snd_htimestamp_t trig;
    long long want, done = 0;
    double t_start = 0, t_open, t_end, t_last_write, settle = o->settle_ms / 1e3;
    short *buf, *tab;
    size_t tab_len = 0, tab_pos = 0;
    double phase = 0;
    int err, started = 0;

    setup(&s, o, PLAY);
    printf("qpw-latency: play %s rate %u channels %u period %lu buffer %lu "
           "(%.2f ms x %lu) tone %g Hz\n", o->device, s.rate, o->channels,
           (unsigned long)s.period, (unsigned long)s.buffer,
           s.period * 1000.0 / s.rate, (unsigned long)(s.buffer / s.period),
           o->tone);
    fflush(stdout);
    buf = calloc(s.period * o->channels, sizeof(*buf));
    tab = tone_table(o, s.rate, &tab_len);
    want = (long long)llround(o->duration * s.rate);
    snd_pcm_status_alloca(&st);
    t_open = now();
    t_last_write = t_open;
    while (done < want) {
        snd_pcm_uframes_t n = s.period, i;
        unsigned c;
        if ((long long)n > want - done) {
            n = want - done;
        }
        for (i = 0; i < n; i++) {
            short v = 0;
            if (tab) {
                v = tab[tab_pos];
                tab_pos = tab_pos + 1 < tab_len ? tab_pos + 1 : 0;
            } else if (o->tone > 0) {
                v = (short)lrint(32767 * o->amplitude * sin(phase));
                phase += 2 * M_PI * o->tone / s.rate;
                if (phase > 2 * M_PI) {
                    phase -= 2 * M_PI;
                }
            }
            buf[i * o->channels] = v;
            for (c = 1; c < o->channels; c++) {
                buf[i * o->channels + c] = 0;
            }
        }
        for (i = 0; i < n;) {
            snd_pcm_sframes_t r = snd_pcm_wait(s.pcm, WAIT_MS);
            if (r == 0) {
                r = -ETIMEDOUT;
            } else if (r > 0) {
                r = snd_pcm_writei(s.pcm, buf + i * o->channels, n - i);
            }
            if (r < 0) {
                int at_start = !started || now() - t_start < settle;
                if (!count_failure(&s, r, at_start)) {
                    die(3, "too many errors (last: %s)", snd_strerror(r));
                }
                if (o->verbose) {
                    printf("xrun playback at %.3f s: %s\n",
                           started ? now() - t_start : 0.0, snd_strerror(r));
                }
                fit_close(&s);
                s.seg_frames = 0;
                if ((err = snd_pcm_prepare(s.pcm)) < 0) {
                    die(3, "prepare after %s: %s", snd_strerror(r),
                        snd_strerror(err));
                }
                continue;
            }
            i += r;
            s.seg_frames += r;
            s.total_frames += r;
            t_last_write = now();
            if (!started &&
                snd_pcm_state(s.pcm) == SND_PCM_STATE_RUNNING) {
                started = 1;
                snd_pcm_status(s.pcm, st);
                snd_pcm_status_get_trigger_htstamp(st, &trig);
                t_start = ts_sec(&trig) > 0 ? ts_sec(&trig) : now();
            }
            if (started) {
                sample_position(&s, PLAY, settle);
            }
        }
        done += n;
    }
    err = snd_pcm_drain(s.pcm);
    t_end = now();
    if (err < 0) {
        count_failure(&s, err, 0);
    }
    if (!started) {
        t_start = t_open;
    }
    printf("RESULT play duration_s=%.6f elapsed_s=%.6f elapsed_ppm=%.1f "
           "drain_ms=%.1f start_ms=%.1f\n", (double)want / s.rate,
           t_end - t_start, ((t_end - t_start) * s.rate / want - 1) * 1e6,
           (t_end - t_last_write) * 1e3, (t_start - t_open) * 1e3);
    print_stream(&s, PLAY);
    snd_pcm_close(s.pcm);
    free(buf);
    free(tab);
    return 0;
}

/* ---- round trip mode ---------------------------------------------------- */

struct click {
    long long frame;    /* playback frame of its first sample */
    double written;     /* CLOCK_MONOTONIC when its write returned */
    int matched;
};

struct rt {
    const struct opts *o;
    struct stream s[2];
    struct signal sig;
    struct click clicks[MAX_CLICKS];
    int nclicks, restarts;
    double lat[MAX_CLICKS], app[MAX_CLICKS];
    int nlat, spurious, missed, stale;
    long long quiet;            /* captured frames below threshold in a row */
    long long last_onset;
    double trig_offset;         /* capture trigger - playback trigger, s */
    double t_first_start;
    short *pbuf, *cbuf;
};

/* Write frames [seg_frames, seg_frames + n) of the click signal. */
static snd_pcm_sframes_t write_clicks(struct rt *r, snd_pcm_uframes_t n)
{
    struct stream *p = &r->s[PLAY];
    unsigned ch = r->o->channels, c;
    snd_pcm_uframes_t i;
    snd_pcm_sframes_t w;

    if (n > p->buffer) {
        n = p->buffer;
    }
    for (i = 0; i < n; i++) {
        short v = click_sample(&r->sig, p->seg_frames + i);
        for (c = 0; c < ch; c++) {
            int on = r->o->click_channel < 0 ||
                     (unsigned)r->o->click_channel == c;
            r->pbuf[i * ch + c] = on ? v : 0;
        }
    }
    w = snd_pcm_writei(p->pcm, r->pbuf, n);
    if (w == -EAGAIN) {
        return 0;
    }
    if (w < 0) {
        return w;
    }
    /* the clicks that start in what was taken */
    for (i = 0; i < (snd_pcm_uframes_t)w; i++) {
        long long f = p->seg_frames + i;
        if (f >= r->sig.offset &&
            (f - r->sig.offset) % r->sig.interval == 0 &&
            r->nclicks < MAX_CLICKS) {
            r->clicks[r->nclicks++] = (struct click){ f, now(), 0 };
        }
    }
    p->seg_frames += w;
    p->total_frames += w;
    if (w > 0) {
        p->progress = now();
    }
    return w;
}

static double trigger_time(snd_pcm_t *pcm)
{
    snd_pcm_status_t *st;
    snd_htimestamp_t ts;
    snd_pcm_status_alloca(&st);
    if (snd_pcm_status(pcm, st) < 0) {
        return 0;
    }
    snd_pcm_status_get_trigger_htstamp(st, &ts);
    return ts_sec(&ts);
}

/* Prepare both, prefill the playback buffer with the signal, start both. */
static int rt_start(struct rt *r)
{
    struct stream *p = &r->s[PLAY], *c = &r->s[CAP];
    snd_pcm_sframes_t w;
    double tp, tc;
    int err;

    snd_pcm_drop(p->pcm);
    snd_pcm_drop(c->pcm);
    if ((err = snd_pcm_prepare(p->pcm)) < 0 ||
        (!r->o->link && (err = snd_pcm_prepare(c->pcm)) < 0)) {
        return err;
    }
    if (r->o->link && snd_pcm_state(c->pcm) != SND_PCM_STATE_PREPARED &&
        (err = snd_pcm_prepare(c->pcm)) < 0) {
        return err;
    }
    p->seg_frames = c->seg_frames = 0;
    /* clicks still on their way from before a restart have the other
     * polarity, so they are not taken for this stretch's */
    r->sig.sign = -r->sig.sign;
    p->progress = c->progress = now();
    r->nclicks = 0;
    r->quiet = 0;
    r->last_onset = -(1LL << 40);
    w = write_clicks(r, p->buffer);
    if (w < 0) {
        return w;
    }
    if (r->o->link) {
        err = snd_pcm_start(p->pcm);
    } else {
        err = snd_pcm_start(c->pcm);
        if (err >= 0) {
            err = snd_pcm_start(p->pcm);
        }
    }
    if (err < 0) {
        return err;
    }
    tp = trigger_time(p->pcm);
    tc = trigger_time(c->pcm);
    r->trig_offset = tp > 0 && tc > 0 ? tc - tp : 0;
    return 0;
}

/* A read or write failed with err on stream dir: count it against the
 * stream(s) that ran out (avail >= buffer) and restart both. */
static void rt_failure(struct rt *r, int dir, int err)
{
    int at_start = now() - r->t_first_start < r->o->settle_ms / 1e3;
    int blamed = 0, d, tries;

    if (err == -EPIPE) {
        for (d = 0; d < 2; d++) {
            snd_pcm_status_t *st;
            snd_pcm_status_alloca(&st);
            if (snd_pcm_status(r->s[d].pcm, st) >= 0 &&
                snd_pcm_status_get_state(st) == SND_PCM_STATE_XRUN &&
                snd_pcm_status_get_avail(st) >= r->s[d].buffer) {
                count_failure(&r->s[d], err, at_start);
                blamed = 1;
                if (r->o->verbose) {
                    printf("xrun %s at %.3f s (avail %lu)\n", dir_name[d],
                           now() - r->t_first_start,
                           (unsigned long)snd_pcm_status_get_avail(st));
                }
            }
        }
    }
    if (!blamed) {
        count_failure(&r->s[dir], err, at_start);
        if (r->o->verbose) {
            printf("%s %s at %.3f s\n", err == -EPIPE ? "xrun" : "error",
                   dir_name[dir], now() - r->t_first_start);
        }
    }
    for (d = 0; d < 2; d++) {
        fit_close(&r->s[d]);
    }
    /* clicks written but not heard are lost with the restart */
    for (d = 0; d < r->nclicks; d++) {
        r->missed += !r->clicks[d].matched &&
            r->clicks[d].frame + r->sig.interval <= r->s[CAP].seg_frames;
    }
    r->restarts++;
    for (tries = 0; (err = rt_start(r)) < 0; tries++) {
        if (tries >= 10) {
            die(3, "cannot restart the streams: %s", snd_strerror(err));
        }
        r->s[dir].errors++;
    }
}

/* Look for click onsets in the n frames just read (starting at capture
 * frame base) and match each to the latest click written before it. */
static void detect(struct rt *r, snd_pcm_uframes_t n, long long base)
{
    unsigned ch = r->o->channels, c;
    int limit = (int)(r->o->threshold * 32768);
    snd_pcm_uframes_t i;

    for (i = 0; i < n; i++) {
        int peak = 0, sign = 0;
        long long f = base + i;
        for (c = 0; c < ch; c++) {
            int v = abs(r->cbuf[i * ch + c]);
            if (v > peak) {
                peak = v;
                sign = r->cbuf[i * ch + c] > 0 ? 1 : -1;
            }
        }
        if (peak <= limit) {
            r->quiet++;
            continue;
        }
        /* an onset: above the threshold after at least half an interval
         * of quiet (the rest of a click is not an onset).  It belongs to
         * the click written last: the round trip is shorter than the
         * interval, so the next click has not been written yet.  (Not the
         * last click at or before frame f: a restart can leave the
         * capture stream's count a little ahead of the playback's, and
         * that would match the onset with the click before.) */
        if (r->quiet >= r->sig.interval / 2 ||
            f - r->last_onset >= r->sig.interval) {
            int best = r->nclicks - 1;
            if (sign != r->sig.sign) {
                r->stale++;     /* sent before the last restart */
            } else if (best >= 0 && !r->clicks[best].matched) {
                double ms = (f - r->clicks[best].frame) * 1000.0 /
                            r->s[CAP].rate + r->trig_offset * 1000;
                double app = (now() - r->clicks[best].written) * 1000;
                r->clicks[best].matched = 1;
                if (r->nlat < MAX_CLICKS) {
                    r->lat[r->nlat] = ms;
                    r->app[r->nlat++] = app;
                }
                if (r->o->verbose) {
                    printf("click play_frame=%lld capture_frame=%lld "
                           "rt_ms=%.2f app_ms=%.2f\n", r->clicks[best].frame,
                           f, ms, app);
                }
            } else {
                r->spurious++;
                if (r->o->verbose) {
                    printf("onset without click at capture frame %lld\n", f);
                }
            }
            r->last_onset = f;
        }
        r->quiet = 0;
    }
}

static void stats(double *v, int n, double *med, double *min, double *max)
{
    qsort(v, n, sizeof(*v), cmp_double);
    *min = n ? v[0] : NAN;
    *max = n ? v[n - 1] : NAN;
    *med = !n ? NAN : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int run_roundtrip(const struct opts *o)
{
    struct rt *r = calloc(1, sizeof(*r));
    struct stream *p = &r->s[PLAY], *c = &r->s[CAP];
    double settle = o->settle_ms / 1e3, t_end, elapsed, med, mn, mx;
    double amed, amn, amx;
    int err, k, linked = 0, np, nc;
    struct pollfd *pfds;

    r->o = o;
    setup(p, o, PLAY);
    setup(c, o, CAP);
    if (p->period != c->period || p->rate != c->rate) {
        die(2, "playback and capture differ: period %lu/%lu, rate %u/%u",
            (unsigned long)p->period, (unsigned long)c->period, p->rate,
            c->rate);
    }
    if (o->link) {
        err = snd_pcm_link(p->pcm, c->pcm);
        if (err < 0) {
            fprintf(stderr, "qpw-latency: snd_pcm_link: %s; starting the "
                    "streams one by one\n", snd_strerror(err));
            ((struct opts *)o)->link = 0;
        } else {
            linked = 1;
        }
    }
    r->sig = (struct signal){
        .interval = llround(o->interval_ms * p->rate / 1000),
        .len = llround(o->click_ms * p->rate / 1000),
        .offset = llround(o->interval_ms * p->rate / 4000),
        .amp = o->amplitude, .freq = 3000.0 / p->rate, .sign = -1 };
    r->pbuf = calloc(p->buffer * o->channels, sizeof(short));
    snd_pcm_nonblock(p->pcm, 1);
    snd_pcm_nonblock(c->pcm, 1);
    np = snd_pcm_poll_descriptors_count(p->pcm);
    nc = snd_pcm_poll_descriptors_count(c->pcm);
    pfds = calloc(np + nc, sizeof(*pfds));
    snd_pcm_poll_descriptors(p->pcm, pfds, np);
    snd_pcm_poll_descriptors(c->pcm, pfds + np, nc);
    r->cbuf = calloc(c->period * o->channels, sizeof(short));
    printf("qpw-latency: roundtrip %s rate %u channels %u period %lu buffer "
           "%lu (%.2f ms x %lu) linked %d click every %g ms\n", o->device,
           p->rate, o->channels, (unsigned long)p->period,
           (unsigned long)p->buffer, p->period * 1000.0 / p->rate,
           (unsigned long)(p->buffer / p->period), linked, o->interval_ms);
    fflush(stdout);

    r->t_first_start = now();
    if ((err = rt_start(r)) < 0) {
        rt_failure(r, PLAY, err);
    }
    t_end = r->t_first_start + o->duration;
    while (now() < t_end) {
        unsigned short rev;
        snd_pcm_sframes_t n;
        int ready = poll(pfds, np + nc, WAIT_MS / 4), d;

        /* a stream that moved nothing for a second has stalled: count it
         * as an error and restart both */
        for (d = 0; d < 2; d++) {
            if (now() - r->s[d].progress > WAIT_MS / 1e3) {
                if (o->verbose) {
                    printf("%s stalled: state %s\n", dir_name[d],
                           snd_pcm_state_name(snd_pcm_state(r->s[d].pcm)));
                }
                rt_failure(r, d, -ETIMEDOUT);
                break;
            }
        }
        if (d < 2 || ready == 0) {
            continue;
        }
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            die(3, "poll: %s", strerror(errno));
        }
        /* capture: read every whole period there is */
        snd_pcm_poll_descriptors_revents(c->pcm, pfds + np, nc, &rev);
        if (rev & (POLLIN | POLLERR)) {
            do {
                long long base = c->seg_frames;
                n = snd_pcm_readi(c->pcm, r->cbuf, c->period);
                if (n > 0) {
                    c->progress = now();
                    c->seg_frames += n;
                    c->total_frames += n;
                    detect(r, n, base);
                }
            } while (n > 0);
            if (n < 0 && n != -EAGAIN) {
                rt_failure(r, CAP, n);
                continue;
            }
            sample_position(c, CAP, settle);
        }
        /* playback: keep the buffer full */
        snd_pcm_poll_descriptors_revents(p->pcm, pfds, np, &rev);
        if (rev & (POLLOUT | POLLERR)) {
            n = snd_pcm_avail_update(p->pcm);
            if (n > 0) {
                n = write_clicks(r, n);
            }
            if (n < 0) {
                rt_failure(r, PLAY, n);
                continue;
            }
            sample_position(p, PLAY, settle);
        }
    }
    elapsed = now() - r->t_first_start;
    snd_pcm_drop(p->pcm);
    snd_pcm_drop(c->pcm);
    for (k = 0; k < r->nclicks; k++) {
        /* clicks that had time to come back and did not */
        if (!r->clicks[k].matched &&
            r->clicks[k].frame + r->sig.interval <= c->seg_frames) {
            r->missed++;
        }
    }
    stats(r->lat, r->nlat, &med, &mn, &mx);
    stats(r->app, r->nlat, &amed, &amn, &amx);
    printf("RESULT latency clicks=%d missed=%d spurious=%d stale=%d "
           "median_ms=%.2f min_ms=%.2f max_ms=%.2f app_median_ms=%.2f "
           "app_min_ms=%.2f app_max_ms=%.2f trigger_offset_ms=%.3f\n",
           r->nlat, r->missed, r->spurious, r->stale, med, mn, mx, amed, amn,
           amx, r->trig_offset * 1000);
    printf("RESULT run elapsed_s=%.3f restarts=%d period=%lu buffer=%lu "
           "rate=%u linked=%d\n", elapsed, r->restarts,
           (unsigned long)p->period, (unsigned long)p->buffer, p->rate,
           linked);
    print_stream(p, PLAY);
    print_stream(c, CAP);
    if (linked) {
        snd_pcm_unlink(p->pcm);
    }
    snd_pcm_close(p->pcm);
    snd_pcm_close(c->pcm);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;

    parse(argc, argv, &o);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (o.clock_mode) {
        /* the words after the options, then the clock, read last */
        for (int i = optind; i < argc; i++) {
            printf("%s ", argv[i]);
        }
        printf("%.6f\n", now());
        return 0;
    }
    return o.play_mode ? run_play(&o) : run_roundtrip(&o);
}
