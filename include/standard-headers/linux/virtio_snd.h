/*
 * Virtio sound device: wire structures and constants.
 *
 * Written for this project from the VIRTIO 1.2 specification, section 5.14
 * (Sound Device), plus the control element extension of VIRTIO 1.3
 * (VIRTIO_SND_F_CTLS). Every multi-byte field is little-endian on the wire;
 * the fields are declared with host integer types, so convert them (e.g.
 * GUINT32_FROM_LE) when reading and writing.
 *
 * QEMU imports this header from Linux. QEMU 7.2's copy predates the
 * control elements, so scripts/qemu-glue.py puts this one in its place
 * there; QEMU 10's copy has them and is used as it is. This one therefore
 * has the same names and the same layout as Linux's, so that the device
 * builds unchanged against either; what the device needs beyond them is
 * in its own headers (hw/audio/virtio-snd-pcm.h, virtio-snd-req.h).
 *
 * The spec says its structures have no padding; the static assertions below
 * check that the natural C layout matches it, for every structure but
 * virtio_snd_ctl_info (see there).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VIRTIO_SND_H
#define VIRTIO_SND_H

#include <stdint.h>

#define VIRTIO_SND_ASSERT_SIZE(type, size) \
    _Static_assert(sizeof(type) == (size), #type " has the spec's size")

/* Device feature bits (5.14.3). */
#define VIRTIO_SND_F_CTLS 0             /* control elements (VIRTIO 1.3) */

/* Virtqueues (5.14.2). */
enum {
    VIRTIO_SND_VQ_CONTROL = 0,
    VIRTIO_SND_VQ_EVENT,
    VIRTIO_SND_VQ_TX,
    VIRTIO_SND_VQ_RX,
    VIRTIO_SND_VQ_MAX
};

/*
 * Device configuration (5.14.4). VIRTIO 1.2 ends after @chmaps; @controls
 * only exists for the driver once VIRTIO_SND_F_CTLS has been negotiated.
 */
struct virtio_snd_config {
    uint32_t jacks;
    uint32_t streams;
    uint32_t chmaps;
    uint32_t controls;
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_config, 16);

/* Request, event and status codes (5.14.6). */
enum {
    /* jack requests */
    VIRTIO_SND_R_JACK_INFO = 1,
    VIRTIO_SND_R_JACK_REMAP,

    /* PCM requests */
    VIRTIO_SND_R_PCM_INFO = 0x0100,
    VIRTIO_SND_R_PCM_SET_PARAMS,
    VIRTIO_SND_R_PCM_PREPARE,
    VIRTIO_SND_R_PCM_RELEASE,
    VIRTIO_SND_R_PCM_START,
    VIRTIO_SND_R_PCM_STOP,

    /* channel map requests */
    VIRTIO_SND_R_CHMAP_INFO = 0x0200,

    /* control element requests (VIRTIO_SND_F_CTLS) */
    VIRTIO_SND_R_CTL_INFO = 0x0300,
    VIRTIO_SND_R_CTL_ENUM_ITEMS,
    VIRTIO_SND_R_CTL_READ,
    VIRTIO_SND_R_CTL_WRITE,
    VIRTIO_SND_R_CTL_TLV_READ,
    VIRTIO_SND_R_CTL_TLV_WRITE,
    VIRTIO_SND_R_CTL_TLV_COMMAND,

    /* jack events */
    VIRTIO_SND_EVT_JACK_CONNECTED = 0x1000,
    VIRTIO_SND_EVT_JACK_DISCONNECTED,

    /* PCM events */
    VIRTIO_SND_EVT_PCM_PERIOD_ELAPSED = 0x1100,
    VIRTIO_SND_EVT_PCM_XRUN,

    /* control element events (VIRTIO_SND_F_CTLS) */
    VIRTIO_SND_EVT_CTL_NOTIFY = 0x1200,

