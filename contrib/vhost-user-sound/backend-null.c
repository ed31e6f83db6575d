/*
 * vhost-user-sound: the null backend, a card on the host's monotonic
 * clock that plays into nothing and records silence.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"

#include "vus.h"

typedef struct NullCard {
    VusClock clock;                     /* started at START */
    guint tick;                         /* GLib timeout; 0 when stopped */
} NullCard;

/* What the guest gave no message for is lost, as on a card. */
static gboolean null_tick(gpointer opaque)
{
    VusStream *s = opaque;
    NullCard *c;

    vus_stream_run(s);
    c = s->backend;                     /* the run may have released it */
    if (!c || !c->tick) {
        return G_SOURCE_REMOVE;
    }
    vus_clock_catch_up(&c->clock, &s->io.pcm.params);
    return G_SOURCE_CONTINUE;
}

static bool null_init(const char *stream_name, const char *out_target,
                      const char *in_target)
{
    return true;
}

static bool null_prepare(VusStream *s)
{
    if (!s->backend) {
        s->backend = g_new0(NullCard, 1);
    }
    return true;
}

static void null_start(VusStream *s)
{
    NullCard *c = s->backend;
    uint32_t period_ms = vsnd_pcm_period_us(&s->io.pcm.params) / 1000;

    vus_clock_start(&c->clock);
    c->tick = g_timeout_add(MAX(period_ms / 2, 1), null_tick, s);
}

static void null_stop(VusStream *s)
{
    NullCard *c = s->backend;

    if (c && c->tick) {
        g_source_remove(c->tick);
        c->tick = 0;
    }
}

static void null_release(VusStream *s)
{
    null_stop(s);
    g_free(s->backend);
    s->backend = NULL;
}

static size_t null_avail(VusStream *s)
{
    NullCard *c = s->backend;

    if (!c || !c->tick) {
        return 0;
    }
    return vus_clock_avail(&c->clock, &s->io.pcm.params);
}

/* It plays at once: nothing waits. */
static size_t null_held(VusStream *s)
{
    return 0;
}

/* Capture records the silence @buf holds. */
static void null_move(VusStream *s, uint8_t *buf, size_t len)
{
    NullCard *c = s->backend;

    c->clock.moved += len;
}

static void null_volume(VusStream *s, bool mute, const uint8_t *levels,
                        uint32_t channels)
{
}

const VusBackend vus_backend_null = {
    .name = "null",
    .init = null_init,
    .prepare = null_prepare,
    .start = null_start,
    .stop = null_stop,
    .release = null_release,
    .avail = null_avail,
    .held = null_held,
    .move = null_move,
    .volume = null_volume,
};
