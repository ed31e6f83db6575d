#!/usr/bin/env python3
"""Place this project's files into a QEMU source tree and apply its glue.

The QEMU tree is built from two copies of Debian's unpacked source: a pristine
one (never written) and a working one. Every glued file is computed afresh
from its pristine copy, so applying twice is the same as applying once, and a
file is only written when its content changes, so ninja rebuilds only what an
edit really touched.

A glue point names a file of QEMU's, an anchor (text that must occur there
exactly once) and what to add there. An anchor that is missing or ambiguous
stops everything with a message naming the anchor and the file, before any
file is written.

Each QEMU version has its own glue list (GLUE_BY_VERSION): QEMU 7.2 has
no PipeWire backend and no virtio-sound, QEMU 10 has upstream's, which our
files replace.

  qemu-glue.py apply [--qemu VERSION] PRISTINE WORK
                                     place files and apply every glue point
  qemu-glue.py markdown              print the glue lists for docs/
"""

import argparse
import filecmp
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Our own files, copied into QEMU's tree at the same relative path.
PLACED_GLOBS = [
    'audio/*.c', 'audio/*.h',
    'hw/audio/*.c', 'hw/audio/*.h',
    'include/hw/audio/*.h',
    'contrib/vhost-user-sound/*',
    'tests/qtest/*.c', 'tests/qtest/*.h', 'tests/qtest/libqos/*.c', 'tests/qtest/libqos/*.h',
]

# Our files placed only into some versions' trees: QEMU 7.2's copy of
# Linux's virtio_snd.h predates the control elements (VIRTIO_SND_F_CTLS);
# 10.x's has them, and the device builds against it.
PLACED_ONLY_IN = {'include/standard-headers/linux/virtio_snd.h': ('7.2',)}

# Sources of the PipeWire backend module (audio/), as QEMU's meson lists them.
PIPEWIRE_SOURCES = ['pwaudio.c', 'pwaudio-format.c', 'pwaudio-ring.c',
                    'pwaudio-volume.c', 'pwaudio-timing.c',
                    'pwaudio-retry.c']


@dataclass
class Glue:
    """One insertion into one of QEMU's files."""
    path: str       # QEMU file, relative to the tree's top
    anchor: str     # text that must occur exactly once in it ('' = end of file)
    where: str      # 'after-line', 'before-line', 'replace', 'append',
                    # 'drop-line' (the anchor's line) or 'drop-block' (the
                    # anchor's line up to the next empty one)
    text: str       # what to add; 'fragment:PATH[#SECTION]' reads our file
    why: str        # one line for docs/

    def content(self):
        if not self.text.startswith('fragment:'):
            return self.text
        ref = self.text[len('fragment:'):]
        path, _, section = ref.partition('#')
        return read_fragment(REPO / path, section)


def read_fragment(path, section=''):
    """A fragment file: text after its '@@ SECTION' line up to the next '@@',
    or, without a section, the whole file."""
    text = path.read_text()
    if not section:
        return text
    lines, keep = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith('@@ '):
            keep = line[3:].strip() == section
            continue
        if keep:
            lines.append(line)
    if not lines:
        raise GlueError(f'fragment {path} has no section "@@ {section}"')
    return ''.join(lines)


# PipeWire mixes, resamples and converts in its own graph: unless the user
# sets the mixing engine, fixed settings or a frequency, channel count or
# format, QEMU hands the guest's streams over exactly as the guest plays them.
PIPEWIRE_PASSTHROUGH = """\
/* PipeWire converts and mixes itself: by default, pass streams through. */
static void audio_pipewire_passthrough(AudiodevPerDirectionOptions *pdo)
{
    if (!pdo->has_mixing_engine && !pdo->has_fixed_settings &&
        !pdo->has_frequency && !pdo->has_channels && !pdo->has_format) {
        pdo->has_mixing_engine = true;
        pdo->mixing_engine = false;
    }
}

"""

# QMP query-audiodevs (declared in our qapi/audio.json): every audio state,
# also an implicit default one, has the Audiodev it was created from.
QUERY_AUDIODEVS = """
#include "qapi/qapi-commands-audio.h"
#include "qapi/clone-visitor.h"

AudiodevList *qmp_query_audiodevs(Error **errp)
{
    AudiodevList *list = NULL, **tail = &list;
    AudioState *s;

    QTAILQ_FOREACH(s, &audio_states, list) {
        QAPI_LIST_APPEND(tail, QAPI_CLONE(Audiodev, s->dev));
    }
    return list;
}
"""

