"""End-to-end: the `bench` CLI on a tiny spec (real plugins, real data, CPU, seconds)."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from dg2bench.store.results import ResultStore

from helpers import REPO, finished_tiny_run, tiny_spec_text

GENERATORS = """
[generators.dg2gan]
preset = "tiny"
max_steps = 4

[generators.wgan]
preset = "tiny"
max_steps = 6
"""


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One tiny `bench run` (dg2gan, wgan, baseline; quality scored) shared by the tests."""
    return finished_tiny_run(tmp_path_factory.mktemp("run"), GENERATORS, fakes=8)


def test_plugins_lists_every_kind(bench):
    code, out, _ = bench("plugins")
    assert code == 0
    for name in ("dg2gan", "dg2gan-no-djs", "cyclegan", "wgan", "d2gan", "resnet34", "resnet50", "crackforest"):
        assert name in out
    code, out, _ = bench("plugins", "--hooks")
    assert code == 0 and "register_generators" in out and "register_datasets" in out


@pytest.mark.parametrize("spec", ["crackforest-smoke.toml", "crackforest-paper.toml"])
def test_validate_shipped_specs(bench, spec):
    code, out, _ = bench("validate", str(REPO / "benchmarks" / spec))
    assert code == 0, out
    # The verdict alone; the resolved spec only when asked for.
    lines = out.strip().splitlines()
    assert lines[0].startswith("ok: ") and "is valid" in lines[0] and len(lines) <= 2, out
    assert "[generators.dg2gan]" not in out and "--show" in out
    code, out, _ = bench("validate", str(REPO / "benchmarks" / spec), "--show")
    verdict, resolved_text = out.split("\n", 1)
    assert code == 0 and verdict.startswith("ok: ") and "is valid" in verdict, out
    # Piped, the resolved config is TOML as it stands: long lines (the description) are not wrapped.
    resolved = tomllib.loads(resolved_text)
    assert resolved["benchmark"]["name"] == spec.removesuffix(".toml") and "dg2gan" in resolved["generators"]


def test_split_prints_counts_and_writes_manifest(bench, tmp_path):
    code, out, _ = bench("split", str(REPO / "benchmarks" / "crackforest-paper.toml"), "--out", str(tmp_path))
    assert code == 0
    assert "1000" in out and "300" in out and "330" in out and "60" in out
    assert len((tmp_path / "crackforest.csv").read_text().splitlines()) == 1 + 1000 + 300 + 330 + 60


@pytest.mark.slow
def test_run_writes_records_config_and_environment(finished_run):
    _, results = finished_run
    records = ResultStore(results).records()
    assert sorted(r["method"] for r in records) == ["baseline", "dg2gan", "wgan"]
    assert all(r["status"] == "complete" for r in records)
    assert "[generators.dg2gan]" in (results / "spec.resolved.toml").read_text()
    run = json.loads((results / "run.json").read_text())
    assert run["device"] == "cpu" and any(p["name"] == "dg2gan" for p in run["plugins"])
    assert all(r["provenance"]["dataset:crackforest"].startswith("dg2bench ") for r in records)
    dg2gan = next(r for r in records if r["method"] == "dg2gan")
    assert dg2gan["training"]["steps"] == 4 and dg2gan["training"]["parameters"] > 0
    assert len(list((results / "cells/crackforest/dg2gan/seed0/fakes").glob("*.png"))) == 8
    quality = dg2gan["quality"]
    assert quality["n_fake"] == 8 and quality["n_real"] == 8 and quality["warnings"]
    assert quality["fid"] > 0 and "kid" in quality and "precision" in quality["prdc"]
    classification = dg2gan["classification"]["resnet34"]
    assert classification["train_images"] == {"real_defect_free": 12, "real_defect": 8, "fake_defect": 8,
                                              "fake_defect_free": 0}
    assert len(classification["predictions"]) == 16
    baseline = next(r for r in records if r["method"] == "baseline")
    assert baseline["classification"]["resnet34"]["train_images"]["fake_defect"] == 0
    assert (results / "splits" / "crackforest.csv").exists()
    assert len(list((results / "cache" / "features").glob("*.npy"))) == 1


