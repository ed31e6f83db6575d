/*
 * Virtio sound device: PCM stream model, independent of QEMU.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"

#include "virtio-snd-pcm.h"

/* Every sample format the spec defines (bits 0..24). */
#define VSND_PCM_FORMATS_ALL \
    ((1ULL << (VIRTIO_SND_PCM_FMT_IEC958_SUBFRAME + 1)) - 1)

#define VSND_PCM_LIFECYCLE_CODES (VIRTIO_SND_R_PCM_STOP - \
                                  VIRTIO_SND_R_PCM_SET_PARAMS + 1)

/*
 * VIRTIO 1.2, 5.14.6.6.1 "PCM Command Lifecycle" lists, for the command
 * that succeeded last, which commands may follow it:
 *
 *   SET PARAMETERS -> set parameters, prepare
 *   PREPARE        -> set parameters, prepare, start, release
 *   START          -> stop
 *   STOP           -> start, release
 *   RELEASE        -> set parameters, prepare
 *
 * The spec names no state before the first command, and does not make
 * SET_PARAMS the first one: a driver may PREPARE at once, with the
 * device's own parameters. So the device starts its streams in
 * PARAMS_SET, with vsnd_pcm_default_params(). INITIAL is a stream with
 * no parameters at all, which only SET_PARAMS can leave. A stream keeps
 * its parameters across RELEASE, so PREPARE right after RELEASE is fine,
 * as the spec says.
 *
 * The table holds the new state plus one, so that the zero of an omitted
 * entry marks a request that is not allowed. It is indexed by state and by
 * code - VIRTIO_SND_R_PCM_SET_PARAMS.
 */
static const uint8_t
vsnd_pcm_next[VSND_PCM_STATE__MAX][VSND_PCM_LIFECYCLE_CODES] = {
#define NEXT(code) [VIRTIO_SND_R_PCM_##code - VIRTIO_SND_R_PCM_SET_PARAMS]
#define TO(state) (VSND_PCM_STATE_##state + 1)
    [VSND_PCM_STATE_INITIAL] = {
        NEXT(SET_PARAMS) = TO(PARAMS_SET),
    },
    [VSND_PCM_STATE_PARAMS_SET] = {
        NEXT(SET_PARAMS) = TO(PARAMS_SET),
        NEXT(PREPARE) = TO(PREPARED),
    },
    [VSND_PCM_STATE_PREPARED] = {
        NEXT(SET_PARAMS) = TO(PARAMS_SET),
        NEXT(PREPARE) = TO(PREPARED),
        NEXT(START) = TO(RUNNING),
        NEXT(RELEASE) = TO(RELEASED),
    },
    [VSND_PCM_STATE_RUNNING] = {
        NEXT(STOP) = TO(STOPPED),
    },
    [VSND_PCM_STATE_STOPPED] = {
        NEXT(START) = TO(RUNNING),
        NEXT(RELEASE) = TO(RELEASED),
    },
    [VSND_PCM_STATE_RELEASED] = {
        NEXT(SET_PARAMS) = TO(PARAMS_SET),
        NEXT(PREPARE) = TO(PREPARED),
    },
#undef TO
#undef NEXT
};

uint32_t vsnd_pcm_transition(VSndPcmState state, uint32_t code,
                             VSndPcmState *new_state)
{
    uint8_t next;

    if (code < VIRTIO_SND_R_PCM_SET_PARAMS || code > VIRTIO_SND_R_PCM_STOP) {
        return VIRTIO_SND_S_NOT_SUPP;
    }
    if ((unsigned int)state >= VSND_PCM_STATE__MAX) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    next = vsnd_pcm_next[state][code - VIRTIO_SND_R_PCM_SET_PARAMS];
    if (next == 0) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    *new_state = (VSndPcmState)(next - 1);
    return VIRTIO_SND_S_OK;
}

/*
 * PREPARED: the spec lets an output stream pre-buffer before START.
 * RUNNING: the normal case.
 * STOPPED: a paused stream; messages the driver queued before STOP are
 * legitimate and stay pending until START or RELEASE, which must complete
 * them (5.14.6.6, "Stream Release").
 * Streams without parameters, or released, have nowhere to put the data.
 */
bool vsnd_pcm_state_accepts_io(VSndPcmState state)
{
    return state == VSND_PCM_STATE_PREPARED ||
           state == VSND_PCM_STATE_RUNNING ||
           state == VSND_PCM_STATE_STOPPED;
}

