/*
 * Unit tests of a PCM stream's I/O messages, hw/audio/virtio-snd-io.c,
 * driven through a fake home whose audio is a byte counter: playback
 * reaches the audio bit-exact and in order, within the pacer's burst;
 * each message goes back with its status and latency when the rules say
 * (the last playback message waits for the next or for a period, capture
 * messages 9/10 of a period apart); an xrun is told once, after a
 * period's grace, and a capture overrun drops what the audio holds;
 * capture's lead is silence of the stream's format; RELEASE gives every
 * message back.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vsnd-test.h"

#include "hw/audio/virtio-snd-io.h"

#define MS 1000000LL
/* Where the tests' clocks start: after a first return would be due. */
#define T0 (1000 * MS)
#define MSGS_MAX 16
#define BYTES_MAX 65536

/* A message as a driver gives it: header, frames, status. */
typedef struct TestMsg {
    VSndIoMsg msg;
    struct virtio_snd_pcm_xfer hdr;
    uint8_t data[BYTES_MAX];
    struct virtio_snd_pcm_status status;
    struct iovec out[2];
    struct iovec in[2];
} TestMsg;

typedef struct Home {
    VSndIoStream io;
    TestMsg msgs[MSGS_MAX];
    unsigned int given;
    /* The audio. */
    size_t take;                        /* playback: bytes it takes */
    uint8_t played[BYTES_MAX];
    size_t played_len;
    size_t have;                        /* capture: bytes it holds */
    uint8_t next;                       /* capture: the counter */
    size_t held;                        /* what held() says, if used */
    /* What the device did. */
    TestMsg *completed[MSGS_MAX];
    size_t used[MSGS_MAX];
    uint32_t latency[MSGS_MAX];
    size_t captured;                    /* bytes captured() reported */
    unsigned int completions;
    unsigned int xruns;
    int64_t wake_due;
    uint64_t dropped;
} Home;

static Home *home_of(VSndIoStream *io)
{
    return container_of(io, Home, io);
}

static size_t home_play(VSndIoStream *io, const uint8_t *buf, size_t len)
{
    Home *h = home_of(io);

    g_assert_cmpuint(len % vsnd_pcm_frame_bytes(&io->pcm.params), ==, 0);
    len = MIN(len, h->take);
    g_assert_cmpuint(h->played_len + len, <=, BYTES_MAX);
    memcpy(h->played + h->played_len, buf, len);
    h->played_len += len;
    h->take -= len;
    return len;
}

static size_t home_capture(VSndIoStream *io, uint8_t *buf, size_t len)
{
    Home *h = home_of(io);
    size_t i;

    g_assert_cmpuint(len % vsnd_pcm_frame_bytes(&io->pcm.params), ==, 0);
    len = MIN(len, h->have);
    for (i = 0; i < len; i++) {
        buf[i] = h->next++;
    }
    h->have -= len;
    return len;
}

/* The dirty marking of QEMU's home: written bytes, in order. */
static void home_captured(VSndIoStream *io, VSndIoMsg *m, size_t offset,
                          size_t len)
{
    g_assert_cmpuint(offset, ==, m->done);
    g_assert_cmpuint(offset + len, <=, m->xfer.data_len);
    home_of(io)->captured += len;
}

static size_t home_held(VSndIoStream *io)
{
    return home_of(io)->held;
}

static void home_complete(VSndIoStream *io, VSndIoMsg *m, size_t len,
                          uint32_t status, uint32_t latency)
{
    Home *h = home_of(io);

    g_assert_cmpuint(h->completions, <, MSGS_MAX);
    g_assert_cmpuint(status, ==, VIRTIO_SND_S_OK);
    h->completed[h->completions] = container_of(m, TestMsg, msg);
    h->used[h->completions] = len;
    h->latency[h->completions] = latency;
    h->completions++;
}

static void home_xrun(VSndIoStream *io)
{
    home_of(io)->xruns++;
}

static void home_wake_at(VSndIoStream *io, int64_t due_ns)
{
    home_of(io)->wake_due = due_ns;
}

static void home_dropped(VSndIoStream *io, uint64_t bytes)
{
    home_of(io)->dropped += bytes;
}

