"""Spec validation: every mistake gets a precise one-line error naming file and key."""

from __future__ import annotations

import pytest

from dg2bench.errors import SpecError
from dg2bench.spec import load_spec

from helpers import REPO, tiny_spec_text


@pytest.mark.parametrize("name", ["crackforest-smoke.toml", "crackforest-paper.toml"])
def test_shipped_specs_validate(registry, name):
    spec = load_spec(REPO / "benchmarks" / name, registry)
    assert spec.generators and spec.classifiers and spec.datasets
    assert {g.plugin for g in spec.generators} == {"dg2gan", "dg2gan-no-djs", "cyclegan", "wgan", "d2gan",
                                                   "dfmgan", "diffusion-inpaint", "oversample", "classic",
                                                   "cutpaste"} == set(registry.names("generator"))


def test_paper_spec_follows_the_paper(registry):
    spec = load_spec(REPO / "benchmarks" / "crackforest-paper.toml", registry)
    assert spec.benchmark.image_size == 256
    assert spec.augmentation.fakes == 600
    options = spec.datasets[0].options
    counts = (options.train_defect_free, options.train_defect, options.test_defect_free, options.test_defect)
    assert counts == (1000, 300, 330, 60)
    dg2gan = next(g for g in spec.generators if g.plugin == "dg2gan").hparams
    assert (dg2gan.batch_size, dg2gan.epochs) == (8, 200)


def test_defaults_are_filled_in(registry, write_spec):
    spec = load_spec(write_spec(), registry)
    assert spec.benchmark.split_seed == 0
    assert spec.metrics.extractor == "fid-helper"
    assert spec.resolved()["classifiers"]["resnet34"]["preset"] == "tiny"


@pytest.mark.parametrize("extra, where, fragment", [
    ("[benchmark2]\nx = 1\n", "benchmark2", "unknown table"),
    ("[generators.nosuchgan]\npreset = \"tiny\"\n", "generators.nosuchgan", "unknown generator plugin"),
    ("[generators.dg2gan]\npreset = \"huge\"\n", "generators.dg2gan.preset", "unknown preset"),
    ("[generators.dg2gan]\nlamda = 0.8\n", "generators.dg2gan.lamda", "unknown hyperparameter"),
    ("[generators.dg2gan]\nbatch_size = \"eight\"\n", "generators.dg2gan.batch_size", "must be int"),
    ("[generators.dg2gan]\nmax_steps = 0\n", "generators.dg2gan.max_steps", "positive integer"),
])
def test_bad_generator_tables(registry, write_spec, extra, where, fragment):
    path = write_spec(tiny_spec_text(extra=extra))
    with pytest.raises(SpecError) as info:
        load_spec(path, registry)
    assert str(path) in str(info.value)
    assert where in str(info.value) and fragment in str(info.value)


@pytest.mark.parametrize("old, new, where, fragment", [
    ("image_size = 32", "image_size = 33", "benchmark.image_size", "power of two"),
    ("image_size = 32", "image_size = 16", "benchmark.image_size", "within 32..512"),
    ("seeds = 1", "seeds = \"1\"", "benchmark.seeds", "must be int"),
    ("seeds = 1", "seeds = 1\ncolour = 3", "benchmark.colour", "unknown key"),
    ("checkpoint_every = 2", "checkpoint_every = 3", "benchmark.checkpoint_every", "multiple of log_every"),
    ("patch_size = 64", "patch_size = 64\npatchsize = 3", "datasets.crackforest.patchsize", "unknown hyperparameter"),
    ("fakes = 8", "fakes = 0", "augmentation.fakes", "must be >= 1"),
    ("quality = false", "quality = \"no\"", "metrics.quality", "must be bool"),
    ('name = "tiny"', "", "benchmark.name", "is required"),
])
def test_bad_values(registry, write_spec, old, new, where, fragment):
    text = tiny_spec_text()
    assert old in text
    path = write_spec(text.replace(old, new))
    with pytest.raises(SpecError) as info:
        load_spec(path, registry)
    assert where in str(info.value) and fragment in str(info.value), str(info.value)


def test_missing_data_path(registry, write_spec, tmp_path):
    path = write_spec(tiny_spec_text().replace(str(REPO / "benchmarks" / "data" / "crackforest"), "nowhere/cf"))
    with pytest.raises(SpecError, match=r"datasets\.crackforest\.root: data folder .*nowhere/cf does not exist"):
        load_spec(path, registry)


def test_invalid_toml_and_missing_file(registry, write_spec, tmp_path):
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(write_spec("[benchmark\n"), registry)
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "absent.toml", registry)


def test_root_is_relative_to_the_spec_file(registry, tmp_path):
    import os

    (tmp_path / "sub").mkdir()
    data = REPO / "benchmarks" / "data" / "crackforest"
    relative = os.path.relpath(data, tmp_path / "sub")
    spec_path = tmp_path / "sub" / "spec.toml"
    spec_path.write_text(tiny_spec_text().replace(str(data), relative))
    assert load_spec(spec_path, registry).datasets[0].root == data.resolve()
