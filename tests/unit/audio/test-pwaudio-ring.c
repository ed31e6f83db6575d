/*
 * Unit tests of audio/pwaudio-ring: the SPSC sample ring between QEMU's
 * audio layer and PipeWire's process callback.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>
#include <string.h>

#include "audio/pwaudio-ring.h"

/*
 * Byte n of the test stream. 251 is prime, so a stream that slips by any
 * amount that is not a multiple of 251 bytes is caught at once.
 */
static uint8_t stream_byte(uint64_t n)
{
    return (uint8_t)(n % 251);
}

static void fill_stream(uint8_t *buf, uint64_t start, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = stream_byte(start + i);
    }
}

static void check_stream(const uint8_t *buf, uint64_t start, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != stream_byte(start + i)) {
            g_error("stream byte %" G_GUINT64_FORMAT " is %u, want %u",
                    start + i, buf[i], stream_byte(start + i));
        }
    }
}

static void test_init_rejects(void)
{
    uint8_t buf[64];
    QPwRing r;

    /* S16 stereo = 4-byte frames. */
    g_assert_true(qpw_ring_init(&r, buf, 4, 4));
    g_assert_false(qpw_ring_init(&r, buf, 3, 4));
    g_assert_false(qpw_ring_init(&r, buf, 0, 4));
    g_assert_false(qpw_ring_init(&r, buf, 64, 0));
    g_assert_false(qpw_ring_init(&r, NULL, 64, 4));
    /* Never touched, so the small buffer is fine for the size check. */
    g_assert_false(qpw_ring_init(&r, buf, (uint32_t)INT32_MAX + 1, 1));
}

static void test_capacity_whole_frames(void)
{
    uint8_t buf[30];
    QPwRing r;

    /* 30 bytes hold 7 frames of 4 bytes; the 2 spare bytes stay unused. */
    g_assert_true(qpw_ring_init(&r, buf, sizeof(buf), 4));
    g_assert_cmpuint(r.capacity, ==, 28);
    g_assert_cmpuint(qpw_ring_room_below(&r, UINT32_MAX), ==, 28);
    g_assert_cmpuint(qpw_ring_fill(&r), ==, 0);
}

static void test_empty(void)
{
    uint8_t buf[16], out[8];
    QPwRing r;

    g_assert_true(qpw_ring_init(&r, buf, sizeof(buf), 2));
    memset(out, 0x11, sizeof(out));
    g_assert_cmpuint(qpw_ring_read(&r, out, sizeof(out)), ==, 0);
    /* Nothing read means nothing written to the destination. */
    for (size_t i = 0; i < sizeof(out); i++) {
        g_assert_cmphex(out[i], ==, 0x11);
    }
    g_assert_cmpuint(qpw_ring_drop(&r), ==, 0);
}

static void test_full_and_partial_write(void)
{
    uint8_t buf[40], in[64], out[64];
    QPwRing r;

    g_assert_true(qpw_ring_init(&r, buf, sizeof(buf), 4));
    fill_stream(in, 0, sizeof(in));

    /* 64 offered, 40 fit. */
    g_assert_cmpuint(qpw_ring_write(&r, in, 64), ==, 40);
    g_assert_cmpuint(qpw_ring_fill(&r), ==, 40);
    g_assert_cmpuint(qpw_ring_room_below(&r, UINT32_MAX), ==, 0);
    g_assert_cmpuint(qpw_ring_write(&r, in + 40, 24), ==, 0);

    /* Free 12 bytes, then a 20-byte write only gets 12 in. */
    g_assert_cmpuint(qpw_ring_read(&r, out, 12), ==, 12);
    check_stream(out, 0, 12);
    g_assert_cmpuint(qpw_ring_room_below(&r, UINT32_MAX), ==, 12);
    g_assert_cmpuint(qpw_ring_write(&r, in + 40, 20), ==, 12);
    g_assert_cmpuint(qpw_ring_fill(&r), ==, 40);

    g_assert_cmpuint(qpw_ring_read(&r, out, sizeof(out)), ==, 40);
    check_stream(out, 12, 40);
    g_assert_cmpuint(qpw_ring_fill(&r), ==, 0);
}