@pytest.mark.slow
@pytest.mark.parametrize("table, expected", [("time", "Parameters (M)"), ("fid", "KID×10³ ↓"), ("classify", "resnet34-only")])
@pytest.mark.parametrize("fmt", ["rich", "csv", "markdown", "latex", "json"])
def test_leaderboard_tables_and_formats(bench, finished_run, table, expected, fmt):
    _, results = finished_run
    code, out, err = bench("leaderboard", str(results), "--table", table, "--format", fmt)
    assert code == 0, err
    if fmt == "markdown":
        assert expected in out
    if fmt == "rich":
        assert "Table" in out.splitlines()[0]
    if fmt == "json":
        rows = json.loads(out)
        assert rows and "method" in rows[0]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "json", "markdown", "latex", "rich"])
def test_leaderboard_all_tables_parse(bench, finished_run, fmt):
    import io

    import pandas as pd
    _, results = finished_run
    code, out, err = bench("leaderboard", str(results), "--table", "all", "--format", fmt)
    assert code == 0, err
    if fmt == "csv":
        frame = pd.read_csv(io.StringIO(out))
        assert set(frame["table"]) == {"time", "fid", "classify"}
        classify = frame[frame["table"] == "classify"]
        assert {"vs_baseline_diff", "vs_baseline_p_holm", "accuracy_t_half", "accuracy_ci_low"} <= set(classify.columns)
    elif fmt == "json":
        assert set(json.loads(out)) == {"time", "fid", "classify"}
    elif fmt == "markdown":
        assert out.count("**") == 6 and "note: Accuracy: mean over seeds" in out
        assert "Δ vs baseline (pp)" in out and "FID 95% CI" in out
    elif fmt == "latex":
        assert out.count("\\toprule") == 3


@pytest.mark.slow
def test_leaderboard_compare_two_methods(bench, finished_run):
    _, results = finished_run
    code, out, err = bench("leaderboard", str(results), "--compare", "dg2gan", "wgan", "--format", "json")
    assert code == 0, err
    rows = [r for r in json.loads(out) if r["score"] == "accuracy"]
    assert {r["class"] for r in rows} == {"defect", "defect-free"}
    assert all(0 <= r["p"] <= 1 and r["low"] <= r["diff"] <= r["high"] for r in rows)
    assert len(rows[0]["mcnemar_p"]) == 1 and rows[0]["level"] == "models"     # one seed: two models
    code, _, err = bench("leaderboard", str(results), "--compare", "dg2gan", "nope")
    assert code == 2 and "known: baseline, dg2gan, wgan" in err


@pytest.mark.slow
def test_leaderboard_names_partial_cells(bench, finished_run, tmp_path):
    _, results = finished_run
    copy = tmp_path / "copy"
    shutil.copytree(results, copy)
    (copy / "cells" / "crackforest" / "cyclegan" / "seed0").mkdir(parents=True)
    code, _, err = bench("leaderboard", str(copy), "--table", "classify", "--format", "csv")
    assert code == 0 and "crackforest/cyclegan/seed0 is partial" in err


@pytest.mark.slow
def test_rerun_skips_complete_cells_and_resumes_incomplete_ones(bench, finished_run, tmp_path):
    spec, results = finished_run
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    cell = copy / "cells/crackforest/dg2gan/seed0"
    (cell / "record.json").unlink()
    shutil.rmtree(cell / "classify-resnet34")
    code, out, err = bench("run", str(spec), "--results", str(copy))
    assert code == 0, err
    assert "ran 1 cells, skipped 2 complete" in out
    record = json.loads((cell / "record.json").read_text())
    assert record["training"]["steps"] == 4  # the generator stage was reused, not retrained


@pytest.mark.slow
def test_second_run_on_a_locked_folder_refuses(bench, finished_run):
    spec, results = finished_run
    with ResultStore(results).lock():
        code, _, err = bench("run", str(spec), "--results", str(results))
    assert code == 2
    assert err.strip().startswith("error: ") and "another `bench run`" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_changed_config_refuses_to_mix_results(bench, finished_run, tmp_path):
    spec, results = finished_run
    changed = tmp_path / "spec.toml"
    changed.write_text(spec.read_text().replace("max_steps = 4", "max_steps = 5"))
    code, _, err = bench("run", str(changed), "--results", str(results), "--only", "dg2gan")
    assert code == 2 and "different configuration" in err