# A voice's user (a sound card) tells the backend the period it moves audio
# in, so that a backend can size its buffering and wake-ups to it.
PERIOD_HINT_API = """\
/*
 * The voice's user moves audio in periods of @period_us (0: unknown); a
 * backend may size its own buffering and wake-ups to that.
 */
void audio_set_period_hint_out(SWVoiceOut *sw, uint32_t period_us);
void audio_set_period_hint_in(SWVoiceIn *sw, uint32_t period_us);
"""

PERIOD_HINT_OPS = """\
    /* optional: the period the voice's user moves audio in, 0: unknown */
    void   (*period_hint_out)(HWVoiceOut *hw, uint32_t period_us);
    void   (*period_hint_in)(HWVoiceIn *hw, uint32_t period_us);
"""

PERIOD_HINT = """
void audio_set_period_hint_out(SWVoiceOut *sw, uint32_t period_us)
{
    if (sw && sw->hw->pcm_ops->period_hint_out) {
        sw->hw->pcm_ops->period_hint_out(sw->hw, period_us);
    }
}

void audio_set_period_hint_in(SWVoiceIn *sw, uint32_t period_us)
{
    if (sw && sw->hw->pcm_ops->period_hint_in) {
        sw->hw->pcm_ops->period_hint_in(sw->hw, period_us);
    }
}
"""

# Without -audiodev QEMU tries its drivers in turn; one that cannot start
# then should not print why (QEMU falls back to the next one).
TRYING_DEFAULT = """\
/* True while a driver is tried as the implicit default: it fails quietly. */
extern bool audio_trying_default;
"""

TRYING_DEFAULT_CALL = """\
                audio_trying_default = true;
                done = !audio_driver_init(s, driver, false, dev);
                audio_trying_default = false;
"""

# Our qtests join QEMU's x86_64 list, the same way in every version.
QTEST_GLUE = Glue('tests/qtest/meson.build', 'qtests_x86_64 = qtests_i386', 'replace',
                  "qtests_x86_64 = qtests_i386 + \\\n"
                  "  (config_all_devices.has_key('CONFIG_VIRTIO_SND_PCI') ? ['virtio-snd-test'] : []) + \\\n"
                  "  ['audiodev-qmp-test']",
                  'our qtests, built for x86_64 (`ninja tests/qtest/virtio-snd-test` etc.)')

