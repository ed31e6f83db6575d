/*
 * Virtio sound device: control elements (VIRTIO_SND_F_CTLS), independent
 * of QEMU. See virtio-snd-ctl.h for the controls and their scales.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"

#include <math.h>

#include "virtio-snd-ctl.h"

#define ACCESS(bit) (1u << VIRTIO_SND_CTL_ACCESS_##bit)

VSndCtls *vsnd_ctls_new(const uint8_t *directions, uint32_t streams)
{
    VSndCtls *ctls = g_new0(VSndCtls, 1);
    uint32_t per_dir[2] = { 0, 0 };
    uint32_t s, k;

    ctls->count = streams * VSND_CTLS_PER_STREAM;
    ctls->ctl = g_new0(VSndCtl, ctls->count);
    for (s = 0; s < streams; s++) {
        uint8_t dir = directions[s] == VIRTIO_SND_D_INPUT ?
                      VIRTIO_SND_D_INPUT : VIRTIO_SND_D_OUTPUT;

        for (k = 0; k < VSND_CTLS_PER_STREAM; k++) {
            VSndCtl *c = &ctls->ctl[vsnd_ctl_id(s, k)];

            c->stream = s;
            c->direction = dir;
            c->kind = k;
            c->index = per_dir[dir];
        }
        per_dir[dir]++;
    }
    vsnd_ctls_reset(ctls);
    return ctls;
}

void vsnd_ctls_free(VSndCtls *ctls)
{
    if (ctls) {
        g_free(ctls->ctl);
        g_free(ctls);
    }
}

void vsnd_ctls_reset(VSndCtls *ctls)
{
    uint32_t i, j;

    for (i = 0; i < ctls->count; i++) {
        VSndCtl *c = &ctls->ctl[i];

        for (j = 0; j < VSND_CTL_VALUES_MAX; j++) {
            c->value[j] = c->kind == VSND_CTL_VOLUME ? VSND_CTL_VOLUME_MAX : 1;
        }
    }
}

const char *vsnd_ctl_name(const VSndCtls *ctls, uint32_t id)
{
    static const char *const names[2][VSND_CTLS_PER_STREAM] = {
        [VIRTIO_SND_D_OUTPUT] = { "PCM Playback Volume",
                                  "PCM Playback Switch" },
        [VIRTIO_SND_D_INPUT] = { "Capture Volume", "Capture Switch" },
    };
    const VSndCtl *c = &ctls->ctl[id];

    return names[c->direction][c->kind];
}

uint32_t vsnd_ctl_type(const VSndCtls *ctls, uint32_t id)
{
    return ctls->ctl[id].kind == VSND_CTL_VOLUME ? VIRTIO_SND_CTL_TYPE_INTEGER
                                                 : VIRTIO_SND_CTL_TYPE_BOOLEAN;
}

uint32_t vsnd_ctl_access(const VSndCtls *ctls, uint32_t id)
{
    return ACCESS(READ) | ACCESS(WRITE) |
           (ctls->ctl[id].kind == VSND_CTL_VOLUME ? ACCESS(TLV_READ) : 0);
}

uint32_t vsnd_ctl_count(const VSndCtls *ctls, uint32_t id)
{
    return ctls->ctl[id].kind == VSND_CTL_VOLUME ? VSND_CTL_VOLUME_CHANNELS
                                                 : 1;
}

uint32_t vsnd_ctl_max(const VSndCtls *ctls, uint32_t id)
{
    return ctls->ctl[id].kind == VSND_CTL_VOLUME ? VSND_CTL_VOLUME_MAX : 1;
}

static uint32_t vsnd_ctl_role(const VSndCtls *ctls, uint32_t id)
{
    const VSndCtl *c = &ctls->ctl[id];
    uint32_t role = c->kind == VSND_CTL_VOLUME ? VIRTIO_SND_CTL_ROLE_VOLUME
                                               : VIRTIO_SND_CTL_ROLE_MUTE;

    return role << 1 | c->direction;
}

size_t vsnd_ctl_info_item(const VSndCtls *ctls, uint32_t id, uint32_t size,
                          uint8_t *buf)
{
    struct virtio_snd_ctl_info info;
    const char *name = vsnd_ctl_name(ctls, id);

    memset(&info, 0, sizeof(info));
    info.hdr.hda_fn_nid = GUINT32_TO_LE(0);
    info.role = GUINT32_TO_LE(vsnd_ctl_role(ctls, id));
    info.type = GUINT32_TO_LE(vsnd_ctl_type(ctls, id));
    info.access = GUINT32_TO_LE(vsnd_ctl_access(ctls, id));
    info.count = GUINT32_TO_LE(vsnd_ctl_count(ctls, id));
    info.index = GUINT32_TO_LE(ctls->ctl[id].index);
    memcpy(info.name, name, MIN(strlen(name), sizeof(info.name) - 1));
    if (vsnd_ctl_type(ctls, id) == VIRTIO_SND_CTL_TYPE_INTEGER) {
        info.value.integer.min = GUINT32_TO_LE(0);
        info.value.integer.max = GUINT32_TO_LE(vsnd_ctl_max(ctls, id));
        info.value.integer.step = GUINT32_TO_LE(1);
    }

    /*
     * The header's layout depends on the target (see virtio_snd.h), so
     * place `value` by hand: the fields before it end with `name`.
     */
    G_STATIC_ASSERT(offsetof(struct virtio_snd_ctl_info, name) +
                    sizeof(info.name) == VSND_CTL_INFO_VALUE_OFFSET_PACKED);
    G_STATIC_ASSERT(VSND_CTL_INFO_VALUE_OFFSET_PACKED + sizeof(info.value) ==
                    VSND_CTL_INFO_SIZE_PACKED);
    memset(buf, 0, VSND_CTL_INFO_SIZE_ALIGNED);
    memcpy(buf, &info, VSND_CTL_INFO_VALUE_OFFSET_PACKED);
    if (size < VSND_CTL_INFO_SIZE_ALIGNED) {
        memcpy(buf + VSND_CTL_INFO_VALUE_OFFSET_PACKED, &info.value,
               sizeof(info.value));
        return VSND_CTL_INFO_SIZE_PACKED;
    }
    /* The naturally aligned layout: 4 bytes of padding before `value`. */
    memcpy(buf + VSND_CTL_INFO_VALUE_OFFSET_ALIGNED, &info.value,
           sizeof(info.value));
    return VSND_CTL_INFO_SIZE_ALIGNED;
}

