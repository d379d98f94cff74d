"""The ``bench`` command line: parse, call the core, render. No business logic here."""

from __future__ import annotations

import errno
import io
import json
import os
import sys
import traceback
import warnings
from pathlib import Path

import click
import pandas as pd
from dg2bench.errors import BenchError
from dg2bench.report.table_names import TABLES
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _width(stream) -> int | None:
    """None (rich measures) on a terminal; piped, ``COLUMNS`` or 160, so tables in logs are not crushed to 80."""
    if stream is not None and stream.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else 160


# soft_wrap: a line longer than the terminal stays one line (piped TOML, logs, grep); tables still fit.
console = Console(soft_wrap=True, width=_width(sys.stdout))
err_console = Console(stderr=True, soft_wrap=True, width=_width(sys.stderr))


def _registry():
    from dg2bench.contracts.plugin_manager import PluginLoadWarning, get_registry

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginLoadWarning)
        registry = get_registry()
    for warning in caught:
        err_console.print(f"[yellow]warning:[/] {warning.message}", highlight=False, soft_wrap=True)
    if not registry.names("generator"):
        raise BenchError("plugins", "no generator plugin is registered",
                         "is the package installed? run pip install -e .")
    return registry


def _load(spec_path: str):
    """The validated spec and the registry it was validated against (built once)."""
    from dg2bench.spec import load_spec

    registry = _registry()
    return load_spec(Path(spec_path), registry), registry


SET_OPTION = click.option(
    "--set", "settings", multiple=True, metavar="KEY=VALUE",
    help="Override a [benchmark] key, e.g. --set compile=true --set precision=fp32; repeatable.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="dg2bench")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Benchmark GAN-based defect-image augmentation (DG2GAN, CycleGAN, WGAN, D2GAN, ...)."""
    ctx.obj = {"debug": debug}


@cli.command("plugins")
@click.argument("name", required=False)
@click.option("--hooks", is_flag=True, help="List the hook specifications instead.")
def plugins_command(name: str | None, hooks: bool) -> None:
    """List installed generators, classifiers and datasets with their origin.

    With NAME, that plugin's options: type, default, each preset's value, and what it means.
    """
    from dg2bench.console import rich_table

    if name is not None:
        _print_plugin_options(name)
        return
    if hooks:
        from dg2bench.contracts import hookspecs

        for name in ("register_generators", "register_classifiers", "register_datasets"):
            doc = (getattr(hookspecs, name).__doc__ or "").strip().splitlines()[0]
            console.print(f"[bold]{name}[/](register): {doc}")
        return
    registry = _registry()
    rows = [{"Kind": p.kind, "Name": p.name, "Package": f"{p.package} {p.version}",
             "Built-in": "yes" if p.builtin else "no", "Summary": p.summary} for p in registry.all()]
    console.print(rich_table(pd.DataFrame(rows), "dg2bench plugins"))
    disabled = [{"Kind": d.kind, "Name": d.name, "Package": d.package, "Rule": d.rule or "import",
                 "Problem": f"{d.problem}; {d.fix}"} for d in registry.disabled()]
    if disabled:
        console.print(rich_table(pd.DataFrame(disabled), "disabled plugins (see docs/plugins/contracts.md)"))


def _print_plugin_options(name: str) -> None:
    """``bench plugins NAME``: a table of the plugin's options (every kind that has one of that name).

    Each preset is a column where the table fits the terminal; on a narrow one the
    presets follow as a list of what each sets, so no value is ever cut short.
    """

    from dg2bench.contracts.hyperparameters import option_table

    registry = _registry()
    found = [p for p in registry.all() if p.name == name]
    if not found:
        known = sorted({p.name for p in registry.all()})
        raise BenchError(name, "no installed plugin of that name", f"choose from: {', '.join(known)}")
    for plugin in found:
        holder = plugin.cls.Options if plugin.kind == "dataset" else plugin.cls.Hyperparameters
        presets = getattr(plugin.cls, "presets", {})
        rows = option_table(holder, presets)
        title = escape(f"{plugin.kind} {plugin.name} ({plugin.package} {plugin.version}): {plugin.summary}")
        table = _options_table(title, rows, list(presets))
        if presets and not _fits(table):
            table = _options_table(title, rows, [])
            table = table if _fits(table) else _options_table(title, rows, [], fold=True)
            console.print(table)
            listing = Table(title="presets: the values each sets (the rest keep their defaults)", title_justify="left")
            listing.add_column("preset", no_wrap=True)
            listing.add_column("sets", ratio=1)
            for preset, values in presets.items():
                listing.add_row(escape(preset), escape(", ".join(
                    f"{key} = {next(r[preset] for r in rows if r['option'] == key)}" for key in values)))
            console.print(listing)
        else:
            console.print(table if _fits(table) else _options_table(title, rows, list(presets), fold=True))


def _fits(table: Table) -> bool:
    """Whether ``table`` renders at the console's width with no value cut short ("…")."""
    from rich.console import Console

    trial = Console(width=console.width, file=io.StringIO(), soft_wrap=True)
    trial.print(table)
    body = [line for line in trial.file.getvalue().splitlines() if line[:1] in "┏┃┡│└"]   # not the title
    return not any("…" in line or len(line) > console.width for line in body)


def _options_table(title: str, rows: list[dict[str, str]], presets: list[str], fold: bool = False) -> Table:
    """One row per option: type, default, allowed values, one column per preset, meaning.

    :param fold: break long values over lines (a terminal too narrow for them whole)
        rather than keep each on one line.
    """

    caption = ("preset columns: the values a preset sets (blank: the default); " if presets else "") + \
        "a spec table sets any option beside `preset = \"...\"`"
    table = Table(title=title, caption=caption, title_justify="left")
    cell = {"overflow": "fold"} if fold else {"no_wrap": True}
    table.add_column("option", **cell)
    table.add_column("type", **cell)
    table.add_column("default", justify="right", **cell)
    table.add_column("allowed", **cell)
    for preset in presets:
        table.add_column(preset, justify="right", **cell)
    table.add_column("meaning", ratio=1, min_width=12 if fold else 20, overflow="fold")
    for row in rows:   # docs may hold brackets ("[/<type>]"): text, never rich markup
        table.add_row(*(escape(row[key]) for key in ("option", "type", "default", "allowed", *presets, "doc")))
    return table


@cli.command("validate")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--show", is_flag=True,
              help="After the verdict, print the resolved spec (every default filled in) as TOML.")
