/*
 * Virtio sound device: a PCM stream's I/O messages, independent of its
 * home.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"

#include "virtio-snd-io.h"

/* Bytes moved between guest memory and the audio per copy. */
#define VSND_IO_CHUNK 4096

static bool vsnd_io_is_output(const VSndIoStream *io)
{
    return io->pcm.caps.direction == VIRTIO_SND_D_OUTPUT;
}

/*
 * The audio moves whole frames only: copies are cut to whole frames (a
 * cut frame would end each copy early), and a message with less than a
 * frame left is done, as nothing will ever take or fill that rest.
 */
static size_t vsnd_io_frame_bytes(const VSndIoStream *io)
{
    return MAX(vsnd_pcm_frame_bytes(&io->pcm.params), 1);
}

static VSndIoMsg *vsnd_io_first(VSndIoStream *io)
{
    GList *l = g_queue_peek_head_link(&io->msgs);

    return l ? l->data : NULL;
}

void vsnd_io_init(VSndIoStream *io, const VSndIoOps *ops)
{
    io->ops = ops;
    g_queue_init(&io->msgs);
    io->empty_since_ns = -1;
}

void vsnd_io_queue(VSndIoStream *io, VSndIoMsg *m)
{
    m->link = (GList) { .data = m };
    g_queue_push_tail_link(&io->msgs, &m->link);
    io->starved = false;
    io->empty_since_ns = -1;
}

VSndIoMsg *vsnd_io_pop(VSndIoStream *io)
{
    GList *l = g_queue_pop_head_link(&io->msgs);

    return l ? l->data : NULL;
}

/*
 * latency_bytes of the message going back now, in the guest's bytes: the
 * driver adds it to what it still counts as queued in the device (the
 * messages not yet returned) to report the PCM delay.
 *
 * Playback: what the audio holds of the stream, as the home says
 * (held()) or else its room when empty less its room now (@room). Both
 * are the audio's own counts in the guest's bytes, so they stay right
 * when it resamples or converts.
 *
 * Capture: what was captured and not delivered with this message: what
 * the audio still had for us at its last run (the later messages are
 * filled only once this one has gone back, so they hold nothing yet).
 */
static uint32_t vsnd_io_latency(VSndIoStream *io, size_t room)
{
    size_t held;

    if (!vsnd_io_is_output(io)) {
        held = io->in_left;
    } else if (io->ops->held) {
        held = io->ops->held(io);
    } else {
        held = io->out_room_max > room ? io->out_room_max - room : 0;
    }
    return MIN(held, UINT32_MAX);
}

/*
 * Give the first message back with @status. The used length is what the
 * device wrote: the status, and for capture the frames before it.
 */
static void vsnd_io_return_first(VSndIoStream *io, uint32_t status,
                                 uint32_t latency)
{
    VSndIoMsg *m = vsnd_io_pop(io);
    size_t len = vsnd_xfer_write_status(m->in_sg, m->in_num, &m->xfer,
                                        status, latency);

    if (len && !vsnd_io_is_output(io)) {
        len += m->done;
    }
    io->ops->complete(io, m, len, status, latency);
}

void vsnd_io_return_all(VSndIoStream *io)
{
    while (!g_queue_is_empty(&io->msgs)) {
        vsnd_io_return_first(io, VIRTIO_SND_S_OK, 0);
    }
}

void vsnd_io_new_audio(VSndIoStream *io)
{
    io->out_room_max = 0;
    io->in_left = 0;
}

void vsnd_io_set_active(VSndIoStream *io, bool on, int64_t now_ns)
{
    io->starved = false;
    io->empty_since_ns = -1;
    if (on) {
        vsnd_pcm_pacer_start(&io->pacer, &io->pcm.params, now_ns);
        if (io->audio_bounded) {
            vsnd_pcm_pacer_set_burst(&io->pacer, io->pcm.params.buffer_bytes);
        }
    } else {
        vsnd_pcm_lead_end(&io->lead);
    }
}

void vsnd_io_start(VSndIoStream *io, int64_t now_ns)
{
    if (!vsnd_io_is_output(io)) {
        vsnd_pcm_lead_start(&io->lead, &io->pcm.params, now_ns);
    }
    vsnd_io_set_active(io, true, now_ns);
}

