"""Result store: atomic files, completion by final record, the run lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from dg2bench.errors import ResultsLockedError
from dg2bench.store.atomic import write_text_atomic
from dg2bench.store.results import CellId, ResultStore


def test_record_marks_a_cell_complete(tmp_path):
    store = ResultStore(tmp_path)
    cell = CellId("crackforest", "dg2gan", 0)
    assert not store.is_complete(cell)
    (store.cell_dir(cell) / "train.json").write_text("{}")
    assert not store.is_complete(cell)
    store.write_record(cell, {"cell": str(cell), "status": "complete"})
    assert store.is_complete(cell)
    assert store.records() == [{"cell": "crackforest/dg2gan/seed0", "status": "complete"}]


def test_atomic_write_leaves_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "x.txt"
    write_text_atomic(path, "old")

    class Boom(Exception):
        pass

    from dg2bench.store.atomic import write_atomic

    def fail(handle):
        handle.write(b"half")
        raise Boom

    with pytest.raises(Boom):
        write_atomic(path, fail)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_a_second_lock_on_a_held_folder_refuses_and_the_released_lock_is_free(tmp_path):
    """In-process (an OS file lock taken twice conflicts within one process too): the fast twin
    of the next test, which holds the lock from another process."""
    with ResultStore(tmp_path).lock():
        with pytest.raises(ResultsLockedError, match="another `bench run` is using this results folder"):
            with ResultStore(tmp_path).lock():
                pass
    with ResultStore(tmp_path).lock():
        pass


@pytest.mark.slow
def test_second_run_on_the_same_folder_refuses(tmp_path):
    """The lock held by another process (a subprocess importing dg2bench: seconds of CPU)."""
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""\
        import sys, time
        from dg2bench.store.results import ResultStore
        with ResultStore({str(tmp_path)!r}).lock():
            print("locked", flush=True)
            sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ResultsLockedError, match="another `bench run` is using this results folder"):
            with ResultStore(tmp_path).lock():
                pass
    finally:
        holder.communicate("\n", timeout=30)
    with ResultStore(tmp_path).lock():
        pass
