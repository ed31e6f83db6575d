/*
 * Virtio sound device: a PCM stream's I/O messages, independent of its
 * home.
 *
 * The tx or rx messages a stream holds (VIRTIO 1.2, 5.14.6.8) and how
 * they move: a chunk of whole frames at a time between them and the
 * stream's audio, within the pacer's credit (virtio-snd-pcm.h); each one
 * back to the guest once its data is played or captured, at times the
 * guest's driver can follow and with its latency_bytes; an xrun noticed
 * once a running stream has had no message for a period; capture's lead
 * of silence from START and its overrun. Where the audio goes and how a
 * message goes back are the home's (VSndIoOps): QEMU's virtio-snd device
 * with a voice of its audio layer, or the vhost-user daemon with its
 * backend. Times are the home's clock, in nanoseconds.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_AUDIO_VIRTIO_SND_IO_H
#define HW_AUDIO_VIRTIO_SND_IO_H

#include "virtio-snd-req.h"

typedef struct VSndIoStream VSndIoStream;

/* An I/O message a stream holds; the home's element embeds it. */
typedef struct VSndIoMsg {
    const struct iovec *out_sg;         /* the header; tx: then frames */
    const struct iovec *in_sg;          /* rx: frames; then the status */
    unsigned int out_num;
    unsigned int in_num;
    VSndXfer xfer;
    size_t done;                        /* data bytes played or captured */
    GList link;                         /* in VSndIoStream.msgs */
} VSndIoMsg;

typedef struct VSndIoOps {
    /* Playback: hand @len bytes to the audio; returns how many it took. */
    size_t (*play)(VSndIoStream *io, const uint8_t *buf, size_t len);
    /*
     * Capture: up to @len bytes of recorded audio into @buf, which holds
     * silence; returns how many.
     */
    size_t (*capture)(VSndIoStream *io, uint8_t *buf, size_t len);
    /*
     * Capture, optional: @len bytes at @offset of @m's device-writable
     * part were written (before @m goes back).
     */
    void (*captured)(VSndIoStream *io, VSndIoMsg *m, size_t offset,
                     size_t len);
    /*
     * Give @m back to the guest with @len bytes used (0: it has no room
     * for its status); @status and @latency are what it says. @m is no
     * longer the stream's.
     */
    void (*complete)(VSndIoStream *io, VSndIoMsg *m, size_t len,
                     uint32_t status, uint32_t latency);
    /*
     * An xrun, once until the guest gives a message again: the home tells
     * the guest (EVT_PCM_XRUN) if its parameters ask for it.
     */
    void (*xrun)(VSndIoStream *io);
    /*
     * Playback, optional: the bytes of the stream the audio holds now,
     * for latency_bytes. Without it, the audio's room when empty less its
     * room now, which is right for an audio of a fixed buffer.
     */
    size_t (*held)(VSndIoStream *io);
    /* Capture: run vsnd_io_wake() at @due_ns, when a message may go back. */
    void (*wake_at)(VSndIoStream *io, int64_t due_ns);
    /* Optional, for traces: the lead ended after @bytes of silence. */
    void (*lead_ended)(VSndIoStream *io, uint64_t bytes);
    /* Optional, for traces: a capture overrun dropped @bytes. */
    void (*dropped)(VSndIoStream *io, uint64_t bytes);
} VSndIoOps;

struct VSndIoStream {
    VSndPcmStream pcm;                  /* caps, lifecycle state, params */
    const VSndIoOps *ops;
    GQueue msgs;                        /* VSndIoMsg, oldest first */
    VSndPcmPacer pacer;                 /* what may be moved now */
    VSndPcmLead lead;                   /* capture: silence owed from START */
    bool starved;                       /* an xrun was reported, not ended */
    int64_t empty_since_ns;             /* ran out of messages; -1: not */
    int64_t last_return_ns;             /* when a message last went back */
    /*
     * For latency_bytes, in the guest's bytes. Playback: the most room
     * the audio has offered since it was opened, i.e. its room when it
     * holds nothing of ours. Capture: what the audio had for us at its
     * last run that was not taken (0 where it does not say).
     */
    size_t out_room_max;
    size_t in_left;
    /*
     * Set by a home whose audio takes no more than it will play soon (a
     * ring kept at a mark, a clock): the pacer then allows the whole
     * guest buffer at START, which such an audio may need to start
     * without a gap (the daemon's PipeWire stream primes two graph
     * cycles). QEMU's audio layer takes all that fits: half, there.
     */
    bool audio_bounded;
};

void vsnd_io_init(VSndIoStream *io, const VSndIoOps *ops);

/* A message the stream may take (vsnd_core_xfer() said so) joins it. */
void vsnd_io_queue(VSndIoStream *io, VSndIoMsg *m);

/* The oldest message, taken off the stream, or NULL: for a home to drop. */
VSndIoMsg *vsnd_io_pop(VSndIoStream *io);

/* Give back every message with S_OK, as RELEASE must (5.14.6.6.5.1). */
void vsnd_io_return_all(VSndIoStream *io);

/*
 * The stream's audio was opened anew, with other settings: what the
 * latency knew of the old one no longer holds.
 */
void vsnd_io_new_audio(VSndIoStream *io);

/* START: capture's lead begins, and the stream runs. */
void vsnd_io_start(VSndIoStream *io, int64_t now_ns);

/*
 * The stream runs (@on) from @now_ns with a full pacer, or stops (which
 * ends the lead); either way no xrun is pending. START, STOP, and a
 * stream going on after a migration.
 */
void vsnd_io_set_active(VSndIoStream *io, bool on, int64_t now_ns);

/*
 * Playback: the audio has room for @room bytes. Moves what it can take
 * and the pacer allows, gives back what is done and notices an xrun.
 * The home runs this as its audio plays while the stream runs: at every
 * cycle, or at least whenever the audio runs low (a finished message
 * waiting for its time goes back at the next run).
 */
void vsnd_io_play(VSndIoStream *io, size_t room, int64_t now_ns);

/* Capture: the audio holds an unknown amount; capture() says. */
#define VSND_IO_AVAIL_ANY SIZE_MAX

/*
 * Capture: the audio holds @avail bytes (or VSND_IO_AVAIL_ANY). Moves
 * what it can into the messages, gives back what is done, and on an
 * overrun (an xrun) drops what the audio holds.
 */
void vsnd_io_record(VSndIoStream *io, size_t avail, int64_t now_ns);

/* Capture: the time asked with wake_at() came; nothing new is taken. */
void vsnd_io_wake(VSndIoStream *io, int64_t now_ns);

#endif /* HW_AUDIO_VIRTIO_SND_IO_H */