static const VSndIoOps home_ops = {
    .play = home_play,
    .capture = home_capture,
    .captured = home_captured,
    .complete = home_complete,
    .xrun = home_xrun,
    .wake_at = home_wake_at,
    .dropped = home_dropped,
};

/* The daemon's way: the audio says what it holds. */
static const VSndIoOps home_ops_held = {
    .play = home_play,
    .capture = home_capture,
    .complete = home_complete,
    .xrun = home_xrun,
    .wake_at = home_wake_at,
    .held = home_held,
};

/* A stream of @dir, 48 kHz S16 stereo, 4 periods of 10 ms (1920 bytes). */
static Home *home_new(uint8_t dir)
{
    Home *h = g_new0(Home, 1);

    vsnd_io_init(&h->io, &home_ops);
    h->io.pcm.caps = vsnd_test_caps();
    h->io.pcm.caps.direction = dir;
    h->io.pcm.params = vsnd_test_params();
    h->io.pcm.state = VSND_PCM_STATE_RUNNING;
    return h;
}

/* The guest gives a message of @len data bytes (tx: counting from @from). */
static TestMsg *give(Home *h, size_t len, uint8_t from)
{
    TestMsg *t = &h->msgs[h->given++];
    bool out = h->io.pcm.caps.direction == VIRTIO_SND_D_OUTPUT;
    size_t i;

    g_assert_cmpuint(h->given, <=, MSGS_MAX);
    g_assert_cmpuint(len, <=, BYTES_MAX);
    for (i = 0; i < len; i++) {
        t->data[i] = out ? (uint8_t)(from + i) : 0xee;
    }
    t->out[0] = (struct iovec) { &t->hdr, sizeof(t->hdr) };
    t->out[1] = (struct iovec) { t->data, len };
    t->in[0] = (struct iovec) { t->data, len };
    t->in[1] = (struct iovec) { &t->status, sizeof(t->status) };
    t->msg = (VSndIoMsg) {
        .out_sg = t->out,
        .out_num = out ? 2 : 1,
        .in_sg = out ? &t->in[1] : t->in,
        .in_num = out ? 1 : 2,
        .xfer = {
            .data_len = len,
            .has_status = true,
            .status_offset = out ? 0 : len,
        },
    };
    vsnd_io_queue(&h->io, &t->msg);
    return t;
}

static void test_play_in_order_within_the_burst(void)
{
    g_autofree Home *h = home_new(VIRTIO_SND_D_OUTPUT);
    size_t i;

    vsnd_io_start(&h->io, T0);
    give(h, 1920, 0);
    give(h, 1920, 1920 % 256);
    give(h, 1920, 3840 % 256);
    /* The audio takes everything: the burst, half the buffer, goes. */
    h->take = SIZE_MAX;
    vsnd_io_play(&h->io, 100000, T0);
    g_assert_cmpuint(h->played_len, ==, 3840);
    /* Done and not the last given: the first two went back. */
    g_assert_cmpuint(h->completions, ==, 2);
    g_assert_true(h->completed[0] == &h->msgs[0]);
    g_assert_cmpuint(h->used[0], ==, sizeof(struct virtio_snd_pcm_status));
    g_assert_cmpuint(GUINT32_FROM_LE(h->msgs[0].status.status), ==,
                     VIRTIO_SND_S_OK);
    /* 20 ms later the clock has given 20 ms and 1 % more. */
    vsnd_io_play(&h->io, 100000, T0 + 20 * MS);
    g_assert_cmpuint(h->played_len, ==, 3 * 1920);
    for (i = 0; i < h->played_len; i++) {
        g_assert_cmpuint(h->played[i], ==, (uint8_t)i);
    }
    g_assert_cmpuint(h->completions, ==, 3);
    g_assert_cmpuint(h->xruns, ==, 0);
}

static void test_bounded_audio_gets_the_whole_buffer(void)
{
    g_autofree Home *h = home_new(VIRTIO_SND_D_OUTPUT);

    h->io.audio_bounded = true;
    vsnd_io_start(&h->io, T0);
    give(h, 1920, 0);
    give(h, 1920, 0);
    give(h, 1920, 0);
    give(h, 1920, 0);
    h->take = SIZE_MAX;
    vsnd_io_play(&h->io, 100000, T0);
    g_assert_cmpuint(h->played_len, ==, 4 * 1920);
}