@pytest.mark.parametrize("args, fragment", [
    (["validate", "nope.toml"], "nope.toml: no such spec file"),
    (["run", "nope.toml"], "nope.toml: no such spec file"),
    (["leaderboard", "no/such/dir"], "no/such/dir: no such results folder"),
    (["leaderboard", ".", "--table", "speed"], "Invalid value for '--table'"),
    (["fid", "a_dir", "b_dir"], "a_dir: no such folder"),
])
def test_bad_input_is_one_line_exit_2(bench, args, fragment):
    code, out, err = bench(*args)
    assert code == 2
    assert err.startswith("error: ") and fragment in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_spec_value_names_file_and_key(bench, write_spec):
    path = write_spec(tiny_spec_text(extra="[generators.dg2gan]\nlamda = 1.0\n"))
    code, _, err = bench("validate", str(path))
    assert code == 2
    assert f"error: {path}: generators.dg2gan.lamda: unknown hyperparameter; known keys:" in err


def test_unknown_only_and_bad_seeds(bench, write_spec, tmp_path):
    spec, results = write_spec(generators=GENERATORS), tmp_path / "results"
    code, _, err = bench("run", str(spec), "--results", str(results), "--only", "stylegan")
    assert code == 2 and "--only: no method named stylegan" in err
    code, _, err = bench("run", str(spec), "--results", str(results), "--seeds", "0")
    assert code == 2 and "--seeds: must be >= 1" in err


def test_debug_shows_the_traceback(bench):
    code, _, err = bench("--debug", "validate", "nope.toml")
    assert code == 2 and "Traceback" in err


@pytest.mark.slow
def test_fid_between_two_folders(bench, finished_run):
    _, results = finished_run
    fakes = results / "cells/crackforest/dg2gan/seed0/fakes"
    other = results / "cells/crackforest/wgan/seed0/fakes"
    code, out, err = bench("fid", str(fakes), str(other), "--device", "cpu")
    assert code == 0, err
    assert "FID:" in out and "KID×10³:" in out and "n = 8 / 8" in out
    # 8 images a side: every KID subset is the whole set, so no (zero) spread is claimed.
    assert "no spread to report" in out and "±" not in out
    code, out, _ = bench("fid", str(fakes), str(fakes), "--device", "cpu")
    assert out.split("FID:")[1].split()[0] == "0.0000"          # not "-0.0000"


@pytest.mark.slow
def test_fakes_are_pngs_of_the_spec_size(finished_run):
    from PIL import Image

    _, results = finished_run
    first = next(Path(results / "cells/crackforest/wgan/seed0/fakes").glob("*.png"))
    with Image.open(first) as image:
        assert image.size == (32, 32) and image.mode == "RGB"



def test_tables_print_brackets_literally():
    # The folder plugin's summary holds "[/<type>]", which rich would read as markup.
    import pandas as pd
    from rich.console import Console
    from dg2bench.console import rich_table
    console = Console(record=True, width=200)
    console.print(rich_table(pd.DataFrame({"Summary": ["good and defect[/<type>] [bold]x"]}), "t"))
    assert "good and defect[/<type>] [bold]x" in console.export_text()


def test_progress_piped_into_a_log_is_plain_lines_in_order():
    import io

    from rich.console import Console

    from dg2bench.console import ProgressBars
    from dg2bench.runtime.progress import ProgressEvent

    log = io.StringIO()
    with ProgressBars(Console(file=log, width=200)) as bars:     # a file: not a terminal
        for step in range(0, 101, 5):
            bars(ProgressEvent("d/m/seed0", "train", step, 100, losses={"G": 1.0}))
        bars(ProgressEvent("d/m/seed0", "done", 1, 1, message="complete"))
    lines = log.getvalue().splitlines()
    assert lines[0] == "d/m/seed0 train 0/100 G=1" and lines[-2] == "d/m/seed0 train 100/100 G=1"
    assert len(lines) == 12 and lines[-1] == "d/m/seed0: complete"    # start, each tenth, the end


def _render_at_120(bench, monkeypatch, *args):
    import io

    from rich.console import Console

    import dg2bench.cli as cli

    console = Console(width=120, record=True, file=io.StringIO(), soft_wrap=True)
    monkeypatch.setattr(cli, "console", console)
    code, _, err = bench(*args)
    assert code == 0, err
    return console.export_text()


