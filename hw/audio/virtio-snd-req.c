/*
 * Virtio sound device: request validation, independent of QEMU.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"

#include "virtio-snd-req.h"

size_t vsnd_iov_size(const struct iovec *iov, unsigned int iov_cnt)
{
    size_t total = 0;
    unsigned int i;

    for (i = 0; i < iov_cnt; i++) {
        if (iov[i].iov_len > SIZE_MAX - total) {
            return SIZE_MAX;
        }
        total += iov[i].iov_len;
    }
    return total;
}

size_t vsnd_iov_to_buf(const struct iovec *iov, unsigned int iov_cnt,
                       size_t offset, void *buf, size_t len)
{
    uint8_t *dst = buf;
    size_t done = 0;
    unsigned int i;

    for (i = 0; i < iov_cnt && done < len; i++) {
        size_t n;

        if (offset >= iov[i].iov_len) {
            offset -= iov[i].iov_len;
            continue;
        }
        n = MIN(iov[i].iov_len - offset, len - done);
        memcpy(dst + done, (const uint8_t *)iov[i].iov_base + offset, n);
        done += n;
        offset = 0;
    }
    return done;
}

size_t vsnd_iov_from_buf(const struct iovec *iov, unsigned int iov_cnt,
                         size_t offset, const void *buf, size_t len)
{
    const uint8_t *src = buf;
    size_t done = 0;
    unsigned int i;

    for (i = 0; i < iov_cnt && done < len; i++) {
        size_t n;

        if (offset >= iov[i].iov_len) {
            offset -= iov[i].iov_len;
            continue;
        }
        n = MIN(iov[i].iov_len - offset, len - done);
        memcpy((uint8_t *)iov[i].iov_base + offset, src + done, n);
        done += n;
        offset = 0;
    }
    return done;
}

static size_t vsnd_iov_zero(const struct iovec *iov, unsigned int iov_cnt,
                            size_t offset, size_t len)
{
    static const uint8_t zeros[64];
    size_t done = 0;

    while (done < len) {
        size_t chunk = MIN(len - done, sizeof(zeros));
        size_t n = vsnd_iov_from_buf(iov, iov_cnt, offset + done, zeros,
                                     chunk);

        done += n;
        if (n < chunk) {
            break;
        }
    }
    return done;
}

/*
 * Copy a request structure that must make up the whole device-readable
 * part. The spec gives every request an exact layout; a longer one is as
 * malformed as a shorter one.
 */
static bool vsnd_read_exact(const struct iovec *out_sg, unsigned int out_num,
                            size_t out_len, void *buf, size_t size)
{
    return out_len == size &&
           vsnd_iov_to_buf(out_sg, out_num, 0, buf, size) == size;
}

/*
 * An item information query (5.14.6.1). The driver must keep
 * start_id + count within the items and give room for count * size bytes
 * after the header. `size` exists "for backward compatibility": a driver
 * that knows a longer item structure may ask for it, and gets the tail
 * zero-filled (up to VSND_INFO_ITEM_SIZE_MAX); one shorter than ours
 * cannot hold our fields.
 */
static uint32_t vsnd_parse_query(const struct iovec *out_sg,
                                 unsigned int out_num, size_t out_len,
                                 uint32_t items, size_t item_size,
                                 VSndCtrlRequest *req)
{
    struct virtio_snd_query_info q;

    if (!vsnd_read_exact(out_sg, out_num, out_len, &q, sizeof(q))) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    req->id = GUINT32_FROM_LE(q.start_id);
    req->count = GUINT32_FROM_LE(q.count);
    req->size = GUINT32_FROM_LE(q.size);
    if ((uint64_t)req->id + req->count > items || req->size < item_size ||
        req->size > VSND_INFO_ITEM_SIZE_MAX) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    /* At most 4 + (2^32 - 1)^2, which fits in 64 bits. */
    req->reply_len += (uint64_t)req->count * req->size;
    return VIRTIO_SND_S_OK;
}

