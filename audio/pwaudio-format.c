/*
 * PipeWire audio backend: sample formats and channel positions.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "pwaudio-format.h"

#include <string.h>

bool qpw_format_is_valid(QPwFormat fmt)
{
    /* The enum may be unsigned; compare as int so a bogus value is caught. */
    return (int)fmt >= 0 && fmt < QPW_FORMAT__MAX;
}

const char *qpw_format_name(QPwFormat fmt)
{
    switch (fmt) {
    case QPW_FORMAT_U8:
        return "u8";
    case QPW_FORMAT_S8:
        return "s8";
    case QPW_FORMAT_U16:
        return "u16";
    case QPW_FORMAT_S16:
        return "s16";
    case QPW_FORMAT_U32:
        return "u32";
    case QPW_FORMAT_S32:
        return "s32";
    case QPW_FORMAT_F32:
        return "f32";
    default:
        return "invalid";
    }
}

size_t qpw_format_bytes_per_sample(QPwFormat fmt)
{
    switch (fmt) {
    case QPW_FORMAT_U8:
    case QPW_FORMAT_S8:
        return 1;
    case QPW_FORMAT_U16:
    case QPW_FORMAT_S16:
        return 2;
    case QPW_FORMAT_U32:
    case QPW_FORMAT_S32:
    case QPW_FORMAT_F32:
        return 4;
    default:
        return 0;
    }
}

enum spa_audio_format qpw_format_to_spa(QPwFormat fmt, bool big_endian)
{
    switch (fmt) {
    case QPW_FORMAT_U8:
        return SPA_AUDIO_FORMAT_U8;
    case QPW_FORMAT_S8:
        return SPA_AUDIO_FORMAT_S8;
    case QPW_FORMAT_U16:
        return big_endian ? SPA_AUDIO_FORMAT_U16_BE : SPA_AUDIO_FORMAT_U16_LE;
    case QPW_FORMAT_S16:
        return big_endian ? SPA_AUDIO_FORMAT_S16_BE : SPA_AUDIO_FORMAT_S16_LE;
    case QPW_FORMAT_U32:
        return big_endian ? SPA_AUDIO_FORMAT_U32_BE : SPA_AUDIO_FORMAT_U32_LE;
    case QPW_FORMAT_S32:
        return big_endian ? SPA_AUDIO_FORMAT_S32_BE : SPA_AUDIO_FORMAT_S32_LE;
    case QPW_FORMAT_F32:
        return big_endian ? SPA_AUDIO_FORMAT_F32_BE : SPA_AUDIO_FORMAT_F32_LE;
    default:
        return SPA_AUDIO_FORMAT_UNKNOWN;
    }
}

bool qpw_format_from_spa(enum spa_audio_format spa_fmt,
                         QPwFormat *fmt, bool *big_endian)
{
    QPwFormat f;
    bool be;

    switch (spa_fmt) {
    case SPA_AUDIO_FORMAT_U8:
        f = QPW_FORMAT_U8;
        be = QPW_HOST_BIG_ENDIAN;
        break;
    case SPA_AUDIO_FORMAT_S8:
        f = QPW_FORMAT_S8;
        be = QPW_HOST_BIG_ENDIAN;
        break;
    case SPA_AUDIO_FORMAT_U16_LE:
    case SPA_AUDIO_FORMAT_U16_BE:
        f = QPW_FORMAT_U16;
        be = spa_fmt == SPA_AUDIO_FORMAT_U16_BE;
        break;
    case SPA_AUDIO_FORMAT_S16_LE:
    case SPA_AUDIO_FORMAT_S16_BE:
        f = QPW_FORMAT_S16;
        be = spa_fmt == SPA_AUDIO_FORMAT_S16_BE;
        break;
    case SPA_AUDIO_FORMAT_U32_LE:
    case SPA_AUDIO_FORMAT_U32_BE:
        f = QPW_FORMAT_U32;
        be = spa_fmt == SPA_AUDIO_FORMAT_U32_BE;
        break;
    case SPA_AUDIO_FORMAT_S32_LE:
    case SPA_AUDIO_FORMAT_S32_BE:
        f = QPW_FORMAT_S32;
        be = spa_fmt == SPA_AUDIO_FORMAT_S32_BE;
        break;
    case SPA_AUDIO_FORMAT_F32_LE:
    case SPA_AUDIO_FORMAT_F32_BE:
        f = QPW_FORMAT_F32;
        be = spa_fmt == SPA_AUDIO_FORMAT_F32_BE;
        break;
    default:
        return false;
    }

    *fmt = f;
    *big_endian = be;
    return true;
}

bool qpw_channel_positions(uint32_t channels, uint32_t *positions)
{
    /* One row per channel count, see the table in the header. */
    static const uint32_t layouts[QPW_MAX_CHANNELS][QPW_MAX_CHANNELS] = {
        { SPA_AUDIO_CHANNEL_MONO },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR, SPA_AUDIO_CHANNEL_LFE },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR,
          SPA_AUDIO_CHANNEL_RL, SPA_AUDIO_CHANNEL_RR },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR, SPA_AUDIO_CHANNEL_FC,
          SPA_AUDIO_CHANNEL_RL, SPA_AUDIO_CHANNEL_RR },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR, SPA_AUDIO_CHANNEL_FC,
          SPA_AUDIO_CHANNEL_LFE,
          SPA_AUDIO_CHANNEL_RL, SPA_AUDIO_CHANNEL_RR },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR, SPA_AUDIO_CHANNEL_FC,
          SPA_AUDIO_CHANNEL_LFE, SPA_AUDIO_CHANNEL_RC,
          SPA_AUDIO_CHANNEL_SL, SPA_AUDIO_CHANNEL_SR },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR, SPA_AUDIO_CHANNEL_FC,
          SPA_AUDIO_CHANNEL_LFE,
          SPA_AUDIO_CHANNEL_RL, SPA_AUDIO_CHANNEL_RR,
          SPA_AUDIO_CHANNEL_SL, SPA_AUDIO_CHANNEL_SR },
    };

    if (channels < 1 || channels > QPW_MAX_CHANNELS) {
        return false;
    }
    memcpy(positions, layouts[channels - 1], channels * sizeof(*positions));
    return true;
}
