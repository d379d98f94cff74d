"""One self-contained HTML file from a results folder: tables, figures, spec, versions.

Images are embedded as base64 PNG and the page loads nothing from the network, so the
file can be mailed or attached to a paper's supplement as it is. A tiny inline script
marks on ``<body>`` how many images failed to decode (``data-broken-images``), which
the tests read in headless Chromium.
"""

from __future__ import annotations

import base64
import html
import json
import tomllib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dg2bench.errors import BenchError
from dg2bench.report.aggregate import build_table
from dg2bench.report.comparable import check_comparable
from dg2bench.report.figure_files import report_figures
from dg2bench.report.formatting import display_table
from dg2bench.report.notes import table_note
from dg2bench.report.table_names import TABLES, TITLES
from dg2bench.store.records import CellRecord, cell_records
from dg2bench.store.results import ResultStore

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 0.3em; font-size: 0.82em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th { background: #f3f3f3; } td:nth-child(-n+3) { text-align: left; }
.note { color: #555; font-size: 0.85em; max-width: 1100px; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.4em 0; }
pre { background: #f7f7f7; padding: 0.8em; font-size: 0.8em; overflow-x: auto; }
.failed { color: #a00; }
"""

SCRIPT = """
window.addEventListener("load", function () {
  var broken = Array.prototype.filter.call(document.images, function (img) {
    return !img.complete || img.naturalWidth === 0;
  }).length;
  document.body.setAttribute("data-broken-images", String(broken));
  document.body.setAttribute("data-images", String(document.images.length));
});
"""


def _image(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _tables(records: list[CellRecord]) -> str:
    parts = []
    for name in TABLES:
        numeric = build_table(records, name)
        if numeric.empty:
            continue
        shown = display_table(numeric, name)
        parts.append(f'<h3 id="table-{name}">{html.escape(TITLES[name])}</h3>')
        parts.append(shown.to_html(index=False, escape=True, border=0, classes=f"leaderboard {name}"))
        if name == "fid":
            for warning in sorted({w for w in numeric["warning"] if w}):
                parts.append(f'<p class="note">note: {html.escape(warning)}</p>')
        for line in filter(None, table_note(name, numeric).splitlines()):
            parts.append(f'<p class="note">{html.escape(line)}</p>')
    return "\n".join(parts)


def _figures(results: Path, records: list[dict[str, Any]]) -> str:
    parts = []
    for dataset in sorted({r["dataset"] for r in records}):
        parts.append(f"<h3>{html.escape(dataset)}</h3>")
        parts.extend(_image(figure.png, figure.alt) for figure in report_figures(results, records, dataset))
    return "\n".join(p for p in parts if p)


def _read_runs(results: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """``(name, resolved spec text, run.json)`` of every spec run into ``results``.

    From ``specs/`` (one pair per spec); results of older versions have only the last
    run's ``spec.resolved.toml`` and ``run.json``.
    """
    pairs = [(path, path.with_name(path.stem + ".run.json")) for path in sorted((results / "specs").glob("*.toml"))]
    if not pairs:
        pairs = [(results / "spec.resolved.toml", results / "run.json")]
    runs = []
    for spec_path, run_path in pairs:
        if not spec_path.exists():
            continue
        try:
            text = spec_path.read_text(encoding="utf-8")
            name = tomllib.loads(text).get("benchmark", {}).get("name", spec_path.stem)
            run = json.loads(run_path.read_text(encoding="utf-8")) if run_path.exists() else {}
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BenchError(str(spec_path), f"is damaged, or its run.json is ({exc})",
                             "rerun `bench run` with the same spec to rewrite them") from None
        runs.append((name, text, run))
    return runs


def _last_run(results: Path) -> dict[str, Any]:
    """The last run's ``run.json`` (its loaded plugins), or ``{}``."""
    try:
        return json.loads((results / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def build_report(results: Path | str) -> str:
    """The HTML text of the report on ``results`` (a ``bench run --results`` folder)."""
    results = Path(results)
    store = ResultStore(results)
    files = store.record_files()
    records = [record for _, record in files]
    check_comparable(store, records)
    runs = _read_runs(results)
    name = " + ".join(run_name for run_name, _, _ in runs) or results.name
    problems = [f"{r['cell']}: failed: {r.get('reason')}" for r in records if r.get("status") != "complete"]
    problems += [f"{cell}: partial (no record yet; `bench run` with the same spec finishes it)"
                 for cell in store.partial_cells()]
    complete = [r for r in records if r.get("status") == "complete"]
    scored = [cell for cell in cell_records(files) if cell.status == "complete"]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<h1>dg2bench report: {html.escape(name)}</h1>",
        f'<p class="note">{len(complete)} complete cells, {len(problems)} failed or partial; '
        f"built {stamp} from {html.escape(str(results))}.</p>",
        "<h2>Environment</h2>",
        *(part for run_name, _, run in runs for part in (
            f"<h3>{html.escape(run_name)}</h3>" if len(runs) > 1 else "",
            "<table>" + "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                                for k, v in run.items() if k != "plugins") + "</table>")),
        "<h2>Leaderboards</h2>", _tables(scored) if scored else "<p>No complete cell yet.</p>",
    ]
    if problems:
        body += ["<h2>Failed and partial cells</h2>", "<ul>" + "".join(
            f'<li class="failed">{html.escape(p)}</li>' for p in problems) + "</ul>"]
    body += ["<h2>Figures</h2>", _figures(results, complete),
             "<h2>Resolved spec" + ("s" if len(runs) > 1 else "") + "</h2>",
             *(f"<h3>{html.escape(run_name)}</h3><pre>{html.escape(text)}</pre>" if len(runs) > 1
               else f"<pre>{html.escape(text)}</pre>" for run_name, text, _ in runs),
             "<h2>Plugins (of the last run)</h2>",
             "<pre>" + html.escape(json.dumps(_last_run(results).get("plugins", []), indent=1)) + "</pre>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>dg2bench: {html.escape(name)}</title><style>{STYLE}</style>"
            f"<script>{SCRIPT}</script></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")