GLUE_7_2 = [
    # The build system: an option, a dependency, a driver.
    Glue('meson_options.txt', "option('sndio', type: 'feature'", 'before-line',
         'fragment:meson_options.txt',
         'the `pipewire` feature option (auto), beside the other audio drivers'),
    Glue('meson_options.txt', "'oss', 'pa', 'sdl', 'sndio'],", 'replace',
         "'oss', 'pa', 'pipewire', 'sdl', 'sndio'],",
         '`pipewire` allowed in `--audio-drv-list`'),
    Glue('meson.build', 'sndio = not_found', 'before-line',
         "pipewire = not_found\n"
         "if not get_option('pipewire').auto() or (targetos == 'linux' and have_system)\n"
         "  pipewire = dependency('libpipewire-0.3', version: '>=0.3.60',\n"
         "                        required: get_option('pipewire'),\n"
         "                        method: 'pkg-config', kwargs: static_kwargs)\n"
         "endif\n",
         'the dependency check: libpipewire-0.3 >= 0.3.60'),
    Glue('meson.build', "'pa': pulse.found(),", 'after-line',
         "    'pipewire': pipewire.found(),\n",
         '`audio_drivers_available` knows the driver (defines CONFIG_AUDIO_PIPEWIRE)'),
    Glue('meson.build', "[ 'pa', 'coreaudio', 'dsound', 'sndio', 'oss' ]", 'replace',
         "[ 'pipewire', 'pa', 'coreaudio', 'dsound', 'sndio', 'oss' ]",
         '`audio_drivers_priority`: PipeWire first where it is built, as on a modern desktop'),
    Glue('meson.build', "summary_info += {'sndio support':   sndio}", 'after-line',
         "  summary_info += {'PipeWire support': pipewire}\n",
         'the configure summary says whether PipeWire was found'),
    Glue('audio/meson.build', "['sndio', sndio, files('sndioaudio.c')],", 'after-line',
         "  ['pipewire', pipewire, files(%s)],\n"
         % ', '.join(f"'{f}'" for f in PIPEWIRE_SOURCES),
         'the backend\'s sources, built when the dependency is found'),
    # The audio layer: the driver's options.
    Glue('qapi/audio.json', "'oss', 'pa',\n", 'replace',
         "'oss', 'pa', 'pipewire',\n",
         '`pipewire` in the `AudiodevDriver` enum'),
    Glue('qapi/audio.json', "'pa':        'AudiodevPaOptions',", 'after-line',
         "    'pipewire':  'AudiodevPipewireOptions',\n",
         'the `Audiodev` union takes `AudiodevPipewireOptions` for it'),
    Glue('qapi/audio.json', '', 'append', 'fragment:qapi/audio.json',
         'our option types (`AudiodevPipewireOptions`, per-direction options)'),
    Glue('audio/audio.c', 'CASE(PA, pa, Pa);', 'after-line',
         '        CASE(PIPEWIRE, pipewire, Pipewire);\n',
         'per-direction options are allocated for the driver'),
    Glue('audio/audio.c', 'static void audio_validate_opts(Audiodev *dev, Error **errp)\n{',
         'before-line', PIPEWIRE_PASSTHROUGH,
         'PipeWire gets the guest\'s streams unconverted unless the user asks otherwise'),
    Glue('audio/audio.c', '    audio_validate_opts(dev, &error_fatal);', 'before-line',
         '    if (dev->driver == AUDIODEV_DRIVER_PIPEWIRE) {\n'
         '        audio_create_pdos(dev);\n'
         '        audio_pipewire_passthrough(audio_get_pdo_in(dev));\n'
         '        audio_pipewire_passthrough(audio_get_pdo_out(dev));\n'
         '    }\n',
         '... for each `-audiodev` (in `audio_define`, which validates once; '
         'the implicit default audiodev keeps QEMU\'s defaults)'),
    Glue('audio/audio.c', '', 'append', QUERY_AUDIODEVS,
         '`query-audiodevs`: the running audiodevs, read off `audio_states`'),
    Glue('audio/audio.h', 'void audio_set_volume_in(SWVoiceIn *sw, Volume *vol);',
         'after-line', PERIOD_HINT_API,
         '`audio_set_period_hint_out/in()`: a sound card tells the backend its period'),
    Glue('audio/audio_int.h', '    void   (*volume_in)(HWVoiceIn *hw, Volume *vol);',
         'after-line', PERIOD_HINT_OPS,
         '... through two optional `audio_pcm_ops` members'),
    Glue('audio/audio.c', '', 'append', PERIOD_HINT,
         '... which the audio layer calls for the voice\'s backend'),
    Glue('audio/audio_int.h', 'void audio_run(AudioState *s, const char *msg);',
         'after-line', TRYING_DEFAULT,
         '`audio_trying_default`: a driver tried as the implicit default knows it'),
    Glue('audio/audio.c', '                audio_validate_opts(dev, &error_abort);\n'
         '                done = !audio_driver_init(s, driver, false, dev);\n',
         'replace', '                audio_validate_opts(dev, &error_abort);\n'
         + TRYING_DEFAULT_CALL,
         '... set around each try (so PipeWire without a daemon falls back quietly)'),
    Glue('audio/audio.c', '', 'append', '\nbool audio_trying_default;\n',
         '... and defined'),
    Glue('audio/audio_template.h', 'case AUDIODEV_DRIVER_SDL:', 'before-line',
         '    case AUDIODEV_DRIVER_PIPEWIRE:\n'
         '        return qapi_AudiodevPipewirePerDirectionOptions_base(\n'
         '            dev->u.pipewire.TYPE);\n',
         'the audio layer reads the common per-direction options of ours'),
    Glue('audio/trace-events', '', 'append', 'fragment:audio/trace-events',
         'the backend\'s trace events'),
    Glue('qemu-options.hx', '#ifdef CONFIG_AUDIO_SDL\n    "-audiodev sdl', 'before-line',
         'fragment:qemu-options.hx#help',
         '`-audiodev pipewire` in `-help`'),
    Glue('qemu-options.hx', '``-audiodev sdl,id=id[,prop[=value][,...]]``', 'before-line',
         'fragment:qemu-options.hx#doc',
         '`-audiodev pipewire` in the manual'),
    # The device.
    Glue('hw/audio/Kconfig', '', 'append', 'fragment:hw/audio/Kconfig',
         '`CONFIG_VIRTIO_SND` and `CONFIG_VIRTIO_SND_PCI`'),
    Glue('hw/audio/meson.build', '', 'append', 'fragment:hw/audio/meson.build#7.2',
         'the device\'s sources'),
    Glue('hw/audio/trace-events', '', 'append', 'fragment:hw/audio/trace-events',
         'the device\'s trace events'),
    # The tests that run inside the built QEMU.
    QTEST_GLUE,
]

