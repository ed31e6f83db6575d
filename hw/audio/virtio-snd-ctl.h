/*
 * Virtio sound device: control elements (VIRTIO_SND_F_CTLS), independent
 * of QEMU.
 *
 * Every PCM stream gets two controls, as ALSA mixers expect them:
 *
 *   id 2s      playback: "PCM Playback Volume"   capture: "Capture Volume"
 *   id 2s + 1  playback: "PCM Playback Switch"   capture: "Capture Switch"
 *
 * with `index` the stream's number among the streams of its direction (0
 * for the first playback stream, 0 for the first capture stream, 1 for
 * the second of either...), so (name, index) is unique.
 *
 * Volume: INTEGER, 2 values (left, right), 0 to VSND_CTL_VOLUME_MAX in
 * steps of 1, role VOLUME, access READ | WRITE | TLV_READ, with ALSA's
 * dB scale TLV  SNDRV_CTL_TLVT_DB_SCALE  min -60.00 dB, step 0.50 dB,
 * min is mute:
 *
 *     value v  ->  v == 0 ? mute : (v - 120) * 0.5 dB     (120 = 0 dB)
 *
 * The stream's voice gets QEMU's audio level (0..255) whose gain is
 * nearest to that, for our PipeWire backend's curve (pwaudio-volume.h:
 * linear = (level / 255)^3, i.e. 60 * log10(level / 255) dB):
 *
 *     level = round(255 * 10^(dB / 60))                   (mute: 0)
 *
 * which is within 0.5 dB of the control's dB (within 0.14 dB from -30 dB
 * up; values 1 and 2 both give level 26). The volume has two values
 * whatever the stream's channel count: vsnd_ctls_stream_volume() spreads
 * them over the stream's channels.
 *
 * Switch: BOOLEAN, 1 value, role MUTE, access READ | WRITE; 1 ("on") lets
 * the sound through, 0 mutes the stream, as ALSA's switches do.
 *
 * Defaults (at creation and device reset): volume 120 (0 dB) on both
 * channels, switch on.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_AUDIO_VIRTIO_SND_CTL_H
#define HW_AUDIO_VIRTIO_SND_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "standard-headers/linux/virtio_snd.h"
#include "virtio-snd-req.h"

/* Controls per stream, and which is which. */
#define VSND_CTLS_PER_STREAM 2

typedef enum VSndCtlKind {
    VSND_CTL_VOLUME = 0,
    VSND_CTL_SWITCH = 1,
} VSndCtlKind;

/* The volume's scale: value 0..120, -60 dB + 0.5 dB per step, 0 = mute. */
#define VSND_CTL_VOLUME_MAX 120
#define VSND_CTL_VOLUME_MIN_CDB (-6000)     /* hundredths of a dB */
#define VSND_CTL_VOLUME_STEP_CDB 50
#define VSND_CTL_VOLUME_CHANNELS 2

/* The most values one of our controls has. */
#define VSND_CTL_VALUES_MAX VSND_CTL_VOLUME_CHANNELS

/* ALSA's TLV types (<sound/tlv.h>), as the guest's alsa-lib reads them. */
#define VSND_TLVT_DB_SCALE 1
#define VSND_TLV_DB_SCALE_MUTE 0x10000

typedef struct VSndCtl {
    uint32_t stream;                /* the PCM stream it acts on */
    uint8_t direction;              /* the stream's, VIRTIO_SND_D_* */
    VSndCtlKind kind;
    uint32_t index;                 /* stream's number in its direction */
    uint32_t value[VSND_CTL_VALUES_MAX];
} VSndCtl;

typedef struct VSndCtls {
    uint32_t count;                 /* VSND_CTLS_PER_STREAM * streams */
    VSndCtl *ctl;
} VSndCtls;

/*
 * The controls of @streams streams whose directions (VIRTIO_SND_D_*) are
 * in @directions, at their defaults. Free with vsnd_ctls_free().
 */
VSndCtls *vsnd_ctls_new(const uint8_t *directions, uint32_t streams);
void vsnd_ctls_free(VSndCtls *ctls);

/* Every control back to its default (device reset). */
void vsnd_ctls_reset(VSndCtls *ctls);

/* The id of @stream's control of @kind. */
static inline uint32_t vsnd_ctl_id(uint32_t stream, VSndCtlKind kind)
{
    return stream * VSND_CTLS_PER_STREAM + kind;
}