/* A request made of a header and an item id only. */
static uint32_t vsnd_parse_id_only(const struct iovec *out_sg,
                                   unsigned int out_num, size_t out_len,
                                   uint32_t items, VSndCtrlRequest *req)
{
    /* jack, pcm and ctl headers share this layout */
    struct virtio_snd_pcm_hdr h;

    if (!vsnd_read_exact(out_sg, out_num, out_len, &h, sizeof(h))) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    req->id = GUINT32_FROM_LE(h.stream_id);
    return req->id < items ? VIRTIO_SND_S_OK : VIRTIO_SND_S_BAD_MSG;
}

static uint32_t vsnd_parse_jack_remap(const struct iovec *out_sg,
                                      unsigned int out_num, size_t out_len,
                                      uint32_t jacks, VSndCtrlRequest *req)
{
    struct virtio_snd_jack_remap r;

    if (!vsnd_read_exact(out_sg, out_num, out_len, &r, sizeof(r))) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    req->id = GUINT32_FROM_LE(r.hdr.jack_id);
    req->association = GUINT32_FROM_LE(r.association);
    req->sequence = GUINT32_FROM_LE(r.sequence);
    return req->id < jacks ? VIRTIO_SND_S_OK : VIRTIO_SND_S_BAD_MSG;
}

/* Decodes only; vsnd_pcm_params_check() judges the values. */
static uint32_t vsnd_parse_set_params(const struct iovec *out_sg,
                                      unsigned int out_num, size_t out_len,
                                      uint32_t streams, VSndCtrlRequest *req)
{
    struct virtio_snd_pcm_set_params p;

    if (!vsnd_read_exact(out_sg, out_num, out_len, &p, sizeof(p))) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    req->id = GUINT32_FROM_LE(p.hdr.stream_id);
    req->params.buffer_bytes = GUINT32_FROM_LE(p.buffer_bytes);
    req->params.period_bytes = GUINT32_FROM_LE(p.period_bytes);
    req->params.features = GUINT32_FROM_LE(p.features);
    req->params.channels = p.channels;
    req->params.format = p.format;
    req->params.rate = p.rate;
    /*
     * A non-zero padding byte breaks a driver requirement but harms
     * nothing; refusing it would only make a later spec revision that
     * gives the byte a meaning fail on this device.
     */
    return req->id < streams ? VIRTIO_SND_S_OK : VIRTIO_SND_S_BAD_MSG;
}

/* CTL_WRITE: the header, then a whole virtio_snd_ctl_value. */
static uint32_t vsnd_parse_ctl_write(const struct iovec *out_sg,
                                     unsigned int out_num, size_t out_len,
                                     uint32_t controls, VSndCtrlRequest *req)
{
    struct virtio_snd_ctl_hdr h;

    if (out_len != sizeof(h) + sizeof(struct virtio_snd_ctl_value) ||
        vsnd_iov_to_buf(out_sg, out_num, 0, &h, sizeof(h)) != sizeof(h)) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    req->id = GUINT32_FROM_LE(h.control_id);
    req->payload_offset = sizeof(h);
    req->payload_len = sizeof(struct virtio_snd_ctl_value);
    return req->id < controls ? VIRTIO_SND_S_OK : VIRTIO_SND_S_BAD_MSG;
}

/*
 * CTL_TLV_WRITE and CTL_TLV_COMMAND: the header, a VSndCtlTlvHeader
 * header and exactly `length` bytes of value, a multiple of 4 and at most
 * VSND_CTL_TLV_VALUE_MAX.
 */
static uint32_t vsnd_parse_ctl_tlv_in(const struct iovec *out_sg,
                                      unsigned int out_num, size_t out_len,
                                      uint32_t controls, VSndCtrlRequest *req)
{
    struct {
        struct virtio_snd_ctl_hdr hdr;
        VSndCtlTlvHeader tlv;
    } h;
    uint32_t length;

    if (vsnd_iov_to_buf(out_sg, out_num, 0, &h, sizeof(h)) != sizeof(h)) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    req->id = GUINT32_FROM_LE(h.hdr.control_id);
    req->tlv_type = GUINT32_FROM_LE(h.tlv.type);
    length = GUINT32_FROM_LE(h.tlv.length);
    if (req->id >= controls || length > VSND_CTL_TLV_VALUE_MAX ||
        length % 4 != 0 || out_len != sizeof(h) + length) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    req->payload_offset = sizeof(h);
    req->payload_len = length;
    return VIRTIO_SND_S_OK;
}

