/*
 * Stand-in for QEMU's "qemu/log.h" in the standalone unit build: guest
 * errors are counted, so a test can tell that one was logged.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VSND_UNIT_LOG_H
#define VSND_UNIT_LOG_H

#define LOG_GUEST_ERROR (1 << 11)

/* Guest errors logged so far. */
extern unsigned int vsnd_unit_guest_errors;

#define qemu_log_mask(mask, ...) \
    do { \
        if ((mask) & LOG_GUEST_ERROR) { \
            vsnd_unit_guest_errors++; \
        } \
    } while (0)

#endif /* VSND_UNIT_LOG_H */
