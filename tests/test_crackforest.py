"""The CrackForest dataset plugin: labels from masks, image-disjoint deterministic split."""

from __future__ import annotations

import pytest

from dg2bench.data.split import Split
from dg2bench.errors import DataError
from dg2bench.plugins.datasets.crackforest import CrackForestOptions, CrackForestPatches

from helpers import CRACKFOREST


def _split(**options) -> Split:
    dataset = CrackForestPatches(CrackForestOptions(**options), CRACKFOREST)
    dataset.check_root()
    return Split(dataset, dataset.build_split(seed=0))


def test_default_counts_follow_table_1():
    counts = _split().counts()
    assert counts == {"train": {"defect_free": 1000, "defect": 300}, "test": {"defect_free": 330, "defect": 60}}


def test_no_source_image_on_both_sides():
    split = _split()
    train = {i.source for i in split.select("train")}
    test = {i.source for i in split.select("test")}
    assert train and test and not train & test


def test_labels_come_from_the_masks():
    split = _split(test_defect_free=20, test_defect=10, train_defect_free=20, train_defect=10)
    dataset = split.dataset
    for item in split.items[::5]:
        stem = item.source.split("/")[-1].removesuffix(".jpg")
        left, top, right, bottom = item.box
        cracks = dataset.crack_mask(stem)[top:bottom, left:right].sum()
        assert (cracks > 0) == (item.label == 1)


def test_same_spec_same_manifest_everywhere():
    first, second = _split(), _split()
    assert first.manifest_csv() == second.manifest_csv()
    # Pinned: a change here means the standardized split changed for every user.
    assert first.manifest_hash == PINNED_DEFAULT_HASH


def test_manifest_file_and_hash(tmp_path):
    split = _split(test_defect_free=20, test_defect=10, train_defect_free=20, train_defect=10)
    path = split.write_manifest(tmp_path / "crackforest.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "id,source,left,top,right,bottom,label,side,defect_type"
    assert len(lines) == 61
    assert (tmp_path / "crackforest.csv.sha256").read_text().split()[0] == split.manifest_hash


def test_patches_load_as_uint8_tensors():
    split = _split(test_defect_free=4, test_defect=2, train_defect_free=4, train_defect=2)
    images = split.load_uint8(split.select("train", 1), image_size=32)
    assert images.shape == (2, 3, 32, 32) and str(images.dtype) == "torch.uint8"


def test_too_many_patches_requested_is_a_clear_error():
    with pytest.raises(DataError, match=r"train_defect_free: asks for 5000 patches but the train side holds \d+"):
        _split(train_defect_free=5000)


def test_not_a_crackforest_folder(tmp_path):
    with pytest.raises(DataError, match="is not a CrackForest folder"):
        CrackForestPatches(CrackForestOptions(), tmp_path).check_root()


PINNED_DEFAULT_HASH = "ce1041743994c6ac782d27e410053877252673b300245fc69824d6a0ed4c8f26"


def test_thin_cracks_count_as_cracks():
    # 102.jpg holds mask value 4 (thin crack, visible in the image) in these 80 px tiles;
    # counting only value 2 called them defect-free.
    dataset = CrackForestPatches(CrackForestOptions(patch_size=80), CRACKFOREST)
    tiles = {t.box[:2]: t for t in dataset._tiles("102")}
    for corner in ((160, 240), (240, 240), (320, 240)):
        assert tiles[corner].crack_pixels > 0 and dataset._label(tiles[corner]) == 1


@pytest.mark.slow
def test_defect_free_patches_hold_no_crack_and_no_enclosed_area():
    split = _split(patch_size=80)
    dataset = split.dataset
    for item in split.select("train", 0) + split.select("test", 0):
        left, top, right, bottom = item.box
        values = set(dataset.segmentation(item.source.split("/")[-1][:-4])[top:bottom, left:right].ravel().tolist())
        assert values == {1}, item.id


def test_min_crack_pixels_drops_clipped_cracks():
    split = _split(patch_size=80, min_crack_pixels=20)
    dataset = split.dataset
    for item in split.select("train", 1) + split.select("test", 1):
        left, top, right, bottom = item.box
        assert dataset.crack_mask(item.source.split("/")[-1][:-4])[top:bottom, left:right].sum() >= 20


def test_crack_free_tiles_inside_enclosed_areas_are_dropped():
    # Mask value 3 (area enclosed by cracks) without a crack pixel: neither class. Only
    # small tiles fall wholly inside such an area (12 at 32 px).
    dataset = CrackForestPatches(CrackForestOptions(patch_size=32), CRACKFOREST)
    enclosed = [t for stem in dataset._stems for t in dataset._tiles(stem)
                if t.crack_pixels == 0 and t.enclosed_pixels > 0]
    assert len(enclosed) == 12
    assert all(dataset._label(t) is None for t in enclosed)


def test_mask_resize_keeps_every_defect_pixel_and_thin_cracks_connected():
    import numpy as np
    from PIL import Image

    from dg2bench.data.split import resize_mask

    one = np.zeros((1024, 1024), np.uint8)
    one[500, 500] = 255
    assert resize_mask(Image.fromarray(one), 32).sum() == 1          # 32x down: 8-bit BOX lost it
    line = np.zeros((64, 64), np.uint8)
    line[:, 31] = 255                                                   # a 1 px vertical crack
    resized = resize_mask(Image.fromarray(line), 32)
    assert resized.any(dim=1).all()                                     # every row still holds crack


def test_passes_the_contract_test_kit():
    from dg2bench.testing import check_dataset

    check_dataset(CrackForestPatches, CRACKFOREST)