def validate_command(spec: str, show: bool) -> None:
    """Load and validate SPEC (its datasets' splits too): one verdict line; --show adds the resolved spec."""
    import shlex

    from dg2bench.data.loading import build_split
    from dg2bench.runner import plan_cells

    loaded, registry = _load(spec)
    splits = []
    for choice in loaded.datasets:   # the data is there and holds the counts asked for
        counts = build_split(choice, registry, loaded.benchmark.split_seed, loaded.path).counts()
        splits.append(f"{choice.label} train {counts['train']['defect_free']}/{counts['train']['defect']}, "
                      f"test {counts['test']['defect_free']}/{counts['test']['defect']} (defect-free/defect)")
    # The verdict first: the resolved spec runs to hundreds of lines and would bury it.
    console.print(f"[green]ok:[/] {escape(spec)} is valid: {len(plan_cells(loaded))} cells; "
                  f"{escape('; '.join(splits))}", highlight=False)
    if show:
        # A TOML comment: everything after the verdict line still parses as TOML.
        console.print(f"# resolved spec (every default filled in)\n{loaded.resolved_toml()}",
                      highlight=False, markup=False)
    else:
        console.print(f"[dim]the resolved spec, every default filled in: bench validate "
                      f"{escape(shlex.quote(spec))} --show[/]", highlight=False)


@cli.command("split")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the manifests [default: results/<name>/splits].")
def split_command(spec: str, out: str | None) -> None:
    """Print split counts of SPEC's datasets and write the split manifests."""
    from dg2bench.console import rich_table
    from dg2bench.data.loading import build_split

    loaded, registry = _load(spec)
    folder = Path(out) if out else Path("results") / loaded.name / "splits"
    rows, manifests = [], []
    for choice in loaded.datasets:
        split = build_split(choice, registry, loaded.benchmark.split_seed, loaded.path)
        path = split.write_manifest(folder / f"{choice.label}.csv")
        counts = split.counts()
        rows.append({"Dataset": choice.label, "Train defect-free": counts["train"]["defect_free"],
                     "Train defect": counts["train"]["defect"], "Test defect-free": counts["test"]["defect_free"],
                     "Test defect": counts["test"]["defect"]})
        manifests.append(f"{choice.label}: manifest {path} (sha256 {split.manifest_hash})")
    console.print(rich_table(pd.DataFrame(rows), f"Split of {loaded.name} (split_seed {loaded.benchmark.split_seed})"))
    for line in manifests:
        console.print(line, highlight=False, soft_wrap=True)