static void test_room_below(void)
{
    uint8_t buf[40], in[40];
    QPwRing r;

    g_assert_true(qpw_ring_init(&r, buf, sizeof(buf), 4));
    fill_stream(in, 0, sizeof(in));

    /* High-water mark of 26 bytes: whole frames below it, i.e. 24. */
    g_assert_cmpuint(qpw_ring_room_below(&r, 26), ==, 24);
    g_assert_cmpuint(qpw_ring_write(&r, in, 8), ==, 8);
    g_assert_cmpuint(qpw_ring_room_below(&r, 26), ==, 16);
    g_assert_cmpuint(qpw_ring_room_below(&r, 24), ==, 16);
    /* Never more than the free space, whatever the mark. */
    g_assert_cmpuint(qpw_ring_room_below(&r, 1000), ==, 32);
    g_assert_cmpuint(qpw_ring_write(&r, in, 20), ==, 20);
    g_assert_cmpuint(qpw_ring_room_below(&r, 28), ==, 0);
    g_assert_cmpuint(qpw_ring_room_below(&r, 24), ==, 0);
    g_assert_cmpuint(qpw_ring_room_below(&r, 0), ==, 0);
    g_assert_cmpuint(qpw_ring_room_below(&r, 33), ==, 4);
}

static void test_frame_rounding(void)
{
    uint8_t buf[24], in[24], out[24];
    QPwRing r;

    /* S16 x 3 channels: 6-byte frames. */
    g_assert_true(qpw_ring_init(&r, buf, sizeof(buf), 6));
    fill_stream(in, 0, sizeof(in));

    g_assert_cmpuint(qpw_ring_write(&r, in, 5), ==, 0);
    g_assert_cmpuint(qpw_ring_write(&r, in, 11), ==, 6);
    g_assert_cmpuint(qpw_ring_write(&r, in + 6, 13), ==, 12);
    g_assert_cmpuint(qpw_ring_fill(&r), ==, 18);
    g_assert_cmpuint(qpw_ring_room_below(&r, UINT32_MAX), ==, 6);

    g_assert_cmpuint(qpw_ring_read(&r, out, 5), ==, 0);
    g_assert_cmpuint(qpw_ring_read(&r, out, 17), ==, 12);
    check_stream(out, 0, 12);
    g_assert_cmpuint(qpw_ring_read(&r, out, 100), ==, 6);
    check_stream(out, 12, 6);
}

/*
 * Push a long stream through a ring whose size is not a power of two (and
 * leaves spare bytes after the last whole frame), with chunk sizes that
 * keep changing so writes and reads straddle the end of the buffer at
 * every possible offset.
 */
static void run_wrap(QPwRing *r, uint32_t frame, unsigned rounds)
{
    uint8_t in[256], out[256];
    uint64_t written = 0, read = 0;
    GRand *rand = g_rand_new_with_seed(0x5eed);

    for (unsigned i = 0; i < rounds; i++) {
        uint32_t w = g_rand_int_range(rand, 0, 200);
        uint32_t rd = g_rand_int_range(rand, 0, 200);
        uint32_t free_before = qpw_ring_room_below(r, UINT32_MAX);
        uint32_t n;

        fill_stream(in, written, w);
        n = qpw_ring_write(r, in, w);
        g_assert_cmpuint(n % frame, ==, 0);
        g_assert_cmpuint(n, <=, w);
        g_assert_cmpuint(n, ==, MIN(w - w % frame, free_before));
        written += n;
        g_assert_cmpuint(qpw_ring_fill(r), ==, written - read);

        n = qpw_ring_read(r, out, rd);
        g_assert_cmpuint(n % frame, ==, 0);
        g_assert_cmpuint(n, <=, rd);
        check_stream(out, read, n);
        read += n;
        g_assert_cmpuint(qpw_ring_fill(r), ==, written - read);
        g_assert_cmpuint(qpw_ring_fill(r) +
                         qpw_ring_room_below(r, UINT32_MAX), <=,
                         r->capacity);
    }
    /* Make sure the test really went round many times. */
    g_assert_cmpuint(read, >, 20 * r->capacity);
    g_rand_free(rand);
}

