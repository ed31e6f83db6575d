/*
 * Unit tests of include/standard-headers/linux/virtio_snd.h: the values and
 * layouts the VIRTIO spec gives (sizes are checked at compile time by the
 * header itself; here the codes and field offsets).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"

#include "standard-headers/linux/virtio_snd.h"
#include "hw/audio/virtio-snd-pcm.h"

static void test_request_codes(void)
{
    g_assert_cmphex(VIRTIO_SND_R_JACK_INFO, ==, 0x0001);
    g_assert_cmphex(VIRTIO_SND_R_JACK_REMAP, ==, 0x0002);
    g_assert_cmphex(VIRTIO_SND_R_PCM_INFO, ==, 0x0100);
    g_assert_cmphex(VIRTIO_SND_R_PCM_SET_PARAMS, ==, 0x0101);
    g_assert_cmphex(VIRTIO_SND_R_PCM_PREPARE, ==, 0x0102);
    g_assert_cmphex(VIRTIO_SND_R_PCM_RELEASE, ==, 0x0103);
    g_assert_cmphex(VIRTIO_SND_R_PCM_START, ==, 0x0104);
    g_assert_cmphex(VIRTIO_SND_R_PCM_STOP, ==, 0x0105);
    g_assert_cmphex(VIRTIO_SND_R_CHMAP_INFO, ==, 0x0200);
    g_assert_cmphex(VIRTIO_SND_R_CTL_INFO, ==, 0x0300);
    g_assert_cmphex(VIRTIO_SND_R_CTL_ENUM_ITEMS, ==, 0x0301);
    g_assert_cmphex(VIRTIO_SND_R_CTL_READ, ==, 0x0302);
    g_assert_cmphex(VIRTIO_SND_R_CTL_WRITE, ==, 0x0303);
    g_assert_cmphex(VIRTIO_SND_R_CTL_TLV_READ, ==, 0x0304);
    g_assert_cmphex(VIRTIO_SND_R_CTL_TLV_WRITE, ==, 0x0305);
    g_assert_cmphex(VIRTIO_SND_R_CTL_TLV_COMMAND, ==, 0x0306);
}

static void test_event_and_status_codes(void)
{
    g_assert_cmphex(VIRTIO_SND_EVT_JACK_CONNECTED, ==, 0x1000);
    g_assert_cmphex(VIRTIO_SND_EVT_JACK_DISCONNECTED, ==, 0x1001);
    g_assert_cmphex(VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED, ==, 0x1100);
    g_assert_cmphex(VIRTIO_SND_EVT_PCM_XRUN, ==, 0x1101);
    g_assert_cmphex(VIRTIO_SND_EVT_CTL_NOTIFY, ==, 0x1200);
    g_assert_cmphex(VIRTIO_SND_S_OK, ==, 0x8000);
    g_assert_cmphex(VIRTIO_SND_S_BAD_MSG, ==, 0x8001);
    g_assert_cmphex(VIRTIO_SND_S_NOT_SUPP, ==, 0x8002);
    g_assert_cmphex(VIRTIO_SND_S_IO_ERR, ==, 0x8003);
}

static void test_enums(void)
{
    g_assert_cmpint(VIRTIO_SND_F_CTLS, ==, 0);
    g_assert_cmpint(VIRTIO_SND_VQ_RX, ==, 3);
    g_assert_cmpint(VIRTIO_SND_D_OUTPUT, ==, 0);
    g_assert_cmpint(VIRTIO_SND_D_INPUT, ==, 1);
    g_assert_cmpint(VIRTIO_SND_JACK_F_REMAP, ==, 0);
    g_assert_cmpint(VIRTIO_SND_PCM_F_SHMEM_GUEST, ==, 1);
    g_assert_cmpint(VIRTIO_SND_PCM_F_EVT_XRUNS, ==, 4);
    g_assert_cmpint(VIRTIO_SND_PCM_FMT_IMA_ADPCM, ==, 0);
    g_assert_cmpint(VIRTIO_SND_PCM_FMT_S8, ==, 3);
    g_assert_cmpint(VIRTIO_SND_PCM_FMT_U8, ==, 4);
    g_assert_cmpint(VIRTIO_SND_PCM_FMT_S16, ==, 5);
    g_assert_cmpint(VIRTIO_SND_PCM_FMT_U16, ==, 6);
    g_assert_cmpint(VIRTIO_SND_PCM_FMT_S24, ==, 15);
    g_assert_cmpint(VIRTIO_SND_PCM_FMT_S32, ==, 17);
    g_assert_cmpint(VIRTIO_SND_PCM_FMT_U32, ==, 18);
    g_assert_cmpint(VIRTIO_SND_PCM_FMT_FLOAT, ==, 19);
    g_assert_cmpint(VIRTIO_SND_PCM_FMT_FLOAT64, ==, 20);
    g_assert_cmpint(VIRTIO_SND_PCM_FMT_DSD_U32, ==, 23);
    g_assert_cmpint(VIRTIO_SND_PCM_FMT_IEC958_SUBFRAME, ==, 24);
    g_assert_cmpint(VIRTIO_SND_PCM_RATE_5512, ==, 0);
    g_assert_cmpint(VIRTIO_SND_PCM_RATE_44100, ==, 6);
    g_assert_cmpint(VIRTIO_SND_PCM_RATE_48000, ==, 7);
    g_assert_cmpint(VIRTIO_SND_PCM_RATE_384000, ==, 13);
    g_assert_cmpint(VSND_PCM_RATE_12000, ==, 14);
    g_assert_cmpint(VSND_PCM_RATE_24000, ==, 15);
    g_assert_cmpint(VIRTIO_SND_CHMAP_MONO, ==, 2);
    g_assert_cmpint(VIRTIO_SND_CHMAP_FL, ==, 3);
    g_assert_cmpint(VIRTIO_SND_CHMAP_LFE, ==, 8);
    g_assert_cmpint(VIRTIO_SND_CHMAP_BRC, ==, 36);
    g_assert_cmpint(VIRTIO_SND_CHMAP_MAX_SIZE, ==, 18);
    g_assert_cmpint(VIRTIO_SND_CTL_ROLE_GAIN, ==, 3);
    g_assert_cmpint(VIRTIO_SND_CTL_TYPE_IEC958, ==, 5);
    g_assert_cmpint(VIRTIO_SND_CTL_ACCESS_TLV_COMMAND, ==, 6);
    g_assert_cmpint(VIRTIO_SND_CTL_EVT_MASK_TLV, ==, 2);
}

static void test_offsets(void)
{
    g_assert_cmpuint(offsetof(struct virtio_snd_config, controls), ==, 12);
    g_assert_cmpuint(offsetof(struct virtio_snd_query_info, size), ==, 12);
    g_assert_cmpuint(offsetof(struct virtio_snd_jack_info, connected),
                     ==, 16);
    g_assert_cmpuint(offsetof(struct virtio_snd_jack_remap, sequence),
                     ==, 12);
    g_assert_cmpuint(offsetof(struct virtio_snd_pcm_info, formats), ==, 8);
    g_assert_cmpuint(offsetof(struct virtio_snd_pcm_info, rates), ==, 16);
    g_assert_cmpuint(offsetof(struct virtio_snd_pcm_info, direction), ==, 24);
    g_assert_cmpuint(offsetof(struct virtio_snd_pcm_info, channels_max),
                     ==, 26);
    g_assert_cmpuint(offsetof(struct virtio_snd_pcm_set_params, buffer_bytes),
                     ==, 8);
    g_assert_cmpuint(offsetof(struct virtio_snd_pcm_set_params, period_bytes),
                     ==, 12);
    g_assert_cmpuint(offsetof(struct virtio_snd_pcm_set_params, features),
                     ==, 16);
    g_assert_cmpuint(offsetof(struct virtio_snd_pcm_set_params, channels),
                     ==, 20);
    g_assert_cmpuint(offsetof(struct virtio_snd_pcm_set_params, format),
                     ==, 21);
    g_assert_cmpuint(offsetof(struct virtio_snd_pcm_set_params, rate),
                     ==, 22);
    g_assert_cmpuint(offsetof(struct virtio_snd_pcm_status, latency_bytes),
                     ==, 4);
    g_assert_cmpuint(offsetof(struct virtio_snd_chmap_info, positions),
                     ==, 6);
    g_assert_cmpuint(offsetof(struct virtio_snd_ctl_info, name), ==, 24);
    /* As in Linux's header: `value` aligned for its 64-bit members. */
    g_assert_cmpuint(offsetof(struct virtio_snd_ctl_info, value), ==,
                     (68 + G_ALIGNOF(uint64_t) - 1) / G_ALIGNOF(uint64_t) *
                     G_ALIGNOF(uint64_t));
    g_assert_cmpuint(offsetof(struct virtio_snd_ctl_iec958, dig_subframe),
                     ==, 172);
    g_assert_cmpuint(offsetof(struct virtio_snd_ctl_event, mask), ==, 6);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-snd/header/request-codes", test_request_codes);
    g_test_add_func("/virtio-snd/header/event-status-codes",
                    test_event_and_status_codes);
    g_test_add_func("/virtio-snd/header/enums", test_enums);
    g_test_add_func("/virtio-snd/header/offsets", test_offsets);
    return g_test_run();
}