/*
 * A running stream has no message to move audio with: playback ran out of
 * data, capture has nowhere to put what was recorded. Tell the home once,
 * until the guest gives a message again. Returns whether it was told.
 */
static bool vsnd_io_xrun(VSndIoStream *io, int64_t now_ns)
{
    uint64_t rate = vsnd_pcm_bytes_per_second(&io->pcm.params);
    int64_t grace;

    if (io->starved || io->pcm.state != VSND_PCM_STATE_RUNNING || !rate) {
        return io->starved;
    }
    /*
     * Give the guest one period to send more: at the natural end of a
     * sound its STOP comes right after the last message returns, and that
     * is no xrun (older Linux drivers would turn the event into one); a
     * capture buffer comes back a moment after the guest read it, while
     * the audio waits in the backend.
     */
    grace = (int64_t)MIN((uint64_t)io->pcm.params.period_bytes *
                         1000000000ULL / rate, INT64_MAX);
    if (io->empty_since_ns < 0) {
        io->empty_since_ns = now_ns;
    }
    if (now_ns - io->empty_since_ns < grace) {
        return false;
    }
    io->starved = true;
    io->ops->xrun(io);
    return true;
}

/* Playback: move up to @want bytes of @m to the audio; returns how many. */
static size_t vsnd_io_play_chunk(VSndIoStream *io, VSndIoMsg *m,
                                 uint8_t *buf, size_t want)
{
    size_t got = vsnd_iov_to_buf(m->out_sg, m->out_num,
                                 VSND_XFER_TX_DATA_OFFSET + m->done,
                                 buf, want);

    return got ? io->ops->play(io, buf, got) : 0;
}

/* The audio delivered: no more silence is owed from START. */
static void vsnd_io_lead_over(VSndIoStream *io)
{
    if (!io->lead.on) {
        return;
    }
    if (io->ops->lead_ended) {
        io->ops->lead_ended(io, io->lead.given);
    }
    vsnd_pcm_lead_end(&io->lead);
}

/*
 * Capture: move up to @want bytes from the audio into @m; until the audio
 * delivers, the lead's silence.
 */
static size_t vsnd_io_capture_chunk(VSndIoStream *io, VSndIoMsg *m,
                                    uint8_t *buf, size_t want,
                                    int64_t now_ns)
{
    size_t got, written;

    vsnd_pcm_fill_silence(&io->pcm.params, buf, want);
    got = io->ops->capture(io, buf, want);
    if (got) {
        vsnd_io_lead_over(io);
    } else {
        got = vsnd_pcm_lead_take(&io->lead, now_ns, want);
    }
    written = vsnd_iov_from_buf(m->in_sg, m->in_num, m->done, buf, got);
    if (io->ops->captured && written) {
        io->ops->captured(io, m, m->done, written);
    }
    return got;
}

/*
 * When the finished message @m may go back to the guest (INT64_MIN: now).
 * Linux reads its position modulo the buffer: two returns it handles in
 * one go that complete a whole two-period buffer look like no progress at
 * all, and the stream stalls. So the last playback message the guest has
 * given waits until the guest gives another one (having seen the previous
 * return) or a period has passed since that return. Capture periods fill
 * in whole backend cycles, so they may end a short cycle apart, leaving
 * the guest a fraction of a period to read one before its buffer
 * overruns: every capture message waits until 9/10 of a period after the
 * previous one, while the audio waits in the backend.
 */
static int64_t vsnd_io_return_due(VSndIoStream *io, VSndIoMsg *m)
{
    bool capture = !vsnd_io_is_output(io);

    if (!capture && m->link.next) {
        return INT64_MIN;
    }
    return vsnd_pcm_return_due_ns(&io->pcm.params, capture,
                                  io->last_return_ns);
}

/*
 * Move audio between the stream's messages and its audio, which has room
 * for (or holds) @avail bytes, a chunk of whole frames at a time, within
 * the pacer's credit: an audio backend that takes or hands over a whole
 * graph cycle at once must not complete the guest's whole buffer in one
 * go, which Linux reads as no progress. A message goes back once less
 * than a frame of it is left. Returns what is left of @avail.
 */
