"""Tests of scripts/export-series that need no QEMU source: every glue point
and placed file of each QEMU 10.x lands in exactly one patch."""

import importlib.machinery
import importlib.util
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def load_export_series():
    path = str(REPO / 'scripts' / 'export-series')
    loader = importlib.machinery.SourceFileLoader('export_series', path)
    spec = importlib.util.spec_from_file_location('export_series', path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


es = load_export_series()


class AssignTest(unittest.TestCase):
    def test_every_glue_point_and_file_in_one_patch(self):
        for version in ('10.0', '10.2'):
            placed = es.qg.placed_files(version)
            with self.subTest(version=version):
                glue_patch, file_patch = es.assign(es.qg.GLUE_BY_VERSION[version], placed)
                self.assertNotIn(None, glue_patch)
                self.assertEqual(set(file_patch), set(placed))
                # every patch changes something
                used = set(glue_patch) | set(file_patch.values())
                self.assertEqual(used, set(range(len(es.PATCHES))))

    def test_unassigned_glue_point_stops(self):
        stray = es.qg.Glue('meson.build', 'x', 'append', 'y', 'a stray glue point')
        with self.assertRaisesRegex(es.SeriesError, 'meson.build .* in 0 patches'):
            es.assign(es.qg.GLUE_BY_VERSION['10.2'] + [stray], es.qg.placed_files('10.2'))

    def test_unassigned_file_stops(self):
        with self.assertRaisesRegex(es.SeriesError, 'linux/virtio_foo.h is in 0 patches'):
            es.assign(es.qg.GLUE_BY_VERSION['10.2'],
                      es.qg.placed_files('10.2') + ['include/standard-headers/linux/virtio_foo.h'])


if __name__ == '__main__':
    unittest.main()
