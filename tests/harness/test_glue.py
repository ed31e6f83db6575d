"""Tests of scripts/qemu-glue.py: anchors, idempotence, the generated docs.

They run on a small fake QEMU tree made from the glue table itself, so they
need no QEMU source."""

import importlib.util
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def load_glue():
    spec = importlib.util.spec_from_file_location(
        'qemu_glue', REPO / 'scripts' / 'qemu-glue.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


glue = load_glue()


def fake_pristine(root, glue_list=None):
    """A tree holding every glued file, each with just its anchors."""
    for g in glue.GLUE if glue_list is None else glue_list:
        path = root / g.path
        path.parent.mkdir(parents=True, exist_ok=True)
        old = path.read_text() if path.exists() else ''
        path.write_text(old + f'# before\n{g.anchor}\n# after\n')
    return root


class GlueTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        top = Path(self.tmp.name)
        self.pristine = fake_pristine(top / 'orig')
        self.work = top / 'work'

    def tearDown(self):
        self.tmp.cleanup()

    def test_apply_places_and_glues(self):
        changed = glue.apply(self.pristine, self.work)
        self.assertIn('qapi/audio.json', changed)
        text = (self.work / 'meson.build').read_text()
        self.assertIn("'pipewire': pipewire.found(),", text)
        self.assertIn("[ 'pipewire', 'pa',", text)
        for rel in glue.placed_files('7.2'):
            self.assertEqual((self.work / rel).read_bytes(),
                             (REPO / rel).read_bytes(), rel)

    def test_header_replaced_in_7_2_only(self):
        header = 'include/standard-headers/linux/virtio_snd.h'
        theirs = self.pristine / header
        theirs.parent.mkdir(parents=True)
        theirs.write_text('/* Linux\'s */\n')
        glue.apply(self.pristine, self.work)
        self.assertEqual((self.work / header).read_bytes(),
                         (REPO / header).read_bytes())
        self.assertIn(header, glue.placed_files('7.2'))
        for version in ('10.0', '10.2'):
            self.assertNotIn(header, glue.placed_files(version))

    def test_apply_twice_changes_nothing(self):
        glue.apply(self.pristine, self.work)
        before = {p: p.read_text() for p in self.work.rglob('*') if p.is_file()}
        self.assertEqual(glue.apply(self.pristine, self.work), [])
        after = {p: p.read_text() for p in self.work.rglob('*') if p.is_file()}
        self.assertEqual(before, after)

    def test_missing_anchor_names_anchor_and_file(self):
        path = self.pristine / 'audio/audio.c'
        path.write_text(path.read_text().replace('CASE(PA, pa, Pa);', ''))
        with self.assertRaises(glue.GlueError) as err:
            glue.apply(self.pristine, self.work)
        self.assertIn("'CASE(PA, pa, Pa);' not found in audio/audio.c",
                      str(err.exception))
        self.assertFalse(self.work.exists(), 'nothing is written on error')

    def test_ambiguous_anchor_is_an_error(self):
        path = self.pristine / 'audio/audio.c'
        path.write_text(path.read_text() * 2)
        with self.assertRaisesRegex(glue.GlueError, 'found 2 times in audio/audio.c'):
            glue.apply(self.pristine, self.work)

    def test_removed_file_is_restored(self):
        glue.apply(self.pristine, self.work)
        stale = self.work / 'audio' / 'gone.c'
        stale.write_text('old')
        manifest = self.work / '.qemu-pipewire-placed'
        manifest.write_text(manifest.read_text() + 'audio/gone.c\n')
        self.assertIn('audio/gone.c', glue.apply(self.pristine, self.work))
        self.assertFalse(stale.exists())

    def test_docs_list_is_current(self):
        self.assertEqual((REPO / 'docs' / 'glue-points.md').read_text(),
                         glue.markdown(),
                         'run: scripts/qemu-glue.py markdown > docs/glue-points.md')


class Glue10Test(unittest.TestCase):
    """QEMU 10.x's glue: upstream's lines go, ours come."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        top = Path(self.tmp.name)
        self.pristine = fake_pristine(top / 'orig',
                                      glue.GLUE_BY_VERSION['10.2'])
        self.work = top / 'work'

    def tearDown(self):
        self.tmp.cleanup()

    def test_upstream_build_lines_and_blocks_go(self):
        kconfig = self.pristine / 'hw/audio/Kconfig'
        kconfig.write_text('config ASC\n    bool\n\nconfig VIRTIO_SND\n'
                           '    bool\n    default y\n\nconfig OTHER\n')
        glue.apply(self.pristine, self.work, '10.2')
        text = (self.work / 'hw/audio/Kconfig').read_text()
        self.assertIn('config ASC\n    bool\n\nconfig OTHER\n', text)
        self.assertEqual(text.count('config VIRTIO_SND\n'), 1)
        self.assertIn('config VIRTIO_SND_PCI', text)
        meson = (self.work / 'hw/audio/meson.build').read_text()
        self.assertNotIn("if_true: files('virtio-snd.c'))", meson)
        self.assertIn("'virtio-snd-req.c',", meson)
        self.assertNotIn('softmmu_ss', meson)
        audio = (self.work / 'audio/meson.build').read_text()
        self.assertIn("files('pwaudio.c', 'pwaudio-format.c'", audio)

    def test_moved_anchor_names_anchor_and_file(self):
        path = self.pristine / 'include/qemu/audio.h'
        path.write_text('void AUD_set_volume_in(SWVoiceIn *sw, Volume *v);\n')
        with self.assertRaises(glue.GlueError) as err:
            glue.apply(self.pristine, self.work, '10.2')
        self.assertIn("'void AUD_set_volume_in(SWVoiceIn *sw, Volume *vol);' "
                      "not found in include/qemu/audio.h", str(err.exception))
        self.assertFalse(self.work.exists(), 'nothing is written on error')

    def test_drop_block_anchor_must_be_a_whole_line(self):
        path = self.pristine / 'audio/trace-events'
        path.write_text('# pwaudio.c and more\nx(void) "x"\n')
        with self.assertRaisesRegex(glue.GlueError,
                                    "'# pwaudio.c' not found in audio/trace-events"):
            glue.apply(self.pristine, self.work, '10.2')


if __name__ == '__main__':
    unittest.main()