static void test_play_takes_what_the_audio_takes(void)
{
    g_autofree Home *h = home_new(VIRTIO_SND_D_OUTPUT);

    vsnd_io_start(&h->io, T0);
    give(h, 1920, 0);
    give(h, 1920, 0);
    h->take = 1000;
    vsnd_io_play(&h->io, 1000, T0);
    g_assert_cmpuint(h->played_len, ==, 1000);
    g_assert_cmpuint(h->msgs[0].msg.done, ==, 1000);
    g_assert_cmpuint(h->completions, ==, 0);
    /* Room offered but not taken: nothing is lost. */
    h->take = 920;
    vsnd_io_play(&h->io, 4000, T0 + 1 * MS);
    g_assert_cmpuint(h->played_len, ==, 1920);
    g_assert_cmpuint(h->completions, ==, 1);
}

static void test_last_playback_message_waits(void)
{
    g_autofree Home *h = home_new(VIRTIO_SND_D_OUTPUT);

    vsnd_io_start(&h->io, T0);
    h->take = SIZE_MAX;
    give(h, 1920, 0);
    vsnd_io_play(&h->io, 8000, T0);
    /* The first return of the stream goes at once. */
    g_assert_cmpuint(h->completions, ==, 1);
    give(h, 1920, 0);
    vsnd_io_play(&h->io, 8000, T0 + 2 * MS);
    g_assert_cmpuint(h->played_len, ==, 3840);
    /* Played, but the last message given: it waits for a period. */
    g_assert_cmpuint(h->completions, ==, 1);
    vsnd_io_play(&h->io, 8000, T0 + 9 * MS);
    g_assert_cmpuint(h->completions, ==, 1);
    vsnd_io_play(&h->io, 8000, T0 + 10 * MS);
    g_assert_cmpuint(h->completions, ==, 2);
}

static void test_playback_latency_is_what_the_audio_holds(void)
{
    g_autofree Home *h = home_new(VIRTIO_SND_D_OUTPUT);

    vsnd_io_start(&h->io, T0);
    h->take = SIZE_MAX;
    give(h, 960, 0);
    give(h, 960, 0);
    /* The audio is empty with 6000 bytes of room; 960 go in. */
    vsnd_io_play(&h->io, 6000, T0);
    g_assert_cmpuint(h->completions, ==, 1);
    g_assert_cmpuint(h->latency[0], ==, 960);
    /* A period on, it has played some: 600 are left; nothing moves. */
    vsnd_io_play(&h->io, 5400, T0 + 10 * MS);
    g_assert_cmpuint(h->completions, ==, 2);
    g_assert_cmpuint(h->latency[1], ==, 600);

    /* An audio that says what it holds is taken at its word. */
    vsnd_io_init(&h->io, &home_ops_held);
    vsnd_io_start(&h->io, T0);
    give(h, 960, 0);
    give(h, 960, 0);
    h->held = 1234;
    vsnd_io_play(&h->io, 6000, T0 + 20 * MS);
    g_assert_cmpuint(h->completions, ==, 3);
    g_assert_cmpuint(h->latency[2], ==, 1234);
}

static void test_xrun_after_a_period_once(void)
{
    g_autofree Home *h = home_new(VIRTIO_SND_D_OUTPUT);

    h->io.pcm.params.features = 1u << VIRTIO_SND_PCM_F_EVT_XRUNS;
    vsnd_io_start(&h->io, T0);
    h->take = SIZE_MAX;
    vsnd_io_play(&h->io, 4000, T0);
    vsnd_io_play(&h->io, 4000, T0 + 9 * MS);
    g_assert_cmpuint(h->xruns, ==, 0);
    vsnd_io_play(&h->io, 4000, T0 + 10 * MS);
    vsnd_io_play(&h->io, 4000, T0 + 30 * MS);
    g_assert_cmpuint(h->xruns, ==, 1);
    /* A message ends it; running dry again is another xrun. */
    give(h, 192, 0);
    g_assert_false(h->io.starved);
    vsnd_io_play(&h->io, 4000, T0 + 31 * MS);
    vsnd_io_play(&h->io, 4000, T0 + 50 * MS);
    g_assert_cmpuint(h->xruns, ==, 2);
    /* A stopped stream has none. */
    vsnd_io_set_active(&h->io, false, T0 + 60 * MS);
    h->io.pcm.state = VSND_PCM_STATE_STOPPED;
    vsnd_io_play(&h->io, 4000, T0 + 60 * MS);
    vsnd_io_play(&h->io, 4000, T0 + 100 * MS);
    g_assert_cmpuint(h->xruns, ==, 2);
}