def _assert_fits_120_unbroken(text: str, records: list[dict], tables: tuple[str, ...]):
    from dg2bench.report.leaderboard import TITLES, build_table
    from dg2bench.report.terminal import compact_tables, sort_best

    assert max(len(line) for line in text.splitlines()) <= 120, text
    for name in tables:
        data = sort_best(build_table(records, name), name)
        for _, shown in compact_tables(data, name, TITLES[name]):
            for value in shown.astype(str).to_numpy().ravel():
                assert value in text, (name, value)          # whole: no word broken over two lines


@pytest.mark.slow
def test_every_table_fits_a_120_column_terminal(bench, finished_run, monkeypatch):
    _, results = finished_run
    text = _render_at_120(bench, monkeypatch, "leaderboard", str(results), "--table", "all")
    _assert_fits_120_unbroken(text, ResultStore(results).records(), ("time", "fid", "classify"))
    assert "note: Accuracy: mean over seeds" in text
    text = _render_at_120(bench, monkeypatch, "leaderboard", str(results), "--compare", "dg2gan", "wgan")
    assert max(len(line) for line in text.splitlines()) <= 120, text
    assert "dg2gan vs wgan – crackforest, resnet34, 1 seed: models" in text and "accuracy (%) defect-free" in text


def test_five_seeds_and_both_references_fit_120_columns_best_first(bench, monkeypatch, tmp_path):
    from test_leaderboard import _with_predictions

    folder = tmp_path / "results"
    records = []
    for method, missed in (("baseline", 9), ("dg2gan-no-djs", 3), ("oversample", 8), ("cyclegan", 6)):
        for seed in range(5):
            record = _with_predictions(method, seed, set(range(missed + seed % 3 - 1)), n=60)
            record["cell"] = f"crackforest/{method}/seed{seed}"
            records.append(record)
            cell = folder / "cells" / "crackforest" / method / f"seed{seed}"
            cell.mkdir(parents=True)
            (cell / "record.json").write_text(json.dumps(record))
    text = _render_at_120(bench, monkeypatch, "leaderboard", str(folder), "--table", "classify")
    _assert_fits_120_unbroken(text, records, ("classify",))
    methods = [line.split("│")[1].strip() for line in text.splitlines() if line.count("│") > 3]
    assert methods[0] == "dg2gan-no-djs"                               # best defect accuracy first
    wide = _render_at_120(bench, monkeypatch, "leaderboard", str(folder), "--table", "classify", "--sort", "spec",
                          "--wide")
    assert wide.splitlines()[1].count("┳") > text.splitlines()[1].count("┳") + 5     # every column, wrapped


@pytest.mark.parametrize("terminal", [False, True])
def test_a_resumed_stage_says_so_in_one_line(terminal):
    import io

    from rich.console import Console

    from dg2bench.console import ProgressBars
    from dg2bench.runtime.progress import ProgressEvent

    log = io.StringIO()
    with ProgressBars(Console(file=log, width=200, force_terminal=terminal)) as bars:
        bars(ProgressEvent("d/m/seed0", "train", 40, 100, message="resumed from step 40 of 100 (checkpoint)"))
        bars(ProgressEvent("d/m/seed0", "train", 50, 100, losses={"G": 1.0}))
    text = log.getvalue()
    assert text.count("d/m/seed0 train: resumed from step 40 of 100 (checkpoint)") == 1, text
    if not terminal:
        assert text.splitlines() == ["d/m/seed0 train: resumed from step 40 of 100 (checkpoint)",
                                     "d/m/seed0 train 50/100 G=1"]


BROKEN_PLUGIN = """\
    from dg2bench import hookimpl
    from scalar_generator import ScalarGenerator

    class Broken(ScalarGenerator):
        name = "brokengan"

        def generate(self, n, source):
            return (super().generate(n, source) + 1) * 127.5   # [0, 255]: breaks rule generate-range

    @hookimpl
    def register_generators(register):
        register(Broken)
    """


