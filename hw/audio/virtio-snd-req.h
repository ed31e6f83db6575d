/*
 * Virtio sound device: request validation, independent of QEMU.
 *
 * Reads control requests and PCM I/O messages out of the guest's scatter
 * lists and decides whether they are well-formed (VIRTIO 1.2, 5.14.6),
 * returning the request decoded to host byte order or the VIRTIO_SND_S_*
 * status to answer with. Nothing here trusts the guest: every read and
 * write stays inside the given buffers, and sizes are summed in 64 bits.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_AUDIO_VIRTIO_SND_REQ_H
#define HW_AUDIO_VIRTIO_SND_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "standard-headers/linux/virtio_snd.h"
#include "virtio-snd-pcm.h"

/*
 * CTL_INFO item sizes. The spec's structure is 92 bytes with `value` at
 * offset 68; a driver compiling it with natural alignment, as Linux's
 * virtio_snd does on every 64-bit target (and crosvm), has `value` at 72
 * and asks for 96-byte items. The query's `size` tells them apart: 92 to
 * 95 get the spec's layout, 96 or more the aligned one (zero-padded to
 * `size`). Below 92 the request is refused by vsnd_ctrl_parse().
 */
#define VSND_CTL_INFO_SIZE_PACKED 92
#define VSND_CTL_INFO_SIZE_ALIGNED 96
#define VSND_CTL_INFO_VALUE_OFFSET_PACKED 68
#define VSND_CTL_INFO_VALUE_OFFSET_ALIGNED 72

/*
 * The largest item size an *_INFO query may ask for. A driver that knows
 * a longer item structure than the device's gets the tail zero-filled,
 * which a size of gigabytes with a buffer to match would make a long
 * stall of the device's thread; no item of the spec comes near this.
 */
#define VSND_INFO_ITEM_SIZE_MAX 4096

/*
 * The header of a TLV value (CTL_TLV_READ replies, CTL_TLV_WRITE and
 * CTL_TLV_COMMAND requests): @length bytes of value follow it. The copy of
 * Linux's header in QEMU 10 does not declare it.
 */
typedef struct VSndCtlTlvHeader {
    uint32_t type;
    uint32_t length;                    /* a multiple of 4 */
} VSndCtlTlvHeader;

/* The longest TLV value a driver may send. */
#define VSND_CTL_TLV_VALUE_MAX 65536

/* Total bytes of a scatter list (saturating at SIZE_MAX). */
size_t vsnd_iov_size(const struct iovec *iov, unsigned int iov_cnt);

/*
 * Copy up to @len bytes starting @offset bytes into the scatter list to
 * @buf; returns how many were copied (fewer if the list ends first).
 */
size_t vsnd_iov_to_buf(const struct iovec *iov, unsigned int iov_cnt,
                       size_t offset, void *buf, size_t len);

/* The reverse: copy @buf into the scatter list at @offset. */
size_t vsnd_iov_from_buf(const struct iovec *iov, unsigned int iov_cnt,
                         size_t offset, const void *buf, size_t len);

/* How many items the device has: its configuration space. */
typedef struct VSndDeviceCounts {
    uint32_t jacks;
    uint32_t streams;
    uint32_t chmaps;
    uint32_t controls;
    bool ctls;                  /* VIRTIO_SND_F_CTLS negotiated */
} VSndDeviceCounts;

/* A well-formed control request, in host byte order. */
typedef struct VSndCtrlRequest {
    uint32_t code;              /* VIRTIO_SND_R_* */
    /*
     * jack_id, stream_id or control_id, below the number of such items;
     * for the *_INFO queries start_id, with start_id + count at most that
     * number (so start_id equals it for an empty query at the end).
     */
    uint32_t id;
    uint32_t count;             /* *_INFO: items asked for */
    uint32_t size;              /* *_INFO: bytes per item in the reply */
    uint32_t association;       /* JACK_REMAP */
    uint32_t sequence;          /* JACK_REMAP */
    VSndPcmParams params;       /* PCM_SET_PARAMS, not yet checked */
    uint32_t tlv_type;          /* CTL_TLV_WRITE, CTL_TLV_COMMAND */
    /*
     * CTL_WRITE (a virtio_snd_ctl_value), CTL_TLV_WRITE and _COMMAND (the
     * TLV value): where it is in the device-readable part, and its length.
     */
    size_t payload_offset;
    size_t payload_len;
    /*
     * Bytes of device-writable room the reply needs, which the request has:
     * the virtio_snd_hdr, plus count * size for *_INFO, plus a
     * virtio_snd_ctl_value for CTL_READ, plus a virtio_snd_ctl_tlv header
     * for CTL_TLV_READ. CTL_ENUM_ITEMS needs another items * 64 bytes,
     * which only the device knows: check it against the writable size.
     */
    uint64_t reply_len;
} VSndCtrlRequest;

/*
 * Parse the control request in @out_sg (the device-readable part); @in_len
 * is the size of the device-writable part. Returns VIRTIO_SND_S_OK with
 * *@req filled, or the status to reply with:
 *  - VIRTIO_SND_S_NOT_SUPP for an unknown request code, and for the
 *    control element requests unless @dev->ctls;
 *  - VIRTIO_SND_S_BAD_MSG when the request is shorter or longer than its
 *    code's structure, names an item that does not exist, asks *_INFO for
 *    a range past the last item or with a `size` smaller than the item's
 *    structure, or leaves too little room for the reply.
 * On failure req->code holds the code if one could be read, else 0. When
 * @in_len is below sizeof(struct virtio_snd_hdr) there is nowhere to put
 * the status: complete the element without writing.
 */
