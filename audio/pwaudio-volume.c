/*
 * PipeWire audio backend: volume mapping.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "pwaudio-volume.h"

float qpw_volume_to_linear(uint8_t level)
{
    double x = (double)level / QPW_VOLUME_MAX_LEVEL;

    return (float)(x * x * x);
}

bool qpw_volume_fill(QPwChannelVolumes *out, bool mute,
                     const uint8_t *levels, uint32_t n_levels,
                     uint32_t stream_channels)
{
    uint32_t i;

    if (stream_channels == 0 || stream_channels > QPW_VOLUME_MAX_CHANNELS) {
        return false;
    }

    out->mute = mute;
    out->channels = stream_channels;
    for (i = 0; i < stream_channels; i++) {
        out->values[i] = n_levels ?
            qpw_volume_to_linear(levels[i % n_levels]) : 1.0f;
    }
    return true;
}
