"""Rich rendering for the CLI: progress bars for cell stages, tables. CLI-only."""

from __future__ import annotations

import pandas as pd
from dg2bench.runtime.progress import ProgressEvent
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table


class ProgressBars:
    """Turns :class:`ProgressEvent` s into rich progress bars, one per cell stage.

    Piped into a log (not a terminal), live bars would only appear at the end: there
    each stage prints a plain line at its first report, at every tenth of its work, and when
    it ends, in the order things happen.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.plain = not console.is_terminal
        self._tenths: dict[tuple[str, str], int] = {}
        self.progress = Progress(TextColumn("[bold]{task.fields[cell]}[/] {task.fields[stage]}",
                                            table_column=Column(no_wrap=True, min_width=36)),
                                 BarColumn(bar_width=16), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("[dim]{task.fields[note]}", table_column=Column(overflow="ellipsis",
                                                                                            no_wrap=True)),
                                 console=console, transient=False, expand=False)
        self._tasks: dict[tuple[str, str], TaskID] = {}

    def __enter__(self) -> "ProgressBars":
        if not self.plain:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.plain:
            self.progress.__exit__(*exc)

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage == "done":
            style = "green" if event.message == "complete" else "red"
            self.console.print(f"[{style}]{escape(event.cell)}: {escape(event.message or '')}[/]")
            return
        key = (event.cell, event.stage)
        if event.message:
            # A note on the stage (resumed from a checkpoint, done in an earlier run): one line,
            # piped or not; the bar, if any, goes on from there.
            self.console.print(f"{event.cell} {event.stage}: {event.message}", markup=False, highlight=False)
            if self.plain:
                self._tenths[key] = min(10, event.done * 10 // event.total) if event.total else 10
                return
        note = ""
        if event.losses:
            note = " ".join(f"{k}={v:.3g}" for k, v in list(event.losses.items())[:4])
        if event.images_per_second:
            note += f"  {event.images_per_second:.0f} img/s"
        if self.plain:
            tenth = min(10, event.done * 10 // event.total) if event.total else 10
            if self._tenths.get(key) != tenth:       # a new tenth (or back: a retried stage)
                self._tenths[key] = tenth
                self.console.print(f"{event.cell} {event.stage} {event.done}/{event.total} {note}".rstrip(),
                                   markup=False, highlight=False)
            return
        if key not in self._tasks:
            self._tasks[key] = self.progress.add_task("", total=event.total, cell=event.cell, stage=event.stage,
                                                      note=note)
        self.progress.update(self._tasks[key], completed=event.done, total=event.total, note=note)


def rich_table(df: pd.DataFrame, title: str, no_wrap: bool = False) -> Table:
    """A rich table of string cells, numbers right-aligned.

    ``no_wrap``: every cell on one line (leaderboards, laid out to fit 120 columns, so
    an interval or a method name is never broken); otherwise long cells wrap.
    """
    table = Table(title=title, header_style="bold")
    for column in df.columns:
        numeric = column not in ("Dataset", "Method", "Class", "Name", "Package", "Kind", "Summary", "Built-in", "vs", "Score", "Test")
        table.add_column(str(column), justify="right" if numeric else "left", overflow="fold", no_wrap=no_wrap)
    for row in df.itertuples(index=False):
        # Cells are data (plugin summaries, ids, paths), never markup: "[/x]" prints as is.
        table.add_row(*(escape(str(v)) for v in row))
    return table