const char *vsnd_pcm_state_name(VSndPcmState state)
{
    static const char *const names[VSND_PCM_STATE__MAX] = {
        [VSND_PCM_STATE_INITIAL] = "initial",
        [VSND_PCM_STATE_PARAMS_SET] = "params-set",
        [VSND_PCM_STATE_PREPARED] = "prepared",
        [VSND_PCM_STATE_RUNNING] = "running",
        [VSND_PCM_STATE_STOPPED] = "stopped",
        [VSND_PCM_STATE_RELEASED] = "released",
    };

    if ((unsigned int)state >= VSND_PCM_STATE__MAX) {
        return "invalid";
    }
    return names[state];
}

unsigned int vsnd_pcm_format_bytes(uint32_t format)
{
    switch (format) {
    case VIRTIO_SND_PCM_FMT_MU_LAW:
    case VIRTIO_SND_PCM_FMT_A_LAW:
    case VIRTIO_SND_PCM_FMT_S8:
    case VIRTIO_SND_PCM_FMT_U8:
    case VIRTIO_SND_PCM_FMT_DSD_U8:
        return 1;
    case VIRTIO_SND_PCM_FMT_S16:
    case VIRTIO_SND_PCM_FMT_U16:
    case VIRTIO_SND_PCM_FMT_DSD_U16:
        return 2;
    case VIRTIO_SND_PCM_FMT_S18_3:
    case VIRTIO_SND_PCM_FMT_U18_3:
    case VIRTIO_SND_PCM_FMT_S20_3:
    case VIRTIO_SND_PCM_FMT_U20_3:
    case VIRTIO_SND_PCM_FMT_S24_3:
    case VIRTIO_SND_PCM_FMT_U24_3:
        return 3;
    case VIRTIO_SND_PCM_FMT_S20:
    case VIRTIO_SND_PCM_FMT_U20:
    case VIRTIO_SND_PCM_FMT_S24:
    case VIRTIO_SND_PCM_FMT_U24:
    case VIRTIO_SND_PCM_FMT_S32:
    case VIRTIO_SND_PCM_FMT_U32:
    case VIRTIO_SND_PCM_FMT_FLOAT:
    case VIRTIO_SND_PCM_FMT_DSD_U32:
    case VIRTIO_SND_PCM_FMT_IEC958_SUBFRAME:
        return 4;
    case VIRTIO_SND_PCM_FMT_FLOAT64:
        return 8;
    default:
        /* IMA_ADPCM packs two samples in a byte; the rest are undefined. */
        return 0;
    }
}

uint32_t vsnd_pcm_rate_hz(uint32_t rate)
{
    /* Indexed by VIRTIO_SND_PCM_RATE_*, which is not in ascending order. */
    static const uint32_t hz[] = {
        [VIRTIO_SND_PCM_RATE_5512] = 5512,
        [VIRTIO_SND_PCM_RATE_8000] = 8000,
        [VIRTIO_SND_PCM_RATE_11025] = 11025,
        [VIRTIO_SND_PCM_RATE_16000] = 16000,
        [VIRTIO_SND_PCM_RATE_22050] = 22050,
        [VIRTIO_SND_PCM_RATE_32000] = 32000,
        [VIRTIO_SND_PCM_RATE_44100] = 44100,
        [VIRTIO_SND_PCM_RATE_48000] = 48000,
        [VIRTIO_SND_PCM_RATE_64000] = 64000,
        [VIRTIO_SND_PCM_RATE_88200] = 88200,
        [VIRTIO_SND_PCM_RATE_96000] = 96000,
        [VIRTIO_SND_PCM_RATE_176400] = 176400,
        [VIRTIO_SND_PCM_RATE_192000] = 192000,
        [VIRTIO_SND_PCM_RATE_384000] = 384000,
        [VSND_PCM_RATE_12000] = 12000,
        [VSND_PCM_RATE_24000] = 24000,
    };

    if (rate >= sizeof(hz) / sizeof(hz[0])) {
        return 0;
    }
    return hz[rate];
}

uint32_t vsnd_pcm_frame_bytes(const VSndPcmParams *params)
{
    return vsnd_pcm_format_bytes(params->format) * (uint32_t)params->channels;
}

void vsnd_pcm_fill_silence(const VSndPcmParams *params, void *buf,
                           size_t len)
{
    unsigned int width = vsnd_pcm_format_bytes(params->format);
    uint8_t *p = buf;
    size_t i;

    memset(buf, 0, len);
    switch (params->format) {
    case VIRTIO_SND_PCM_FMT_U8:
    case VIRTIO_SND_PCM_FMT_U16:
    case VIRTIO_SND_PCM_FMT_U32:
        /* Little-endian: the middle value's only bit is its last byte's. */
        for (i = width - 1; i < len; i += width) {
            p[i] = 0x80;
        }
        break;
    }
}

