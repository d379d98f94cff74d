"""Stop a run cleanly on SIGINT or SIGTERM: finish the step, save a checkpoint, say how to resume.

:func:`stop_on_signals` installs handlers that only set a flag; the training loop and
the stage boundaries poll :func:`stop_requested` and raise :class:`RunInterrupted`
after saving what they have. A second signal stops at once (Python's default
behaviour is restored after the first), still leaving every completed file intact
because all results are written atomically.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

_requested: list[int] = []


class RunInterrupted(Exception):
    """The run stopped on a signal; ``where`` says what was saved."""

    def __init__(self, signum: int, where: str) -> None:
        super().__init__(f"{signal.Signals(signum).name}: {where}")
        self.signum = signum
        self.where = where


def stop_requested() -> int | None:
    """The signal number asking the run to stop, or None."""
    return _requested[0] if _requested else None


def raise_if_stopped(where: str) -> None:
    """Raise :class:`RunInterrupted` (saying ``where``) if a stop was requested."""
    signum = stop_requested()
    if signum is not None:
        raise RunInterrupted(signum, where)


def _handle(signum: int, _frame: object) -> None:
    _requested.append(signum)
    signal.signal(signum, signal.SIG_DFL if signum == signal.SIGTERM else signal.default_int_handler)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM request a clean stop instead of killing the run."""
    _requested.clear()
    previous = {sig: signal.signal(sig, _handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _requested.clear()
