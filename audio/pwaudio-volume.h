/*
 * PipeWire audio backend: volume mapping.
 *
 * QEMU hands the backend a volume of 0..255 per channel plus a mute flag
 * (audio.h's Volume). PipeWire's SPA_PROP_channelVolumes wants linear
 * amplitude factors (1.0 = unity gain). A straight level/255 would put
 * half of QEMU's range within the top 6 dB and make the lower half a
 * cliff, so the level is treated as a position on a perceptual fader:
 *
 *     linear = (level / 255)^3        i.e. gain = 60 * log10(level / 255) dB
 *
 * This is the cubic curve PulseAudio and PipeWire's own tools use when
 * they show a stream's volume as a percentage, so level 128 of 255 shows
 * up as ~50% in pavucontrol or wpctl.
 *
 *     level   linear        gain
 *       255   1.0             0.00 dB
 *       254   0.98828        -0.10 dB
 *       224   0.67778        -3.38 dB
 *       192   0.42686        -7.39 dB
 *       128   0.12648       -17.96 dB
 *        64   0.015809      -36.02 dB
 *        16   0.00024702    -72.15 dB
 *         1   6.0307e-08   -144.39 dB
 *         0   0.0          silence
 *
 * Every level maps to a distinct float, strictly increasing with the
 * level.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_PWAUDIO_VOLUME_H
#define QEMU_PWAUDIO_VOLUME_H

#include <stdbool.h>
#include <stdint.h>

#include <spa/param/audio/raw.h>

#define QPW_VOLUME_MAX_LEVEL 255

/* Enough for any SPA stream; QEMU itself passes at most 16. */
#define QPW_VOLUME_MAX_CHANNELS SPA_AUDIO_MAX_CHANNELS

typedef struct QPwChannelVolumes {
    bool mute;
    uint32_t channels;
    float values[QPW_VOLUME_MAX_CHANNELS];
} QPwChannelVolumes;

/* Linear amplitude for a QEMU level 0..255, see the table above. */
float qpw_volume_to_linear(uint8_t level);

/*
 * Build the SPA_PROP_channelVolumes array for a stream of
 * @stream_channels channels from QEMU's @n_levels per-channel levels.
 * Stream channel i takes levels[i % n_levels], so QEMU's usual stereo
 * pair spreads left/right over the left/right surround positions of the
 * WAVE channel order; with no levels at all every channel is at unity.
 * Mute is carried separately (SPA_PROP_mute) so that unmuting restores
 * the volume. Returns false if @stream_channels is 0 or exceeds
 * QPW_VOLUME_MAX_CHANNELS.
 */
bool qpw_volume_fill(QPwChannelVolumes *out, bool mute,
                     const uint8_t *levels, uint32_t n_levels,
                     uint32_t stream_channels);

#endif /* QEMU_PWAUDIO_VOLUME_H */