uint32_t vsnd_ctrl_parse(const VSndDeviceCounts *dev,
                         const struct iovec *out_sg, unsigned int out_num,
                         size_t in_len, VSndCtrlRequest *req);

/*
 * Write @status as the virtio_snd_hdr at the start of the device-writable
 * part; returns the bytes written (0 if it does not fit).
 */
size_t vsnd_ctrl_write_status(const struct iovec *in_sg, unsigned int in_num,
                              uint32_t status);

/*
 * Write item @index (0 .. req->count - 1) of the reply to a *_INFO request:
 * @item_len bytes of @item (already little-endian) at its slot, which is
 * req->size bytes long and follows the status header. A slot longer than
 * the item is zero-filled; a shorter one gets the item truncated. Returns
 * the bytes written, req->size on success.
 */
size_t vsnd_info_write_item(const struct iovec *in_sg, unsigned int in_num,
                            const VSndCtrlRequest *req, uint32_t index,
                            const void *item, size_t item_len);

/*
 * Check SET_PARAMS @params against the stream's @caps. Returns
 * VIRTIO_SND_S_OK, or:
 *  - VIRTIO_SND_S_BAD_MSG for what the spec forbids the driver: undefined
 *    feature, format or rate values; a feature, format or rate the stream
 *    does not offer; channels outside channels_min..channels_max; the
 *    shared memory features (placeholders that must not be selected);
 *  - VIRTIO_SND_S_NOT_SUPP for what the spec allows but this device does
 *    not: a format without a whole-byte sample size; a zero period_bytes
 *    or buffer_bytes, buffer_bytes not a multiple of period_bytes, a
 *    period that is not a whole number of frames, a buffer over
 *    VSND_PCM_BUFFER_BYTES_MAX (the spec sets no rule on the sizes).
 */
uint32_t vsnd_pcm_params_check(const VSndPcmCaps *caps,
                               const VSndPcmParams *params);

/*
 * The cap on buffer_bytes. The device may keep an intermediate buffer of
 * that size per stream (the spec requires it to be no smaller than
 * buffer_bytes), so the guest must not choose it unbounded. 4 MiB is
 * 340 ms at the most this device offers (384 kHz, 8 channels, 32-bit) and
 * over 10 s at 48 kHz stereo 16-bit, far beyond what drivers ask for.
 */
#define VSND_PCM_BUFFER_BYTES_MAX (4u * 1024 * 1024)

/*
 * Decide a parsed PCM lifecycle request (SET_PARAMS, PREPARE, START, STOP,
 * RELEASE) for @stream, the stream req->id names. Returns VIRTIO_SND_S_OK
 * and the state the stream moves to once the device has acted on it, or
 * the status to reply with: BAD_MSG when the lifecycle does not allow the
 * request now (the state must not change), else what
 * vsnd_pcm_params_check() says for SET_PARAMS. The caller stores the new
 * state (and for SET_PARAMS req->params) only if its own work succeeds.
 */
uint32_t vsnd_pcm_request_check(const VSndPcmStream *stream,
                                const VSndCtrlRequest *req,
                                VSndPcmState *new_state);

/* A well-formed PCM I/O message, in host byte order. */
typedef struct VSndXfer {
    uint32_t stream_id;
    /*
     * TX: bytes of frames in the device-readable part, after the
     * virtio_snd_pcm_xfer header (at VSND_XFER_TX_DATA_OFFSET).
     * RX: bytes of room for frames at the start of the device-writable
     * part, before the status. Not necessarily a whole number of frames:
     * the spec does not require it.
     */
    size_t data_len;
    /*
     * Whether the device-writable part can hold the virtio_snd_pcm_status,
     * and where it is: its last 8 bytes. Set even when parsing fails, so
     * that the failure can be reported.
     */
    bool has_status;
    size_t status_offset;
} VSndXfer;

#define VSND_XFER_TX_DATA_OFFSET sizeof(struct virtio_snd_pcm_xfer)

/*
 * Parse an I/O message taken from the tx queue (@queue_dir
 * VIRTIO_SND_D_OUTPUT) or the rx queue (VIRTIO_SND_D_INPUT) of a device
 * with @streams streams. Checks that the header is there, that the stream
 * exists and that there is room for the status; also that the driver put
 * no device-writable frame buffer on the tx queue and no device-readable
 * one on the rx queue. Returns VIRTIO_SND_S_OK, or VIRTIO_SND_S_IO_ERR,
 * the only failure status the spec has for I/O.
 */
uint32_t vsnd_xfer_parse(uint32_t queue_dir, uint32_t streams,
                         const struct iovec *out_sg, unsigned int out_num,
                         size_t in_len, VSndXfer *xfer);

/*
 * Check a message parsed from the @queue_dir queue against @stream, the
 * stream its stream_id names: the stream's direction must be the queue's
 * and its state must take I/O (vsnd_pcm_state_accepts_io()). Returns
 * VIRTIO_SND_S_OK or _IO_ERR.
 */
uint32_t vsnd_xfer_check_stream(uint32_t queue_dir,
                                const VSndPcmStream *stream);

/*
 * Write the virtio_snd_pcm_status of @xfer; returns the bytes written (0
 * without xfer->has_status). The element's used length is then that for
 * TX, and the frames written plus that for RX.
 */
size_t vsnd_xfer_write_status(const struct iovec *in_sg, unsigned int in_num,
                              const VSndXfer *xfer, uint32_t status,
                              uint32_t latency_bytes);

#endif /* HW_AUDIO_VIRTIO_SND_REQ_H */
