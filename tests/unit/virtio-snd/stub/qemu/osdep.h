/*
 * Stand-in for QEMU's "qemu/osdep.h" in the standalone unit build.
 *
 * Our QEMU-independent sources include "qemu/osdep.h" first, as QEMU
 * requires of every .c file. Inside QEMU that is the real one; here it is
 * this file, which provides the part of it those sources use: the C
 * library headers, struct iovec, glib (byte order macros, MIN/MAX), and
 * container_of(), with which a home finds its own structure around ours.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VSND_UNIT_OSDEP_H
#define VSND_UNIT_OSDEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <glib.h>

#define container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

#endif /* VSND_UNIT_OSDEP_H */
