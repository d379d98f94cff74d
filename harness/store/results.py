"""The result store: one folder per cell, atomic files, a lock, and resumable records.

Layout under the results folder::

    spec.resolved.toml        resolved config of the last run
    run.json                  versions, device, loaded plugins (of the last run)
    specs/<name>.toml         every spec run into this folder, resolved (+ <name>.run.json)
    splits/<dataset>.csv      split manifests (+ .sha256)
    cache/features/...        real-image Inception features, keyed by manifest hash
    cells/<dataset>/<method>/seed<k>/
        record.json           written last: the cell is complete only when it exists
        ...                   stage files (checkpoints, fakes, scores)

A cell reads only the spec and its inputs and writes only below its own folder (and
the content-addressed feature cache), so a scheduler could run it anywhere.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import filelock

from dg2bench.errors import DataError, ResultsLockedError
from dg2bench.store.atomic import write_json_atomic

RECORD_NAME = "record.json"


@dataclasses.dataclass(frozen=True)
class CellId:
    """A unit of work: one dataset × method (generator label or baseline) × seed."""

    dataset: str
    method: str
    seed: int

    def __str__(self) -> str:
        return f"{self.dataset}/{self.method}/seed{self.seed}"

    @property
    def relative_path(self) -> Path:
        """Folder of the cell below ``cells/``."""
        return Path(self.dataset) / self.method / f"seed{self.seed}"


class ResultStore:
    """A results folder: cell folders, records, the run lock."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def cell_dir(self, cell: CellId) -> Path:
        """The folder of ``cell`` (created)."""
        path = self.root / "cells" / cell.relative_path
        path.mkdir(parents=True, exist_ok=True)
        return path

    def record_path(self, cell: CellId) -> Path:
        """Where the final record of ``cell`` lives."""
        return self.root / "cells" / cell.relative_path / RECORD_NAME

    def is_complete(self, cell: CellId) -> bool:
        """True when the cell's final record exists (written last, atomically)."""
        return self.record_path(cell).exists()

    def read_record(self, cell: CellId) -> dict[str, Any]:
        """The final record of a complete ``cell``."""
        with self.record_path(cell).open(encoding="utf-8") as handle:
            return json.load(handle)

    def write_record(self, cell: CellId, record: dict[str, Any]) -> Path:
        """Write the final record of ``cell``: from now on it counts as complete."""
        return write_json_atomic(self.record_path(cell), record)

    def records(self) -> list[dict[str, Any]]:
        """Every complete cell record below this folder, in path order."""
        return [record for _, record in self.record_files()]

    def record_files(self) -> list[tuple[Path, dict[str, Any]]]:
        """Every complete cell record below this folder with its path, in path order.

        One read serves both views of a folder a run may still be writing: the records
        as dicts and, by :func:`dg2bench.store.records.cell_records`, typed.
        """
        out = []
        for path in sorted((self.root / "cells").glob(f"**/{RECORD_NAME}")):
            try:
                with path.open(encoding="utf-8") as handle:
                    out.append((path, json.load(handle)))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise DataError(str(path), f"is not a readable cell record ({exc})",
                                "delete that cell's folder and rerun `bench run` to redo the cell") from None
        return out

    def partial_cells(self) -> list[str]:
        """Cells that have a folder but no record yet (interrupted or running), as ``dataset/method/seedN``."""
        cells = self.root / "cells"
        if not cells.is_dir():
            return []
        return sorted(str(path.relative_to(cells)) for path in cells.glob("*/*/seed*")
                      if path.is_dir() and not (path / RECORD_NAME).exists())

    @contextmanager
    def lock(self) -> Iterator[dict[str, Any] | None]:
        """Hold the folder's run lock; a second ``bench run`` on it refuses at once.

        The lock is an OS file lock (``filelock``), so the kernel releases it when its
        holder dies, even by SIGKILL. Beside it, ``.lock.json`` names the holder (pid,
        host, start); it is removed whenever the run ends in Python (errors and signals too), so finding it while acquiring
        the lock means a killed run: the block receives that stale holder's info
        (else None) and the lock is taken over safely.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.root / ".lock"), timeout=0)
        holder_path = self.root / LOCK_HOLDER_NAME
        try:
            lock.acquire()
        except filelock.Timeout:
            raise ResultsLockedError(str(self.root), f"another `bench run` is using this results folder "
                                     f"({_describe_holder(holder_path)})",
                                     "wait for it to finish or pass another --results folder") from None
        try:
            stale = _read_holder(holder_path)
            write_json_atomic(holder_path, {"pid": os.getpid(), "host": socket.gethostname(),
                                            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            yield stale
        finally:
            holder_path.unlink(missing_ok=True)
            lock.release()

    def supersede(self, cell: CellId) -> Path:
        """Move ``cell``'s folder to ``superseded/<cell>/<timestamp>`` (kept, out of leaderboards)."""
        source = self.root / "cells" / cell.relative_path
        target = self.root / "superseded" / cell.relative_path / time.strftime("%Y%m%dT%H%M%S")
        while target.exists():
            target = target.with_name(target.name + "x")
        target.parent.mkdir(parents=True, exist_ok=True)
        source.rename(target)
        return target

    def remove_stale_temporaries(self, cell: CellId) -> list[Path]:
        """Delete temporary files a killed run left in ``cell``'s folder (call under the lock).

        Atomic writes go to ``.<name>.<random>.tmp`` and are renamed when complete, so
        such a file is always an unfinished write, never a result.
        """
        removed = []
        for path in (self.root / "cells" / cell.relative_path).rglob(".*.tmp"):
            path.unlink(missing_ok=True)
            removed.append(path)
        return removed


LOCK_HOLDER_NAME = ".lock.json"


def _read_holder(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _describe_holder(path: Path) -> str:
    holder = _read_holder(path)
    if not holder:
        return "holder unknown"
    return f"pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('started')}"
