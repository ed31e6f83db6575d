/*
 * Unit tests of audio/pwaudio-volume: QEMU's 0..255 levels to PipeWire's
 * linear channel volumes.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>
#include <math.h>

#include "audio/pwaudio-volume.h"

static void test_endpoints(void)
{
    g_assert_true(qpw_volume_to_linear(0) == 0.0f);
    g_assert_true(qpw_volume_to_linear(255) == 1.0f);
}

static void test_strictly_increasing(void)
{
    /* Strictly increasing floats also means all 256 are distinct. */
    for (unsigned level = 1; level <= 255; level++) {
        float lo = qpw_volume_to_linear(level - 1);
        float hi = qpw_volume_to_linear(level);

        if (!(hi > lo)) {
            g_error("level %u gives %g, not above level %u's %g",
                    level, hi, level - 1, lo);
        }
        g_assert_true(hi > 0.0f && hi <= 1.0f);
    }
}

static void test_curve(void)
{
    /* The dB figures documented in pwaudio-volume.h. */
    static const struct {
        uint8_t level;
        double db;
    } table[] = {
        { 254, -0.10 }, { 224, -3.38 }, { 192, -7.39 }, { 128, -17.96 },
        { 64, -36.02 }, { 16, -72.15 }, { 1, -144.39 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
        double db = 20.0 * log10(qpw_volume_to_linear(table[i].level));

        g_assert_cmpfloat_with_epsilon(db, table[i].db, 0.006);
    }
    g_assert_cmpfloat_with_epsilon(qpw_volume_to_linear(128), 0.12648,
                                   0.00001);
}

static void test_fill(void)
{
    static const uint8_t stereo[2] = { 255, 128 };
    QPwChannelVolumes v;

    g_assert_true(qpw_volume_fill(&v, false, stereo, 2, 2));
    g_assert_false(v.mute);
    g_assert_cmpuint(v.channels, ==, 2);
    g_assert_true(v.values[0] == 1.0f);
    g_assert_true(v.values[1] == qpw_volume_to_linear(128));

    /* Stereo levels over 5.1: left/right alternate (FL FR FC LFE RL RR). */
    g_assert_true(qpw_volume_fill(&v, true, stereo, 2, 6));
    g_assert_true(v.mute);
    g_assert_cmpuint(v.channels, ==, 6);
    for (unsigned i = 0; i < 6; i++) {
        g_assert_true(v.values[i] == qpw_volume_to_linear(stereo[i % 2]));
    }

    /* Mono stream: the first level. */
    g_assert_true(qpw_volume_fill(&v, false, stereo, 2, 1));
    g_assert_cmpuint(v.channels, ==, 1);
    g_assert_true(v.values[0] == 1.0f);

    /* No levels: unity everywhere. */
    g_assert_true(qpw_volume_fill(&v, false, NULL, 0, 8));
    for (unsigned i = 0; i < 8; i++) {
        g_assert_true(v.values[i] == 1.0f);
    }

    g_assert_false(qpw_volume_fill(&v, false, stereo, 2, 0));
    g_assert_false(qpw_volume_fill(&v, false, stereo, 2,
                                   QPW_VOLUME_MAX_CHANNELS + 1));
    g_assert_true(qpw_volume_fill(&v, false, stereo, 2,
                                  QPW_VOLUME_MAX_CHANNELS));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pwaudio/volume/endpoints", test_endpoints);
    g_test_add_func("/pwaudio/volume/strictly-increasing",
                    test_strictly_increasing);
    g_test_add_func("/pwaudio/volume/curve", test_curve);
    g_test_add_func("/pwaudio/volume/fill", test_fill);
    return g_test_run();
}