    /* status codes */
    VIRTIO_SND_S_OK = 0x8000,
    VIRTIO_SND_S_BAD_MSG,
    VIRTIO_SND_S_NOT_SUPP,
    VIRTIO_SND_S_IO_ERR
};

/* Data flow directions. */
enum {
    VIRTIO_SND_D_OUTPUT = 0,
    VIRTIO_SND_D_INPUT
};

/* Common header of every request and response: a request or status code. */
struct virtio_snd_hdr {
    uint32_t code;
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_hdr, 4);

/* Notification on the event queue. */
struct virtio_snd_event {
    struct virtio_snd_hdr hdr;          /* VIRTIO_SND_EVT_* */
    uint32_t data;                      /* jack, stream or control id */
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_event, 8);

/* Item information request (JACK_INFO, PCM_INFO, CHMAP_INFO, CTL_INFO). */
struct virtio_snd_query_info {
    struct virtio_snd_hdr hdr;
    uint32_t start_id;
    uint32_t count;
    uint32_t size;                      /* bytes of one item in the reply */
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_query_info, 16);

/* Common header of every item information structure. */
struct virtio_snd_info {
    uint32_t hda_fn_nid;                /* HDA function group node id */
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_info, 4);

/* Jacks (5.14.6.4). */
struct virtio_snd_jack_hdr {
    struct virtio_snd_hdr hdr;
    uint32_t jack_id;
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_jack_hdr, 8);

/* Jack features: bit numbers in virtio_snd_jack_info.features. */
enum {
    VIRTIO_SND_JACK_F_REMAP = 0
};

struct virtio_snd_jack_info {
    struct virtio_snd_info hdr;
    uint32_t features;                  /* 1 << VIRTIO_SND_JACK_F_* */
    uint32_t hda_reg_defconf;           /* HDA pin default configuration */
    uint32_t hda_reg_caps;              /* HDA pin capabilities */
    uint8_t connected;
    uint8_t padding[7];
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_jack_info, 24);

struct virtio_snd_jack_remap {
    struct virtio_snd_jack_hdr hdr;     /* VIRTIO_SND_R_JACK_REMAP */
    uint32_t association;
    uint32_t sequence;
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_jack_remap, 16);

/* PCM streams (5.14.6.6). */
struct virtio_snd_pcm_hdr {
    struct virtio_snd_hdr hdr;
    uint32_t stream_id;
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_pcm_hdr, 8);

/* PCM stream features: bit numbers in the features fields. */
enum {
    VIRTIO_SND_PCM_F_SHMEM_HOST = 0,
    VIRTIO_SND_PCM_F_SHMEM_GUEST,
    VIRTIO_SND_PCM_F_MSG_POLLING,
    VIRTIO_SND_PCM_F_EVT_SHMEM_PERIODS,
    VIRTIO_SND_PCM_F_EVT_XRUNS
};

