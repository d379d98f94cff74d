"""Bad input: each case is exit status 2, one line naming the file or option and the fix, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from helpers import CRACKFOREST, tiny_spec_text


def _spec(tmp_path: Path, text: str) -> str:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return str(path)


def _spec_bytes(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "spec.toml"
    path.write_bytes(data)
    return str(path)


def _edit(old: str, new: str):
    return lambda tmp: _spec(tmp, tiny_spec_text().replace(old, new))


SPEC_CASES = {
    "malformed TOML": (lambda tmp: _spec(tmp, "[benchmark\nname = 1"), "is not valid TOML"),
    "not UTF-8": (lambda tmp: _spec_bytes(tmp, "\ufeff[benchmark]".encode("utf-16")), "is not UTF-8 text"),
    "unknown key": (_edit('name = "tiny"', 'name = "tiny"\nimage_sise = 32'), "benchmark.image_sise: unknown key"),
    "wrong type": (_edit("seeds = 1", 'seeds = "three"'), "benchmark.seeds: must be int"),
    "image size not allowed": (_edit("image_size = 32", "image_size = 48"), "must be a power of two"),
    "zero batch": (_edit("max_steps = 6", "max_steps = 6\nbatch_size = 0"), "batch_size"),
    "negative epochs": (_edit("max_steps = 6", "max_steps = 6\nepochs = -1"), "epochs"),
    "unknown memory format": (_edit('device = "cpu"', 'device = "cpu"\nmemory_format = "nhwc"'),
                              "unknown memory format 'nhwc'"),
    "zero inference batch": (_edit('device = "cpu"', 'device = "cpu"\ninference_batch_size = 0'),
                             "inference_batch_size: must be >= 1"),
    "negative seeds in spec": (_edit("seeds = 1", "seeds = -1"), "benchmark.seeds: must be >= 1"),
    "unknown generator": (lambda tmp: _spec(tmp, tiny_spec_text(generators="[generators.nogan]\n")),
                          "unknown generator plugin 'nogan'"),
    "unknown dataset": (_edit("[datasets.crackforest]", "[datasets.nodata]"), "unknown dataset plugin 'nodata'"),
    "missing data folder": (_edit(str(CRACKFOREST), "/nowhere/crackforest"), "data folder /nowhere/crackforest does not exist"),
    "split counts larger than the data": (_edit("train_defect = 8", "train_defect = 8000"),
                                          "spec.toml: datasets.crackforest.train_defect: asks for 8000 patches"),
    "split counts larger than the data, own label": (
        lambda tmp: _spec(tmp, tiny_spec_text().replace("train_defect = 8", "train_defect = 8000")
                          .replace("[datasets.crackforest]", '[datasets.cracks]\nplugin = "crackforest"')),
        "spec.toml: datasets.cracks.train_defect: asks for 8000 patches"),
    "unknown precision": (_edit('device = "cpu"', 'device = "cpu"\nprecision = "fp8"'), "unknown precision 'fp8'"),
    "negative bootstrap": (_edit("prdc_k = 2", "prdc_k = 2\nbootstrap = -1"),
                           "metrics.bootstrap: must be 0 or at least 100, not -1"),
    "a name that leaves results/": (_edit('name = "tiny"', 'name = "../../evil"'),
                                    "benchmark.name: must be a folder name"),
    "an empty name": (_edit('name = "tiny"', 'name = ""'), "benchmark.name: must be a folder name"),
    "unknown key, the table's own keys named too": (_edit("max_steps = 6", "max_steps = 6\nlamda = 1"),
                                                    "weights_path, max_steps, plugin, precision, preset"),
    "a plugin's own check names its key": (_edit("max_steps = 6", "max_steps = 6\ndropout = 1.5"),
                                           "classifiers.resnet34.dropout: must be within [0, 1), not 1.5"),
    "too few bootstrap resamples": (_edit("prdc_k = 2", "prdc_k = 2\nbootstrap = 1"),
                                    "metrics.bootstrap: must be 0 or at least 100, not 1"),
    "a DJS term in the no-DJS ablation": (lambda tmp: _spec(tmp, tiny_spec_text(
        generators='[generators.dg2gan-no-djs]\npreset = "tiny"\nmu = 0.05\n')),
        "generators.dg2gan-no-djs.mu: must be 0 in dg2gan-no-djs"),
    "an unknown classifier schedule": (_edit("fakes = 8", 'fakes = 8\nclassifier_schedule = "time"'),
                                       "augmentation.classifier_schedule: unknown schedule 'time'"),
    "bad fit": (lambda tmp: _spec(tmp, tiny_spec_text(extra=f'[datasets.folder]\nroot = "{tmp}"\nfit = "zoom"\n')),
                "datasets.folder.fit: must be one of resize, crop"),
    "folder option leaving the root": (lambda tmp: _spec(tmp, tiny_spec_text(
        extra=f'[datasets.folder]\nroot = "{tmp}"\ndefect_dir = "../elsewhere"\n')),
        "datasets.folder.defect_dir: must be a folder inside root"),
}


@pytest.mark.parametrize("case", sorted(SPEC_CASES))
def test_bad_spec_is_one_line_exit_2(bench, tmp_path, case):
    make, fragment = SPEC_CASES[case]
    spec = make(tmp_path)
    commands = [("validate", spec)]
    if "split counts" in case:
        commands.append(("split", spec, "--out", str(tmp_path / "splits")))
    for command in commands:
        code, _, err = bench(*command)
        assert code == 2, err
        assert fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (command, err)


def test_bad_command_lines(bench, tmp_path, write_spec):
    spec = str(write_spec())
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    broken = tmp_path / "broken" / "cells" / "d" / "m" / "seed0"
    broken.mkdir(parents=True)
    (broken / "record.json").write_text('{"cell": "d/m/se')
    (tmp_path / "notimages").mkdir()
    (tmp_path / "notimages" / "a.png").write_text("not an image")
    (tmp_path / "onebad").mkdir()
    for k in range(2):
        Image.new("RGB", (32, 32), (k, 0, 0)).save(tmp_path / "onebad" / f"{k}.png")
    (tmp_path / "onebad" / "bad.png").write_text("garbage")
    (tmp_path / "twosizes").mkdir()
    for k in range(2):
        Image.new("RGB", (32 + k, 32 + k)).save(tmp_path / "twosizes" / f"{k}.png")
    cases = [
        (("run", spec, "--results", str(tmp_path / "file.txt")), "is a file"),
        (("run", spec, "--results", str(tmp_path / "file.txt" / "sub")), "fix the path"),
        (("split", spec, "--out", str(tmp_path / "file.txt" / "sub")), "fix the path"),
        (("run", spec, "--seeds", "0"), "--seeds: must be >= 1"),
        (("run", spec, "--only", "nothing"), "--only: no method named nothing"),
        (("run", spec, "--set", "compile=maybe"), "--set compile: must be bool"),
        (("run", spec, "--on-change", "ignore"), "--on-change"),
        (("leaderboard", str(tmp_path / "empty")), "holds no complete cell record"),
        (("leaderboard", str(tmp_path / "broken")), "is not a readable cell record"),
        (("report", str(tmp_path / "broken")), "is not a readable cell record"),
        (("report", str(tmp_path / "empty")), "holds no cell of a `bench run`"),
        (("fid", str(tmp_path / "empty"), str(tmp_path / "empty")), "holds 0 images"),
        (("fid", str(tmp_path / "nope"), str(tmp_path / "nope")), "no such folder"),
        (("fid", str(tmp_path / "notimages"), str(tmp_path / "notimages")), "notimages"),
        (("fid", str(tmp_path / "onebad"), str(tmp_path / "onebad")), "bad.png: cannot read the image"),
        (("fid", str(tmp_path / "twosizes"), str(tmp_path / "twosizes")), "images differ in size"),
        (("leaderboard", str(tmp_path / "broken"), "--compare", "a", "a"), "is not a readable cell record"),
        (("leaderboard", str(tmp_path / "broken"), "--compare", "a", "b", "--by-dataset"),
         "--by-dataset: does not apply to --compare"),
        (("leaderboard", str(tmp_path / "broken"), "--compare", "a", "b", "--table", "fid"),
         "--table: does not apply to --compare"),
        # An option's usage error points at the subcommand's help, not the group's.
        (("leaderboard", str(tmp_path / "broken"), "--compare", "a"), "see `bench leaderboard --help`"),
        (("run", spec, "--bogus"), "see `bench run --help`"),
    ]
    if not torch.cuda.is_available():
        cases.append((("run", spec, "--device", "cuda"), "--device: cuda requested but no CUDA device is available"))
        on_cuda = tmp_path / "on-cuda.toml"
        on_cuda.write_text(Path(spec).read_text().replace('device = "cpu"', 'device = "cuda"'))
        cases.append((("run", str(on_cuda), "--only", "baseline"),
                      "on-cuda.toml: benchmark.device: cuda requested but no CUDA device is available"))
        cases.append((("estimate", spec, "--set", "device=cuda"), "--set device: cuda requested"))
    for args, fragment in cases:
        code, _, err = bench(*args)
        assert code == 2, (args, err)
        assert fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (args, err)
    # Only `bench run` has finished work to keep: other commands do not promise a resume.
    _, _, err = bench("split", spec, "--out", str(tmp_path / "file.txt" / "sub"))
    assert "rerun to resume" not in err
    _, _, err = bench("run", spec, "--results", str(tmp_path / "file.txt" / "sub"))
    assert "rerun to resume" in err


def test_leaderboard_of_only_failed_cells_shows_their_reasons(bench, tmp_path):
    cell = tmp_path / "cells" / "d" / "m" / "seed0"
    cell.mkdir(parents=True)
    (cell / "record.json").write_text(json.dumps({
        "cell": "d/m/seed0", "dataset": "d", "method": "m", "seed": 0, "status": "failed",
        "reason": "generator 'm': breaks rule generate-range"}))
    for table in ("all", "fid", "classify"):
        code, _, err = bench("leaderboard", str(tmp_path), "--table", table)
        lines = err.strip().splitlines()
        assert code == 2 and "Traceback" not in err, err
        assert lines[0].startswith("note: d/m/seed0 failed") and "generate-range" in lines[0], err
        assert lines[-1].startswith("error:") and "every cell failed" in lines[-1] and "--retry-failed" in lines[-1]
