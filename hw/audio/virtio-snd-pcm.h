/*
 * Virtio sound device: PCM stream model, independent of QEMU.
 *
 * The command lifecycle of a PCM stream (VIRTIO 1.2, 5.14.6.6.1) as a pure
 * transition function, the capabilities a stream advertises with PCM_INFO,
 * and facts about the spec's sample formats and frame rates.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_AUDIO_VIRTIO_SND_PCM_H
#define HW_AUDIO_VIRTIO_SND_PCM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "standard-headers/linux/virtio_snd.h"

/*
 * Where a stream is in its lifecycle: named after the last command that
 * succeeded, as the spec names them. INITIAL is the state after device
 * reset, before any SET_PARAMS.
 */
typedef enum VSndPcmState {
    VSND_PCM_STATE_INITIAL,
    VSND_PCM_STATE_PARAMS_SET,
    VSND_PCM_STATE_PREPARED,
    VSND_PCM_STATE_RUNNING,
    VSND_PCM_STATE_STOPPED,
    VSND_PCM_STATE_RELEASED,
    VSND_PCM_STATE__MAX,
} VSndPcmState;

/*
 * The state a lifecycle request (PCM_SET_PARAMS, _PREPARE, _START, _STOP,
 * _RELEASE) moves a stream in @state to. Returns VIRTIO_SND_S_OK and sets
 * *@new_state when the request is allowed; VIRTIO_SND_S_BAD_MSG when it is
 * not allowed in @state; VIRTIO_SND_S_NOT_SUPP when @code is no lifecycle
 * request. *@new_state is only written on success.
 */
uint32_t vsnd_pcm_transition(VSndPcmState state, uint32_t code,
                             VSndPcmState *new_state);

/* Whether a stream in @state takes I/O messages on its tx or rx queue. */
bool vsnd_pcm_state_accepts_io(VSndPcmState state);

/* "prepared" etc., for traces; "invalid" for an unknown state. */
const char *vsnd_pcm_state_name(VSndPcmState state);

/* The parameters of PCM_SET_PARAMS, in host byte order. */
typedef struct VSndPcmParams {
    uint32_t buffer_bytes;
    uint32_t period_bytes;
    uint32_t features;          /* 1 << VIRTIO_SND_PCM_F_* */
    uint8_t channels;
    uint8_t format;             /* VIRTIO_SND_PCM_FMT_* */
    uint8_t rate;               /* VIRTIO_SND_PCM_RATE_* */
} VSndPcmParams;

/* What a stream offers, in host byte order; PCM_INFO reports it. */
typedef struct VSndPcmCaps {
    uint32_t hda_fn_nid;
    uint32_t features;          /* 1 << VIRTIO_SND_PCM_F_* */
    uint64_t formats;           /* 1 << VIRTIO_SND_PCM_FMT_* */
    uint64_t rates;             /* 1 << VIRTIO_SND_PCM_RATE_* */
    uint8_t direction;          /* VIRTIO_SND_D_* */
    uint8_t channels_min;
    uint8_t channels_max;
} VSndPcmCaps;

/* The QEMU-independent part of one stream's state. */
typedef struct VSndPcmStream {
    VSndPcmCaps caps;
    VSndPcmState state;
    VSndPcmParams params;       /* meaningful once SET_PARAMS succeeded */
} VSndPcmStream;

/* Sample formats this device converts: S8 U8 S16 U16 S32 U32 FLOAT. */
#define VSND_PCM_FORMATS_SUPPORTED \
    ((1ULL << VIRTIO_SND_PCM_FMT_S8) | (1ULL << VIRTIO_SND_PCM_FMT_U8) | \
     (1ULL << VIRTIO_SND_PCM_FMT_S16) | (1ULL << VIRTIO_SND_PCM_FMT_U16) | \
     (1ULL << VIRTIO_SND_PCM_FMT_S32) | (1ULL << VIRTIO_SND_PCM_FMT_U32) | \
     (1ULL << VIRTIO_SND_PCM_FMT_FLOAT))

