/*
 * Unit tests of audio/pwaudio-format: SPA format mapping, sample sizes
 * and channel layouts.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>
#include <string.h>

#include "audio/pwaudio-format.h"

typedef struct FormatCase {
    QPwFormat fmt;
    size_t bytes;
    enum spa_audio_format le;
    enum spa_audio_format be;
} FormatCase;

/* Written out by hand so the test does not share the unit's logic. */
static const FormatCase cases[] = {
    { QPW_FORMAT_U8, 1, SPA_AUDIO_FORMAT_U8, SPA_AUDIO_FORMAT_U8 },
    { QPW_FORMAT_S8, 1, SPA_AUDIO_FORMAT_S8, SPA_AUDIO_FORMAT_S8 },
    { QPW_FORMAT_U16, 2, SPA_AUDIO_FORMAT_U16_LE, SPA_AUDIO_FORMAT_U16_BE },
    { QPW_FORMAT_S16, 2, SPA_AUDIO_FORMAT_S16_LE, SPA_AUDIO_FORMAT_S16_BE },
    { QPW_FORMAT_U32, 4, SPA_AUDIO_FORMAT_U32_LE, SPA_AUDIO_FORMAT_U32_BE },
    { QPW_FORMAT_S32, 4, SPA_AUDIO_FORMAT_S32_LE, SPA_AUDIO_FORMAT_S32_BE },
    { QPW_FORMAT_F32, 4, SPA_AUDIO_FORMAT_F32_LE, SPA_AUDIO_FORMAT_F32_BE },
};

static void test_all_formats_covered(void)
{
    g_assert_cmpuint(G_N_ELEMENTS(cases), ==, QPW_FORMAT__MAX);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_cmpint(cases[i].fmt, ==, (QPwFormat)i);
        g_assert_true(qpw_format_is_valid(cases[i].fmt));
    }
    g_assert_false(qpw_format_is_valid(QPW_FORMAT__MAX));
    g_assert_false(qpw_format_is_valid((QPwFormat)-1));
}

static void test_bytes_per_sample(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_cmpuint(qpw_format_bytes_per_sample(cases[i].fmt), ==,
                         cases[i].bytes);
    }
    g_assert_cmpuint(qpw_format_bytes_per_sample(QPW_FORMAT__MAX), ==, 0);
}

static void test_names(void)
{
    static const char *const names[] = {
        "u8", "s8", "u16", "s16", "u32", "s32", "f32",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_cmpstr(qpw_format_name(cases[i].fmt), ==, names[i]);
    }
    g_assert_cmpstr(qpw_format_name(QPW_FORMAT__MAX), ==, "invalid");
}

static void test_to_spa(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_cmpint(qpw_format_to_spa(cases[i].fmt, false), ==,
                        cases[i].le);
        g_assert_cmpint(qpw_format_to_spa(cases[i].fmt, true), ==,
                        cases[i].be);
    }
    g_assert_cmpint(qpw_format_to_spa(QPW_FORMAT__MAX, false), ==,
                    SPA_AUDIO_FORMAT_UNKNOWN);
}

static void test_spa_round_trip(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        for (int be = 0; be <= 1; be++) {
            enum spa_audio_format spa = qpw_format_to_spa(cases[i].fmt, be);
            QPwFormat back = QPW_FORMAT__MAX;
            bool back_be = !be;

            g_assert_true(qpw_format_from_spa(spa, &back, &back_be));
            g_assert_cmpint(back, ==, cases[i].fmt);
            if (cases[i].bytes == 1) {
                /* No byte order: reported as the host's (QEMU: no swap). */
                g_assert_cmpint(back_be, ==, QPW_HOST_BIG_ENDIAN);
            } else {
                g_assert_cmpint(back_be, ==, be);
            }
        }
    }
}

static void test_spa_distinct(void)
{
    /* Multi-byte formats must never collapse two byte orders into one. */
    enum spa_audio_format seen[2 * QPW_FORMAT__MAX];
    size_t n = 0;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        for (int be = 0; be <= (cases[i].bytes > 1); be++) {
            enum spa_audio_format spa = qpw_format_to_spa(cases[i].fmt, be);

            g_assert_true(SPA_AUDIO_FORMAT_IS_INTERLEAVED(spa));
            for (size_t j = 0; j < n; j++) {
                g_assert_cmpint(seen[j], !=, spa);
            }
            seen[n++] = spa;
        }
    }
    g_assert_cmpuint(n, ==, 12);
}