static uint32_t vsnd_parse_ctl(const VSndDeviceCounts *dev,
                               const struct iovec *out_sg,
                               unsigned int out_num, size_t out_len,
                               VSndCtrlRequest *req)
{
    uint32_t status;

    if (!dev->ctls) {
        return VIRTIO_SND_S_NOT_SUPP;
    }
    switch (req->code) {
    case VIRTIO_SND_R_CTL_INFO:
        return vsnd_parse_query(out_sg, out_num, out_len, dev->controls,
                                VSND_CTL_INFO_SIZE_PACKED, req);
    case VIRTIO_SND_R_CTL_ENUM_ITEMS:
        return vsnd_parse_id_only(out_sg, out_num, out_len, dev->controls,
                                  req);
    case VIRTIO_SND_R_CTL_READ:
        status = vsnd_parse_id_only(out_sg, out_num, out_len, dev->controls,
                                    req);
        req->reply_len += sizeof(struct virtio_snd_ctl_value);
        return status;
    case VIRTIO_SND_R_CTL_WRITE:
        return vsnd_parse_ctl_write(out_sg, out_num, out_len, dev->controls,
                                    req);
    case VIRTIO_SND_R_CTL_TLV_READ:
        /* A longer value than the room is truncated, so only the header. */
        status = vsnd_parse_id_only(out_sg, out_num, out_len, dev->controls,
                                    req);
        req->reply_len += sizeof(VSndCtlTlvHeader);
        return status;
    case VIRTIO_SND_R_CTL_TLV_WRITE:
    case VIRTIO_SND_R_CTL_TLV_COMMAND:
        return vsnd_parse_ctl_tlv_in(out_sg, out_num, out_len, dev->controls,
                                     req);
    default:
        return VIRTIO_SND_S_NOT_SUPP;
    }
}

static uint32_t vsnd_parse_body(const VSndDeviceCounts *dev,
                                const struct iovec *out_sg,
                                unsigned int out_num, size_t out_len,
                                VSndCtrlRequest *req)
{
    switch (req->code) {
    case VIRTIO_SND_R_JACK_INFO:
        return vsnd_parse_query(out_sg, out_num, out_len, dev->jacks,
                                sizeof(struct virtio_snd_jack_info), req);
    case VIRTIO_SND_R_JACK_REMAP:
        return vsnd_parse_jack_remap(out_sg, out_num, out_len, dev->jacks,
                                     req);
    case VIRTIO_SND_R_PCM_INFO:
        return vsnd_parse_query(out_sg, out_num, out_len, dev->streams,
                                sizeof(struct virtio_snd_pcm_info), req);
    case VIRTIO_SND_R_PCM_SET_PARAMS:
        return vsnd_parse_set_params(out_sg, out_num, out_len, dev->streams,
                                     req);
    case VIRTIO_SND_R_PCM_PREPARE:
    case VIRTIO_SND_R_PCM_RELEASE:
    case VIRTIO_SND_R_PCM_START:
    case VIRTIO_SND_R_PCM_STOP:
        return vsnd_parse_id_only(out_sg, out_num, out_len, dev->streams,
                                  req);
    case VIRTIO_SND_R_CHMAP_INFO:
        return vsnd_parse_query(out_sg, out_num, out_len, dev->chmaps,
                                sizeof(struct virtio_snd_chmap_info), req);
    case VIRTIO_SND_R_CTL_INFO ... VIRTIO_SND_R_CTL_TLV_COMMAND:
        return vsnd_parse_ctl(dev, out_sg, out_num, out_len, req);
    default:
        return VIRTIO_SND_S_NOT_SUPP;
    }
}