@cli.command("run")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--results", "results", type=click.Path(file_okay=False), default=None,
              help="Results folder [default: results/<benchmark name>].")
@click.option("--device", type=str, default=None, help="auto | cpu | cuda | cuda:N [default: the spec's].")
@click.option("--only", multiple=True, help="Run only this method (generator label or 'baseline'); repeatable.")
@click.option("--seeds", type=int, default=None, help="Seeds per cell [default: the spec's].")
@click.option("--retry-failed", is_flag=True, help="Also rerun cells that failed (e.g. non-finite losses).")
@click.option("--on-change", type=click.Choice(["refuse", "restart"]), default="refuse", show_default=True,
              help="A cell folder made under another configuration or plugin version: refuse to run, or move "
                   "it to superseded/ and start the cell afresh.")
@SET_OPTION
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: cells one after another in this process; ray: each cell a Ray task.")
@click.option("--address", default=None, metavar="ADDR",
              help="Ray cluster to join (auto, HOST:PORT, ray://HOST:PORT) [default: the local one, or a new one].")
@click.option("--max-retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="With --executor ray: times a cell is retried when its worker dies; then it is recorded failed.")
def run_command(spec: str, results: str | None, device: str | None, only: tuple[str, ...], seeds: int | None,
                retry_failed: bool, on_change: str, settings: tuple[str, ...], executor: str, address: str | None,
                max_retries: int) -> None:
    """Run every cell of SPEC; complete cells are skipped, interrupted ones resume.

    SIGINT (Ctrl-C) or SIGTERM stops after the current step with a checkpoint saved;
    rerunning the same command resumes.

    Exit status: 0 when every cell is complete; 3 when a cell failed (in this run, or in
    an earlier one and skipped), each listed with its reason; 2 on bad input or a
    storage error; 130 / 143 when stopped by SIGINT / SIGTERM.
    """
    import shlex

    from dg2bench.console import ProgressBars
    from dg2bench.executors import get_executor
    from dg2bench.runner import plan_cells, run_benchmark
    from dg2bench.runtime.device import resolve_device
    from dg2bench.runtime.interrupt import RunInterrupted, stop_on_signals
    from dg2bench.store.results import ResultStore

    loaded, registry = _load(spec)
    loaded = loaded.with_benchmark(settings)
    if seeds is not None:
        loaded = loaded.with_seeds(seeds)
    if device is not None:
        resolve_device(device)
        loaded = loaded.with_device(device)
    store = ResultStore(Path(results) if results else Path("results") / loaded.name)
    runner = get_executor(executor, address, max_retries)
    plan_cells(loaded, only)   # an unknown --only name stops here, before the estimate line
    _print_known_estimate(loaded, only, spec, executor)
    resume = " ".join(shlex.quote(a) for a in ["bench", "run", spec, "--results", str(store.root),
                                                 *(["--device", device] if device else []),
                                                 *(f"--only={o}" for o in only),
                                                 *(["--seeds", str(seeds)] if seeds else []),
                                                 *(f"--set={s}" for s in settings),
                                                 *(["--executor", executor] if executor != "local" else []),
                                                 *(["--address", address] if address else []),
                                                 *([f"--max-retries={max_retries}"] if max_retries != 2 else [])])

    def note(text: str) -> None:
        err_console.print(f"[yellow]note:[/] {text}", highlight=False, soft_wrap=True)

    try:
        with stop_on_signals(), ProgressBars(console) as bars:
            summary = run_benchmark(loaded, registry, store, only=only, progress=bars, retry_failed=retry_failed,
                                    on_change=on_change, on_note=note, executor=runner)
    except RunInterrupted as exc:
        err_console.print(f"interrupted by {exc}; finished cells and stages are kept; resume with: {resume}",
                          highlight=False, markup=False, soft_wrap=True)
        sys.exit(128 + exc.signum)
    earlier = (f" ({len(summary.skipped_failed)} of them failed earlier; `--retry-failed` reruns them)"
               if summary.skipped_failed else "")
    console.print(f"ran {len(summary.ran)} cells, skipped {len(summary.skipped)} complete{earlier}, "
                  f"{len(summary.failed)} failed; results in {summary.results}", markup=False)
    _print_failed_cells(summary)
    if summary.failed or summary.skipped_failed:
        sys.exit(FAILED_CELLS_EXIT)


#: ``bench run``'s exit status when a cell of the run failed (now, or earlier and skipped).
FAILED_CELLS_EXIT = 3


def _print_failed_cells(summary) -> None:
    """One line per failed cell, with the reason its record gives."""
    for cell in summary.failed:
        console.print(f"[red]failed:[/] {escape(cell)}: {escape(summary.reasons.get(cell, ''))}", highlight=False)
    for cell in summary.skipped_failed:
        console.print(f"[red]failed earlier:[/] {escape(cell)}: {escape(summary.reasons.get(cell, ''))} "
                      f"(`--retry-failed` reruns it)", highlight=False)


def _print_known_estimate(spec, only: tuple[str, ...], spec_arg: str, executor: str) -> None:
    """The run's first line: ``bench estimate``'s projected total for this spec and device (and
    ``--only``), or, where none was made, how to get one (timing steps here would delay the run)."""
    import shlex

    from dg2bench.estimate import load_estimate, summary_line
    from dg2bench.runtime.device import resolve_device

    device = resolve_device(spec.benchmark.device, spec.device_source)
    known = load_estimate(spec, device, executor)
    if known is None:
        under = "" if executor == "local" else f" --executor {executor}"
        console.print(f"estimate: none yet for this spec and settings on {device.type}; `bench estimate "
                      f"{shlex.quote(spec_arg)}{under}` projects the training time (then shown here)",
                      highlight=False, markup=False)
        return
    scope = f" for --only {', '.join(only)}" if only else ""
    console.print(f"estimate: {summary_line(known, only)}{scope} on {known['device']} "
                  f"(bench estimate, {known['date']})", highlight=False)


@cli.command("estimate")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--device", type=str, default=None, help="auto | cpu | cuda | cuda:N [default: the spec's].")
@click.option("--format", "fmt", type=click.Choice(["rich", "json"]), default="rich", show_default=True)
@click.option("--repeats", type=click.IntRange(1, 100), default=5, show_default=True, help="Timed steps per method.")
@click.option("--warmup", type=click.IntRange(0, 100), default=2, show_default=True, help="Untimed steps first.")
@click.option("--seed-sd", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Seed-to-seed sd of a classifier's accuracy (pp) assumed for the smallest detectable difference.")
@click.option("--peak-tflops", type=click.FloatRange(min=0, min_open=True), default=None,
              help="The device's peak TFLOP/s for MFU [default: a table of known GPUs].")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="As `bench run` will use: with ray on a CPU, steps are timed on each cell's threads "
                   "(cpus_per_cell) and cells that fit run side by side.")
@SET_OPTION
def estimate_command(spec: str, device: str | None, fmt: str, repeats: int, warmup: int, seed_sd: float,
                     peak_tflops: float | None, settings: tuple[str, ...], executor: str) -> None:
    """Time a few real steps of every method of SPEC and project the time of the run.

    Training steps, a chunk of each method's fakes, Inception features of the fakes and
    real defects, and test predictions are timed on synthetic images of the spec's sizes.
    """

    import pandas as pd
    from dg2bench.console import rich_table
    from dg2bench.data.loading import build_split
    from dg2bench.estimate import (
        detectable_line,
        estimate_evaluation,
        estimate_spec,
        format_duration,
        parallel_cells,
        peak_tflops_for,
        run_summary,
        save_estimate,
        strict_json,
        summary_line,
        torch_threads,
    )
    from dg2bench.runtime.device import prepare_device, resolve_device

    loaded, registry = _load(spec)
    loaded = loaded.with_benchmark(settings)
    if device is not None:
        loaded = loaded.with_device(device)
    target = resolve_device(loaded.benchmark.device, loaded.device_source)
    prepare_device(target)
    counts = {d.label: build_split(d, registry, loaded.benchmark.split_seed, loaded.path).counts()
              for d in loaded.datasets}
    peak = peak_tflops_for(target, peak_tflops)
    slots, threads = parallel_cells(loaded, target, executor)
    with console.status("timing steps") as status, torch_threads(threads):
        def timing(label: str) -> None:
            status.update(f"timing {label}")

        rows = estimate_spec(loaded, registry, target, counts, warmup=warmup, repeats=repeats, on_method=timing)
        rows += estimate_evaluation(loaded, registry, target, counts, warmup=warmup, repeats=repeats,
                                    on_method=timing)
    summary = run_summary(loaded, target, rows, counts, peak, executor, slots, threads, seed_sd)
    save_estimate(summary, loaded, target, executor)
    data, name, detectable = summary["methods"], summary["device"], summary["detectable_difference"]["by_dataset"]
    methods = summary["detectable_difference"]["methods"]
    if fmt == "json":
        click.echo(json.dumps(strict_json(summary), indent=2, allow_nan=False))
        return
    shown = pd.DataFrame({
        "Dataset": [r["dataset"] for r in data], "Method": [f"{r['label']} ({r['role']})" for r in data],
        "Precision": [r["precision"] for r in data],
        "Steps/cell": [r["steps_per_cell"] for r in data], "Cells": [r["cells"] for r in data],
        "s/step": [_number(r["seconds_per_step"] or float("nan"), "{:.3f}") for r in data],
        "img/s": [_number(r["images_per_second"], "{:.1f}") for r in data],
        "Projected": [r["error"] or format_duration(r["projected_seconds"]) for r in data],
        "Warm-up s": [_number(r["warmup_seconds"], "{:.1f}") for r in data],
        "Peak MB": [_number(r["peak_memory_mb"], "{:.0f}") for r in data],
        "TFLOP/s": [_number(r["achieved_tflops"], "{:.2f}") for r in data],
        "MFU": [_number(r["mfu"], "{:.1%}") for r in data]})
    console.print(rich_table(shown, f"Estimate for {loaded.name} on {name}"))
    console.print(f"total: {summary_line(summary)} ({summary['precision']})", highlight=False,
                  soft_wrap=True)
    for label, by_class in detectable.items():
        console.print(detectable_line(label, by_class, counts[label]["test"], len(loaded.seeds), seed_sd, methods),
                      highlight=False, soft_wrap=True)


def _number(value: float, pattern: str) -> str:
    """``pattern`` applied to ``value``, or ``"–"`` for NaN / infinite."""
    return pattern.format(value) if value == value and abs(value) != float("inf") else "–"


@cli.command("leaderboard")
@click.argument("results", type=click.Path(file_okay=False))
@click.option("--table", type=click.Choice([*TABLES, "all"]), default="classify", show_default=True,
              help="time: Table 3; fid: Tables 4-6 (+ KID, P/R/D/C); classify: Tables 9-12; all: the three.")
@click.option("--format", "fmt", type=click.Choice(["rich", "csv", "markdown", "latex", "json"]), default="rich",
              show_default=True)
@click.option("--by-dataset", is_flag=True,
              help="Datasets side by side (one row per method, headline columns per dataset).")
@click.option("--compare", nargs=2, metavar="A B", default=None,
              help="Method A against method B: accuracy, FID and KID as paired differences, interval, p.")
@click.option("--sort", "order", type=click.Choice(["best", "spec"]), default="best", show_default=True,
              help="best: each dataset's best method first (lowest FID, highest defect accuracy, shortest "
                   "training); spec: the spec's order.")
@click.option("--wide", is_flag=True, help="In a terminal, every column (csv, json, markdown and LaTeX always "
                                           "have them all).")
def leaderboard_command(results: str, table: str, fmt: str, by_dataset: bool, compare: tuple[str, str] | None,
                        order: str, wide: bool) -> None:
    """Print leaderboards (Table 3, 4-6, 9-12 shapes) or a paired comparison from RESULTS."""
    from dg2bench.report.aggregate import build_table, compare_table
    from dg2bench.report.comparable import check_comparable
    from dg2bench.report.formats import side_by_side
    from dg2bench.report.formatting import display_compare, display_table
    from dg2bench.report.notes import COMPARE_NOTE, SIDE_BY_SIDE_NOTES, table_note
    from dg2bench.report.table_names import TITLES
    from dg2bench.report.terminal import compact_compare, compact_tables, sort_best
    from dg2bench.store.records import cell_records
    from dg2bench.store.results import ResultStore

    if compare and (by_dataset or table != "classify"):
        option = "--by-dataset" if by_dataset else "--table"
        raise BenchError(option, "does not apply to --compare (one paired table per dataset and class)",
                         f"drop {option}, or drop --compare for the leaderboards")
    if not Path(results).is_dir():
        raise BenchError(results, "no such results folder", "pass the folder given to `bench run --results`")
    store = ResultStore(results)
    files = store.record_files()
    records = [record for _, record in files]
    if not records:
        raise BenchError(results, "holds no complete cell record", "run `bench run SPEC --results DIR` first")
    check_comparable(store, records)
    cells = cell_records(files)
    if compare:
        if compare[0] == compare[1]:
            raise BenchError("--compare", f"compares {compare[0]} with itself", "name two different methods")
        methods = sorted({r["method"] for r in records})
        for name in compare:
            if name not in methods:
                raise BenchError("--compare", f"no method {name!r} in {results}", f"known: {', '.join(methods)}")
        numeric = compare_table(cells, *compare)
        if numeric.empty:
            raise BenchError("--compare", f"{compare[0]} and {compare[1]} share no seed with classifier results",
                             "run both methods with the same seeds")
        shown = display_compare(numeric, *compare)
        title = f"{compare[0]} vs {compare[1]}"
        if fmt == "rich" and not wide:
            (title, shown), = compact_compare(shown, title)
        frames = {title: (numeric, shown, COMPARE_NOTE)}
    else:
        frames = {}
        all_failed = all(r.get("status") != "complete" for r in records)
        for name in (TABLES if table == "all" else (table,)):
            data = build_table(cells, name)  # type: ignore[arg-type]
            if data.empty:
                if table != "all" and not all_failed:
                    raise BenchError("--table", f"no cell in {results} has {name} results", "pick another table")
                continue
            if order == "best":
                data = sort_best(data, name)  # type: ignore[arg-type]
            shown = display_table(data, name)  # type: ignore[arg-type]
            # Side by side keeps only headline columns: a short note says what their ± mean.
            note = SIDE_BY_SIDE_NOTES[name] if by_dataset else table_note(name, data)  # type: ignore[index,arg-type]
            if fmt == "rich" and not wide and not by_dataset:
                parts = compact_tables(data, name, TITLES[name])  # type: ignore[arg-type]
                for k, (title, part) in enumerate(parts):
                    frames[title] = (data, part, note if k == len(parts) - 1 else "")
                continue
            if by_dataset:
                data = side_by_side(data, name, numeric=True)  # type: ignore[arg-type]
                shown = side_by_side(shown, name, numeric=False)  # type: ignore[arg-type]
            frames[name if fmt in ("csv", "json") else TITLES[name]] = (data, shown, note)  # type: ignore[index]
        if not frames:
            _print_cell_notes(records, store)
            if all_failed:
                raise BenchError(results, f"every cell failed ({len(records)}; the reasons are above)",
                                 "fix the cause and rerun with `bench run SPEC --retry-failed`")
            raise BenchError(results, "holds no complete cell with results for any table",
                             "run `bench run` on it first")
    _print_frames(frames, fmt, no_wrap=not wide)
    _print_cell_notes(records, store)


def _print_cell_notes(records: list[dict], store) -> None:
    """One note per failed cell (with its reason) and per partial cell, on stderr."""
    for record in records:
        if record.get("status") != "complete":
            err_console.print(f"note: {record['cell']} failed and is not in the table: {record.get('reason')}",
                              highlight=False, markup=False, soft_wrap=True)
    for cell in store.partial_cells():
        err_console.print(f"note: {cell} is partial (no record yet); `bench run` with the same spec finishes it",
                          highlight=False, markup=False, soft_wrap=True)


def _print_frames(frames: dict, fmt: str, no_wrap: bool = True) -> None:
    """Print ``{title: (numeric, shown, note)}`` in ``fmt``; csv/json stay machine-readable.

    ``no_wrap``: rich cells on one line (the terminal layouts fit 120 columns); ``--wide``
    tables may be wider than the terminal, so their cells wrap instead.
    """
    import pandas as pd
    from dg2bench.console import rich_table
    from dg2bench.report.formats import to_latex, to_markdown

    if fmt == "csv":
        many = len(frames) > 1
        parts = [data.assign(table=name) if many else data for name, (data, _, _) in frames.items()]
        # Lists (per-seed McNemar p-values) as "0.5;1.0", not Python reprs.
        parts = [part.apply(lambda col: col.map(lambda v: ";".join(f"{x:g}" for x in v) if isinstance(v, list) else v))
                 for part in parts]
        click.echo(pd.concat(parts, ignore_index=True).to_csv(index=False), nl=False)
        return
    if fmt == "json":
        payload = {name: json.loads(data.to_json(orient="records")) for name, (data, _, _) in frames.items()}
        click.echo(json.dumps(payload if len(frames) > 1 else next(iter(payload.values())), indent=2))
        return
    titled = len(frames) > 1
    for title, (data, shown, note) in frames.items():
        if fmt == "markdown":
            click.echo((f"**{title}**\n\n" if titled else "") + to_markdown(shown) + (f"\nnote: {note}\n" if note else ""))
        elif fmt == "latex":
            click.echo((f"% {title}\n" if titled else "") + to_latex(shown) + (f"% note: {note}\n" if note else ""))
        else:
            console.print(rich_table(shown, title, no_wrap=no_wrap))
            # Notes wrap at the terminal's width (the console keeps long lines whole elsewhere).
            for warning in sorted({w for w in data.get("warning", []) if w}):
                console.print(f"[yellow]note:[/] {escape(warning)}", highlight=False, soft_wrap=False)
            for line in filter(None, note.splitlines()):
                console.print(f"[dim]note: {escape(line)}[/]", highlight=False, soft_wrap=False)


@cli.command("report")
@click.argument("results", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="The HTML file to write [default: RESULTS/report.html].")
def report_command(results: str, out: str | None) -> None:
    """Write one self-contained HTML report (tables, figures, spec, versions) for RESULTS."""
    from dg2bench.store.atomic import write_text_atomic

    if not Path(results).is_dir():
        raise BenchError(results, "no such results folder", "pass the folder given to `bench run --results`")
    from dg2bench.store.results import ResultStore

    store = ResultStore(results)
    if not store.records() and not store.partial_cells():
        raise BenchError(results, "holds no cell of a `bench run`", "run `bench run SPEC --results DIR` first")
    target = Path(out) if out else Path(results) / "report.html"
    if not target.parent.is_dir():
        problem = "is a file, not a folder" if target.parent.exists() else "does not exist"
        raise BenchError("--out", f"folder {target.parent} {problem}", "create it or pick another path")
    from dg2bench.report.html import build_report      # matplotlib: after the checks, so bad input fails at once

    write_text_atomic(target, build_report(results))
    target.chmod(0o644)   # a page to share, not a private temp file
    console.print(f"report: {target}", highlight=False, markup=False)


@cli.command("figures")
@click.argument("results", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the PNG files [default: RESULTS/figures].")
def figures_command(results: str, out: str | None) -> None:
    """Write the report's figures for RESULTS as PNG files."""
    from dg2bench.report.figure_files import write_figures

    written = write_figures(results, Path(out) if out else Path(results) / "figures")
    for path in written:
        console.print(f"figure: {path}", highlight=False, markup=False)
    if not written:
        err_console.print("note: the results hold nothing to draw (no saved images, losses or scores)",
                          highlight=False, markup=False)


@cli.command("export")
@click.argument("results", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--images", type=click.IntRange(min=0), default=None,
              help="Images kept per folder a figure shows (fakes, sources, misclassified, real samples) "
                   "[default: as many as the figure shows, 8].")
def export_command(results: str, out: str, images: int | None) -> None:
    """Copy RESULTS to a new folder OUT that is small and safe to publish (no weights, no cache, few images)."""
    from dg2bench.report.export import export_results, format_size

    summary = export_results(results, out, images)
    console.print(f"exported {summary.cells} cells to {summary.out}: {summary.files} files, "
                  f"{format_size(summary.bytes)} (the first {summary.images_per_folder} images of each folder "
                  f"a figure shows)", highlight=False, markup=False)
    for reason, count in sorted(summary.left_out_files.items()):
        console.print(f"left out: {reason}: {count} file{'s' if count != 1 else ''}, "
                      f"{format_size(summary.left_out_bytes[reason])}",
                      highlight=False, markup=False)


@cli.command("fid")
@click.argument("dir_a", type=click.Path(file_okay=False))
@click.argument("dir_b", type=click.Path(file_okay=False))
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda | cuda:N")
@click.option("--batch-size", default=50, show_default=True, help="Images per Inception forward pass.")
@click.option("--extractor", type=click.Choice(["fid-helper", "pytorch-fid"]), default="fid-helper", show_default=True)
def fid_command(dir_a: str, dir_b: str, device: str, batch_size: int, extractor: str) -> None:
    """Print FID and KID between two image folders (offline TF-FID Inception)."""
    from dg2bench.metrics.folder_scores import score_folders

    for path in (dir_a, dir_b):
        if not Path(path).is_dir():
            raise BenchError(path, "no such folder", "pass two folders of images")
    result = score_folders(Path(dir_a), Path(dir_b), device, batch_size, extractor)
    kid = result["kid"]
    # Subsets as large as both sets are the sets themselves: their std is 0, not certainty.
    whole = kid["subset_size"] >= max(result["n_a"], result["n_b"])
    spread = ("(each subset is every image: no spread to report)" if whole
              else f"± {kid['std'] * 1e3:.3f} (sd over {kid['n_subsets']} subsets of {kid['subset_size']})")
    # A set against itself gives -1e-6 or so from rounding: FID is never below 0.
    fid = 0.0 if -1e-3 < result["fid"] < 0 else result["fid"]
    console.print(f"FID: {fid:.4f}   KID×10³: {kid['mean'] * 1e3:.3f} {spread}   "
                  f"(n = {result['n_a']} / {result['n_b']}, extractor: {result['extractor']})", highlight=False)
    for warning in result["warnings"]:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)


#: Storage errors a user fixes outside the tool, with the fix.
STORAGE_ERRNOS = {errno.ENOSPC: "free some space or pass another --results folder",
                  errno.EDQUOT: "free some space (quota) or pass another --results folder",
                  errno.EACCES: "make it writable or pass another --results folder",
                  errno.EPERM: "make it writable or pass another --results folder",
                  errno.EROFS: "pass a --results folder on a writable file system"}
#: Any other error on a named path (a file where a folder should be, a missing parent, ...).
PATH_FIX = "fix the path (every part of it must be a folder you can write to) or pass another folder"


def _usage_path(exc: click.UsageError, args: list[str]) -> str:
    """``bench SUBCOMMAND`` a usage error belongs to (click reports an option's error against the group)."""
    if exc.ctx is not None and exc.ctx.command is not cli:
        return exc.ctx.command_path
    name = _subcommand(args)
    return f"bench {name}" if name else "bench"


def _subcommand(args: list[str]) -> str | None:
    """The subcommand named in ``args`` (``run``, ``split``, ...), or None."""
    return next((arg for arg in args if arg in cli.commands), None)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``bench``: one-line errors with exit status 2 on bad input."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="bench", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        err_console.print("interrupted: complete cells and checkpoints are kept; rerun the same command to resume")
        sys.exit(130)
    except click.UsageError as exc:
        where = _usage_path(exc, args)
        err_console.print(f"error: {where}: {exc.format_message().rstrip('.')}; see `{where} --help`", highlight=False,
                          markup=False, soft_wrap=True)
        sys.exit(2)
    except BenchError as exc:
        if debug:
            traceback.print_exc()
        err_console.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except OSError as exc:
        if exc.errno not in STORAGE_ERRNOS and not exc.filename:
            raise
        if debug:
            traceback.print_exc()
        where = exc.filename or "results folder"
        fix = STORAGE_ERRNOS.get(exc.errno, PATH_FIX)
        # Only a run has finished work to keep and resume.
        kept = " (files already written are complete and kept: rerun to resume)" \
            if _subcommand(args) == "run" else ""
        err_console.print(f"error: {where}: {exc.strerror or exc}; {fix}{kept}", highlight=False, markup=False,
                          soft_wrap=True)
        sys.exit(2)
