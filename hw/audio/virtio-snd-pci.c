/*
 * virtio-sound-pci: the PCI transport of the virtio sound device.
 *
 * The device itself is hw/audio/virtio-snd.c; this proxy only gives it a
 * PCI function of class "multimedia audio" and a default number of MSI-X
 * vectors (one per virtqueue plus one for configuration changes).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/audio/virtio-snd.h"
#include "hw/virtio/virtio-pci.h"
#include "hw/qdev-properties.h"
#include "qapi/error.h"
#include "qemu/module.h"
#include "qom/object.h"

#define TYPE_VIRTIO_SND_PCI "virtio-sound-pci-base"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOSoundPCI, VIRTIO_SND_PCI)

struct VirtIOSoundPCI {
    VirtIOPCIProxy parent_obj;
    VirtIOSound vdev;
};

static VSndProperty virtio_snd_pci_properties[] = {
    DEFINE_PROP_BIT("ioeventfd", VirtIOPCIProxy, flags,
                    VIRTIO_PCI_FLAG_USE_IOEVENTFD_BIT, true),
    DEFINE_PROP_UINT32("vectors", VirtIOPCIProxy, nvectors,
                       DEV_NVECTORS_UNSPECIFIED),
    VSND_PROP_END_OF_LIST
};

static void virtio_snd_pci_realize(VirtIOPCIProxy *proxy, Error **errp)
{
    VirtIOSoundPCI *dev = VIRTIO_SND_PCI(proxy);

    if (proxy->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        proxy->nvectors = VIRTIO_SND_QUEUE_COUNT + 1;
    }
    /* There is no legacy (virtio 0.9) sound device to be compatible with. */
    virtio_pci_force_virtio_1(proxy);
    qdev_realize(DEVICE(&dev->vdev), BUS(&proxy->bus), errp);
}

static void virtio_snd_pci_class_init(ObjectClass *klass, VSndClassData data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioPCIClass *vpci = VIRTIO_PCI_CLASS(klass);
    PCIDeviceClass *pci = PCI_DEVICE_CLASS(klass);

    vpci->realize = virtio_snd_pci_realize;
    set_bit(DEVICE_CATEGORY_SOUND, dc->categories);
    dc->desc = "Virtio sound card (VIRTIO 1.2 sound device)";
    /* The PCI device id is derived from VIRTIO_ID_SOUND by virtio-pci. */
    pci->class_id = PCI_CLASS_MULTIMEDIA_AUDIO;
    device_class_set_props(dc, virtio_snd_pci_properties);
}

static void virtio_snd_pci_instance_init(Object *obj)
{
    VirtIOSoundPCI *dev = VIRTIO_SND_PCI(obj);

    virtio_instance_init_common(obj, &dev->vdev, sizeof(dev->vdev),
                                TYPE_VIRTIO_SND);
}

static const VirtioPCIDeviceTypeInfo virtio_snd_pci_info = {
    .base_name = TYPE_VIRTIO_SND_PCI,
    .generic_name = "virtio-sound-pci",
    .instance_size = sizeof(VirtIOSoundPCI),
    .instance_init = virtio_snd_pci_instance_init,
    .class_init = virtio_snd_pci_class_init,
};

static void virtio_snd_pci_register(void)
{
    virtio_pci_types_register(&virtio_snd_pci_info);
    /*
     * "-audio DRIVER,model=virtio" (and -soundhw virtio): QEMU 7.2 creates
     * the model's device on the PCI bus with "audiodev" set to the
     * audiodev it defines, as for the other sound cards.
     */
    vsnd_register_audio_model("virtio", "Virtio sound card",
                              "virtio-sound-pci");
}

type_init(virtio_snd_pci_register)
