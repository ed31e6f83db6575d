/*
 * Virtio sound device: the control queue, independent of its home.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"

#include "virtio-snd-core.h"

/* HDA pin default configuration: rear 1/8" jacks, line out and mic. */
#define VSND_JACK_DEFCONF_OUT 0x01014010        /* green Line Out */
#define VSND_JACK_DEFCONF_IN  0x01a19020        /* pink Mic In */
/* HDA pin capabilities: presence detect, and output or input. */
#define VSND_JACK_CAPS_OUT ((1 << 2) | (1 << 4))
#define VSND_JACK_CAPS_IN  ((1 << 2) | (1 << 5))

/* Jack j is an output for even j, an input for odd j. */
static void vsnd_jack_info(uint32_t jack, struct virtio_snd_jack_info *info)
{
    bool out = !(jack & 1);

    memset(info, 0, sizeof(*info));
    info->hda_reg_defconf = GUINT32_TO_LE(out ? VSND_JACK_DEFCONF_OUT
                                              : VSND_JACK_DEFCONF_IN);
    info->hda_reg_caps = GUINT32_TO_LE(out ? VSND_JACK_CAPS_OUT
                                           : VSND_JACK_CAPS_IN);
    info->connected = 1;
}

/*
 * Channel map i has i / 2 + 1 channels and is for output for even i, input
 * for odd i: the positions vsnd_pcm_chmap_position() gives, the order in
 * which the PipeWire backend labels the channels of its streams.
 */
static void vsnd_chmap_info(uint32_t map, struct virtio_snd_chmap_info *info)
{
    unsigned int channels = map / 2 + 1, i;

    memset(info, 0, sizeof(*info));
    info->direction = map & 1 ? VIRTIO_SND_D_INPUT : VIRTIO_SND_D_OUTPUT;
    info->channels = channels;
    for (i = 0; i < channels; i++) {
        info->positions[i] = vsnd_pcm_chmap_position(channels, i);
    }
}

/* Answer JACK_INFO, PCM_INFO or CHMAP_INFO; returns the reply's length. */
static size_t vsnd_core_info(VSndCore *core, const struct iovec *in_sg,
                             unsigned int in_num, const VSndCtrlRequest *req)
{
    uint32_t i;

    for (i = 0; i < req->count; i++) {
        uint32_t id = req->id + i;
        union {
            struct virtio_snd_jack_info jack;
            struct virtio_snd_pcm_info pcm;
            struct virtio_snd_chmap_info chmap;
        } item;
        size_t len;

        switch (req->code) {
        case VIRTIO_SND_R_JACK_INFO:
            vsnd_jack_info(id, &item.jack);
            len = sizeof(item.jack);
            break;
        case VIRTIO_SND_R_PCM_INFO:
            vsnd_pcm_info_from_caps(&core->ops->pcm(core->opaque, id)->caps,
                                    &item.pcm);
            len = sizeof(item.pcm);
            break;
        default:
            vsnd_chmap_info(id, &item.chmap);
            len = sizeof(item.chmap);
            break;
        }
        vsnd_info_write_item(in_sg, in_num, req, i, &item, len);
    }
    return req->reply_len;
}

/* A lifecycle request: the state machine's leave, then the home's act. */
static uint32_t vsnd_core_pcm(VSndCore *core, const VSndCtrlRequest *req)
{
    VSndPcmStream *pcm = core->ops->pcm(core->opaque, req->id);
    VSndPcmState next;
    uint32_t status = vsnd_pcm_request_check(pcm, req, &next);

    if (status == VIRTIO_SND_S_OK) {
        status = core->ops->pcm_act(core->opaque, req->id, req, next);
    }
    if (status != VIRTIO_SND_S_OK) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "virtio-snd: request 0x%x refused for stream %u in "
                      "state %s\n", req->code, req->id,
                      vsnd_pcm_state_name(pcm->state));
        return status;
    }
    pcm->state = next;
    return status;
}