uint32_t vsnd_ctrl_parse(const VSndDeviceCounts *dev,
                         const struct iovec *out_sg, unsigned int out_num,
                         size_t in_len, VSndCtrlRequest *req)
{
    struct virtio_snd_hdr hdr;
    uint32_t status;

    memset(req, 0, sizeof(*req));
    if (vsnd_iov_to_buf(out_sg, out_num, 0, &hdr, sizeof(hdr)) !=
        sizeof(hdr)) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    req->code = GUINT32_FROM_LE(hdr.code);
    req->reply_len = sizeof(struct virtio_snd_hdr);
    status = vsnd_parse_body(dev, out_sg, out_num,
                             vsnd_iov_size(out_sg, out_num), req);
    if (status == VIRTIO_SND_S_OK && in_len < req->reply_len) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    return status;
}

size_t vsnd_ctrl_write_status(const struct iovec *in_sg, unsigned int in_num,
                              uint32_t status)
{
    struct virtio_snd_hdr hdr = { .code = GUINT32_TO_LE(status) };

    if (vsnd_iov_size(in_sg, in_num) < sizeof(hdr)) {
        return 0;
    }
    return vsnd_iov_from_buf(in_sg, in_num, 0, &hdr, sizeof(hdr));
}

size_t vsnd_info_write_item(const struct iovec *in_sg, unsigned int in_num,
                            const VSndCtrlRequest *req, uint32_t index,
                            const void *item, size_t item_len)
{
    uint64_t offset;
    size_t n;

    if (index >= req->count) {
        return 0;
    }
    offset = sizeof(struct virtio_snd_hdr) + (uint64_t)index * req->size;
    /* Past the end nothing is written; before it, offset fits in size_t. */
    if (offset >= vsnd_iov_size(in_sg, in_num)) {
        return 0;
    }
    n = vsnd_iov_from_buf(in_sg, in_num, offset, item,
                          MIN(item_len, req->size));
    if (n < MIN(item_len, req->size)) {
        return n;
    }
    return n + vsnd_iov_zero(in_sg, in_num, offset + n, req->size - n);
}

static bool vsnd_has_bit(uint64_t mask, unsigned int bit)
{
    return bit < 64 && (mask >> bit) & 1;
}

static uint32_t vsnd_check_features(const VSndPcmCaps *caps, uint32_t f)
{
    if ((f & ~VSND_PCM_FEATURES_ALL) || (f & VSND_PCM_FEATURES_SHMEM) ||
        (f & ~caps->features)) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    return VIRTIO_SND_S_OK;
}

/*
 * VIRTIO 1.2 (5.14.6.6.3) puts no rule on buffer_bytes and period_bytes
 * for the driver, so sizes are never a malformed request: the ones this
 * device cannot run are NOT_SUPP. It needs a period to return messages
 * and report xruns by, a buffer of whole periods (its return spacing and
 * pacing assume the guest's buffer is a ring of periods, as ALSA's is),
 * periods of whole frames (else every period-elapsed point falls
 * mid-frame) and a bounded buffer.
 */
static uint32_t vsnd_check_sizes(const VSndPcmParams *p)
{
    uint32_t frame = vsnd_pcm_frame_bytes(p);

    if (p->period_bytes == 0 || p->buffer_bytes == 0 ||
        p->buffer_bytes % p->period_bytes != 0 ||
        p->period_bytes % frame != 0 ||
        p->buffer_bytes > VSND_PCM_BUFFER_BYTES_MAX) {
        return VIRTIO_SND_S_NOT_SUPP;
    }
    return VIRTIO_SND_S_OK;
}

