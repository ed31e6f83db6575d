/*
 * PipeWire audio backend: per-stream sample ring.
 *
 * Carries audio between QEMU's audio layer (playback producer, capture
 * consumer) and PipeWire's realtime process callback (the other side).
 * It is a thin layer over spa_ringbuffer: single producer, single
 * consumer, lock-free, over a byte buffer the caller owns.
 *
 * What it adds to spa_ringbuffer:
 *  - any buffer size, not just powers of two: each side keeps its own
 *    offset into the buffer instead of taking the 32-bit index modulo the
 *    size, which would jump when the index wraps after 4 GiB of audio;
 *  - every transfer moves whole frames, so one odd-sized call can never
 *    shift the channel interleaving for the rest of the stream;
 *  - dropping queued audio from either side without racing the other.
 *
 * Threading: qpw_ring_write(), qpw_ring_room_below() and
 * qpw_ring_request_drop() belong to the producer; qpw_ring_read() and
 * qpw_ring_drop() to the consumer; qpw_ring_fill() may be asked from
 * either side. None of them blocks or allocates.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_PWAUDIO_RING_H
#define QEMU_PWAUDIO_RING_H

#include <stdbool.h>
#include <stdint.h>

#include <spa/utils/ringbuffer.h>

typedef struct QPwRing {
    struct spa_ringbuffer rb;
    uint8_t *data;
    uint32_t size;          /* bytes in @data */
    uint32_t capacity;      /* usable bytes: whole frames that fit @size */
    uint32_t frame_bytes;

    uint32_t write_pos;     /* producer only: offset of the next write */
    uint32_t read_pos;      /* consumer only: offset of the next read */

    /*
     * Producer-side drop request: the write index up to which the
     * consumer must discard, published by setting @drop_pending.
     */
    uint32_t drop_index;
    uint32_t drop_pending;
} QPwRing;

/*
 * Set @ring up over @size bytes at @data (owned by the caller and kept
 * alive until the ring is no longer used), holding frames of
 * @frame_bytes bytes. The ring starts empty; it uses the largest
 * multiple of @frame_bytes within @size (@capacity). Returns false if
 * @data is NULL, @size cannot hold one frame, @frame_bytes is 0, or
 * @size exceeds INT32_MAX (fill levels are signed 32-bit in
 * spa_ringbuffer).
 */
bool qpw_ring_init(QPwRing *ring, void *data, uint32_t size,
                   uint32_t frame_bytes);

/*
 * Bytes queued now. A drop the producer requested is not subtracted
 * until the consumer has carried it out.
 */
uint32_t qpw_ring_fill(QPwRing *ring);

/*
 * Producer: bytes, in whole frames, that can be written before the fill
 * level reaches @mark (the playback high-water mark), never more than
 * the free space. 0 once the fill is at or above @mark.
 */
uint32_t qpw_ring_room_below(QPwRing *ring, uint32_t mark);

/*
 * Producer: copy up to @len bytes from @src, rounded down to whole
 * frames and to the free space. Returns the number of bytes queued.
 */
uint32_t qpw_ring_write(QPwRing *ring, const void *src, uint32_t len);

/*
 * Consumer: copy up to @len bytes to @dst, rounded down to whole frames
 * and to the fill level. Returns the number of bytes read.
 */
uint32_t qpw_ring_read(QPwRing *ring, void *dst, uint32_t len);

/* Consumer: discard everything queued now. Returns the bytes dropped. */
uint32_t qpw_ring_drop(QPwRing *ring);

/*
 * Producer: ask the consumer to discard everything written so far; it
 * happens at the start of the consumer's next read or drop (a read of 0
 * bytes too). Audio written after this call is kept. This is how the
 * playback side flushes on stop without touching the read index, which
 * only the consumer may move.
 */
void qpw_ring_request_drop(QPwRing *ring);

#endif /* QEMU_PWAUDIO_RING_H */