/* A CTL_* request; the home hears of a value the guest changed. */
static uint32_t vsnd_core_ctl(VSndCore *core, const VSndCtrlRequest *req,
                              const struct iovec *out_sg, unsigned int out_num,
                              const struct iovec *in_sg, unsigned int in_num,
                              size_t *reply_len)
{
    const char *why;
    uint32_t changed;
    uint32_t status = vsnd_ctl_request(core->ctls, req, out_sg, out_num,
                                       in_sg, in_num, reply_len, &changed,
                                       &why);

    if (status != VIRTIO_SND_S_OK) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "virtio-snd: request 0x%x refused for control %u: %s\n",
                      req->code, req->id, why ? why : "refused");
        return status;
    }
    if (changed != UINT32_MAX) {
        core->ops->ctl_changed(core->opaque, changed);
    }
    return status;
}

/* Carry out a well-formed request; *@reply_len is set for replies with data. */
static uint32_t vsnd_core_execute(VSndCore *core, const VSndCtrlRequest *req,
                                  const struct iovec *out_sg,
                                  unsigned int out_num,
                                  const struct iovec *in_sg,
                                  unsigned int in_num, size_t *reply_len)
{
    switch (req->code) {
    case VIRTIO_SND_R_JACK_INFO:
    case VIRTIO_SND_R_PCM_INFO:
    case VIRTIO_SND_R_CHMAP_INFO:
        *reply_len = vsnd_core_info(core, in_sg, in_num, req);
        return VIRTIO_SND_S_OK;
    case VIRTIO_SND_R_PCM_SET_PARAMS:
    case VIRTIO_SND_R_PCM_PREPARE:
    case VIRTIO_SND_R_PCM_RELEASE:
    case VIRTIO_SND_R_PCM_START:
    case VIRTIO_SND_R_PCM_STOP:
        return vsnd_core_pcm(core, req);
    case VIRTIO_SND_R_CTL_INFO ... VIRTIO_SND_R_CTL_TLV_COMMAND:
        /* vsnd_ctrl_parse() lets these through only if negotiated. */
        return vsnd_core_ctl(core, req, out_sg, out_num, in_sg, in_num,
                             reply_len);
    default:
        /* JACK_REMAP: no jack offers VIRTIO_SND_JACK_F_REMAP. */
        return VIRTIO_SND_S_NOT_SUPP;
    }
}

size_t vsnd_core_ctrl(VSndCore *core,
                      const struct iovec *out_sg, unsigned int out_num,
                      const struct iovec *in_sg, unsigned int in_num,
                      VSndCtrlRequest *req, uint32_t *status)
{
    size_t in_len = vsnd_iov_size(in_sg, in_num);
    size_t reply_len = sizeof(struct virtio_snd_hdr);

    *status = vsnd_ctrl_parse(&core->counts, out_sg, out_num, in_len, req);
    if (*status == VIRTIO_SND_S_OK) {
        *status = vsnd_core_execute(core, req, out_sg, out_num, in_sg, in_num,
                                    &reply_len);
    } else {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "virtio-snd: malformed control request 0x%x\n",
                      req->code);
    }
    if (*status != VIRTIO_SND_S_OK) {
        reply_len = sizeof(struct virtio_snd_hdr);
    }
    if (!vsnd_ctrl_write_status(in_sg, in_num, *status)) {
        reply_len = 0;              /* nowhere to put the status */
    }
    return reply_len;
}

uint32_t vsnd_core_xfer(VSndCore *core, uint32_t dir,
                        const struct iovec *out_sg, unsigned int out_num,
                        const struct iovec *in_sg, unsigned int in_num,
                        VSndXfer *xfer, size_t *used)
{
    uint32_t status;

    status = vsnd_xfer_parse(dir, core->counts.streams, out_sg, out_num,
                             vsnd_iov_size(in_sg, in_num), xfer);
    if (status == VIRTIO_SND_S_OK) {
        status = vsnd_xfer_check_stream(
            dir, core->ops->pcm(core->opaque, xfer->stream_id));
    }
    if (status != VIRTIO_SND_S_OK) {
        qemu_log_mask(LOG_GUEST_ERROR,
                      "virtio-snd: bad %s message for stream %u\n",
                      dir == VIRTIO_SND_D_OUTPUT ? "tx" : "rx",
                      xfer->stream_id);
        *used = vsnd_xfer_write_status(in_sg, in_num, xfer, status, 0);
    }
    return status;
}
