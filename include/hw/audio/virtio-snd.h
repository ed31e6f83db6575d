/*
 * Virtio sound device (VIRTIO 1.2, 5.14): device state.
 *
 * The QEMU side of the device is hw/audio/virtio-snd.c; what does not need
 * QEMU (request parsing, the PCM lifecycle) is in virtio-snd-req.c and
 * virtio-snd-pcm.c beside it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_AUDIO_VIRTIO_SND_H
#define HW_AUDIO_VIRTIO_SND_H

#include "hw/audio/virtio-snd-compat.h"
#include "hw/virtio/virtio.h"
#include "qemu/queue.h"
#include "standard-headers/linux/virtio_snd.h"

#define TYPE_VIRTIO_SND "virtio-sound-device"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOSound, VIRTIO_SND)

#define VIRTIO_SND_QUEUE_COUNT VIRTIO_SND_VQ_MAX

/* The most streams, jacks and channel maps a device can be given. */
#define VIRTIO_SND_STREAMS_MAX 10
#define VIRTIO_SND_JACKS_MAX 8
#define VIRTIO_SND_CHMAPS_MAX 16

typedef struct VirtIOSoundStream VirtIOSoundStream;
typedef struct VirtIOSoundDone VirtIOSoundDone;

/* What the device was configured with, as a migration stream carries it. */
typedef struct VirtIOSoundMigConfig {
    uint32_t streams;
    uint32_t jacks;
    uint32_t chmaps;
    uint32_t controls;
} VirtIOSoundMigConfig;
struct VSndCtls;                        /* hw/audio/virtio-snd-ctl.h */

struct VirtIOSound {
    VirtIODevice parent_obj;

    VSndAudioCard card;
    VirtQueue *queues[VIRTIO_SND_QUEUE_COUNT];

    /* Properties: what the configuration space announces. */
    uint32_t streams;
    uint32_t jacks;
    uint32_t chmaps;
    bool ctls;                          /* offer VIRTIO_SND_F_CTLS */

    VirtIOSoundStream *stream;          /* [streams] */
    struct VSndCtls *ctl_table;         /* the control elements, if ctls */

    /* Events waiting for a buffer on the event queue. */
    struct virtio_snd_event *events;    /* ring of VIRTIO_SND_EVENTS_MAX */
    unsigned int events_head;
    unsigned int events_count;

    /*
     * Used elements not yet handed back: only a bottom half guarded by the
     * transport's re-entrancy guard writes them to the guest, never the
     * audio layer's callbacks (see virtio_snd_complete()).
     */
    QSIMPLEQ_HEAD(, VirtIOSoundDone) done;
    QEMUBH *done_bh;
    MemReentrancyGuard *guard;          /* the transport's */
    uint32_t resets;                    /* device resets so far */
    VMChangeStateEntry *vm_state;

    /* Migration: the source's configuration, checked against ours. */
    VirtIOSoundMigConfig mig_config;
};

#endif /* HW_AUDIO_VIRTIO_SND_H */
