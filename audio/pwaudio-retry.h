/*
 * PipeWire audio backend: when to try reconnecting to the daemon.
 *
 * When the daemon goes away (it exited, crashed or was restarted), the
 * backend keeps the guest's voices running on paced silence and tries to
 * connect again from a loop timer. The first try comes at once, since a
 * restarted daemon may already be listening; after each failed try the
 * wait doubles from @first_ms up to @max_ms and then stays there. A
 * daemon that comes back is thus found within @max_ms, which is what
 * bounds how long the guest stays silent after its return, while one that
 * stays away costs a few failed connect() calls a second.
 *
 * QEMU-independent and free of PipeWire calls: the caller passes the
 * current time (any monotonic clock, in microseconds) and arms its timer
 * with what comes back.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_PWAUDIO_RETRY_H
#define QEMU_PWAUDIO_RETRY_H

#include <stdbool.h>
#include <stdint.h>

/* The backend's schedule: 0, 50, 100, 200, 250, 250, ... ms. */
#define QPW_RETRY_FIRST_MS  50u
#define QPW_RETRY_MAX_MS    250u

typedef struct QPwRetry {
    uint32_t first_ms;
    uint32_t max_ms;
    uint32_t failures;      /* failed tries since qpw_retry_start() */
    uint64_t since_us;      /* when the connection was lost */
} QPwRetry;

/*
 * Set @r up for waits from @first_ms doubling up to @max_ms. Returns
 * false, leaving @r unchanged, if @first_ms is 0 or above @max_ms.
 */
bool qpw_retry_init(QPwRetry *r, uint32_t first_ms, uint32_t max_ms);

/* The connection was lost at @now_us: start counting from scratch. */
void qpw_retry_start(QPwRetry *r, uint64_t now_us);

/*
 * A try failed: count it and return how many milliseconds to wait before
 * the next one (first_ms, then doubling, at most max_ms).
 */
uint32_t qpw_retry_failed(QPwRetry *r);

/* Failed tries so far; the successful one is the next. */
uint32_t qpw_retry_failures(const QPwRetry *r);

/* Microseconds from the loss to @now_us (0 if @now_us is earlier). */
uint64_t qpw_retry_elapsed_us(const QPwRetry *r, uint64_t now_us);

#endif /* QEMU_PWAUDIO_RETRY_H */
