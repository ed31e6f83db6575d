/*
 * Unit tests of audio/pwaudio-retry: the reconnect schedule.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>

#include "audio/pwaudio-retry.h"

static void test_init_rejects(void)
{
    QPwRetry r = { .first_ms = 7, .max_ms = 9 };

    g_assert_false(qpw_retry_init(&r, 0, 100));
    g_assert_false(qpw_retry_init(&r, 200, 100));
    /* Left unchanged. */
    g_assert_cmpuint(r.first_ms, ==, 7);
    g_assert_cmpuint(r.max_ms, ==, 9);
    g_assert_true(qpw_retry_init(&r, 100, 100));
}

static void test_backend_schedule(void)
{
    static const uint32_t want[] = { 50, 100, 200, 250, 250, 250 };
    QPwRetry r;

    g_assert_true(qpw_retry_init(&r, QPW_RETRY_FIRST_MS, QPW_RETRY_MAX_MS));
    qpw_retry_start(&r, 1000);
    g_assert_cmpuint(qpw_retry_failures(&r), ==, 0);
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        g_assert_cmpuint(qpw_retry_failed(&r), ==, want[i]);
        g_assert_cmpuint(qpw_retry_failures(&r), ==, i + 1);
    }
}

static void test_doubling_exact_cap(void)
{
    QPwRetry r;

    g_assert_true(qpw_retry_init(&r, 1, 8));
    qpw_retry_start(&r, 0);
    g_assert_cmpuint(qpw_retry_failed(&r), ==, 1);
    g_assert_cmpuint(qpw_retry_failed(&r), ==, 2);
    g_assert_cmpuint(qpw_retry_failed(&r), ==, 4);
    g_assert_cmpuint(qpw_retry_failed(&r), ==, 8);
    g_assert_cmpuint(qpw_retry_failed(&r), ==, 8);
}

static void test_restart_resets(void)
{
    QPwRetry r;

    g_assert_true(qpw_retry_init(&r, 50, 250));
    qpw_retry_start(&r, 0);
    for (int i = 0; i < 10; i++) {
        qpw_retry_failed(&r);
    }
    qpw_retry_start(&r, 5000000);
    g_assert_cmpuint(qpw_retry_failures(&r), ==, 0);
    g_assert_cmpuint(qpw_retry_failed(&r), ==, 50);
}

static void test_many_failures_no_overflow(void)
{
    QPwRetry r;

    /* Large values: doubling must stop at the cap, not wrap around. */
    g_assert_true(qpw_retry_init(&r, UINT32_MAX / 2 + 1, UINT32_MAX));
    qpw_retry_start(&r, 0);
    g_assert_cmpuint(qpw_retry_failed(&r), ==, UINT32_MAX / 2 + 1);
    g_assert_cmpuint(qpw_retry_failed(&r), ==, UINT32_MAX);

    /* The failure count saturates instead of wrapping to 0. */
    g_assert_true(qpw_retry_init(&r, 50, 250));
    qpw_retry_start(&r, 0);
    r.failures = UINT32_MAX - 1;
    g_assert_cmpuint(qpw_retry_failed(&r), ==, 250);
    g_assert_cmpuint(qpw_retry_failed(&r), ==, 250);
    g_assert_cmpuint(qpw_retry_failures(&r), ==, UINT32_MAX);
}

static void test_elapsed(void)
{
    QPwRetry r;

    g_assert_true(qpw_retry_init(&r, 50, 250));
    qpw_retry_start(&r, 2000000);
    g_assert_cmpuint(qpw_retry_elapsed_us(&r, 2000000), ==, 0);
    g_assert_cmpuint(qpw_retry_elapsed_us(&r, 4500000), ==, 2500000);
    /* A clock read before the loss (another thread's stale time). */
    g_assert_cmpuint(qpw_retry_elapsed_us(&r, 1000000), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pwaudio/retry/init-rejects", test_init_rejects);
    g_test_add_func("/pwaudio/retry/backend-schedule", test_backend_schedule);
    g_test_add_func("/pwaudio/retry/doubling-exact-cap",
                    test_doubling_exact_cap);
    g_test_add_func("/pwaudio/retry/restart-resets", test_restart_resets);
    g_test_add_func("/pwaudio/retry/no-overflow",
                    test_many_failures_no_overflow);
    g_test_add_func("/pwaudio/retry/elapsed", test_elapsed);
    return g_test_run();
}
