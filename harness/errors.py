"""Errors the CLI turns into one line and exit status 2 (bad input, never a traceback)."""

from __future__ import annotations


class BenchError(Exception):
    """A user-facing error: ``<where>: <what is wrong>; <what to do>``."""

    def __init__(self, where: str, problem: str, remedy: str) -> None:
        super().__init__(f"{where}: {problem}; {remedy}")
        self.where = where
        self.problem = problem
        self.remedy = remedy


class SpecError(BenchError):
    """A benchmark spec (TOML) is malformed or names something that does not exist."""


class PluginError(BenchError):
    """Plugins collide, fail to load, or break their contract."""


class DataError(BenchError):
    """Data on disk is missing, unreadable, or too small for the requested split."""


class ResultsLockedError(BenchError):
    """Another ``bench run`` holds the results folder."""


class PluginContractError(PluginError):
    """A plugin broke a rule of the plugin contract (``dg2bench.contracts.contract.RULES``).

    ``<plugin and package>: breaks rule <id>: <what exactly>; <fix>``. Raised at the
    boundary during a run, it fails the cell with that reason; the other cells go on.
    """

    def __init__(self, where: str, rule: str, detail: str, remedy: str) -> None:
        super().__init__(where, f"breaks rule {rule}: {detail}", remedy)
        self.rule = rule
        self.detail = detail

    def __reduce__(self):
        return type(self), (self.where, self.rule, self.detail, self.remedy)


class UnsafeCheckpointError(BenchError):
    """A ``.pt`` file in a results folder needs a full pickle load, so it is never loaded.

    ``path`` is the refused file; the runner uses it to name what made a cell restart.
    """

    def __init__(self, path: str, problem: str, remedy: str) -> None:
        super().__init__(path, problem, remedy)
        self.path = path

    def __reduce__(self):
        return type(self), (self.path, self.problem, self.remedy)