static void test_wrap_around(void)
{
    uint8_t buf[100];
    QPwRing r;

    /* 6-byte frames: capacity 96 of 100 bytes. */
    g_assert_true(qpw_ring_init(&r, buf, sizeof(buf), 6));
    run_wrap(&r, 6, 5000);
}

static void test_index_wrap_32bit(void)
{
    uint8_t buf[100];
    QPwRing r;

    /*
     * Start the 32-bit indices just below 2^32, as after ~4 GiB of audio:
     * with a non-power-of-two size, taking index % size here would jump;
     * the ring must keep the byte stream intact across the wrap.
     */
    g_assert_true(qpw_ring_init(&r, buf, sizeof(buf), 6));
    r.rb.readindex = r.rb.writeindex = UINT32_MAX - 150;
    run_wrap(&r, 6, 5000);
    g_assert_cmpuint(r.rb.writeindex, <, 1u << 20);
}

static void test_drop(void)
{
    uint8_t buf[48], in[64], out[64];
    QPwRing r;

    g_assert_true(qpw_ring_init(&r, buf, sizeof(buf), 4));
    fill_stream(in, 0, sizeof(in));

    /* Move the offsets off zero first so the drop has to wrap them. */
    g_assert_cmpuint(qpw_ring_write(&r, in, 40), ==, 40);
    g_assert_cmpuint(qpw_ring_read(&r, out, 32), ==, 32);
    g_assert_cmpuint(qpw_ring_write(&r, in, 32), ==, 32);
    g_assert_cmpuint(qpw_ring_fill(&r), ==, 40);

    g_assert_cmpuint(qpw_ring_drop(&r), ==, 40);
    g_assert_cmpuint(qpw_ring_fill(&r), ==, 0);
    g_assert_cmpuint(qpw_ring_room_below(&r, UINT32_MAX), ==, 48);
    g_assert_cmpuint(qpw_ring_drop(&r), ==, 0);

    /* The ring carries on cleanly after a drop. */
    g_assert_cmpuint(qpw_ring_write(&r, in, 44), ==, 44);
    g_assert_cmpuint(qpw_ring_read(&r, out, 64), ==, 44);
    check_stream(out, 0, 44);
}

static void test_request_drop(void)
{
    uint8_t buf[48], in[64], out[64];
    QPwRing r;

    g_assert_true(qpw_ring_init(&r, buf, sizeof(buf), 4));
    fill_stream(in, 0, sizeof(in));

    /* Stop: 20 old bytes are to go, 12 written after the request stay. */
    g_assert_cmpuint(qpw_ring_write(&r, in + 36, 20), ==, 20);
    qpw_ring_request_drop(&r);
    /* Until the consumer acts, the producer still counts the old bytes. */
    g_assert_cmpuint(qpw_ring_room_below(&r, UINT32_MAX), ==, 28);
    g_assert_cmpuint(qpw_ring_room_below(&r, 24), ==, 4);
    g_assert_cmpuint(qpw_ring_write(&r, in, 12), ==, 12);
    g_assert_cmpuint(qpw_ring_read(&r, out, 64), ==, 12);
    check_stream(out, 0, 12);
    g_assert_cmpuint(qpw_ring_fill(&r), ==, 0);

    /* Honoured once only: later data is not dropped again. */
    g_assert_cmpuint(qpw_ring_write(&r, in, 8), ==, 8);
    g_assert_cmpuint(qpw_ring_read(&r, out, 64), ==, 8);
    check_stream(out, 0, 8);

    /* Consumer already at the requested point: nothing extra lost. */
    g_assert_cmpuint(qpw_ring_write(&r, in, 16), ==, 16);
    g_assert_cmpuint(qpw_ring_read(&r, out, 16), ==, 16);
    qpw_ring_request_drop(&r);
    g_assert_cmpuint(qpw_ring_write(&r, in, 16), ==, 16);
    g_assert_cmpuint(qpw_ring_read(&r, out, 64), ==, 16);
    check_stream(out, 0, 16);

    /* Two requests before the consumer runs: the later one wins. */
    g_assert_cmpuint(qpw_ring_write(&r, in, 8), ==, 8);
    qpw_ring_request_drop(&r);
    g_assert_cmpuint(qpw_ring_write(&r, in, 8), ==, 8);
    qpw_ring_request_drop(&r);
    g_assert_cmpuint(qpw_ring_write(&r, in + 4, 8), ==, 8);
    g_assert_cmpuint(qpw_ring_read(&r, out, 64), ==, 8);
    check_stream(out, 4, 8);

    /* A read of nothing and a drop honour a request too; drop counts it. */
    g_assert_cmpuint(qpw_ring_write(&r, in, 8), ==, 8);
    qpw_ring_request_drop(&r);
    g_assert_cmpuint(qpw_ring_read(&r, out, 8), ==, 0);
    g_assert_cmpuint(qpw_ring_write(&r, in, 8), ==, 8);
    qpw_ring_request_drop(&r);
    g_assert_cmpuint(qpw_ring_write(&r, in, 4), ==, 4);
    g_assert_cmpuint(qpw_ring_drop(&r), ==, 12);
    g_assert_cmpuint(qpw_ring_fill(&r), ==, 0);
}

