/*
 * PipeWire audio backend: when to try reconnecting to the daemon.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "pwaudio-retry.h"

bool qpw_retry_init(QPwRetry *r, uint32_t first_ms, uint32_t max_ms)
{
    if (first_ms == 0 || first_ms > max_ms) {
        return false;
    }
    r->first_ms = first_ms;
    r->max_ms = max_ms;
    r->failures = 0;
    r->since_us = 0;
    return true;
}

void qpw_retry_start(QPwRetry *r, uint64_t now_us)
{
    r->failures = 0;
    r->since_us = now_us;
}

uint32_t qpw_retry_failed(QPwRetry *r)
{
    uint64_t wait = r->first_ms;
    uint32_t i;

    if (r->failures < UINT32_MAX) {
        r->failures++;
    }
    /* Double once per earlier failure; stop at the cap (no overflow). */
    for (i = 1; i < r->failures && wait < r->max_ms; i++) {
        wait *= 2;
    }
    return wait < r->max_ms ? (uint32_t)wait : r->max_ms;
}

uint32_t qpw_retry_failures(const QPwRetry *r)
{
    return r->failures;
}

uint64_t qpw_retry_elapsed_us(const QPwRetry *r, uint64_t now_us)
{
    return now_us > r->since_us ? now_us - r->since_us : 0;
}
