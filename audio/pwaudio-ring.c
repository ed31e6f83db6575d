/*
 * PipeWire audio backend: per-stream sample ring.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "pwaudio-ring.h"

#include <string.h>

bool qpw_ring_init(QPwRing *ring, void *data, uint32_t size,
                   uint32_t frame_bytes)
{
    if (!data || frame_bytes == 0 || size < frame_bytes || size > INT32_MAX) {
        return false;
    }

    memset(ring, 0, sizeof(*ring));
    spa_ringbuffer_init(&ring->rb);
    ring->data = data;
    ring->size = size;
    ring->capacity = size - size % frame_bytes;
    ring->frame_bytes = frame_bytes;
    return true;
}

/*
 * A fill level outside 0..capacity means the indices were corrupted; the
 * callers then behave as if the ring were empty (consumer) or full
 * (producer) so nothing is ever copied out of bounds.
 */
static bool fill_is_sane(const QPwRing *ring, int32_t fill)
{
    return fill >= 0 && (uint32_t)fill <= ring->capacity;
}

static uint32_t round_to_frames(const QPwRing *ring, uint32_t bytes)
{
    return bytes - bytes % ring->frame_bytes;
}

static uint32_t advance(const QPwRing *ring, uint32_t pos, uint32_t bytes)
{
    /* pos < size and bytes <= size <= INT32_MAX, so this cannot overflow */
    pos += bytes;
    return pos >= ring->size ? pos - ring->size : pos;
}

/*
 * Consumer: carry out a drop the producer asked for. The exchange
 * guarantees a request published after we looked is not lost: it stays
 * pending and is honoured on the next call.
 */
static uint32_t consumer_apply_drop(QPwRing *ring)
{
    uint32_t target, index;
    int32_t fill, ahead;

    if (!__atomic_exchange_n(&ring->drop_pending, 0, __ATOMIC_ACQ_REL)) {
        return 0;
    }
    target = __atomic_load_n(&ring->drop_index, __ATOMIC_ACQUIRE);
    fill = spa_ringbuffer_get_read_index(&ring->rb, &index);
    ahead = (int32_t)(target - index);
    /* Already consumed past it (or a stale request): nothing to drop. */
    if (ahead <= 0 || !fill_is_sane(ring, fill) || ahead > fill) {
        return 0;
    }
    ring->read_pos = advance(ring, ring->read_pos, (uint32_t)ahead);
    spa_ringbuffer_read_update(&ring->rb, (int32_t)target);
    return (uint32_t)ahead;
}

uint32_t qpw_ring_fill(QPwRing *ring)
{
    uint32_t index;
    int32_t fill = spa_ringbuffer_get_read_index(&ring->rb, &index);

    return fill_is_sane(ring, fill) ? (uint32_t)fill : 0;
}

uint32_t qpw_ring_room_below(QPwRing *ring, uint32_t mark)
{
    uint32_t index;
    int32_t fill = spa_ringbuffer_get_write_index(&ring->rb, &index);
    uint32_t room;

    if (!fill_is_sane(ring, fill) || (uint32_t)fill >= mark) {
        return 0;
    }
    room = mark - (uint32_t)fill;
    if (room > ring->capacity - (uint32_t)fill) {
        room = ring->capacity - (uint32_t)fill;
    }
    return round_to_frames(ring, room);
}

uint32_t qpw_ring_write(QPwRing *ring, const void *src, uint32_t len)
{
    uint32_t index, n;
    int32_t fill = spa_ringbuffer_get_write_index(&ring->rb, &index);

    if (!fill_is_sane(ring, fill)) {
        return 0;
    }
    n = ring->capacity - (uint32_t)fill;
    if (len < n) {
        n = len;
    }
    n = round_to_frames(ring, n);
    if (n == 0) {
        return 0;
    }

    spa_ringbuffer_write_data(&ring->rb, ring->data, ring->size,
                              ring->write_pos, src, n);
    ring->write_pos = advance(ring, ring->write_pos, n);
    /* Publishes the data copied above (release store). */
    spa_ringbuffer_write_update(&ring->rb, (int32_t)(index + n));
    return n;
}

uint32_t qpw_ring_read(QPwRing *ring, void *dst, uint32_t len)
{
    uint32_t index, n;
    int32_t fill;

    consumer_apply_drop(ring);
    fill = spa_ringbuffer_get_read_index(&ring->rb, &index);
    if (!fill_is_sane(ring, fill)) {
        return 0;
    }
    n = (uint32_t)fill;
    if (len < n) {
        n = len;
    }
    n = round_to_frames(ring, n);
    if (n == 0) {
        return 0;
    }

    spa_ringbuffer_read_data(&ring->rb, ring->data, ring->size,
                             ring->read_pos, dst, n);
    ring->read_pos = advance(ring, ring->read_pos, n);
    /* Hands the space back to the producer only after the copy. */
    spa_ringbuffer_read_update(&ring->rb, (int32_t)(index + n));
    return n;
}

uint32_t qpw_ring_drop(QPwRing *ring)
{
    uint32_t dropped = consumer_apply_drop(ring);
    uint32_t index;
    int32_t fill = spa_ringbuffer_get_read_index(&ring->rb, &index);

    if (!fill_is_sane(ring, fill) || fill == 0) {
        return dropped;
    }
    ring->read_pos = advance(ring, ring->read_pos, (uint32_t)fill);
    spa_ringbuffer_read_update(&ring->rb, (int32_t)(index + (uint32_t)fill));
    return dropped + (uint32_t)fill;
}

void qpw_ring_request_drop(QPwRing *ring)
{
    uint32_t index;

    spa_ringbuffer_get_write_index(&ring->rb, &index);
    __atomic_store_n(&ring->drop_index, index, __ATOMIC_RELAXED);
    /* Release: the consumer that sees the flag also sees the index. */
    __atomic_store_n(&ring->drop_pending, 1, __ATOMIC_RELEASE);
}