/*
 * Two real threads, as in the backend: the producer writes a known stream
 * in random chunks, the consumer checks every byte it reads. A missing
 * barrier or an index race shows up as a wrong byte or a hang (bounded by
 * the meson timeout).
 */
#define STRESS_BYTES (8u * 1024 * 1024)

typedef struct Stress {
    QPwRing ring;
    uint8_t buf[1000];
} Stress;

static gpointer stress_producer(gpointer opaque)
{
    Stress *s = opaque;
    GRand *rand = g_rand_new_with_seed(1);
    uint8_t chunk[600];
    uint64_t written = 0;

    while (written < STRESS_BYTES) {
        uint32_t want = g_rand_int_range(rand, 1, 150) * 4;

        if (want > STRESS_BYTES - written) {
            want = STRESS_BYTES - written;
        }
        fill_stream(chunk, written, want);
        written += qpw_ring_write(&s->ring, chunk, want);
        if (qpw_ring_room_below(&s->ring, UINT32_MAX) == 0) {
            g_thread_yield();
        }
    }
    g_rand_free(rand);
    return NULL;
}

static void test_threaded(void)
{
    Stress *s = g_new0(Stress, 1);
    GRand *rand = g_rand_new_with_seed(2);
    uint8_t chunk[600];
    uint64_t read = 0;
    GThread *producer;

    /* 1000 bytes: 250 frames of S16 stereo, not a power of two. */
    g_assert_true(qpw_ring_init(&s->ring, s->buf, sizeof(s->buf), 4));
    producer = g_thread_new("producer", stress_producer, s);
    while (read < STRESS_BYTES) {
        uint32_t n = qpw_ring_read(&s->ring, chunk,
                                   g_rand_int_range(rand, 1, 150) * 4);

        check_stream(chunk, read, n);
        read += n;
        if (n == 0) {
            g_thread_yield();
        }
    }
    g_thread_join(producer);
    g_assert_cmpuint(read, ==, STRESS_BYTES);
    g_assert_cmpuint(qpw_ring_fill(&s->ring), ==, 0);
    g_rand_free(rand);
    g_free(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pwaudio/ring/init-rejects", test_init_rejects);
    g_test_add_func("/pwaudio/ring/capacity-whole-frames",
                    test_capacity_whole_frames);
    g_test_add_func("/pwaudio/ring/empty", test_empty);
    g_test_add_func("/pwaudio/ring/full-and-partial-write",
                    test_full_and_partial_write);
    g_test_add_func("/pwaudio/ring/room-below", test_room_below);
    g_test_add_func("/pwaudio/ring/frame-rounding", test_frame_rounding);
    g_test_add_func("/pwaudio/ring/wrap-around", test_wrap_around);
    g_test_add_func("/pwaudio/ring/index-wrap-32bit", test_index_wrap_32bit);
    g_test_add_func("/pwaudio/ring/drop", test_drop);
    g_test_add_func("/pwaudio/ring/request-drop", test_request_drop);
    g_test_add_func("/pwaudio/ring/threaded", test_threaded);
    return g_test_run();
}