# QEMU 10.0 and 10.2 have upstream's PipeWire backend (with the same QAPI
# options as ours, and query-audiodevs) and virtio-sound device: our files
# replace theirs, and the glue only swaps the build lines and trace events
# and adds what upstream lacks. A failed default driver gets errp == NULL
# there, so audio_trying_default is not needed.
def glue_10(public_audio_h, set_volume_in):
    """QEMU 10.x's glue; its audio layer's public header moved in 10.2."""
    return GLUE_10 + [
        Glue(public_audio_h, set_volume_in, 'after-line', PERIOD_HINT_API,
             '`audio_set_period_hint_out/in()`: a sound card tells the backend its period'),
    ]


GLUE_10 = [
    Glue('audio/meson.build', "['pipewire', pipewire, files('pwaudio.c')],", 'replace',
         "['pipewire', pipewire, files(%s)],"
         % ', '.join(f"'{f}'" for f in PIPEWIRE_SOURCES),
         'the backend\'s sources replace upstream\'s `pwaudio.c`'),
    Glue('audio/audio.c', 'static void audio_validate_opts(Audiodev *dev, Error **errp)\n{',
         'before-line', PIPEWIRE_PASSTHROUGH,
         'PipeWire gets the guest\'s streams unconverted unless the user asks otherwise'),
    Glue('audio/audio.c', '    audio_validate_opts(dev, &error_fatal);', 'before-line',
         '    if (dev->driver == AUDIODEV_DRIVER_PIPEWIRE) {\n'
         '        audio_create_pdos(dev);\n'
         '        audio_pipewire_passthrough(audio_get_pdo_in(dev));\n'
         '        audio_pipewire_passthrough(audio_get_pdo_out(dev));\n'
         '    }\n',
         '... for each `-audiodev` (in `audio_add_audiodev`)'),
    Glue('qapi/audio.json', "#     (default 46000)\n#\n# Since: 8.1\n",
         'replace',
         "#     (default 46000)\n#\n"
         "# @min-quantum: the shortest graph cycle the stream may ask for\n"
         "#     when the sound card's periods are shorter, in microseconds\n"
         "#     (0 = no floor; default 2666, 128 frames at 48 kHz)\n"
         "#\n# Since: 8.1\n",
         'upstream\'s PipeWire options get `min-quantum` documented ...'),
    Glue('qapi/audio.json', "{ 'struct': 'AudiodevPipewirePerDirectionOptions',\n"
         "  'base': 'AudiodevPerDirectionOptions',\n  'data': {\n"
         "    '*name': 'str',\n    '*stream-name': 'str',\n"
         "    '*latency': 'uint32' } }",
         'replace',
         "{ 'struct': 'AudiodevPipewirePerDirectionOptions',\n"
         "  'base': 'AudiodevPerDirectionOptions',\n  'data': {\n"
         "    '*name': 'str',\n    '*stream-name': 'str',\n"
         "    '*latency': 'uint32',\n    '*min-quantum': 'uint32' } }",
         '... and declared'),
    Glue('audio/audio_int.h', '    void   (*volume_in)(HWVoiceIn *hw, Volume *vol);',
         'after-line', PERIOD_HINT_OPS,
         '`audio_pcm_ops` gets the optional period hint members'),
    Glue('audio/audio.c', '', 'append', PERIOD_HINT,
         '... which the audio layer calls for the voice\'s backend'),
    Glue('audio/trace-events', '# pwaudio.c', 'drop-block', '',
         'upstream\'s backend\'s trace events go ...'),
    Glue('audio/trace-events', '', 'append', 'fragment:audio/trace-events',
         '... and ours come'),
    Glue('hw/audio/Kconfig', 'config VIRTIO_SND', 'drop-block', '',
         'upstream\'s `CONFIG_VIRTIO_SND` goes ...'),
    Glue('hw/audio/Kconfig', '', 'append', 'fragment:hw/audio/Kconfig',
         '... for ours, with `CONFIG_VIRTIO_SND_PCI`'),
    Glue('hw/audio/meson.build', "if_true: files('virtio-snd.c'))", 'drop-line', '',
         'upstream\'s device sources go ...'),
    Glue('hw/audio/meson.build', "if_true: files('virtio-snd-pci.c'))", 'drop-line', '',
         '... both lines'),
    Glue('hw/audio/meson.build', '', 'append', 'fragment:hw/audio/meson.build#10',
         '... for ours'),
    Glue('hw/audio/trace-events', '#virtio-snd.c', 'drop-block', '',
         'upstream\'s device trace events go ...'),
    Glue('hw/audio/trace-events', '', 'append', 'fragment:hw/audio/trace-events',
         '... and ours come'),
    Glue('meson.build', "subdir('tools')", 'before-line',
         "if have_vhost_user\n  subdir('contrib/vhost-user-sound')\nendif\n",
         'the vhost-user sound daemon (`contrib/vhost-user-sound`), where vhost-user is built'),
    QTEST_GLUE,
]

