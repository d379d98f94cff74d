"""`bench export` (a small folder to publish) and `bench figures` (the report's figures as PNG files)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from dg2bench.store.results import ResultStore

TABLES = ("--table", "all", "--format", "markdown")

#: Every test reads the session's finished tiny run (conftest.py, ``tiny_run``): end to end.
#: The figure modules (matplotlib) are imported inside the tests, so the fast loop, which
#: collects this module but runs none of it, does not pay for them.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    """The tiny run exported with the defaults: ``(spec, results, export, bench's stdout)``."""
    from dg2bench.cli import main

    spec, results = tiny_run
    out = tmp_path_factory.mktemp("export") / "published" / "tiny"   # parents are created
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(results), str(out)])
        raise SystemExit(0)
    assert exit_info.value.code in (0, None)
    return spec, results, out


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_export_prints_its_size_and_what_it_left_out(tiny_run, bench, tmp_path):
    _, results = tiny_run
    code, out, err = bench("export", str(results), str(tmp_path / "out"))
    assert code == 0, err
    size = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    first = out.splitlines()[0]
    assert re.match(rf"exported 3 cells to .*out: {len(_files(tmp_path / 'out'))} files, [0-9.]+ (kB|MB) ", first), out
    assert f"{size / 1e3:.1f} kB" in first or f"{size / 1e6:.1f} MB" in first, (size, out)
    assert "left out: weights and checkpoints (*.pt): 2 files" in out     # cyclegan's and wgan's generator.pt
    assert "left out: feature cache (cache/)" in out and "left out: images no figure shows" in out
    assert "left out: classifier results the record repeats (classify-*/result.json): 3 files" in out


def test_export_renders_the_same_tables_and_figures(exported, bench):
    from dg2bench.report.figure_files import report_figures

    _, results, out = exported
    original = bench("leaderboard", str(results), *TABLES)
    copy = bench("leaderboard", str(out), *TABLES)
    assert original[0] == copy[0] == 0 and original[1] == copy[1] and "Δ vs baseline" in copy[1]
    # Every figure, byte for byte: the export keeps exactly the images the figures show.
    records = [r for r in ResultStore(out).records() if r["status"] == "complete"]
    assert [(f.name, f.png) for f in report_figures(out, records, "crackforest")] == \
        [(f.name, f.png) for f in report_figures(results, ResultStore(results).records(), "crackforest")]
    code, _, err = bench("report", str(out), "--out", str(out.parent / "report.html"))
    assert code == 0, err
    alts = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,',
                      (out.parent / "report.html").read_text(encoding="utf-8"))
    for expected in ("fakes vs real", "cyclegan sources and fakes", "confusion matrices resnet34",
                     "misclassified resnet34", "loss curves", "quality vs diversity"):
        assert any(expected in alt for alt in alts), (expected, alts)


def test_export_keeps_what_tables_and_a_resume_read_and_no_weights(exported):
    from dg2bench.report.figures import PER_ROW

    _, results, out = exported
    files = _files(out)
    assert not [f for f in files if f.endswith(".pt")] and not [f for f in files if f.startswith("cache/")]
    assert not {".lock", ".lock.json"} & files
    for name in ("run.json", "spec.resolved.toml", "specs/tiny.toml", "specs/tiny.run.json",
                 "splits/crackforest.csv", "splits/crackforest.csv.sha256"):
        assert name in files
    for cell in ("baseline", "cyclegan", "wgan"):
        for name in ("record.json", "config.json"):
            assert f"cells/crackforest/{cell}/seed0/{name}" in files
        # The classifier's stage result repeats what the complete record holds: left out.
        assert f"cells/crackforest/{cell}/seed0/classify-resnet34/result.json" not in files
        record = f"cells/crackforest/{cell}/seed0/record.json"
        assert json.loads((out / record).read_text()) == json.loads((results / record).read_text())
        assert (out / record).read_text().count("\n") == 1      # written without indentation
    for cell in ("cyclegan", "wgan"):
        for name in ("train.json", "fakes.json", "quality.json", "losses.csv"):
            assert f"cells/crackforest/{cell}/seed0/{name}" in files
    # The other JSON and CSV files are copied as they are (the config digest, the split).
    for name in ("cells/crackforest/cyclegan/seed0/config.json", "cells/crackforest/cyclegan/seed0/quality.json",
                 "splits/crackforest.csv"):
        assert (out / name).read_bytes() == (results / name).read_bytes()
    # The first PER_ROW images by name of each folder a figure shows; no more.
    fakes = sorted(p.name for p in (results / "cells/crackforest/wgan/seed0/fakes").iterdir())
    assert len(fakes) == 12
    assert sorted(p.name for p in (out / "cells/crackforest/wgan/seed0/fakes").iterdir()) == fakes[:PER_ROW]
    for folder in ("cells/crackforest/cyclegan/seed0/fakes_sources", "samples/crackforest/real_defects",
                   "cells/crackforest/baseline/seed0/classify-resnet34/misclassified"):
        assert 0 < len(list((out / folder).iterdir())) <= PER_ROW, folder
    # Files to share: not the 0600 of the atomic writes.
    assert (out / "run.json").stat().st_mode & 0o044 == 0o044 and out.stat().st_mode & 0o055 == 0o055