/* Facts about control @id (below ctls->count). */
const char *vsnd_ctl_name(const VSndCtls *ctls, uint32_t id);
uint32_t vsnd_ctl_type(const VSndCtls *ctls, uint32_t id);    /* CTL_TYPE_* */
uint32_t vsnd_ctl_access(const VSndCtls *ctls, uint32_t id);  /* bit mask */
uint32_t vsnd_ctl_count(const VSndCtls *ctls, uint32_t id);   /* values */
uint32_t vsnd_ctl_max(const VSndCtls *ctls, uint32_t id);     /* min is 0 */

/*
 * Fill @buf with control @id's CTL_INFO item for a query of item size
 * @size (at least VSND_CTL_INFO_SIZE_PACKED), little-endian, in the
 * layout @size selects (see above). Returns the item's length, 92 or 96;
 * @buf must hold VSND_CTL_INFO_SIZE_ALIGNED bytes.
 */
size_t vsnd_ctl_info_item(const VSndCtls *ctls, uint32_t id, uint32_t size,
                          uint8_t *buf);

/*
 * Control @id's TLV, as CTL_TLV_READ returns it (a VSndCtlTlvHeader:
 * type, length, value, little-endian) in @buf, which must hold
 * VSND_CTL_TLV_MAX bytes; returns its length, 0 if the control has none.
 */
#define VSND_CTL_TLV_MAX 16
size_t vsnd_ctl_tlv(const VSndCtls *ctls, uint32_t id, uint8_t *buf);

/*
 * Check and store a CTL_WRITE value for control @id: each of its values
 * must be in range (0..max, 0 or 1 for a switch); the members past the
 * control's count are ignored. Returns VIRTIO_SND_S_OK, setting *@changed
 * if a value differs from before, or VIRTIO_SND_S_BAD_MSG (nothing
 * stored) with *@why saying what is wrong.
 */
uint32_t vsnd_ctl_write(VSndCtls *ctls, uint32_t id,
                        const struct virtio_snd_ctl_value *value,
                        bool *changed, const char **why);

/* Control @id's value for CTL_READ, little-endian, unused members 0. */
void vsnd_ctl_read(const VSndCtls *ctls, uint32_t id,
                   struct virtio_snd_ctl_value *value);

/*
 * Carry out a control element request (req->code CTL_*) that
 * vsnd_ctrl_parse() accepted, with the element's buffers: writes the
 * reply's payload after the status header and sets *@reply_len to the
 * used length of a successful reply (header included); the caller writes
 * the status. Returns the status: VIRTIO_SND_S_BAD_MSG, with *@why, for
 * what the spec forbids the driver or a value out of range: a request the
 * control's access does not allow (CTL_READ without READ and so on),
 * CTL_ENUM_ITEMS for a control that is not ENUMERATED, a CTL_WRITE value
 * out of range. *@changed is set to the id of a control whose value a
 * CTL_WRITE changed, else to UINT32_MAX.
 */
uint32_t vsnd_ctl_request(VSndCtls *ctls, const VSndCtrlRequest *req,
                          const struct iovec *out_sg, unsigned int out_num,
                          const struct iovec *in_sg, unsigned int in_num,
                          size_t *reply_len, uint32_t *changed,
                          const char **why);

/* Volume value -> hundredths of a dB; INT32_MIN for 0 (mute). */
int32_t vsnd_ctl_volume_cdb(uint32_t value);

/* Volume value -> QEMU's audio level 0..255 (see above). */
uint8_t vsnd_ctl_volume_level(uint32_t value);

/* What a stream's voice gets: QEMU's Volume, without QEMU's types. */
typedef struct VSndCtlStreamVolume {
    bool mute;
    uint32_t channels;
    uint8_t level[VSND_PCM_CHANNELS_MAX];
} VSndCtlStreamVolume;

/*
 * The levels and mute for @stream's voice with @channels channels (1 to
 * VSND_PCM_CHANNELS_MAX; 0, before any parameters, is taken as 2). Each
 * channel takes the left or right value by its position in the device's
 * channel maps (FL FR RL RR FC LFE SL SR; FL FR FC for three): left ones
 * the left value, right ones the right value; mono, front center and LFE
 * the mean of the two (rounded up).
 */
void vsnd_ctls_stream_volume(const VSndCtls *ctls, uint32_t stream,
                             uint32_t channels, VSndCtlStreamVolume *out);

#endif /* HW_AUDIO_VIRTIO_SND_CTL_H */
