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

/*
 * Lower edge of the range that rounds to @level: ((level - 0.5) / 255)^3.
 * Comparing against these edges gives round(cbrt(v) * 255) without libm
 * and without cbrt's last-bit error deciding a round-trip.
 */
static double level_lower_edge(unsigned level)
{
    double x = (level - 0.5) / QPW_VOLUME_MAX_LEVEL;

    return x * x * x;
}

uint8_t qpw_volume_from_linear(float linear)
{
    unsigned lo = 0, hi = QPW_VOLUME_MAX_LEVEL;

    /* "!(x > 0)" also catches NaN. */
    if (!(linear > 0.0f)) {
        return 0;
    }
    if (linear >= 1.0f) {
        return QPW_VOLUME_MAX_LEVEL;
    }

    /* Largest level whose lower edge is <= linear; level 0 has none. */
    while (lo < hi) {
        unsigned mid = (lo + hi + 1) / 2;

        if ((double)linear >= level_lower_edge(mid)) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return (uint8_t)lo;
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
