/*
 * Unit tests of the scatter list helpers of hw/audio/virtio-snd-req.c:
 * every offset and length, over every way of cutting the buffer.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vsnd-test.h"

#define LEN 24

static void fill_pattern(uint8_t *buf, size_t len, uint8_t seed)
{
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = (uint8_t)(seed + 7 * i + 1);
    }
}

/* Every (offset, len) read of @sg matches a plain copy from @ref. */
static void check_reads(const VSndTestSg *sg, const uint8_t *ref)
{
    size_t off, len;

    for (off = 0; off <= LEN + 2; off++) {
        for (len = 0; len <= LEN + 2; len++) {
            uint8_t out[LEN + 4];
            size_t expect = off >= LEN ? 0 : MIN(len, LEN - off);
            size_t got;

            memset(out, 0xee, sizeof(out));
            got = vsnd_iov_to_buf(sg->iov, sg->num, off, out, len);
            g_assert_cmpuint(got, ==, expect);
            g_assert_cmpmem(out, got, ref + off, expect);
            /* nothing written past what was copied */
            g_assert_cmpuint(out[got], ==, 0xee);
        }
    }
}

static void test_to_buf_whole(void)
{
    uint8_t buf[LEN];
    VSndTestSg sg;

    fill_pattern(buf, LEN, 0);
    vsnd_test_sg_whole(&sg, buf, LEN);
    check_reads(&sg, buf);
}

static void test_to_buf_every_cut(void)
{
    uint8_t buf[LEN];
    VSndTestSg sg;
    size_t cut;

    fill_pattern(buf, LEN, 3);
    for (cut = 0; cut <= LEN; cut++) {
        vsnd_test_sg_cut(&sg, buf, LEN, cut);
        check_reads(&sg, buf);
    }
}

static void test_to_buf_bytes(void)
{
    uint8_t buf[LEN];
    VSndTestSg sg;

    fill_pattern(buf, LEN, 5);
    vsnd_test_sg_bytes(&sg, buf, LEN);
    check_reads(&sg, buf);
}

static void test_to_buf_empty_list(void)
{
    uint8_t out[4] = { 1, 2, 3, 4 };

    g_assert_cmpuint(vsnd_iov_to_buf(NULL, 0, 0, out, sizeof(out)), ==, 0);
    g_assert_cmpuint(out[0], ==, 1);
    g_assert_cmpuint(vsnd_iov_size(NULL, 0), ==, 0);
}

/* Every (offset, len) write into @sg lands where a plain copy would. */
static void check_writes(VSndTestSg *sg, uint8_t *backing)
{
    uint8_t src[LEN + 4];
    size_t off, len;

    fill_pattern(src, sizeof(src), 9);
    for (off = 0; off <= LEN + 2; off++) {
        for (len = 0; len <= LEN + 2; len++) {
            uint8_t expect[LEN];
            size_t n = off >= LEN ? 0 : MIN(len, LEN - off);

            memset(backing, 0x55, LEN);
            memset(expect, 0x55, LEN);
            memcpy(expect + MIN(off, LEN), src, n);
            g_assert_cmpuint(vsnd_iov_from_buf(sg->iov, sg->num, off, src,
                                               len), ==, n);
            g_assert_cmpmem(backing, LEN, expect, LEN);
        }
    }
}

static void test_from_buf(void)
{
    uint8_t buf[LEN + 1];
    VSndTestSg sg;
    size_t cut;

    buf[LEN] = 0xaa;     /* guard byte after the list */
    vsnd_test_sg_whole(&sg, buf, LEN);
    check_writes(&sg, buf);
    for (cut = 0; cut <= LEN; cut++) {
        vsnd_test_sg_cut(&sg, buf, LEN, cut);
        check_writes(&sg, buf);
    }
    vsnd_test_sg_bytes(&sg, buf, LEN);
    check_writes(&sg, buf);
    g_assert_cmpuint(buf[LEN], ==, 0xaa);
}

static void test_size(void)
{
    uint8_t buf[LEN];
    VSndTestSg sg;
    struct iovec huge[3] = {
        { .iov_base = NULL, .iov_len = SIZE_MAX - 1 },
        { .iov_base = NULL, .iov_len = 1 },
        { .iov_base = NULL, .iov_len = 1 },
    };

    vsnd_test_sg_bytes(&sg, buf, LEN);
    g_assert_cmpuint(vsnd_iov_size(sg.iov, sg.num), ==, LEN);
    vsnd_test_sg_cut(&sg, buf, LEN, 5);
    g_assert_cmpuint(vsnd_iov_size(sg.iov, sg.num), ==, LEN);
    g_assert_cmpuint(vsnd_iov_size(huge, 2), ==, SIZE_MAX);
    /* saturates instead of wrapping to 0 */
    g_assert_cmpuint(vsnd_iov_size(huge, 3), ==, SIZE_MAX);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-snd/iov/to-buf-whole", test_to_buf_whole);
    g_test_add_func("/virtio-snd/iov/to-buf-every-cut",
                    test_to_buf_every_cut);
    g_test_add_func("/virtio-snd/iov/to-buf-1-byte-pieces",
                    test_to_buf_bytes);
    g_test_add_func("/virtio-snd/iov/to-buf-empty-list",
                    test_to_buf_empty_list);
    g_test_add_func("/virtio-snd/iov/from-buf", test_from_buf);
    g_test_add_func("/virtio-snd/iov/size", test_size);
    return g_test_run();
}