/*
 * The rates the spec appends after VIRTIO_SND_PCM_RATE_384000, which the
 * copy of Linux's header in QEMU 10 does not name.
 */
enum {
    VSND_PCM_RATE_12000 = VIRTIO_SND_PCM_RATE_384000 + 1,
    VSND_PCM_RATE_24000,
};

/* Every rate the spec defines (bits 0..15). */
#define VSND_PCM_RATES_ALL ((1ULL << (VSND_PCM_RATE_24000 + 1)) - 1)

/* Every stream feature the spec defines (bits 0..4). */
#define VSND_PCM_FEATURES_ALL ((1U << (VIRTIO_SND_PCM_F_EVT_XRUNS + 1)) - 1)

/* Shared memory features: spec placeholders that must not be selected. */
#define VSND_PCM_FEATURES_SHMEM \
    ((1U << VIRTIO_SND_PCM_F_SHMEM_HOST) | (1U << VIRTIO_SND_PCM_F_SHMEM_GUEST))

/* The most channels a stream of this device can have. */
#define VSND_PCM_CHANNELS_MAX 8

/*
 * Bytes one sample of @format occupies (its physical width): 1 to 8; 0 for
 * IMA_ADPCM (half a byte) and for undefined values.
 */
unsigned int vsnd_pcm_format_bytes(uint32_t format);

/* Frames per second of @rate; 0 for an undefined value. */
uint32_t vsnd_pcm_rate_hz(uint32_t rate);

/* Bytes of one frame of @params; 0 if its format has no whole-byte size. */
uint32_t vsnd_pcm_frame_bytes(const VSndPcmParams *params);

/*
 * Fill @len bytes of @buf, which starts on a sample, with silence of
 * @params' format: the middle value of the unsigned formats, zero for
 * the others.
 */
void vsnd_pcm_fill_silence(const VSndPcmParams *params, void *buf,
                           size_t len);

/*
 * The position (VIRTIO_SND_CHMAP_*) of channel @i of a stream of
 * @channels channels: the order in which the PipeWire backend labels the
 * channels of its streams (MONO; FL FR; FL FR LFE; FL FR RL RR; FL FR FC
 * RL RR; FL FR FC LFE RL RR; FL FR FC LFE RC SL SR; FL FR FC LFE RL RR SL
 * SR), which the device's channel maps announce. NONE outside 1 to
 * VSND_PCM_CHANNELS_MAX channels.
 */
uint8_t vsnd_pcm_chmap_position(unsigned int channels, unsigned int i);

/* Bytes per second of @params; 0 if its format or rate is undefined. */
uint64_t vsnd_pcm_bytes_per_second(const VSndPcmParams *params);

/*
 * The length of one period of @params in microseconds, rounded down (at
 * most UINT32_MAX); 0 if its format or rate is undefined.
 */
uint32_t vsnd_pcm_period_us(const VSndPcmParams *params);

/*
 * The earliest time a message of a stream of @params that waits may go
 * back to the guest, when the previous one went back at @last_ns: a
 * period later for playback, 9/10 of a period for capture (saturating at
 * INT64_MAX; @last_ns itself when the period is unknown).
 */
int64_t vsnd_pcm_return_due_ns(const VSndPcmParams *params, bool capture,
                               int64_t last_ns);

/*
 * Whether @caps describes a stream this device can run: a defined
 * direction, formats a non-empty subset of VSND_PCM_FORMATS_SUPPORTED,
 * rates a non-empty subset of the defined rates, 1 <= channels_min <=
 * channels_max <= VSND_PCM_CHANNELS_MAX and no feature that is undefined or
 * a shared memory placeholder. For checking device properties at realize.
 */
bool vsnd_pcm_caps_valid(const VSndPcmCaps *caps);

/*
 * The parameters a stream has before the driver sets any (a driver may
 * PREPARE first, see virtio-snd-pcm.c): 48 kHz, S16, stereo where @caps
 * offers them, else the format and rate of lowest VIRTIO_SND_PCM_* value
 * it offers and the channel count nearest 2 it offers; periods of 10 ms
 * (one frame at the least), VSND_PCM_DEFAULT_PERIODS of them. Valid for
 * any valid @caps.
 */
