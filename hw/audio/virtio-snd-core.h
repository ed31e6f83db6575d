/*
 * Virtio sound device: its requests, independent of its home.
 *
 * Answers a control request (VIRTIO 1.2, 5.14.6) from its scatter lists:
 * the item information queries, the PCM lifecycle through the state
 * machine (virtio-snd-pcm.h) and the control elements (virtio-snd-ctl.h).
 * What a lifecycle request does to the audio (open a voice, start it,
 * hand back held messages) and what a changed control does, the device's
 * home decides through VSndCoreOps: QEMU's virtio-snd device, or a
 * vhost-user daemon. Nothing here touches a virtqueue: the caller pops
 * the element and hands it back with the length returned. The tx and rx
 * queues' messages are checked here too, before their stream
 * (virtio-snd-io.h) takes them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_AUDIO_VIRTIO_SND_CORE_H
#define HW_AUDIO_VIRTIO_SND_CORE_H

#include "virtio-snd-ctl.h"

typedef struct VSndCoreOps {
    /* Stream @stream's PCM state (caps, lifecycle state, parameters). */
    VSndPcmStream *(*pcm)(void *opaque, uint32_t stream);
    /*
     * Carry out @req (PCM_SET_PARAMS .. PCM_STOP) on @stream, which the
     * state machine allows, taking it to @next (set by the core after a
     * VIRTIO_SND_S_OK). Returns the status to answer with.
     */
    uint32_t (*pcm_act)(void *opaque, uint32_t stream,
                        const VSndCtrlRequest *req, VSndPcmState next);
    /* The guest changed control element @ctl's value. */
    void (*ctl_changed)(void *opaque, uint32_t ctl);
} VSndCoreOps;

typedef struct VSndCore {
    /* What the guest may address; @counts.ctls as negotiated. */
    VSndDeviceCounts counts;
    VSndCtls *ctls;                     /* NULL without control elements */
    const VSndCoreOps *ops;
    void *opaque;
} VSndCore;

/*
 * Answer the control request in @out_sg (device-readable) into @in_sg
 * (device-writable). Returns the used length to hand the element back
 * with (0 when the writable part cannot hold even the status); *@req is
 * the request as far as it could be read (req->code 0 if not even that)
 * and *@status the status answered. A request refused is logged as a
 * guest error.
 */
size_t vsnd_core_ctrl(VSndCore *core,
                      const struct iovec *out_sg, unsigned int out_num,
                      const struct iovec *in_sg, unsigned int in_num,
                      VSndCtrlRequest *req, uint32_t *status);

/*
 * Take an I/O message from the tx (@dir VIRTIO_SND_D_OUTPUT) or rx
 * (VIRTIO_SND_D_INPUT) queue: parse it and check it against the stream it
 * names. Returns VIRTIO_SND_S_OK with *@xfer set when that stream takes
 * it (vsnd_io_queue()); otherwise the message is answered: its status
 * written, the refusal logged as a guest error, and *@used the length to
 * hand it back with.
 */
uint32_t vsnd_core_xfer(VSndCore *core, uint32_t dir,
                        const struct iovec *out_sg, unsigned int out_num,
                        const struct iovec *in_sg, unsigned int in_num,
                        VSndXfer *xfer, size_t *used);

#endif /* HW_AUDIO_VIRTIO_SND_CORE_H */