GLUE_BY_VERSION = {
    '7.2': GLUE_7_2,
    '10.0': glue_10('audio/audio.h', 'void audio_set_volume_in(SWVoiceIn *sw, Volume *vol);'),
    '10.2': glue_10('include/qemu/audio.h', 'void AUD_set_volume_in(SWVoiceIn *sw, Volume *vol);'),
}
GLUE = GLUE_7_2


class GlueError(Exception):
    pass


def apply_one(text, glue):
    """Return text with one glue point applied."""
    add = glue.content()
    if glue.where == 'append':
        return text + ('' if text.endswith('\n') else '\n') + add
    if glue.where == 'drop-block':
        # Only at the start of a line, so that a longer line does not match.
        count = text.count('\n' + glue.anchor + '\n')
    else:
        count = text.count(glue.anchor)
    if count != 1:
        what = 'not found' if count == 0 else f'found {count} times'
        raise GlueError(f'glue anchor {glue.anchor!r} {what} in {glue.path}')
    start = text.index(glue.anchor)
    if glue.where == 'drop-block':
        start = text.index('\n' + glue.anchor + '\n') + 1
        end = text.find('\n\n', start)
        end = len(text) if end < 0 else end + 2
        return text[:start] + text[end:]
    if glue.where == 'replace':
        return text[:start] + add + text[start + len(glue.anchor):]
    line_start = text.rfind('\n', 0, start) + 1
    if glue.where == 'drop-line':
        line_end = text.find('\n', start)
        return text[:line_start] + text[line_end + 1:]
    if glue.where == 'before-line':
        return text[:line_start] + add + text[line_start:]
    if glue.where == 'after-line':
        line_end = text.find('\n', start + len(glue.anchor))
        line_end = len(text) if line_end < 0 else line_end + 1
        return text[:line_end] + add + text[line_end:]
    raise GlueError(f'unknown glue position {glue.where!r} for {glue.path}')


def glued_files(pristine, glue_list):
    """Map each glued path to its new content, computed from pristine."""
    out = {}
    for glue in glue_list:
        src = pristine / glue.path
        if glue.path not in out:
            if not src.exists():
                raise GlueError(f'glue target {glue.path} not found in {pristine}')
            out[glue.path] = src.read_text()
        out[glue.path] = apply_one(out[glue.path], glue)
    return out


def placed_files(version):
    """Our files to place into QEMU @version's tree."""
    files = set()
    for pattern in PLACED_GLOBS:
        files.update(p.relative_to(REPO).as_posix() for p in REPO.glob(pattern))
    files.update(rel for rel, versions in PLACED_ONLY_IN.items()
                 if version in versions)
    return sorted(files)