#define VSND_PCM_DEFAULT_PERIODS 4
void vsnd_pcm_default_params(const VSndPcmCaps *caps, VSndPcmParams *params);

/* Fill @info (little-endian, padding zeroed) with what @caps offers. */
void vsnd_pcm_info_from_caps(const VSndPcmCaps *caps,
                             struct virtio_snd_pcm_info *info);

/*
 * Pacing. QEMU's audio layer takes whatever fits in its buffer,
 * which is empty when a stream starts: a device that filled it straight
 * from the guest's messages would complete a guest buffer no longer than
 * the audio layer's all at once, which the guest sees as an underrun. So
 * the device takes at most a burst of half the guest's buffer ahead of
 * the stream's clock: a credit of bytes that starts full at START and is
 * refilled at the stream's byte rate plus VSND_PCM_PACE_HEADROOM_PCT
 * percent (so that the audio layer's clock, not this one, sets the pace
 * as long as it runs no more than that much faster), up to the burst.
 * Capture uses the same credit: a backend delivering a graph cycle longer
 * than the guest's buffer must not complete all of it at once either.
 */
#define VSND_PCM_PACE_HEADROOM_PCT 1

typedef struct VSndPcmPacer {
    uint64_t bytes_per_second;
    uint32_t frame_bytes;
    uint64_t burst;             /* the most credit: whole frames */
    uint64_t credit;            /* bytes that may be taken now */
    uint64_t residue;           /* refill below one byte, in byte-ns/100 */
    int64_t last_ns;            /* when credit was last brought up to date */
} VSndPcmPacer;

/*
 * Start pacing a stream of @params at time @now_ns: the burst is half of
 * buffer_bytes rounded down to whole frames (at least one frame), and the
 * credit starts full.
 */
void vsnd_pcm_pacer_start(VSndPcmPacer *pacer, const VSndPcmParams *params,
                          int64_t now_ns);

/*
 * Right after vsnd_pcm_pacer_start(): make the burst @bytes rounded down
 * to whole frames (at least one frame), and the credit full.
 */
void vsnd_pcm_pacer_set_burst(VSndPcmPacer *pacer, uint64_t bytes);

/*
 * Bring the credit up to date at @now_ns (a clock that does not go back;
 * if it does, no credit is added) and return it rounded down to whole
 * frames: how many bytes may be taken now.
 */
uint64_t vsnd_pcm_pacer_room(VSndPcmPacer *pacer, int64_t now_ns);

/* @bytes were taken (at most the last room returned). */
void vsnd_pcm_pacer_consume(VSndPcmPacer *pacer, uint64_t bytes);

/*
 * Capture lead. A card records from START, but an audio backend may
 * deliver its first audio well after (PipeWire runs a stream it has just
 * activated some graph cycles later). Until it does, the device gives the
 * guest silence at the stream's rate, so that the recording keeps time
 * from START instead of beginning that much late. At most
 * VSND_PCM_LEAD_MAX_NS of it: a backend that says nothing for that long
 * has a problem of its own.
 */
#define VSND_PCM_LEAD_MAX_NS (10 * 1000000000LL)

typedef struct VSndPcmLead {
    uint64_t bytes_per_second;
    uint32_t frame_bytes;
    bool on;
    int64_t start_ns;
    uint64_t given;             /* bytes of silence given so far */
} VSndPcmLead;

/* START of a stream of @params at @now_ns: the lead begins. */
void vsnd_pcm_lead_start(VSndPcmLead *lead, const VSndPcmParams *params,
                         int64_t now_ns);

/* The backend delivered audio (or the stream stopped): no more lead. */
void vsnd_pcm_lead_end(VSndPcmLead *lead);

/*
 * The bytes of silence the guest is owed at @now_ns, in whole frames, at
 * most @max, counted as given; 0 once the lead is over.
 */
uint64_t vsnd_pcm_lead_take(VSndPcmLead *lead, int64_t now_ns, uint64_t max);

#endif /* HW_AUDIO_VIRTIO_SND_PCM_H */
