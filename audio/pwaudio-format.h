/*
 * PipeWire audio backend: sample formats and channel positions.
 *
 * Maps QEMU's sample formats (mirrored here so that this unit builds
 * without QEMU) to SPA raw audio formats and back, knows the size and the
 * silence value of each format, and provides the default channel layout
 * for 1..8 channels.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_PWAUDIO_FORMAT_H
#define QEMU_PWAUDIO_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spa/param/audio/raw.h>

/*
 * Same members and order as QEMU's AudioFormat (qapi/audio.json), but the
 * glue converts with an explicit switch rather than a cast so that a
 * change on either side cannot silently remap formats.
 */
typedef enum QPwFormat {
    QPW_FORMAT_U8,
    QPW_FORMAT_S8,
    QPW_FORMAT_U16,
    QPW_FORMAT_S16,
    QPW_FORMAT_U32,
    QPW_FORMAT_S32,
    QPW_FORMAT_F32,
    QPW_FORMAT__MAX,
} QPwFormat;

/*
 * The host's byte order, taken from SPA's native-endian alias so that it
 * agrees with SPA by construction.
 */
#define QPW_HOST_BIG_ENDIAN \
    ((bool)(SPA_AUDIO_FORMAT_S16 == SPA_AUDIO_FORMAT_S16_BE))

/* Highest channel count that qpw_channel_positions() has a layout for. */
#define QPW_MAX_CHANNELS 8

/* True for the members of QPwFormat other than QPW_FORMAT__MAX. */
bool qpw_format_is_valid(QPwFormat fmt);

/* Short lowercase name as QEMU spells it ("s16"), or "invalid". */
const char *qpw_format_name(QPwFormat fmt);

/* Bytes per sample of one channel; 0 for an invalid format. */
size_t qpw_format_bytes_per_sample(QPwFormat fmt);

/*
 * The SPA format carrying @fmt in the byte order given by @big_endian.
 * @big_endian is ignored for U8 and S8, which have no byte order.
 * Returns SPA_AUDIO_FORMAT_UNKNOWN for an invalid @fmt.
 */
enum spa_audio_format qpw_format_to_spa(QPwFormat fmt, bool big_endian);

/*
 * Inverse of qpw_format_to_spa(), used to report the format PipeWire
 * negotiated back to QEMU. U8 and S8 report the host byte order, which is
 * what makes QEMU's audio layer treat them as "no swapping needed".
 * Returns false, leaving the outputs untouched, for SPA formats that
 * QEMU cannot represent (24-bit, 64-bit float, planar, ...).
 */
bool qpw_format_from_spa(enum spa_audio_format spa_fmt,
                         QPwFormat *fmt, bool *big_endian);

/*
 * Fill @len bytes at @buf with silence of @fmt in the given byte order:
 * the mid-scale value for unsigned formats (0x80, 0x8000, 0x80000000),
 * all-zero bytes for signed and float ones. @len need not be a multiple
 * of the sample size; a trailing partial sample gets the leading bytes of
 * the silence pattern so the buffer is still silence once completed.
 * Never allocates or blocks: this runs in PipeWire's realtime callback.
 */
void qpw_format_fill_silence(QPwFormat fmt, bool big_endian,
                             void *buf, size_t len);

/*
 * Default channel positions for @channels channels, written to
 * @positions[0 .. channels-1]. Returns false for 0 or more than
 * QPW_MAX_CHANNELS channels.
 *
 * The order is the WAVEFORMATEXTENSIBLE/SMPTE one, also used by USB
 * Audio, HDA and HDMI, so it matches what QEMU's guest-facing devices
 * hand over:
 *
 *   1  MONO                              mono (PipeWire upmixes it to
 *                                        every speaker; FC would only
 *                                        reach a centre speaker)
 *   2  FL FR                             stereo
 *   3  FL FR LFE                         2.1
 *   4  FL FR RL RR                       quadraphonic (4.0)
 *   5  FL FR FC RL RR                    5.0
 *   6  FL FR FC LFE RL RR                5.1
 *   7  FL FR FC LFE RC SL SR             6.1
 *   8  FL FR FC LFE RL RR SL SR          7.1
 */
bool qpw_channel_positions(uint32_t channels, uint32_t *positions);

#endif /* QEMU_PWAUDIO_FORMAT_H */
