/*
 * PipeWire audio backend: what differs between the QEMU versions it is
 * built into (7.2, 10.0, 10.2), so that pwaudio.c reads the same in all.
 *
 * Copyright (c) 2026 The qemu-pipewire authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef PWAUDIO_COMPAT_H
#define PWAUDIO_COMPAT_H

#define QPW_QEMU_AT_LEAST(major, minor) \
    (QEMU_VERSION_MAJOR > (major) || \
     (QEMU_VERSION_MAJOR == (major) && QEMU_VERSION_MINOR >= (minor)))

/* 10.2 moved the audio layer's public header and renamed its state. */
#if QPW_QEMU_AT_LEAST(10, 2)
#include "qemu/audio.h"
typedef AudioBackend QPwAudioState;
#else
#include "audio.h"
typedef struct AudioState QPwAudioState;
#endif

/*
 * The driver's description: gone in 10.2. The driver is a candidate for
 * the implicit default audiodev: a flag in 7.2, a list in meson in 10.x.
 */
#if QPW_QEMU_AT_LEAST(10, 2)
#define QPW_DRIVER_DESCR(text)
#elif QPW_QEMU_AT_LEAST(10, 0)
#define QPW_DRIVER_DESCR(text) .descr = (text),
#else
#define QPW_DRIVER_DESCR(text) .descr = (text), .can_be_default = 1,
#endif

/*
 * The driver's init function takes an Error ** in 10.x; tried as the
 * implicit default, it gets NULL there and fails quietly. 7.2 has no
 * Error **: failures are logged unless audio_trying_default (our glue).
 */
#if QPW_QEMU_AT_LEAST(10, 0)
#define QPW_DRIVER_INIT(fn) (fn)
#define QPW_DEFINE_DRIVER_INIT(fn)
#define qpw_init_error(errp, fmt, ...) error_setg(errp, fmt, ## __VA_ARGS__)
#else
#define QPW_DRIVER_INIT(fn) (fn##_without_errp)
#define QPW_DEFINE_DRIVER_INIT(fn) \
    static void *fn##_without_errp(Audiodev *dev) { return fn(dev, NULL); }
#define qpw_init_error(errp, fmt, ...) do {                 \
        if (!audio_trying_default) {                        \
            dolog(fmt "\n", ## __VA_ARGS__);                \
        }                                                   \
    } while (0)
#endif

#endif /* PWAUDIO_COMPAT_H */
