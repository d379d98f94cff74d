"""The whole-image datasets: MVTec AD layout, Magnetic-Tile, a user's folder; bad data."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dg2bench import DataError
from dg2bench.contracts.plugin_manager import get_registry
from dg2bench.data.split import Split
from dg2bench.plugins.datasets.folder import FolderOptions, ImageFolder
from dg2bench.plugins.datasets.magnetic_tile import DEFECT_TYPES, MagneticTile, MagneticTileOptions
from dg2bench.plugins.datasets.mvtec import MvtecAd, MvtecOptions
from dg2bench.spec import load_spec
from dg2bench.store.results import ResultStore

from helpers import REPO, tiny_spec_text

MAGNETIC_TILE = REPO / "benchmarks" / "data" / "magnetic-tile"


def write_image(path: Path, seed: int, mode: str = "RGB", size: tuple[int, int] = (48, 40)) -> Path:
    rng = np.random.default_rng(seed)
    channels = {"L": (size[1], size[0]), "RGB": (size[1], size[0], 3), "RGBA": (size[1], size[0], 4)}[mode]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, channels, dtype=np.uint8), mode).save(path)
    return path


def write_mask(path: Path, size: tuple[int, int] = (48, 40), box=(30, 5, 40, 15)) -> Path:
    mask = np.zeros((size[1], size[0]), np.uint8)
    left, top, right, bottom = box
    mask[top:bottom, left:right] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask).save(path)
    return path


def mvtec_tree(root: Path, category: str = "leather", types=("color", "cut", "fold")) -> Path:
    """A small MVTec-layout category: grey and RGB PNGs, masks for all but one defect image."""
    base = root / category
    for k in range(20):
        write_image(base / "train" / "good" / f"{k:03d}.png", k, "L" if k % 2 else "RGB")
    for k in range(6):
        write_image(base / "test" / "good" / f"{k:03d}.png", 100 + k)
    for t, name in enumerate(types):
        for k in range(4):
            write_image(base / "test" / name / f"{k:03d}.png", 200 + 10 * t + k, "L" if k % 2 else "RGB")
            if (t, k) != (0, 0):   # one defect image without its mask, as in trees found in the wild
                write_mask(base / "ground_truth" / name / f"{k:03d}_mask.png")
    return root


def split(dataset) -> Split:
    dataset.check_root()
    return Split(dataset, dataset.build_split(seed=0))


def test_mvtec_moves_a_share_of_test_defects_into_training(tmp_path):
    root = mvtec_tree(tmp_path)
    s = split(MvtecAd(MvtecOptions(category="leather", train_defect_free=18, train_defect=6, test_defect_free=8,
                                   test_defect=6), root))
    assert s.counts() == {"train": {"defect_free": 18, "defect": 6}, "test": {"defect_free": 8, "defect": 6}}
    # The official test/good images go to the test side first.
    assert sum("test/good" in i.source for i in s.select("test", 0)) == 6
    for side in ("train", "test"):
        assert Counter(i.defect_type for i in s.select(side, 1)) == {"color": 2, "cut": 2, "fold": 2}
    assert not {i.source for i in s.select("train")} & {i.source for i in s.select("test")}
    assert "defect_type" in s.manifest_csv().splitlines()[0] and ",cut" in s.manifest_csv()
    again = split(MvtecAd(MvtecOptions(category="leather", train_defect_free=18, train_defect=6,
                                       test_defect_free=8, test_defect=6), root))
    assert again.manifest_hash == s.manifest_hash


def test_mvtec_paper_counts_the_data_cannot_supply_is_one_clear_error(tmp_path):
    root = mvtec_tree(tmp_path)
    dataset = MvtecAd(MvtecOptions(category="leather", **MvtecAd.presets["paper"]), root)
    with pytest.raises(DataError, match=r"asks for 50 images but .* \(26 in all\)"):
        split(dataset)


def test_mvtec_missing_category_names_what_is_there(tmp_path):
    root = mvtec_tree(tmp_path)
    with pytest.raises(DataError, match="categories here: leather"):
        MvtecAd(MvtecOptions(category="wood"), root).check_root()


def test_mvtec_crop_keeps_the_defect_and_works_without_a_mask(tmp_path):
    root = mvtec_tree(tmp_path)
    dataset = MvtecAd(MvtecOptions(category="leather", fit="crop"), root)
    s = split(dataset)
    boxes = {i.source: i.box for i in s.items}
    for source, box in boxes.items():
        left, top, right, bottom = box
        assert (right - left, bottom - top) == (40, 40) and 0 <= left <= 8 and top == 0
        if "/test/" in source and "/good/" not in source and not source.endswith("color/000.png"):
            assert left <= 35 < right                                   # the mask's centre (x 35) stays in view
    # Positions are drawn for every image, so they do not tell the classes apart.
    assert len({box[0] for source, box in boxes.items() if "good" in source}) > 3
    assert boxes == {i.source: i.box for i in split(MvtecAd(MvtecOptions(category="leather", fit="crop"), root)).items}
    assert dataset.load_image(s.items[0]).size == (40, 40)


@pytest.mark.slow
def test_magnetic_tile_split_is_run_disjoint_with_every_type_on_both_sides():
    s = split(MagneticTile(MagneticTileOptions(), MAGNETIC_TILE))
    counts = s.counts()
    assert counts["test"] == {"defect_free": 190, "defect": 78}       # 20 % of 952 and of 392
    runs = {side: {Path(i.source).name.split("_")[0] for i in s.select(side)} for side in ("train", "test")}
    assert runs["train"] and runs["test"] and not runs["train"] & runs["test"]
    for side in ("train", "test"):
        assert {i.defect_type for i in s.select(side, 1)} == set(DEFECT_TYPES)
    assert s.dataset.load_image(s.select("test", 1)[0]).mode == "RGB"
    cropped = split(MagneticTile(MagneticTileOptions(fit="crop"), MAGNETIC_TILE))
    image = cropped.dataset.load_image(cropped.select("test", 1)[0])
    assert image.size[0] == image.size[1]


@pytest.mark.slow
def test_magnetic_tile_tiny_preset_counts():
    s = split(MagneticTile(MagneticTileOptions(**MagneticTile.presets["tiny"]), MAGNETIC_TILE))
    assert s.counts() == {"train": {"defect_free": 60, "defect": 20}, "test": {"defect_free": 40, "defect": 20}}
    assert Counter(i.defect_type for i in s.select("test", 1)) == {t: 4 for t in DEFECT_TYPES}


def folder_tree(root: Path) -> Path:
    for k in range(12):
        mode, suffix = (("L", "jpg"), ("RGB", "tif"), ("RGBA", "png"))[k % 3]
        write_image(root / "good" / f"part{k // 2}_{k % 2}.{suffix}", k, mode)
    for k in range(4):
        write_image(root / "defect" / f"loose{k}.png", 50 + k)
        write_image(root / "defect" / "scratch" / f"s{k}.bmp", 60 + k, "L")
        write_mask(root / "masks" / "scratch" / f"s{k}_mask.png")
    return root


def test_folder_types_from_subfolders_masks_and_groups(tmp_path):
    root = folder_tree(tmp_path)
    options = FolderOptions(masks_dir="masks", fit="crop", group_pattern=r"^(part\d+)_", test_fraction=0.34)
    s = split(ImageFolder(options, root))
    assert {i.defect_type for i in s.select("train", 1) + s.select("test", 1)} == {None, "scratch"}
    parts = {side: {Path(i.source).name.split("_")[0] for i in s.select(side, 0)} for side in ("train", "test")}
    assert not parts["train"] & parts["test"]
    scratch = next(i for i in s.items if i.defect_type == "scratch")
    assert scratch.box[0] <= 35 < scratch.box[2]
    assert s.dataset.load_image(scratch).mode == "RGB"


@pytest.mark.parametrize("breakage, fragment", [
    ("truncated", "cannot read the image"),
    ("palette", "is a palette image"),
    ("16-bit", "16-bit"),
    ("mask size", "mask is 20x20 but its image is 48x40"),
    ("empty class", "holds no image"),
])
def test_bad_data_is_one_error_naming_the_file(tmp_path, breakage, fragment):
    root = folder_tree(tmp_path)
    bad = root / "defect" / "loose0.png"
    if breakage == "truncated":
        bad.write_bytes(bad.read_bytes()[:200])
    elif breakage == "palette":
        Image.open(bad).convert("P").save(bad)
    elif breakage == "16-bit":
        Image.fromarray(np.full((40, 48), 40000, np.uint16)).save(bad)
    elif breakage == "mask size":
        bad = write_mask(root / "masks" / "scratch" / "s0_mask.png", size=(20, 20), box=(0, 0, 5, 5))
    else:
        for path in (root / "good").iterdir():
            path.unlink()
        bad = root / "good"
    with pytest.raises(DataError) as info:
        split(ImageFolder(FolderOptions(masks_dir="masks"), root))
    assert str(bad) in str(info.value) and fragment in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_cli_split_and_run_on_each_dataset(tmp_path, bench, write_spec, monkeypatch):
    mvtec_root = mvtec_tree(tmp_path / "mvtec")
    monkeypatch.setenv("DG2BENCH_MVTEC_ROOT", str(mvtec_root))
    folder_root = folder_tree(tmp_path / "own")
    datasets = f"""
        [datasets.mvtec]
        category = "leather"
        train_defect_free = 16
        train_defect = 6
        test_defect_free = 6
        test_defect = 6

        [datasets.folder]
        root = "{folder_root}"
        masks_dir = "masks"
        group_pattern = "^(part\\\\d+)_"
        test_fraction = 0.34

        [datasets.magnetic-tile]
        root = "{MAGNETIC_TILE}"
        preset = "tiny"
    """
    text = tiny_spec_text(generators="[generators.cyclegan]\npreset = \"tiny\"\nmax_steps = 2\n", fakes=6,
                          classifier_steps=2, extra=datasets, quality=True)
    text = text.replace("fakes = 6", "fakes = 6\nfakes_defect_free = 4")
    spec = write_spec(text)
    code, out, err = bench("split", str(spec), "--out", str(tmp_path / "splits"))
    assert code == 0, out + err
    for name in ("mvtec", "folder", "magnetic-tile", "crackforest"):
        assert (tmp_path / "splits" / f"{name}.csv").exists()
    code, out, err = bench("run", str(spec), "--results", str(tmp_path / "results"))
    assert code == 0, out + err
    code, out, err = bench("leaderboard", str(tmp_path / "results"), "--table", "classify", "--format", "csv")
    assert code == 0
    for row in ("defect: cut", "defect: scratch", "defect: Crack"):
        assert row in out
    code, out, _ = bench("leaderboard", str(tmp_path / "results"), "--table", "classify", "--by-dataset",
                         "--format", "csv")
    wide = pd.read_csv(io.StringIO(out))
    assert code == 0 and {"mvtec accuracy", "folder accuracy", "magnetic-tile precision"} <= set(wide.columns)
    assert len(wide) == len(wide[["method", "class"]].drop_duplicates())
    code, out, _ = bench("leaderboard", str(tmp_path / "results"), "--table", "fid", "--by-dataset",
                         "--format", "markdown")
    assert code == 0 and "mvtec FID ↓" in out.splitlines()[0] and "crackforest KID×10³ ↓" in out.splitlines()[0]
    records = {(r["dataset"], r["method"]): r for r in ResultStore(tmp_path / "results").records()}
    cyclegan = records[("mvtec", "cyclegan")]
    assert cyclegan["fakes_defect_free"]["count"] == 4
    assert cyclegan["classification"]["resnet34"]["train_images"]["fake_defect_free"] == 4
    assert set(cyclegan["classification"]["resnet34"]["per_type_recall"]) == {"color", "cut", "fold"}



# Each validation scans the 1344 images (a CPU second); the paper spec's is left to the full suite.
@pytest.mark.parametrize("spec", ["magnetic-tile-smoke.toml",
                                  pytest.param("magnetic-tile-paper.toml", marks=pytest.mark.slow)])
def test_validate_magnetic_tile_specs(bench, spec):
    code, out, _ = bench("validate", str(REPO / "benchmarks" / spec))
    assert code == 0 and "is valid" in out


@pytest.mark.parametrize("category", ["leather", "wood"])
def test_mvtec_specs_validate_with_the_variable_and_say_where_to_get_the_data_without(
        bench, tmp_path, monkeypatch, category):
    spec = str(REPO / "benchmarks" / f"mvtec-{category}-paper.toml")
    monkeypatch.delenv("DG2BENCH_MVTEC_ROOT", raising=False)
    code, _, err = bench("validate", spec)
    assert code == 2 and "DG2BENCH_MVTEC_ROOT" in err and len(err.strip().splitlines()) == 1
    assert "no data folder given" in err and "to [datasets.mvtec]" in err and "download MVTec AD" in err
    monkeypatch.setenv("DG2BENCH_MVTEC_ROOT", str(tmp_path / "nowhere"))
    code, _, err = bench("validate", spec)
    assert code == 2 and "download MVTec AD" in err and len(err.strip().splitlines()) == 1
    assert "fix the path (from DG2BENCH_MVTEC_ROOT)" in err
    monkeypatch.setenv("DG2BENCH_MVTEC_ROOT", str(mvtec_tree(tmp_path, category)))
    assert load_spec(Path(spec), get_registry()).augmentation.fakes_defect_free == 600
    # validate builds the split too: the small tree cannot hold Table 2's counts.
    code, _, err = bench("validate", spec)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"mvtec-{category}-paper.toml: datasets.mvtec." in err and "asks for" in err and "(0 = automatic)" in err


@pytest.mark.slow
def test_unconditional_methods_add_no_defect_free_fakes_and_say_why(tmp_path, write_spec):
    from dg2bench.contracts.plugin_manager import get_registry
    from dg2bench.runner import run_benchmark
    from dg2bench.spec import load_spec
    registry = get_registry()
    text = tiny_spec_text(generators="[generators.wgan]\npreset = \"tiny\"\nmax_steps = 2\n", fakes=6,
                          classifier_steps=2).replace("fakes = 6", "fakes = 6\nfakes_defect_free = 4")
    run_benchmark(load_spec(write_spec(text), registry), registry, ResultStore(tmp_path / "r"), only=["wgan"])
    record = ResultStore(tmp_path / "r").records()[0]
    assert record["fakes_defect_free"]["count"] == 0 and "unconditional" in record["fakes_defect_free"]["reason"]
    assert record["classification"]["resnet34"]["train_images"]["fake_defect_free"] == 0


def test_test_side_holds_every_defect_type_for_any_seed(tmp_path):
    # Image-per-group data with uneven types (like MVTec wood): round-robin over types.
    root = mvtec_tree(tmp_path, types=("color", "combined", "hole", "liquid", "scratch"))
    for name, extra in (("scratch", 6), ("combined", 2)):
        for k in range(4, 4 + extra):
            write_image(root / "leather" / "test" / name / f"{k:03d}.png", 900 + k)
    dataset = MvtecAd(MvtecOptions(category="leather", test_defect=5), root)
    for seed in range(30):
        items = dataset.build_split(seed)
        assert {i.defect_type for i in items if i.side == "test" and i.label == 1} == \
            {"color", "combined", "hole", "liquid", "scratch"}, seed


@pytest.mark.parametrize("options, fragment", [
    ({"defect_dir": "/elsewhere"}, "defect_dir must be a folder inside root"),
    ({"defect_dir": "../x"}, "defect_dir must be a folder inside root"),
    ({"masks_dir": "defect/masks"}, "must be separate folders"),
])
def test_folder_options_that_leave_the_root_or_overlap_are_refused(options, fragment):
    with pytest.raises(ValueError, match=fragment):
        FolderOptions(**options).validate()


def test_folder_group_pattern_with_an_optional_group_and_case_insensitive_masks(tmp_path):
    root = folder_tree(tmp_path)
    (root / "masks" / "scratch" / "s1_mask.png").rename(root / "masks" / "scratch" / "S1_MASK.PNG")
    write_image(root / "good" / "_odd.png", 77)
    dataset = ImageFolder(FolderOptions(masks_dir="masks", group_pattern=r"^(part\d+)?_"), root)
    s = split(dataset)
    assert any(i.source == "good/_odd.png" for i in s.items)
    assert "defect/scratch/s1.bmp" in dataset.mask_paths