def write_if_changed(path, text):
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


def copy_if_changed(src, dst):
    if dst.exists() and filecmp.cmp(src, dst, shallow=False):
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return True


def restore_stale(pristine, work, old, new):
    """Files placed last time but not now go back to QEMU's own (or away)."""
    changed = []
    for rel in sorted(set(old) - set(new)):
        orig = pristine / rel
        if orig.exists():
            if copy_if_changed(orig, work / rel):
                changed.append(rel)
        elif (work / rel).exists():
            (work / rel).unlink()
            changed.append(rel)
    return changed


def apply(pristine, work, version='7.2'):
    # raises before anything is written
    glued = glued_files(pristine, GLUE_BY_VERSION[version])
    placed = placed_files(version)
    manifest = work / '.qemu-pipewire-placed'
    old = manifest.read_text().split() if manifest.exists() else []
    changed = restore_stale(pristine, work, old, placed)
    for rel in placed:
        if copy_if_changed(REPO / rel, work / rel):
            changed.append(rel)
    for rel, text in glued.items():
        if write_if_changed(work / rel, text):
            changed.append(rel)
    write_if_changed(manifest, '\n'.join(placed) + '\n')
    return changed


MARKDOWN_PREAMBLE = """# Glue points

Our files are placed into Debian's QEMU tree (7.2, or 10.0 and 10.2 with
`scripts/build-qemu --qemu VERSION`) at the same relative path
(`audio/*.[ch]`, `hw/audio/*.[ch]`, `include/…`, `tests/qtest/…`). Our
`include/standard-headers/linux/virtio_snd.h`, written from the VIRTIO spec
with the names and layout of Linux's, replaces 7.2's copy of Linux's, which
predates the control elements; 10.x builds against its own. In 10.x our
files replace upstream's `audio/pwaudio.c`, `hw/audio/virtio-snd*.c` and
`include/hw/audio/virtio-snd.h`; what differs between the versions' APIs is
bridged in `audio/pwaudio-compat.h`, `include/hw/audio/virtio-snd-compat.h`
and `tests/qtest/qpw-qtest-compat.h`. Everything else we need from QEMU's
own files is one of the glue points below, applied by `scripts/qemu-glue.py`
to a fresh copy of each file. An anchor must occur exactly once (a `drop-`
anchor as a whole line); when it does not, the build stops and names the
anchor and the file. These tables are generated: `scripts/qemu-glue.py
markdown > docs/glue-points.md` (a test checks that it is current).

"""


def markdown():
    """docs/glue-points.md, generated from GLUE_BY_VERSION so that the two agree."""
    out = [MARKDOWN_PREAMBLE.rstrip('\n')]
    for version, glue_list in GLUE_BY_VERSION.items():
        out += ['', f'## QEMU {version}', '',
                '| file | where | what and why |', '| --- | --- | --- |']
        for g in glue_list:
            where = {'append': 'end of file',
                     'drop-line': f'drops the line with `{g.anchor}`',
                     'drop-block': f'drops the block from the line `{g.anchor}`',
                     }.get(g.where) or \
                f"{g.where.replace('-line', ' the line with')} `{g.anchor.splitlines()[0]}`"
            out.append(f'| `{g.path}` | {where} | {g.why} |')
    return '\n'.join(out) + '\n'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    ap = sub.add_parser('apply')
    ap.add_argument('--qemu', default='7.2', choices=sorted(GLUE_BY_VERSION))
    ap.add_argument('pristine', type=Path)
    ap.add_argument('work', type=Path)
    ap.add_argument('-v', '--verbose', action='store_true')
    sub.add_parser('markdown')
    args = parser.parse_args()
    try:
        if args.cmd == 'markdown':
            sys.stdout.write(markdown())
            return 0
        changed = apply(args.pristine, args.work, args.qemu)
    except GlueError as err:
        print(f'qemu-glue: {err}', file=sys.stderr)
        return 1
    print(f'qemu-glue: QEMU {args.qemu}, {len(GLUE_BY_VERSION[args.qemu])} glue points, '
          f'{len(placed_files(args.qemu))} files placed, '
          f'{len(changed)} changed')
    if args.verbose:
        for rel in changed:
            print(f'  {rel}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