static void test_capture_fills_and_spaces_returns(void)
{
    g_autofree Home *h = home_new(VIRTIO_SND_D_INPUT);
    size_t i;

    vsnd_io_start(&h->io, T0);
    give(h, 1920, 0);
    give(h, 1920, 0);
    h->have = 3840;
    vsnd_io_record(&h->io, 3840, T0);
    /* Both are full; the second waits 9/10 of a period. */
    g_assert_cmpuint(h->completions, ==, 1);
    g_assert_cmpuint(h->used[0], ==, 1920 + sizeof(h->msgs[0].status));
    g_assert_cmpint(h->wake_due, ==, T0 + 9 * MS);
    g_assert_cmpuint(h->captured, ==, 3840);
    for (i = 0; i < 1920; i++) {
        g_assert_cmpuint(h->msgs[0].data[i], ==, (uint8_t)i);
    }
    /* Its latency: what the audio still had, the next message's. */
    g_assert_cmpuint(h->latency[0], ==, 1920);
    /* Only a running stream's wakes count. */
    h->io.pcm.state = VSND_PCM_STATE_STOPPED;
    vsnd_io_wake(&h->io, T0 + 9 * MS);
    g_assert_cmpuint(h->completions, ==, 1);
    h->io.pcm.state = VSND_PCM_STATE_RUNNING;
    vsnd_io_wake(&h->io, T0 + 9 * MS);
    g_assert_cmpuint(h->completions, ==, 2);
    g_assert_cmpuint(h->msgs[1].data[0], ==, (uint8_t)1920);
}

static void test_capture_lead_is_silence(void)
{
    g_autofree Home *h = home_new(VIRTIO_SND_D_INPUT);
    TestMsg *t;
    size_t i;

    h->io.pcm.params.format = VIRTIO_SND_PCM_FMT_U8;
    h->io.pcm.params.period_bytes = 480;        /* 5 ms of U8 stereo */
    h->io.pcm.params.buffer_bytes = 1920;
    vsnd_io_start(&h->io, T0);
    t = give(h, 480, 0);
    /* The audio has nothing yet: 5 ms in, 5 ms of silence are owed. */
    vsnd_io_record(&h->io, VSND_IO_AVAIL_ANY, T0 + 5 * MS);
    g_assert_cmpuint(h->completions, ==, 1);
    for (i = 0; i < 480; i++) {
        g_assert_cmpuint(t->data[i], ==, 0x80);
    }
    /* Once the audio delivers, no more silence. */
    t = give(h, 480, 0);
    h->have = 10;
    vsnd_io_record(&h->io, VSND_IO_AVAIL_ANY, T0 + 8 * MS);
    g_assert_false(h->io.lead.on);
    g_assert_cmpuint(t->msg.done, ==, 10);
    vsnd_io_record(&h->io, VSND_IO_AVAIL_ANY, T0 + 20 * MS);
    g_assert_cmpuint(t->msg.done, ==, 10);
}