uint8_t vsnd_pcm_chmap_position(unsigned int channels, unsigned int i)
{
    enum {
        MONO = VIRTIO_SND_CHMAP_MONO, FL = VIRTIO_SND_CHMAP_FL,
        FR = VIRTIO_SND_CHMAP_FR, FC = VIRTIO_SND_CHMAP_FC,
        LFE = VIRTIO_SND_CHMAP_LFE, RL = VIRTIO_SND_CHMAP_RL,
        RR = VIRTIO_SND_CHMAP_RR, RC = VIRTIO_SND_CHMAP_RC,
        SL = VIRTIO_SND_CHMAP_SL, SR = VIRTIO_SND_CHMAP_SR,
    };
    static const uint8_t
        layout[VSND_PCM_CHANNELS_MAX][VSND_PCM_CHANNELS_MAX] = {
        { MONO },
        { FL, FR },
        { FL, FR, LFE },
        { FL, FR, RL, RR },
        { FL, FR, FC, RL, RR },
        { FL, FR, FC, LFE, RL, RR },
        { FL, FR, FC, LFE, RC, SL, SR },
        { FL, FR, FC, LFE, RL, RR, SL, SR },
    };

    if (channels < 1 || channels > VSND_PCM_CHANNELS_MAX || i >= channels) {
        return VIRTIO_SND_CHMAP_NONE;
    }
    return layout[channels - 1][i];
}

uint64_t vsnd_pcm_bytes_per_second(const VSndPcmParams *params)
{
    return (uint64_t)vsnd_pcm_frame_bytes(params) *
           vsnd_pcm_rate_hz(params->rate);
}

uint32_t vsnd_pcm_period_us(const VSndPcmParams *params)
{
    uint64_t rate = vsnd_pcm_bytes_per_second(params);
    uint64_t us;

    if (!rate) {
        return 0;
    }
    /* period_bytes < 2^32 and 10^6 < 2^20: the product fits. */
    us = (uint64_t)params->period_bytes * 1000000 / rate;
    return us < UINT32_MAX ? (uint32_t)us : UINT32_MAX;
}

int64_t vsnd_pcm_return_due_ns(const VSndPcmParams *params, bool capture,
                               int64_t last_ns)
{
    /* At most 2^32 us: the product fits. */
    int64_t period_ns = (int64_t)vsnd_pcm_period_us(params) * 1000;
    int64_t gap = capture ? period_ns / 10 * 9 : period_ns;

    return last_ns > INT64_MAX - gap ? INT64_MAX : last_ns + gap;
}

static bool vsnd_is_subset(uint64_t mask, uint64_t of)
{
    return (mask & ~of) == 0;
}

bool vsnd_pcm_caps_valid(const VSndPcmCaps *caps)
{
    uint32_t allowed_features = VSND_PCM_FEATURES_ALL &
                                ~VSND_PCM_FEATURES_SHMEM;

    return (caps->direction == VIRTIO_SND_D_OUTPUT ||
            caps->direction == VIRTIO_SND_D_INPUT) &&
           caps->formats != 0 &&
           vsnd_is_subset(caps->formats, VSND_PCM_FORMATS_SUPPORTED) &&
           caps->rates != 0 &&
           vsnd_is_subset(caps->rates, VSND_PCM_RATES_ALL) &&
           caps->channels_min >= 1 &&
           caps->channels_min <= caps->channels_max &&
           caps->channels_max <= VSND_PCM_CHANNELS_MAX &&
           vsnd_is_subset(caps->features, allowed_features);
}

/*
 * The spec forbids the device to report undefined features, formats and
 * rates, so those bits are dropped even if @caps has them.
 */
void vsnd_pcm_info_from_caps(const VSndPcmCaps *caps,
                             struct virtio_snd_pcm_info *info)
{
    memset(info, 0, sizeof(*info));
    info->hdr.hda_fn_nid = GUINT32_TO_LE(caps->hda_fn_nid);
    info->features = GUINT32_TO_LE(caps->features & VSND_PCM_FEATURES_ALL);
    info->formats = GUINT64_TO_LE(caps->formats & VSND_PCM_FORMATS_ALL);
    info->rates = GUINT64_TO_LE(caps->rates & VSND_PCM_RATES_ALL);
    info->direction = caps->direction;
    info->channels_min = caps->channels_min;
    info->channels_max = caps->channels_max;
}

static unsigned int vsnd_pick(uint64_t offered, unsigned int preferred)
{
    unsigned int bit;

    if (preferred < 64 && (offered >> preferred) & 1) {
        return preferred;
    }
    for (bit = 0; bit < 63 && !((offered >> bit) & 1); bit++) {
        continue;
    }
    return bit;
}