static size_t vsnd_io_transfer(VSndIoStream *io, size_t avail,
                               int64_t now_ns)
{
    bool out = vsnd_io_is_output(io);
    uint8_t buf[VSND_IO_CHUNK];
    size_t frame = vsnd_io_frame_bytes(io);
    size_t chunk = sizeof(buf) - sizeof(buf) % frame;
    uint64_t room = vsnd_pcm_pacer_room(&io->pacer, now_ns);
    VSndIoMsg *m;

    while ((m = vsnd_io_first(io))) {
        size_t want, moved;

        if (m->xfer.data_len - m->done < frame) {
            int64_t due = vsnd_io_return_due(io, m);

            if (due > now_ns) {
                /* Playback waits for the home's next run; capture, a wake. */
                if (!out) {
                    io->ops->wake_at(io, due);
                }
                break;
            }
            vsnd_io_return_first(io, VIRTIO_SND_S_OK,
                                 vsnd_io_latency(io, avail));
            io->last_return_ns = now_ns;
            continue;
        }
        if (!avail || !room) {
            break;
        }
        want = MIN(MIN(m->xfer.data_len - m->done, chunk), MIN(avail, room));
        want -= want % frame;
        if (!want) {
            break;                      /* the audio has less than a frame */
        }
        moved = out ? vsnd_io_play_chunk(io, m, buf, want)
                    : vsnd_io_capture_chunk(io, m, buf, want, now_ns);
        m->done += moved;
        avail -= moved;
        if (!out) {
            io->in_left = io->in_left > moved ? io->in_left - moved : 0;
        }
        room -= moved;
        vsnd_pcm_pacer_consume(&io->pacer, moved);
        if (m->xfer.data_len - m->done >= frame && moved < want) {
            break;
        }
    }
    return avail;
}

void vsnd_io_play(VSndIoStream *io, size_t room, int64_t now_ns)
{
    io->out_room_max = MAX(io->out_room_max, room);
    room = vsnd_io_transfer(io, room, now_ns);
    if (g_queue_is_empty(&io->msgs) && room) {
        vsnd_io_xrun(io, now_ns);
    }
}

/*
 * Capture overrun: drop the @avail bytes the audio holds, as a sound card
 * overwrites its full ring, so that the guest's next message gets what
 * is recorded then rather than audio from before the gap.
 */
static void vsnd_io_capture_drop(VSndIoStream *io, size_t avail)
{
    uint8_t buf[VSND_IO_CHUNK];
    size_t frame = vsnd_io_frame_bytes(io);
    size_t chunk = sizeof(buf) - sizeof(buf) % frame;
    uint64_t dropped = 0;
    size_t got;

    while (avail) {
        vsnd_pcm_fill_silence(&io->pcm.params, buf, MIN(avail, chunk));
        got = io->ops->capture(io, buf, MIN(avail, chunk));
        if (!got) {
            break;
        }
        avail -= got;
        dropped += got;
    }
    if (dropped) {
        vsnd_io_lead_over(io);
    }
    if (io->ops->dropped) {
        io->ops->dropped(io, dropped);
    }
}

void vsnd_io_record(VSndIoStream *io, size_t avail, int64_t now_ns)
{
    bool known = avail != VSND_IO_AVAIL_ANY;

    io->in_left = known ? avail : 0;
    avail = vsnd_io_transfer(io, avail, now_ns);
    if (g_queue_is_empty(&io->msgs) && avail && vsnd_io_xrun(io, now_ns)) {
        /*
         * An audio that does not say what it holds is read until it has
         * nothing, but for no more than a second of the stream: one that
         * always has more must not hold up the home's thread.
         */
        vsnd_io_capture_drop(io, known ? avail :
                             vsnd_pcm_bytes_per_second(&io->pcm.params));
        io->in_left = 0;
    }
}

void vsnd_io_wake(VSndIoStream *io, int64_t now_ns)
{
    if (io->pcm.state == VSND_PCM_STATE_RUNNING) {
        vsnd_io_transfer(io, 0, now_ns);
    }
}