static void test_capture_overrun_drops(void)
{
    g_autofree Home *h = home_new(VIRTIO_SND_D_INPUT);
    TestMsg *t;

    vsnd_io_start(&h->io, T0);
    vsnd_pcm_lead_end(&h->io.lead);
    h->have = 5000;
    vsnd_io_record(&h->io, 5000, T0);
    g_assert_cmpuint(h->xruns, ==, 0);
    g_assert_cmpuint(h->have, ==, 5000);
    vsnd_io_record(&h->io, 5000, T0 + 10 * MS);
    g_assert_cmpuint(h->xruns, ==, 1);
    g_assert_cmpuint(h->have, ==, 0);
    g_assert_cmpuint(h->dropped, ==, 5000);
    /* The next message gets what is recorded after the gap. */
    t = give(h, 100, 0);
    h->have = 100;
    vsnd_io_record(&h->io, 100, T0 + 11 * MS);
    g_assert_cmpuint(t->data[0], ==, (uint8_t)5000);
}

static void test_capture_overrun_ends_the_lead(void)
{
    g_autofree Home *h = home_new(VIRTIO_SND_D_INPUT);
    TestMsg *t;

    vsnd_io_start(&h->io, T0);
    h->have = 5000;
    vsnd_io_record(&h->io, VSND_IO_AVAIL_ANY, T0);
    vsnd_io_record(&h->io, VSND_IO_AVAIL_ANY, T0 + 30 * MS);
    g_assert_cmpuint(h->dropped, ==, 5000);
    /* The audio delivered: a moment it has nothing owes no silence. */
    g_assert_false(h->io.lead.on);
    t = give(h, 1920, 0);
    vsnd_io_record(&h->io, VSND_IO_AVAIL_ANY, T0 + 31 * MS);
    g_assert_cmpuint(t->msg.done, ==, 0);
}

static void test_whole_frames_only(void)
{
    g_autofree Home *h = home_new(VIRTIO_SND_D_OUTPUT);

    vsnd_io_start(&h->io, T0);
    h->take = SIZE_MAX;
    give(h, 1922, 0);                   /* a frame and a half too many */
    give(h, 4, 0);
    vsnd_io_play(&h->io, 1921, T0);
    g_assert_cmpuint(h->played_len, ==, 1920);
    g_assert_cmpuint(h->completions, ==, 1);
    g_assert_cmpuint(h->msgs[0].msg.done, ==, 1920);
}

static void test_release_returns_all(void)
{
    g_autofree Home *h = home_new(VIRTIO_SND_D_INPUT);

    vsnd_io_start(&h->io, T0);
    vsnd_pcm_lead_end(&h->io.lead);
    give(h, 1920, 0);
    give(h, 1920, 0);
    h->have = 100;
    vsnd_io_record(&h->io, 100, T0);
    vsnd_io_return_all(&h->io);
    g_assert_cmpuint(h->completions, ==, 2);
    g_assert_cmpuint(h->used[0], ==, 100 + sizeof(h->msgs[0].status));
    g_assert_cmpuint(h->used[1], ==, sizeof(h->msgs[1].status));
    g_assert_null(vsnd_io_pop(&h->io));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vsnd/io/play-in-order-within-the-burst",
                    test_play_in_order_within_the_burst);
    g_test_add_func("/vsnd/io/bounded-audio-gets-the-whole-buffer",
                    test_bounded_audio_gets_the_whole_buffer);
    g_test_add_func("/vsnd/io/play-takes-what-the-audio-takes",
                    test_play_takes_what_the_audio_takes);
    g_test_add_func("/vsnd/io/last-playback-message-waits",
                    test_last_playback_message_waits);
    g_test_add_func("/vsnd/io/playback-latency",
                    test_playback_latency_is_what_the_audio_holds);
    g_test_add_func("/vsnd/io/xrun-after-a-period-once",
                    test_xrun_after_a_period_once);
    g_test_add_func("/vsnd/io/capture-fills-and-spaces-returns",
                    test_capture_fills_and_spaces_returns);
    g_test_add_func("/vsnd/io/capture-lead-is-silence",
                    test_capture_lead_is_silence);
    g_test_add_func("/vsnd/io/capture-overrun-drops",
                    test_capture_overrun_drops);
    g_test_add_func("/vsnd/io/capture-overrun-ends-the-lead",
                    test_capture_overrun_ends_the_lead);
    g_test_add_func("/vsnd/io/whole-frames-only", test_whole_frames_only);
    g_test_add_func("/vsnd/io/release-returns-all", test_release_returns_all);
    return g_test_run();
}