uint32_t vsnd_pcm_params_check(const VSndPcmCaps *caps,
                               const VSndPcmParams *params)
{
    uint32_t status = vsnd_check_features(caps, params->features);

    if (status != VIRTIO_SND_S_OK) {
        return status;
    }
    /*
     * Valid caps (vsnd_pcm_caps_valid()) only hold defined formats and
     * rates, so the mask tests also refuse undefined values; the rate
     * lookup keeps Hz defined even for caps that are not valid.
     */
    if (!vsnd_has_bit(caps->formats, params->format) ||
        !vsnd_has_bit(caps->rates, params->rate) ||
        vsnd_pcm_rate_hz(params->rate) == 0 ||
        params->channels == 0 ||
        params->channels < caps->channels_min ||
        params->channels > caps->channels_max) {
        return VIRTIO_SND_S_BAD_MSG;
    }
    if (vsnd_pcm_format_bytes(params->format) == 0) {
        return VIRTIO_SND_S_NOT_SUPP;
    }
    return vsnd_check_sizes(params);
}

uint32_t vsnd_pcm_request_check(const VSndPcmStream *stream,
                                const VSndCtrlRequest *req,
                                VSndPcmState *new_state)
{
    VSndPcmState next;
    uint32_t status = vsnd_pcm_transition(stream->state, req->code, &next);

    if (status == VIRTIO_SND_S_OK &&
        req->code == VIRTIO_SND_R_PCM_SET_PARAMS) {
        status = vsnd_pcm_params_check(&stream->caps, &req->params);
    }
    if (status == VIRTIO_SND_S_OK) {
        *new_state = next;
    }
    return status;
}

uint32_t vsnd_xfer_parse(uint32_t queue_dir, uint32_t streams,
                         const struct iovec *out_sg, unsigned int out_num,
                         size_t in_len, VSndXfer *xfer)
{
    struct virtio_snd_pcm_xfer hdr;
    size_t out_len = vsnd_iov_size(out_sg, out_num);

    memset(xfer, 0, sizeof(*xfer));
    if (in_len >= sizeof(struct virtio_snd_pcm_status)) {
        xfer->has_status = true;
        xfer->status_offset = in_len - sizeof(struct virtio_snd_pcm_status);
    }
    if (vsnd_iov_to_buf(out_sg, out_num, 0, &hdr, sizeof(hdr)) !=
        sizeof(hdr)) {
        return VIRTIO_SND_S_IO_ERR;
    }
    xfer->stream_id = GUINT32_FROM_LE(hdr.stream_id);
    if (xfer->stream_id >= streams || !xfer->has_status) {
        return VIRTIO_SND_S_IO_ERR;
    }
    if (queue_dir == VIRTIO_SND_D_OUTPUT) {
        /* Frames are device-readable; the status is all that is writable. */
        if (xfer->status_offset != 0) {
            return VIRTIO_SND_S_IO_ERR;
        }
        xfer->data_len = out_len - sizeof(hdr);
    } else if (queue_dir == VIRTIO_SND_D_INPUT) {
        /* The header is all that is readable; frames go before the status. */
        if (out_len != sizeof(hdr)) {
            return VIRTIO_SND_S_IO_ERR;
        }
        xfer->data_len = xfer->status_offset;
    } else {
        return VIRTIO_SND_S_IO_ERR;
    }
    return VIRTIO_SND_S_OK;
}

uint32_t vsnd_xfer_check_stream(uint32_t queue_dir,
                                const VSndPcmStream *stream)
{
    if (stream->caps.direction != queue_dir ||
        !vsnd_pcm_state_accepts_io(stream->state)) {
        return VIRTIO_SND_S_IO_ERR;
    }
    return VIRTIO_SND_S_OK;
}

size_t vsnd_xfer_write_status(const struct iovec *in_sg, unsigned int in_num,
                              const VSndXfer *xfer, uint32_t status,
                              uint32_t latency_bytes)
{
    struct virtio_snd_pcm_status st = {
        .status = GUINT32_TO_LE(status),
        .latency_bytes = GUINT32_TO_LE(latency_bytes),
    };

    if (!xfer->has_status) {
        return 0;
    }
    return vsnd_iov_from_buf(in_sg, in_num, xfer->status_offset, &st,
                             sizeof(st));
}