void vsnd_pcm_default_params(const VSndPcmCaps *caps, VSndPcmParams *params)
{
    uint32_t frames;

    memset(params, 0, sizeof(*params));
    params->format = vsnd_pick(caps->formats, VIRTIO_SND_PCM_FMT_S16);
    params->rate = vsnd_pick(caps->rates, VIRTIO_SND_PCM_RATE_48000);
    params->channels = caps->channels_min > 2 ? caps->channels_min :
                       caps->channels_max < 2 ? caps->channels_max : 2;
    frames = vsnd_pcm_rate_hz(params->rate) / 100;
    params->period_bytes = (frames ? frames : 1) *
                           vsnd_pcm_frame_bytes(params);
    params->buffer_bytes = VSND_PCM_DEFAULT_PERIODS * params->period_bytes;
}

/*
 * Refill at most this much time at once, so that the products fit in 64
 * bits; the audio layer calls a running stream far more often.
 */
#define VSND_PCM_PACE_MAX_STEP_NS 1000000000LL

/* The byte rate of @params, and its frame size (1 if undefined). */
static void vsnd_pcm_byte_rate(const VSndPcmParams *params,
                               uint64_t *bytes_per_second,
                               uint32_t *frame_bytes)
{
    *bytes_per_second = vsnd_pcm_bytes_per_second(params);
    *frame_bytes = MAX(vsnd_pcm_frame_bytes(params), 1);
}

void vsnd_pcm_pacer_start(VSndPcmPacer *pacer, const VSndPcmParams *params,
                          int64_t now_ns)
{
    memset(pacer, 0, sizeof(*pacer));
    vsnd_pcm_byte_rate(params, &pacer->bytes_per_second,
                       &pacer->frame_bytes);
    pacer->burst = params->buffer_bytes / 2;
    pacer->burst -= pacer->burst % pacer->frame_bytes;
    pacer->burst = MAX(pacer->burst, pacer->frame_bytes);
    pacer->credit = pacer->burst;
    pacer->last_ns = now_ns;
}

void vsnd_pcm_pacer_set_burst(VSndPcmPacer *pacer, uint64_t bytes)
{
    pacer->burst = MAX(bytes - bytes % pacer->frame_bytes, pacer->frame_bytes);
    pacer->credit = pacer->burst;
}

uint64_t vsnd_pcm_pacer_room(VSndPcmPacer *pacer, int64_t now_ns)
{
    /* Bytes are due at bytes_per_second * (100 + headroom) / 100 / 1e9. */
    const uint64_t unit = 100 * 1000000000ULL;
    int64_t step = now_ns - pacer->last_ns;

    if (step > 0) {
        uint64_t due;

        /* 1 s * 384 kHz * 8 channels * 8 bytes * 101 is about 2.5e18. */
        step = MIN(step, VSND_PCM_PACE_MAX_STEP_NS);
        due = (uint64_t)step * pacer->bytes_per_second *
              (100 + VSND_PCM_PACE_HEADROOM_PCT) + pacer->residue;
        pacer->credit += due / unit;
        pacer->residue = due % unit;
        if (pacer->credit >= pacer->burst) {
            pacer->credit = pacer->burst;
            pacer->residue = 0;
        }
        pacer->last_ns = now_ns;
    }
    return pacer->credit - pacer->credit % pacer->frame_bytes;
}

void vsnd_pcm_pacer_consume(VSndPcmPacer *pacer, uint64_t bytes)
{
    pacer->credit -= MIN(bytes, pacer->credit);
}

void vsnd_pcm_lead_start(VSndPcmLead *lead, const VSndPcmParams *params,
                         int64_t now_ns)
{
    memset(lead, 0, sizeof(*lead));
    vsnd_pcm_byte_rate(params, &lead->bytes_per_second, &lead->frame_bytes);
    lead->start_ns = now_ns;
    lead->on = true;
}

void vsnd_pcm_lead_end(VSndPcmLead *lead)
{
    lead->on = false;
}

uint64_t vsnd_pcm_lead_take(VSndPcmLead *lead, int64_t now_ns, uint64_t max)
{
    int64_t span = now_ns - lead->start_ns;
    uint64_t due, owed;

    if (!lead->on) {
        return 0;
    }
    if (span > VSND_PCM_LEAD_MAX_NS) {
        lead->on = false;
        return 0;
    }
    /* 10 s * 384 kHz * 8 channels * 8 bytes is about 2.5e17. */
    due = span > 0 ? (uint64_t)span * lead->bytes_per_second / 1000000000 : 0;
    due -= due % lead->frame_bytes;
    owed = due > lead->given ? MIN(due - lead->given, max) : 0;
    owed -= owed % lead->frame_bytes;
    lead->given += owed;
    return owed;
}
