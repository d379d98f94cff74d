"""Rich rendering for the CLI: progress bars for cell stages, tables. CLI-only."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from dg2bench.run.progress import ProgressEvent


class ProgressBars:
    """Turns :class:`ProgressEvent` s into rich progress bars, one per cell stage."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(TextColumn("[bold]{task.fields[cell]}[/] {task.fields[stage]}",
                                            table_column=Column(no_wrap=True, min_width=36)),
                                 BarColumn(bar_width=16), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("[dim]{task.fields[note]}", table_column=Column(overflow="ellipsis",
                                                                                            no_wrap=True)),
                                 console=console, transient=False, expand=False)
        self._tasks: dict[tuple[str, str], TaskID] = {}

    def __enter__(self) -> "ProgressBars":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage == "done":
            style = "green" if event.message == "complete" else "red"
            self.progress.console.print(f"[{style}]{event.cell}: {event.message}[/]")
            return
        key = (event.cell, event.stage)
        note = ""
        if event.losses:
            note = " ".join(f"{k}={v:.3g}" for k, v in list(event.losses.items())[:4])
        if event.images_per_second:
            note += f"  {event.images_per_second:.0f} img/s"
        if key not in self._tasks:
            self._tasks[key] = self.progress.add_task("", total=event.total, cell=event.cell, stage=event.stage,
                                                      note=note)
        self.progress.update(self._tasks[key], completed=event.done, total=event.total, note=note)


def rich_table(df: pd.DataFrame, title: str) -> Table:
    """A rich table of string cells, numbers right-aligned."""
    table = Table(title=title, header_style="bold")
    for column in df.columns:
        numeric = column not in ("Dataset", "Method", "Class", "Name", "Package", "Kind", "Summary", "Built-in")
        table.add_column(str(column), justify="right" if numeric else "left", overflow="fold")
    for row in df.itertuples(index=False):
        # Cells are data (plugin summaries, ids, paths), never markup: "[/x]" prints as is.
        table.add_row(*(escape(str(v)) for v in row))
    return table
