/*
 * Unit tests of PCM I/O message validation (vsnd_xfer_parse,
 * vsnd_xfer_check_stream) and of the status write-back.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vsnd-test.h"

#define STATUS sizeof(struct virtio_snd_pcm_status)
#define STREAMS 3

/* A TX message: the header for @stream, then @data_len bytes of frames. */
static size_t tx_message(uint8_t *buf, uint32_t stream, size_t data_len)
{
    uint32_t id = GUINT32_TO_LE(stream);
    size_t i;

    memcpy(buf, &id, sizeof(id));
    for (i = 0; i < data_len; i++) {
        buf[sizeof(id) + i] = (uint8_t)i;
    }
    return sizeof(id) + data_len;
}

static uint32_t parse_whole(uint32_t dir, const void *out, size_t out_len,
                            size_t in_len, VSndXfer *x)
{
    VSndTestSg sg;

    vsnd_test_sg_whole(&sg, (void *)out, out_len);
    return vsnd_xfer_parse(dir, STREAMS, sg.iov, sg.num, in_len, x);
}

static void test_tx_valid(void)
{
    uint8_t buf[128];
    size_t len = tx_message(buf, 2, 100);
    VSndXfer x;

    g_assert_cmphex(parse_whole(VIRTIO_SND_D_OUTPUT, buf, len, STATUS, &x),
                    ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(x.stream_id, ==, 2);
    g_assert_cmpuint(x.data_len, ==, 100);
    g_assert_true(x.has_status);
    g_assert_cmpuint(x.status_offset, ==, 0);
    g_assert_cmpuint(VSND_XFER_TX_DATA_OFFSET, ==, 4);

    /* no frames at all, and a partial frame: both allowed by the spec */
    len = tx_message(buf, 0, 0);
    g_assert_cmphex(parse_whole(VIRTIO_SND_D_OUTPUT, buf, len, STATUS, &x),
                    ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(x.data_len, ==, 0);
    len = tx_message(buf, 0, 3);
    g_assert_cmphex(parse_whole(VIRTIO_SND_D_OUTPUT, buf, len, STATUS, &x),
                    ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(x.data_len, ==, 3);
}

/* The header is found at every cut, and in 1-byte pieces. */
static void test_tx_split(void)
{
    uint8_t buf[64];
    size_t len = tx_message(buf, 1, 20);
    VSndTestSg sg;
    VSndXfer x;
    size_t cut;

    for (cut = 0; cut <= len; cut++) {
        vsnd_test_sg_cut(&sg, buf, len, cut);
        g_assert_cmphex(vsnd_xfer_parse(VIRTIO_SND_D_OUTPUT, STREAMS, sg.iov,
                                        sg.num, STATUS, &x),
                        ==, VIRTIO_SND_S_OK);
        g_assert_cmpuint(x.stream_id, ==, 1);
        g_assert_cmpuint(x.data_len, ==, 20);
    }
    vsnd_test_sg_bytes(&sg, buf, len);
    g_assert_cmphex(vsnd_xfer_parse(VIRTIO_SND_D_OUTPUT, STREAMS, sg.iov,
                                    sg.num, STATUS, &x),
                    ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(x.stream_id, ==, 1);
    g_assert_cmpuint(x.data_len, ==, 20);
}

static void test_tx_bad(void)
{
    uint8_t buf[64];
    size_t len;
    size_t in_len;
    VSndXfer x;

    /* header cut short: failure, but the status can still be sent */
    tx_message(buf, 0, 0);
    for (len = 0; len < 4; len++) {
        g_assert_cmphex(parse_whole(VIRTIO_SND_D_OUTPUT, buf, len, STATUS,
                                    &x), ==, VIRTIO_SND_S_IO_ERR);
        g_assert_true(x.has_status);
        g_assert_cmpuint(x.status_offset, ==, 0);
    }

    /* unknown stream */
    len = tx_message(buf, STREAMS, 8);
    g_assert_cmphex(parse_whole(VIRTIO_SND_D_OUTPUT, buf, len, STATUS, &x),
                    ==, VIRTIO_SND_S_IO_ERR);
    g_assert_true(x.has_status);
    len = tx_message(buf, 0xffffffff, 8);
    g_assert_cmphex(parse_whole(VIRTIO_SND_D_OUTPUT, buf, len, STATUS, &x),
                    ==, VIRTIO_SND_S_IO_ERR);

    /* no room for the status: nothing can be reported */
    len = tx_message(buf, 0, 8);
    for (in_len = 0; in_len < STATUS; in_len++) {
        g_assert_cmphex(parse_whole(VIRTIO_SND_D_OUTPUT, buf, len, in_len,
                                    &x), ==, VIRTIO_SND_S_IO_ERR);
        g_assert_false(x.has_status);
    }

    /* device-writable frames on the tx queue */
    g_assert_cmphex(parse_whole(VIRTIO_SND_D_OUTPUT, buf, len, STATUS + 8,
                                &x), ==, VIRTIO_SND_S_IO_ERR);
    g_assert_true(x.has_status);
    g_assert_cmpuint(x.status_offset, ==, 8);
}

static void test_rx(void)
{
    uint32_t id = GUINT32_TO_LE(1);
    uint8_t out[8] = { 0 };
    VSndXfer x;

    g_assert_cmphex(parse_whole(VIRTIO_SND_D_INPUT, &id, 4, 64 + STATUS, &x),
                    ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(x.stream_id, ==, 1);
    g_assert_cmpuint(x.data_len, ==, 64);
    g_assert_true(x.has_status);
    g_assert_cmpuint(x.status_offset, ==, 64);

    /* odd sizes and no room for frames are fine */
    g_assert_cmphex(parse_whole(VIRTIO_SND_D_INPUT, &id, 4, 5 + STATUS, &x),
                    ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(x.data_len, ==, 5);
    g_assert_cmphex(parse_whole(VIRTIO_SND_D_INPUT, &id, 4, STATUS, &x),
                    ==, VIRTIO_SND_S_OK);
    g_assert_cmpuint(x.data_len, ==, 0);

    /* device-readable frames on the rx queue */
    memcpy(out, &id, 4);
    g_assert_cmphex(parse_whole(VIRTIO_SND_D_INPUT, out, 5, 64 + STATUS, &x),
                    ==, VIRTIO_SND_S_IO_ERR);
    g_assert_true(x.has_status);
    g_assert_cmpuint(x.status_offset, ==, 64);

    /* no room for the status */
    g_assert_cmphex(parse_whole(VIRTIO_SND_D_INPUT, &id, 4, STATUS - 1, &x),
                    ==, VIRTIO_SND_S_IO_ERR);
    g_assert_false(x.has_status);

    /* unknown stream, short header */
    id = GUINT32_TO_LE(STREAMS);
    g_assert_cmphex(parse_whole(VIRTIO_SND_D_INPUT, &id, 4, 64 + STATUS, &x),
                    ==, VIRTIO_SND_S_IO_ERR);
    g_assert_cmphex(parse_whole(VIRTIO_SND_D_INPUT, out, 3, 64 + STATUS, &x),
                    ==, VIRTIO_SND_S_IO_ERR);
}

static void test_bad_queue(void)
{
    uint8_t buf[16];
    size_t len = tx_message(buf, 0, 4);
    VSndXfer x;

    g_assert_cmphex(parse_whole(2, buf, len, STATUS, &x), ==,
                    VIRTIO_SND_S_IO_ERR);
    g_assert_cmphex(parse_whole(0xffffffff, buf, 4, STATUS, &x), ==,
                    VIRTIO_SND_S_IO_ERR);
}

static void test_no_streams(void)
{
    uint8_t buf[16];
    size_t len = tx_message(buf, 0, 4);
    VSndTestSg sg;
    VSndXfer x;

    vsnd_test_sg_whole(&sg, buf, len);
    g_assert_cmphex(vsnd_xfer_parse(VIRTIO_SND_D_OUTPUT, 0, sg.iov, sg.num,
                                    STATUS, &x), ==, VIRTIO_SND_S_IO_ERR);
}

static void test_check_stream(void)
{
    static const struct {
        VSndPcmState state;
        bool takes_io;
    } states[] = {
        { VSND_PCM_STATE_INITIAL, false },
        { VSND_PCM_STATE_PARAMS_SET, false },
        { VSND_PCM_STATE_PREPARED, true },
        { VSND_PCM_STATE_RUNNING, true },
        { VSND_PCM_STATE_STOPPED, true },
        { VSND_PCM_STATE_RELEASED, false },
    };
    VSndPcmStream s = {
        .caps = vsnd_test_caps(),
        .params = vsnd_test_params(),
    };
    size_t i;

    g_assert_cmpuint(G_N_ELEMENTS(states), ==, VSND_PCM_STATE__MAX);
    for (i = 0; i < G_N_ELEMENTS(states); i++) {
        uint32_t ok = states[i].takes_io ? VIRTIO_SND_S_OK :
                      VIRTIO_SND_S_IO_ERR;

        s.state = states[i].state;
        s.caps.direction = VIRTIO_SND_D_OUTPUT;
        g_assert_cmphex(vsnd_xfer_check_stream(VIRTIO_SND_D_OUTPUT, &s), ==,
                        ok);
        g_assert_cmphex(vsnd_xfer_check_stream(VIRTIO_SND_D_INPUT, &s), ==,
                        VIRTIO_SND_S_IO_ERR);
        s.caps.direction = VIRTIO_SND_D_INPUT;
        g_assert_cmphex(vsnd_xfer_check_stream(VIRTIO_SND_D_INPUT, &s), ==,
                        ok);
        g_assert_cmphex(vsnd_xfer_check_stream(VIRTIO_SND_D_OUTPUT, &s), ==,
                        VIRTIO_SND_S_IO_ERR);
    }
}

static void test_write_status(void)
{
    uint32_t id = GUINT32_TO_LE(0);
    uint8_t in[20];
    static const uint8_t expect_status[8] = {
        0x03, 0x80, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12,
    };
    VSndTestSg sg;
    VSndXfer x;
    size_t cut;

    g_assert_cmphex(parse_whole(VIRTIO_SND_D_INPUT, &id, 4, 12 + STATUS, &x),
                    ==, VIRTIO_SND_S_OK);
    for (cut = 0; cut <= 12 + STATUS; cut++) {
        memset(in, 0xee, sizeof(in));
        vsnd_test_sg_cut(&sg, in, 12 + STATUS, cut);
        g_assert_cmpuint(vsnd_xfer_write_status(sg.iov, sg.num, &x,
                                                VIRTIO_SND_S_IO_ERR,
                                                0x12345678), ==, STATUS);
        g_assert_cmpuint(in[11], ==, 0xee);
        g_assert_cmpmem(in + 12, STATUS, expect_status, STATUS);
    }

    x.has_status = false;
    memset(in, 0xee, sizeof(in));
    vsnd_test_sg_whole(&sg, in, sizeof(in));
    g_assert_cmpuint(vsnd_xfer_write_status(sg.iov, sg.num, &x,
                                            VIRTIO_SND_S_OK, 0), ==, 0);
    g_assert_cmpuint(in[12], ==, 0xee);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-snd/xfer/tx-valid", test_tx_valid);
    g_test_add_func("/virtio-snd/xfer/tx-split", test_tx_split);
    g_test_add_func("/virtio-snd/xfer/tx-bad", test_tx_bad);
    g_test_add_func("/virtio-snd/xfer/rx", test_rx);
    g_test_add_func("/virtio-snd/xfer/bad-queue", test_bad_queue);
    g_test_add_func("/virtio-snd/xfer/no-streams", test_no_streams);
    g_test_add_func("/virtio-snd/xfer/check-stream", test_check_stream);
    g_test_add_func("/virtio-snd/xfer/write-status", test_write_status);
    return g_test_run();
}