static void test_from_spa_unsupported(void)
{
    static const enum spa_audio_format unsupported[] = {
        SPA_AUDIO_FORMAT_UNKNOWN, SPA_AUDIO_FORMAT_ENCODED,
        SPA_AUDIO_FORMAT_S24_LE, SPA_AUDIO_FORMAT_S24_32_BE,
        SPA_AUDIO_FORMAT_U24_LE, SPA_AUDIO_FORMAT_F64_LE,
        SPA_AUDIO_FORMAT_F64_BE, SPA_AUDIO_FORMAT_ULAW,
        SPA_AUDIO_FORMAT_S16P, SPA_AUDIO_FORMAT_F32P,
        SPA_AUDIO_FORMAT_U8P,
    };

    for (size_t i = 0; i < G_N_ELEMENTS(unsupported); i++) {
        QPwFormat fmt = QPW_FORMAT_S32;
        bool be = true;

        g_assert_false(qpw_format_from_spa(unsupported[i], &fmt, &be));
        /* Outputs untouched on failure. */
        g_assert_cmpint(fmt, ==, QPW_FORMAT_S32);
        g_assert_true(be);
    }
}

static void test_channel_positions(void)
{
    static const uint32_t expected[QPW_MAX_CHANNELS][QPW_MAX_CHANNELS] = {
        { SPA_AUDIO_CHANNEL_MONO },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR, SPA_AUDIO_CHANNEL_LFE },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR, SPA_AUDIO_CHANNEL_RL,
          SPA_AUDIO_CHANNEL_RR },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR, SPA_AUDIO_CHANNEL_FC,
          SPA_AUDIO_CHANNEL_RL, SPA_AUDIO_CHANNEL_RR },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR, SPA_AUDIO_CHANNEL_FC,
          SPA_AUDIO_CHANNEL_LFE, SPA_AUDIO_CHANNEL_RL, SPA_AUDIO_CHANNEL_RR },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR, SPA_AUDIO_CHANNEL_FC,
          SPA_AUDIO_CHANNEL_LFE, SPA_AUDIO_CHANNEL_RC, SPA_AUDIO_CHANNEL_SL,
          SPA_AUDIO_CHANNEL_SR },
        { SPA_AUDIO_CHANNEL_FL, SPA_AUDIO_CHANNEL_FR, SPA_AUDIO_CHANNEL_FC,
          SPA_AUDIO_CHANNEL_LFE, SPA_AUDIO_CHANNEL_RL, SPA_AUDIO_CHANNEL_RR,
          SPA_AUDIO_CHANNEL_SL, SPA_AUDIO_CHANNEL_SR },
    };

    for (uint32_t n = 1; n <= QPW_MAX_CHANNELS; n++) {
        uint32_t pos[SPA_AUDIO_MAX_CHANNELS];

        for (uint32_t i = 0; i < SPA_AUDIO_MAX_CHANNELS; i++) {
            pos[i] = 0xdeadbeef;
        }
        g_assert_true(qpw_channel_positions(n, pos));
        for (uint32_t i = 0; i < n; i++) {
            g_assert_cmpuint(pos[i], ==, expected[n - 1][i]);
            g_assert_cmpuint(pos[i], !=, SPA_AUDIO_CHANNEL_UNKNOWN);
            /* No position may repeat within a layout. */
            for (uint32_t j = 0; j < i; j++) {
                g_assert_cmpuint(pos[j], !=, pos[i]);
            }
        }
        /* Nothing written past the channel count. */
        g_assert_cmphex(pos[n], ==, 0xdeadbeef);
    }
}

static void test_channel_positions_invalid(void)
{
    uint32_t pos[SPA_AUDIO_MAX_CHANNELS] = { 0 };

    g_assert_false(qpw_channel_positions(0, pos));
    g_assert_false(qpw_channel_positions(QPW_MAX_CHANNELS + 1, pos));
    g_assert_false(qpw_channel_positions(UINT32_MAX, pos));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pwaudio/format/all-covered", test_all_formats_covered);
    g_test_add_func("/pwaudio/format/bytes-per-sample", test_bytes_per_sample);
    g_test_add_func("/pwaudio/format/names", test_names);
    g_test_add_func("/pwaudio/format/to-spa", test_to_spa);
    g_test_add_func("/pwaudio/format/spa-round-trip", test_spa_round_trip);
    g_test_add_func("/pwaudio/format/spa-distinct", test_spa_distinct);
    g_test_add_func("/pwaudio/format/from-spa-unsupported",
                    test_from_spa_unsupported);
    g_test_add_func("/pwaudio/format/channel-positions",
                    test_channel_positions);
    g_test_add_func("/pwaudio/format/channel-positions-invalid",
                    test_channel_positions_invalid);
    return g_test_run();
}
