/*
 * The guest error count of the stand-in "qemu/log.h".
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/log.h"

unsigned int vsnd_unit_guest_errors;
