/*
 * vhost-user-sound: the daemon's streams and the backends that move
 * their audio.
 *
 * The daemon's main loop owns the streams and their messages; a backend
 * says how many bytes a running stream may move now and moves them, and
 * runs vus_stream_run() when that may have changed (a clock tick, a graph
 * cycle that left its ring low).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHOST_USER_SOUND_VUS_H
#define VHOST_USER_SOUND_VUS_H

#include "hw/audio/virtio-snd-io.h"

typedef struct VusStream VusStream;

typedef struct VusBackend {
    const char *name;
    /*
     * Once at start-up, with the streams' name and the nodes to play to
     * and record from (NULL: the session manager's choice); false with a
     * message printed if it cannot run.
     */
    bool (*init)(const char *stream_name, const char *out_target,
                 const char *in_target);
    /* PREPARE: make ready for the stream's parameters; false: IO_ERR. */
    bool (*prepare)(VusStream *s);
    void (*start)(VusStream *s);
    /* STOP: take no more; what is queued may still play out. */
    void (*stop)(VusStream *s);
    /* RELEASE or a device reset: let go of the stream's resources. */
    void (*release)(VusStream *s);
    /* Playback: bytes that may be given now; capture: bytes waiting. */
    size_t (*avail)(VusStream *s);
    /* Playback: bytes given that have not played yet. */
    size_t (*held)(VusStream *s);
    /*
     * Move @len (at most avail()) bytes: from @buf, or into it (where it
     * holds silence of the stream's format).
     */
    void (*move)(VusStream *s, uint8_t *buf, size_t len);
    /* The stream's volume (0..255 a channel) and mute, from its controls. */
    void (*volume)(VusStream *s, bool mute, const uint8_t *levels,
                   uint32_t channels);
} VusBackend;

struct VusStream {
    uint32_t id;
    VSndIoStream io;                    /* its state and its messages */
    int wake_fd;                        /* capture: vsnd_io_wake()'s timer */
    void *backend;                      /* the backend's own state */
};

/* Main loop: move what the backend allows between @s and its messages. */
void vus_stream_run(VusStream *s);

/*
 * A card with no clock of its own, paced by the host's monotonic clock:
 * the null backend's, and a PipeWire stream's while it gets no cycles.
 */
typedef struct VusClock {
    int64_t start_us;                   /* g_get_monotonic_time() */
    uint64_t moved;                     /* bytes moved since */
} VusClock;

/* Start the clock now, nothing moved. */
void vus_clock_start(VusClock *c);

/* The bytes, in whole frames, a stream of @params may move now. */
uint64_t vus_clock_avail(const VusClock *c, const VSndPcmParams *params);

/*
 * After a run: what the clock had for the stream and no message took is
 * lost, as on a card.
 */
void vus_clock_catch_up(VusClock *c, const VSndPcmParams *params);

extern const VusBackend vus_backend_null;
extern const VusBackend vus_backend_pipewire;

#endif /* VHOST_USER_SOUND_VUS_H */