def test_a_failed_cell_prints_its_reason_and_the_run_exits_3(bench, write_spec, tmp_path, monkeypatch):
    from third_party import install_distribution

    from dg2bench.cli import FAILED_CELLS_EXIT

    install_distribution(tmp_path, "broken-pkg", "broken_module", "brokengan", BROKEN_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(__import__("sys").modules, "broken_module", raising=False)
    spec = write_spec(generators="[generators.broken]\nplugin = \"brokengan\"\n", fakes=3, classifier_steps=2)
    results = str(tmp_path / "results")
    code, out, err = bench("run", str(spec), "--results", results, "--only", "broken")
    assert FAILED_CELLS_EXIT == 3 and code == 3, out + err
    lines = [line for line in out.splitlines() if line.startswith("failed: ")]
    assert len(lines) == 1 and "Traceback" not in out + err, out
    assert lines[0].startswith("failed: crackforest/broken/seed0: generator 'brokengan' (package broken-pkg 1.0): "
                               "breaks rule generate-range:"), lines[0]
    # Rerun without --retry-failed: skipped, but still failed: the reason again, and exit 3.
    code, out, _ = bench("run", str(spec), "--results", results, "--only", "broken")
    assert code == 3 and "failed earlier: crackforest/broken/seed0: generator 'brokengan'" in out, out
    assert "--retry-failed" in out
    code, out, _ = bench("run", "--help")
    assert "3 when a cell failed" in " ".join(out.split())


def test_plugins_name_prints_its_options_with_types_defaults_presets_and_meaning(bench, monkeypatch):
    from dg2bench import cli

    monkeypatch.setattr(cli.console, "width", 200)   # wide enough for a column per preset, wherever it runs
    code, out, err = bench("plugins", "dg2gan")
    assert code == 0, err
    assert "…" not in out   # no value cut short, whatever the width (80 columns without a terminal)
    lines = [line for line in out.splitlines() if line.startswith("│ mu ")]
    assert lines and "float" in lines[0] and "0.05" in lines[0] and "mu of eq. 2" in out
    assert "small-cyclegan-recipe" in out and "list of float" in out
    batch = next(line for line in out.splitlines() if line.startswith("│ batch_size "))
    assert [cell.strip() for cell in batch.split("│")[3:9]] == ["8", ">= 1", "4", "8", "4", "1"]   # default, allowed, tiny, ...
    decay = next(line for line in out.splitlines() if line.startswith("│ decay_fraction "))
    assert "[0, 1]" in decay
    code, out, err = bench("plugins", "resnet34")
    assert code == 0 and "blocks_per_stage" in out
    # Its options are documented on the base class ResNetHyperparameters: still shown.
    lr = next(line for line in out.splitlines() if line.startswith("│ lr "))
    assert "Adam learning rate" in lr
    code, out, err = bench("plugins", "nosuch")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "choose from:" in err and "dg2gan" in err


@pytest.mark.slow     # a `bench plugins NAME` per plugin: 1-1.5 CPU s a width (the fast loop has the test above)
@pytest.mark.parametrize("width", [80, 200])
def test_plugins_name_never_cuts_a_value_short(bench, monkeypatch, width):
    """Too narrow for a column per preset, the presets follow as a list; nothing ends in "…"."""
    from dg2bench import cli
    from dg2bench.contracts.plugin_manager import get_registry

    monkeypatch.setattr(cli.console, "width", width)
    for plugin in get_registry().all():
        code, out, err = bench("plugins", plugin.name)
        assert code == 0, err
        assert "…" not in out, (plugin.name, out)
        rows = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]   # title and caption may run on
        assert rows and max(len(line) for line in rows) <= width, plugin.name
    code, out, _ = bench("plugins", "dg2gan")
    listed = "presets: the values each sets" in out
    assert listed == (width == 80)   # 200 columns hold a column per preset
    if listed:
        assert 'small-cyclegan-recipe │ batch_size = 1, epochs = 2' in out


def test_field_docs_reads_ivar_and_param_entries_with_continuations():
    import dataclasses

    from dg2bench.contracts.hyperparameters import field_docs, option_table

    @dataclasses.dataclass(frozen=True)
    class Options:
        """Two options.

        :ivar size: the side
            in pixels.
        :param mode: ``"a"`` or ``"b"``.
        """

        size: int = 3
        mode: str = "a"
        other: bool = False

    assert field_docs(Options) == {"size": "the side in pixels.", "mode": '``"a"`` or ``"b"``.'}
    rows = option_table(Options, {"tiny": {"size": 1}})
    assert rows[0] == {"option": "size", "type": "int", "default": "3", "allowed": "", "tiny": "1",
                       "doc": "the side in pixels."}
    assert rows[2] == {"option": "other", "type": "bool", "default": "false", "allowed": "", "tiny": "", "doc": ""}