static void vsnd_put_le32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

size_t vsnd_ctl_tlv(const VSndCtls *ctls, uint32_t id, uint8_t *buf)
{
    if (ctls->ctl[id].kind != VSND_CTL_VOLUME) {
        return 0;
    }
    /* SNDRV_CTL_TLVT_DB_SCALE: min (0.01 dB), step (0.01 dB) | mute flag */
    vsnd_put_le32(buf, VSND_TLVT_DB_SCALE);
    vsnd_put_le32(buf + 4, 8);
    vsnd_put_le32(buf + 8, (uint32_t)VSND_CTL_VOLUME_MIN_CDB);
    vsnd_put_le32(buf + 12, VSND_CTL_VOLUME_STEP_CDB | VSND_TLV_DB_SCALE_MUTE);
    return 16;
}

uint32_t vsnd_ctl_write(VSndCtls *ctls, uint32_t id,
                        const struct virtio_snd_ctl_value *value,
                        bool *changed, const char **why)
{
    VSndCtl *c = &ctls->ctl[id];
    uint32_t n = vsnd_ctl_count(ctls, id), max = vsnd_ctl_max(ctls, id);
    uint32_t v[VSND_CTL_VALUES_MAX];
    uint32_t i;

    *changed = false;
    for (i = 0; i < n; i++) {
        v[i] = GUINT32_FROM_LE(value->value.integer[i]);
        if (v[i] > max) {
            *why = c->kind == VSND_CTL_VOLUME ? "volume out of range"
                                              : "switch not 0 or 1";
            return VIRTIO_SND_S_BAD_MSG;
        }
    }
    for (i = 0; i < n; i++) {
        *changed |= c->value[i] != v[i];
        c->value[i] = v[i];
    }
    return VIRTIO_SND_S_OK;
}

void vsnd_ctl_read(const VSndCtls *ctls, uint32_t id,
                   struct virtio_snd_ctl_value *value)
{
    uint32_t i;

    memset(value, 0, sizeof(*value));
    for (i = 0; i < vsnd_ctl_count(ctls, id); i++) {
        value->value.integer[i] = GUINT32_TO_LE(ctls->ctl[id].value[i]);
    }
}

/* The access bit a request needs; none for CTL_INFO and ENUM_ITEMS. */
static uint32_t vsnd_ctl_needed_access(uint32_t code)
{
    switch (code) {
    case VIRTIO_SND_R_CTL_READ:
        return ACCESS(READ);
    case VIRTIO_SND_R_CTL_WRITE:
        return ACCESS(WRITE);
    case VIRTIO_SND_R_CTL_TLV_READ:
        return ACCESS(TLV_READ);
    case VIRTIO_SND_R_CTL_TLV_WRITE:
        return ACCESS(TLV_WRITE);
    case VIRTIO_SND_R_CTL_TLV_COMMAND:
        return ACCESS(TLV_COMMAND);
    default:
        return 0;
    }
}

