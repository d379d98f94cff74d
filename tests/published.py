"""Published results (``benchmarks/results/<name>/``): the committed tables must be what
``bench leaderboard`` renders from the committed folder.

A published folder is a ``bench export`` with ``leaderboards.md`` beside it, written by
``bench leaderboard DIR --table all --format markdown > DIR/leaderboards.md``. The check
re-renders the tables from the folder's records and compares them, character for
character, with the committed file: an edited number, a record changed without the
tables, or a leaderboard change that alters published tables all fail it.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import shlex
from pathlib import Path

from helpers import REPO

#: Where published results live, one folder per benchmark.
PUBLISHED = REPO / "benchmarks" / "results"
#: The committed tables in each published folder.
LEADERBOARDS = "leaderboards.md"
#: The leaderboard options the committed tables are rendered with.
RENDER_OPTIONS = ("--table", "all", "--format", "markdown")


def published_folders() -> list[Path]:
    """Every published folder that has committed tables."""
    return sorted(path.parent for path in PUBLISHED.glob(f"*/{LEADERBOARDS}"))


def render_command(folder: Path) -> str:
    """The shell command that (re)writes ``folder``'s committed tables."""
    where = folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder
    return (f"bench leaderboard {shlex.quote(str(where))} {' '.join(RENDER_OPTIONS)} > "
            f"{shlex.quote(str(where / LEADERBOARDS))}")


def render_leaderboards(folder: Path) -> str:
    """``bench leaderboard FOLDER --table all --format markdown``'s standard output (run in-process)."""
    from dg2bench.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["leaderboard", str(folder), *RENDER_OPTIONS])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    if code:
        raise AssertionError(f"bench leaderboard {folder} exited {code}: {err.getvalue().strip()}")
    return out.getvalue()


def leaderboards_diff(folder: Path) -> str:
    """A unified diff from ``folder``'s committed tables to the re-rendered ones ("" when equal)."""
    committed = (folder / LEADERBOARDS).read_text(encoding="utf-8")
    rendered = render_leaderboards(folder)
    if committed == rendered:
        return ""
    return "".join(difflib.unified_diff(committed.splitlines(keepends=True), rendered.splitlines(keepends=True),
                                        f"{LEADERBOARDS} (committed)", f"{LEADERBOARDS} (rendered now)"))


def assert_leaderboards_match(folder: Path) -> None:
    """Fail, with the diff and the command that rewrites them, when ``folder``'s committed tables
    are not what ``bench leaderboard`` renders from it."""
    diff = leaderboards_diff(folder)
    assert not diff, (f"{folder / LEADERBOARDS} differs from the tables its records give; if the records are "
                      f"right, rewrite it with: {render_command(folder)}\n{diff}")