/* PCM sample formats: bit numbers in virtio_snd_pcm_info.formats. */
enum {
    /* analog formats (width / physical width) */
    VIRTIO_SND_PCM_FMT_IMA_ADPCM = 0,   /*  4 /  4 bits */
    VIRTIO_SND_PCM_FMT_MU_LAW,          /*  8 /  8 bits */
    VIRTIO_SND_PCM_FMT_A_LAW,           /*  8 /  8 bits */
    VIRTIO_SND_PCM_FMT_S8,              /*  8 /  8 bits */
    VIRTIO_SND_PCM_FMT_U8,              /*  8 /  8 bits */
    VIRTIO_SND_PCM_FMT_S16,             /* 16 / 16 bits */
    VIRTIO_SND_PCM_FMT_U16,             /* 16 / 16 bits */
    VIRTIO_SND_PCM_FMT_S18_3,           /* 18 / 24 bits */
    VIRTIO_SND_PCM_FMT_U18_3,           /* 18 / 24 bits */
    VIRTIO_SND_PCM_FMT_S20_3,           /* 20 / 24 bits */
    VIRTIO_SND_PCM_FMT_U20_3,           /* 20 / 24 bits */
    VIRTIO_SND_PCM_FMT_S24_3,           /* 24 / 24 bits */
    VIRTIO_SND_PCM_FMT_U24_3,           /* 24 / 24 bits */
    VIRTIO_SND_PCM_FMT_S20,             /* 20 / 32 bits */
    VIRTIO_SND_PCM_FMT_U20,             /* 20 / 32 bits */
    VIRTIO_SND_PCM_FMT_S24,             /* 24 / 32 bits */
    VIRTIO_SND_PCM_FMT_U24,             /* 24 / 32 bits */
    VIRTIO_SND_PCM_FMT_S32,             /* 32 / 32 bits */
    VIRTIO_SND_PCM_FMT_U32,             /* 32 / 32 bits */
    VIRTIO_SND_PCM_FMT_FLOAT,           /* 32 / 32 bits */
    VIRTIO_SND_PCM_FMT_FLOAT64,         /* 64 / 64 bits */
    /* digital formats (width / physical width) */
    VIRTIO_SND_PCM_FMT_DSD_U8,          /*  8 /  8 bits */
    VIRTIO_SND_PCM_FMT_DSD_U16,         /* 16 / 16 bits */
    VIRTIO_SND_PCM_FMT_DSD_U32,         /* 32 / 32 bits */
    VIRTIO_SND_PCM_FMT_IEC958_SUBFRAME  /* 32 / 32 bits */
};

/*
 * PCM frame rates: bit numbers in virtio_snd_pcm_info.rates. The spec
 * appends 12000 and 24000 (VSND_PCM_RATE_12000 in virtio-snd-pcm.h).
 */
enum {
    VIRTIO_SND_PCM_RATE_5512 = 0,
    VIRTIO_SND_PCM_RATE_8000,
    VIRTIO_SND_PCM_RATE_11025,
    VIRTIO_SND_PCM_RATE_16000,
    VIRTIO_SND_PCM_RATE_22050,
    VIRTIO_SND_PCM_RATE_32000,
    VIRTIO_SND_PCM_RATE_44100,
    VIRTIO_SND_PCM_RATE_48000,
    VIRTIO_SND_PCM_RATE_64000,
    VIRTIO_SND_PCM_RATE_88200,
    VIRTIO_SND_PCM_RATE_96000,
    VIRTIO_SND_PCM_RATE_176400,
    VIRTIO_SND_PCM_RATE_192000,
    VIRTIO_SND_PCM_RATE_384000
};

struct virtio_snd_pcm_info {
    struct virtio_snd_info hdr;
    uint32_t features;                  /* 1 << VIRTIO_SND_PCM_F_* */
    uint64_t formats;                   /* 1 << VIRTIO_SND_PCM_FMT_* */
    uint64_t rates;                     /* 1 << VIRTIO_SND_PCM_RATE_* */
    uint8_t direction;                  /* VIRTIO_SND_D_* */
    uint8_t channels_min;
    uint8_t channels_max;
    uint8_t padding[5];
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_pcm_info, 32);

struct virtio_snd_pcm_set_params {
    struct virtio_snd_pcm_hdr hdr;      /* VIRTIO_SND_R_PCM_SET_PARAMS */
    uint32_t buffer_bytes;
    uint32_t period_bytes;
    uint32_t features;                  /* 1 << VIRTIO_SND_PCM_F_* */
    uint8_t channels;
    uint8_t format;                     /* VIRTIO_SND_PCM_FMT_* */
    uint8_t rate;                       /* VIRTIO_SND_PCM_RATE_* */
    uint8_t padding;
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_pcm_set_params, 24);

/* PCM I/O messages (5.14.6.8): header, then the frames, then the status. */
struct virtio_snd_pcm_xfer {
    uint32_t stream_id;
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_pcm_xfer, 4);

struct virtio_snd_pcm_status {
    uint32_t status;                    /* VIRTIO_SND_S_OK or _IO_ERR */
    uint32_t latency_bytes;
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_pcm_status, 8);