uint32_t vsnd_ctl_request(VSndCtls *ctls, const VSndCtrlRequest *req,
                          const struct iovec *out_sg, unsigned int out_num,
                          const struct iovec *in_sg, unsigned int in_num,
                          size_t *reply_len, uint32_t *changed,
                          const char **why)
{
    const size_t hdr = sizeof(struct virtio_snd_hdr);
    uint32_t need = vsnd_ctl_needed_access(req->code);
    uint32_t i;

    *changed = UINT32_MAX;
    *reply_len = hdr;
    *why = NULL;

    if (req->code == VIRTIO_SND_R_CTL_INFO) {
        for (i = 0; i < req->count; i++) {
            uint8_t item[VSND_CTL_INFO_SIZE_ALIGNED];
            size_t len = vsnd_ctl_info_item(ctls, req->id + i, req->size,
                                            item);

            vsnd_info_write_item(in_sg, in_num, req, i, item, len);
        }
        *reply_len = req->reply_len;
        return VIRTIO_SND_S_OK;
    }

    /* Every other request names one control: req->id < ctls->count. */
    if (req->code == VIRTIO_SND_R_CTL_ENUM_ITEMS &&
        vsnd_ctl_type(ctls, req->id) != VIRTIO_SND_CTL_TYPE_ENUMERATED) {
        *why = "not an enumerated control";
        return VIRTIO_SND_S_BAD_MSG;
    }
    if (need && !(vsnd_ctl_access(ctls, req->id) & need)) {
        *why = "the control's access does not allow it";
        return VIRTIO_SND_S_BAD_MSG;
    }

    switch (req->code) {
    case VIRTIO_SND_R_CTL_READ: {
        struct virtio_snd_ctl_value value;

        vsnd_ctl_read(ctls, req->id, &value);
        vsnd_iov_from_buf(in_sg, in_num, hdr, &value, sizeof(value));
        *reply_len = hdr + sizeof(value);
        return VIRTIO_SND_S_OK;
    }
    case VIRTIO_SND_R_CTL_WRITE: {
        struct virtio_snd_ctl_value value;
        bool did_change;
        uint32_t status;

        if (vsnd_iov_to_buf(out_sg, out_num, req->payload_offset, &value,
                            sizeof(value)) != sizeof(value)) {
            *why = "value cut short";       /* not after vsnd_ctrl_parse() */
            return VIRTIO_SND_S_BAD_MSG;
        }
        status = vsnd_ctl_write(ctls, req->id, &value, &did_change, why);
        if (status == VIRTIO_SND_S_OK && did_change) {
            *changed = req->id;
        }
        return status;
    }
    case VIRTIO_SND_R_CTL_TLV_READ: {
        uint8_t tlv[VSND_CTL_TLV_MAX];
        size_t len = vsnd_ctl_tlv(ctls, req->id, tlv);

        /* Too little room: as much as fits, and success (the spec). */
        *reply_len = hdr + vsnd_iov_from_buf(in_sg, in_num, hdr, tlv, len);
        return VIRTIO_SND_S_OK;
    }
    default:
        /* ENUM_ITEMS, TLV_WRITE, TLV_COMMAND: no control of ours allows. */
        *why = "no control takes this request";
        return VIRTIO_SND_S_BAD_MSG;
    }
}

int32_t vsnd_ctl_volume_cdb(uint32_t value)
{
    if (value == 0) {
        return INT32_MIN;
    }
    value = MIN(value, VSND_CTL_VOLUME_MAX);
    return VSND_CTL_VOLUME_MIN_CDB + (int32_t)value * VSND_CTL_VOLUME_STEP_CDB;
}

uint8_t vsnd_ctl_volume_level(uint32_t value)
{
    int32_t cdb = vsnd_ctl_volume_cdb(value);
    long level;

    if (cdb == INT32_MIN) {
        return 0;
    }
    /* The inverse of 60 * log10(level / 255) dB. */
    level = lround(255.0 * pow(10.0, cdb / 6000.0));
    return MIN(MAX(level, 1), 255);
}

/*
 * Whether channel @i of @n takes the left value (1), right (2) or both
 * (0), by its position in the device's channel maps.
 */
static int vsnd_ctl_channel_side(uint32_t i, uint32_t n)
{
    switch (vsnd_pcm_chmap_position(n, i)) {
    case VIRTIO_SND_CHMAP_FL:
    case VIRTIO_SND_CHMAP_RL:
    case VIRTIO_SND_CHMAP_SL:
        return 1;
    case VIRTIO_SND_CHMAP_FR:
    case VIRTIO_SND_CHMAP_RR:
    case VIRTIO_SND_CHMAP_SR:
        return 2;
    default:
        return 0;                       /* mono, FC, LFE, RC */
    }
}

void vsnd_ctls_stream_volume(const VSndCtls *ctls, uint32_t stream,
                             uint32_t channels, VSndCtlStreamVolume *out)
{
    const VSndCtl *vol = &ctls->ctl[vsnd_ctl_id(stream, VSND_CTL_VOLUME)];
    const VSndCtl *sw = &ctls->ctl[vsnd_ctl_id(stream, VSND_CTL_SWITCH)];
    uint32_t both = (vol->value[0] + vol->value[1] + 1) / 2;
    uint32_t i;

    if (channels == 0) {
        channels = 2;
    }
    channels = MIN(channels, VSND_PCM_CHANNELS_MAX);
    memset(out, 0, sizeof(*out));
    out->mute = !sw->value[0];
    out->channels = channels;
    for (i = 0; i < channels; i++) {
        int side = vsnd_ctl_channel_side(i, channels);

        out->level[i] = vsnd_ctl_volume_level(side == 1 ? vol->value[0] :
                                              side == 2 ? vol->value[1] :
                                              both);
    }
}