def test_run_on_the_export_skips_its_complete_cells(exported, bench, tmp_path):
    spec, _, out = exported
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)   # the module's export stays as exported
    code, stdout, err = bench("run", str(spec), "--results", str(copy))
    assert code == 0, err
    assert "ran 0 cells, skipped 3 complete, 0 failed" in stdout
    assert not list(copy.rglob("*.pt"))


def test_export_leaves_out_partial_cells_and_failed_cells_stage_files(tiny_run, bench, tmp_path):
    _, results = tiny_run
    source = tmp_path / "results"
    shutil.copytree(results, source)
    cells = source / "cells" / "crackforest"
    # A failed cell keeps its stage files and weights in place; a partial one has no record.
    record = json.loads((cells / "wgan/seed0/record.json").read_text())
    (cells / "wgan/seed0/record.json").write_text(json.dumps({**record, "status": "failed", "reason": "boom"}))
    shutil.copytree(cells / "cyclegan/seed0", cells / "cyclegan/seed1")
    (cells / "cyclegan/seed1/record.json").unlink()
    (cells / "cyclegan/seed1/.losses.csv.abc.tmp").write_text("half")
    (source / "superseded").mkdir()
    (source / "superseded" / "old.json").write_text("{}")
    (source / ".lock.json").write_text('{"pid": 1, "host": "secret-host"}')
    (source / "notes.txt").write_text("mine")
    (source / "link.json").symlink_to("/etc/hostname")
    code, out, err = bench("export", str(source), str(tmp_path / "out"), "--images", "2")
    assert code == 0, err
    files = _files(tmp_path / "out")
    assert not [f for f in files if "seed1" in f]
    assert {f for f in files if "wgan" in f} == {"cells/crackforest/wgan/seed0/record.json",
                                                "cells/crackforest/wgan/seed0/config.json"}
    assert not {"notes.txt", "link.json", ".lock.json"} & files and not [f for f in files if "superseded" in f]
    assert len(list((tmp_path / "out/cells/crackforest/cyclegan/seed0/fakes").iterdir())) == 2
    for line in ("partial cells (no record.json)", "stage files of failed cells", "superseded cells (superseded/)",
                 "lock files", "symbolic links: 1 file", "other files: 1 file", "temporary files: 1 file"):
        assert f"left out: {line}" in out, (line, out)
    assert "the first 2 images" in out
    # The failed cell is still listed as failed.
    code, _, err = bench("leaderboard", str(tmp_path / "out"), *TABLES)
    assert code == 0 and "crackforest/wgan/seed0 failed" in err


def test_export_bad_input_is_one_line(tiny_run, bench, tmp_path):
    _, results = tiny_run
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty-results").mkdir()
    for args, expected in (
            ((str(tmp_path / "missing"), str(tmp_path / "o")), "no such results folder"),
            ((str(tmp_path / "empty-results"), str(tmp_path / "o")), "holds no complete cell record"),
            ((str(results), str(tmp_path / "full")), "exists and is not empty; remove it first"),
            ((str(results), str(tmp_path / "file")), "is a file"),
            ((str(results), str(results / "inside")), "is inside the results folder")):
        code, out, err = bench("export", *args)
        assert code == 2 and err.startswith("error: ") and expected in err, (args, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists() and not (results / "inside").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".export")]   # no staging folder left behind


def test_figures_writes_the_reports_figures_as_png_files(tiny_run, bench, tmp_path):
    _, results = tiny_run
    code, out, err = bench("figures", str(results), "--out", str(tmp_path / "figures"))
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert names == sorted(["crackforest-fakes-vs-real.png", "crackforest-cyclegan-sources-vs-fakes.png",
                            "crackforest-confusion-resnet34.png", "crackforest-misclassified-resnet34.png",
                            "crackforest-loss-curves.png", "crackforest-quality-vs-diversity.png"])
    assert out.count("figure: ") == len(names)
    for name in names:
        path = tmp_path / "figures" / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert image.format == "PNG" and min(image.size) > 100


def test_figures_bad_input_is_one_line(bench, tiny_run, tmp_path):
    _, results = tiny_run
    (tmp_path / "file").write_text("x")
    for args, expected in (((str(tmp_path / "missing"),), "no such results folder"),
                           ((str(results), "--out", str(tmp_path / "file")), "is a file")):
        code, _, err = bench("figures", *args)
        assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err


def test_export_keeps_images_only_of_the_cells_a_figure_shows(tiny_run, bench, tmp_path):
    """Figures show each method's lowest seed: the other seeds' images stay out (55 cells
    of a real protocol would otherwise carry 5 copies of every figure's images)."""
    from dg2bench.report.figures import PER_ROW

    _, results = tiny_run
    source = tmp_path / "results"
    shutil.copytree(results, source)
    seed0, seed1 = source / "cells/crackforest/cyclegan/seed0", source / "cells/crackforest/cyclegan/seed1"
    shutil.copytree(seed0, seed1)
    record = json.loads((seed1 / "record.json").read_text())
    (seed1 / "record.json").write_text(json.dumps({**record, "seed": 1, "cell": "crackforest/cyclegan/seed1"}))
    code, out, err = bench("export", str(source), str(tmp_path / "out"))
    assert code == 0, err
    exported = tmp_path / "out/cells/crackforest/cyclegan"
    assert len(list((exported / "seed0/fakes").iterdir())) == PER_ROW
    assert (exported / "seed1/record.json").is_file() and not (exported / "seed1/fakes").exists()
    assert not [p for p in (exported / "seed1").rglob("*") if p.suffix == ".png"]