/* Channel maps (5.14.6.9). */
enum {
    VIRTIO_SND_CHMAP_NONE = 0,          /* undefined */
    VIRTIO_SND_CHMAP_NA,                /* silent */
    VIRTIO_SND_CHMAP_MONO,              /* mono stream */
    VIRTIO_SND_CHMAP_FL,                /* front left */
    VIRTIO_SND_CHMAP_FR,                /* front right */
    VIRTIO_SND_CHMAP_RL,                /* rear left */
    VIRTIO_SND_CHMAP_RR,                /* rear right */
    VIRTIO_SND_CHMAP_FC,                /* front center */
    VIRTIO_SND_CHMAP_LFE,               /* low frequency (LFE) */
    VIRTIO_SND_CHMAP_SL,                /* side left */
    VIRTIO_SND_CHMAP_SR,                /* side right */
    VIRTIO_SND_CHMAP_RC,                /* rear center */
    VIRTIO_SND_CHMAP_FLC,               /* front left center */
    VIRTIO_SND_CHMAP_FRC,               /* front right center */
    VIRTIO_SND_CHMAP_RLC,               /* rear left center */
    VIRTIO_SND_CHMAP_RRC,               /* rear right center */
    VIRTIO_SND_CHMAP_FLW,               /* front left wide */
    VIRTIO_SND_CHMAP_FRW,               /* front right wide */
    VIRTIO_SND_CHMAP_FLH,               /* front left high */
    VIRTIO_SND_CHMAP_FCH,               /* front center high */
    VIRTIO_SND_CHMAP_FRH,               /* front right high */
    VIRTIO_SND_CHMAP_TC,                /* top center */
    VIRTIO_SND_CHMAP_TFL,               /* top front left */
    VIRTIO_SND_CHMAP_TFR,               /* top front right */
    VIRTIO_SND_CHMAP_TFC,               /* top front center */
    VIRTIO_SND_CHMAP_TRL,               /* top rear left */
    VIRTIO_SND_CHMAP_TRR,               /* top rear right */
    VIRTIO_SND_CHMAP_TRC,               /* top rear center */
    VIRTIO_SND_CHMAP_TFLC,              /* top front left center */
    VIRTIO_SND_CHMAP_TFRC,              /* top front right center */
    VIRTIO_SND_CHMAP_TSL,               /* top side left */
    VIRTIO_SND_CHMAP_TSR,               /* top side right */
    VIRTIO_SND_CHMAP_LLFE,              /* left LFE */
    VIRTIO_SND_CHMAP_RLFE,              /* right LFE */
    VIRTIO_SND_CHMAP_BC,                /* bottom center */
    VIRTIO_SND_CHMAP_BLC,               /* bottom left center */
    VIRTIO_SND_CHMAP_BRC                /* bottom right center */
};

/* The most channel positions one channel map can hold. */
#define VIRTIO_SND_CHMAP_MAX_SIZE 18

struct virtio_snd_chmap_info {
    struct virtio_snd_info hdr;
    uint8_t direction;                  /* VIRTIO_SND_D_* */
    uint8_t channels;                   /* valid entries in @positions */
    uint8_t positions[VIRTIO_SND_CHMAP_MAX_SIZE]; /* VIRTIO_SND_CHMAP_* */
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_chmap_info, 24);

/* Control elements (VIRTIO 1.3, VIRTIO_SND_F_CTLS). */
struct virtio_snd_ctl_hdr {
    struct virtio_snd_hdr hdr;
    uint32_t control_id;
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_ctl_hdr, 8);

enum {
    VIRTIO_SND_CTL_ROLE_UNDEFINED = 0,
    VIRTIO_SND_CTL_ROLE_VOLUME,
    VIRTIO_SND_CTL_ROLE_MUTE,
    VIRTIO_SND_CTL_ROLE_GAIN
};

