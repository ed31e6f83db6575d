/*
 * Virtio sound device: what differs between the QEMU versions it is built
 * into (7.2, 10.0, 10.2), so that virtio-snd.c and virtio-snd-pci.c read
 * the same in all.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_AUDIO_VIRTIO_SND_COMPAT_H
#define HW_AUDIO_VIRTIO_SND_COMPAT_H

#define VSND_QEMU_AT_LEAST(major, minor) \
    (QEMU_VERSION_MAJOR > (major) || \
     (QEMU_VERSION_MAJOR == (major) && QEMU_VERSION_MINOR >= (minor)))

/* Headers that moved: the audio layer's, runstate's, -audio's models. */
#if VSND_QEMU_AT_LEAST(10, 2)
#include "qemu/audio.h"
#include "hw/audio/model.h"
#else
#include "audio/audio.h"
#include "hw/audio/soundhw.h"
#endif
#if VSND_QEMU_AT_LEAST(10, 0)
#include "system/runstate.h"
#else
#include "sysemu/runstate.h"
#endif

/*
 * The device's link to its audiodev ("audiodev" property): a QEMUSoundCard
 * registered with the audio layer up to 10.0, a checked AudioBackend
 * pointer in 10.2. VSND_AUDIO() is what AUD_open_out() and co. take.
 *
 * vsnd_audio_has_backend(): may the device be realized with this link?
 * In 7.2 only with an explicit audiodev (registering without one would
 * make a legacy default); in 10.x registering takes the default audiodev
 * (-audio DRIVER, or the first driver that works) as upstream's does, or
 * fails with the audio layer's message.
 */
#if VSND_QEMU_AT_LEAST(10, 2)
typedef AudioBackend *VSndAudioCard;
#define VSND_AUDIO(card) (*(card))

static inline bool vsnd_audio_has_backend(VSndAudioCard *card)
{
    return true;
}

static inline bool vsnd_audio_register(VSndAudioCard *card, const char *name,
                                       Error **errp)
{
    return AUD_backend_check(card, errp);
}

static inline void vsnd_audio_remove(VSndAudioCard *card)
{
}

/* The -audiodev's options, NULL without one (needs audio/audio_int.h). */
#define VSND_AUDIODEV(card) (*(card) ? (*(card))->dev : NULL)

#define audio_set_volume_out(sw, vol) AUD_set_volume_out(sw, vol)
#define audio_set_volume_in(sw, vol) AUD_set_volume_in(sw, vol)
#else
typedef QEMUSoundCard VSndAudioCard;
#define VSND_AUDIO(card) (card)
#define VSND_AUDIODEV(card) ((card)->state ? (card)->state->dev : NULL)

static inline bool vsnd_audio_has_backend(VSndAudioCard *card)
{
    return VSND_QEMU_AT_LEAST(10, 0) || card->state != NULL;
}

static inline bool vsnd_audio_register(VSndAudioCard *card, const char *name,
                                       Error **errp)
{
#if VSND_QEMU_AT_LEAST(10, 0)
    return AUD_register_card(name, card, errp);
#else
    AUD_register_card(name, card);
    return true;
#endif
}

static inline void vsnd_audio_remove(VSndAudioCard *card)
{
    AUD_remove_card(card);
}
#endif

/* "-audio DRIVER,model=NAME" creates the device TYPENAME. */
static inline void vsnd_register_audio_model(const char *name,
                                             const char *descr,
                                             const char *typename)
{
#if VSND_QEMU_AT_LEAST(10, 2)
    audio_register_model(name, descr, typename);
#else
    deprecated_register_soundhw(name, descr, 0, typename);
#endif
}

/*
 * 10.0 ends a Property array at its size, and checks at build time that
 * the (const) array has no terminator; 7.2 ends it at an empty entry and
 * takes it non-const. VSND_PROP_END_OF_LIST has no comma after it.
 */
#if VSND_QEMU_AT_LEAST(10, 0)
typedef const Property VSndProperty;
#define VSND_PROP_END_OF_LIST
#else
typedef Property VSndProperty;
#define VSND_PROP_END_OF_LIST DEFINE_PROP_END_OF_LIST()
#endif

/* TypeInfo.class_init's class data is const since 10.1. */
#if VSND_QEMU_AT_LEAST(10, 1)
typedef const void *VSndClassData;
#else
typedef void *VSndClassData;
#endif

#endif /* HW_AUDIO_VIRTIO_SND_COMPAT_H */