enum {
    VIRTIO_SND_CTL_TYPE_BOOLEAN = 0,
    VIRTIO_SND_CTL_TYPE_INTEGER,
    VIRTIO_SND_CTL_TYPE_INTEGER64,
    VIRTIO_SND_CTL_TYPE_ENUMERATED,
    VIRTIO_SND_CTL_TYPE_BYTES,
    VIRTIO_SND_CTL_TYPE_IEC958
};

/* Access rights: bit numbers in virtio_snd_ctl_info.access. */
enum {
    VIRTIO_SND_CTL_ACCESS_READ = 0,
    VIRTIO_SND_CTL_ACCESS_WRITE,
    VIRTIO_SND_CTL_ACCESS_VOLATILE,
    VIRTIO_SND_CTL_ACCESS_INACTIVE,
    VIRTIO_SND_CTL_ACCESS_TLV_READ,
    VIRTIO_SND_CTL_ACCESS_TLV_WRITE,
    VIRTIO_SND_CTL_ACCESS_TLV_COMMAND
};

/*
 * The one structure whose spec layout is not the natural C one: @value
 * follows @name at offset 68, and the spec's size is 92 bytes. Declared
 * naturally, as Linux does, the 64-bit triple puts @value at 72 (96 bytes)
 * on 64-bit targets; Linux's driver asks for items of that size, and the
 * query's `size` field tells the two layouts apart (virtio-snd-ctl.h).
 */
struct virtio_snd_ctl_info {
    struct virtio_snd_info hdr;
    uint32_t role;        /* ROLE_* << 1 | VIRTIO_SND_D_*, or UNDEFINED */
    uint32_t type;        /* VIRTIO_SND_CTL_TYPE_* */
    uint32_t access;      /* 1 << VIRTIO_SND_CTL_ACCESS_* */
    uint32_t count;       /* members of @type in the value */
    uint32_t index;       /* tells apart elements with the same @name */
    uint8_t name[44];     /* 0-terminated */
    union {
        struct {
            uint32_t min;
            uint32_t max;
            uint32_t step;
        } integer;
        struct {
            uint64_t min;
            uint64_t max;
            uint64_t step;
        } integer64;
        struct {
            uint32_t items;
        } enumerated;
    } value;
};

/* One item of a VIRTIO_SND_R_CTL_ENUM_ITEMS reply: a 0-terminated name. */
struct virtio_snd_ctl_enum_item {
    uint8_t item[64];
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_ctl_enum_item, 64);

struct virtio_snd_ctl_iec958 {
    uint8_t status[24];                 /* AES/IEC958 channel status bits */
    uint8_t subcode[147];               /* AES/IEC958 subcode bits */
    uint8_t pad;
    uint8_t dig_subframe[4];            /* AES/IEC958 subframe bits */
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_ctl_iec958, 176);

/* Value of CTL_READ replies and CTL_WRITE requests. */
struct virtio_snd_ctl_value {
    union {
        uint32_t integer[128];          /* BOOLEAN and INTEGER */
        uint64_t integer64[64];
        uint32_t enumerated[128];       /* item indexes */
        uint8_t bytes[512];
        struct virtio_snd_ctl_iec958 iec958;
    } value;
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_ctl_value, 512);

/* Reasons in virtio_snd_ctl_event.mask. */
enum {
    VIRTIO_SND_CTL_EVT_MASK_VALUE = 0,
    VIRTIO_SND_CTL_EVT_MASK_INFO,
    VIRTIO_SND_CTL_EVT_MASK_TLV
};

struct virtio_snd_ctl_event {
    struct virtio_snd_hdr hdr;          /* VIRTIO_SND_EVT_CTL_NOTIFY */
    uint16_t control_id;
    uint16_t mask;                      /* 1 << VIRTIO_SND_CTL_EVT_MASK_* */
};
VIRTIO_SND_ASSERT_SIZE(struct virtio_snd_ctl_event, 8);

#undef VIRTIO_SND_ASSERT_SIZE

#endif /* VIRTIO_SND_H */
