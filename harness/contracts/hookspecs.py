"""Hook specifications: the whole plugin API of dg2bench.

A plugin is a module (or object) with functions marked ``@hookimpl`` whose names
match the specs below. It is found through the ``dg2bench`` entry-point group::

    [project.entry-points.dg2bench]
    my_method = "my_package.my_method"

Built-in plugins register through that same group, so a third-party package stands
exactly where ``dg2bench.plugins`` stands.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

PROJECT_NAME = "dg2bench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_generators(register: Callable[[type], None]) -> None:
    """Register generator classes (subclasses of :class:`dg2bench.Generator`).

    Called once, when the plugin manager is built, for every plugin that implements
    it. Call ``register(cls)`` once per generator class; each class's ``name`` must be
    unique across all installed packages (two rows with one name would corrupt a
    leaderboard: a class named like a built-in is disabled, two third-party classes
    with one name are both disabled, each with a warning naming both packages). A
    class that breaks a rule of ``dg2bench.contracts.contract`` (docs/plugins/contracts.md) is
    disabled with one warning; the other plugins still work.

    :param register: takes a ``Generator`` subclass; returns nothing.
    :return: nothing; the return value is ignored.
    """


@hookspec
def register_classifiers(register: Callable[[type], None]) -> None:
    """Register classifier classes (subclasses of :class:`dg2bench.Classifier`).

    Called once, when the plugin manager is built. Call ``register(cls)`` once per
    classifier class; names are unique across packages, as for generators.

    :param register: takes a ``Classifier`` subclass; returns nothing.
    :return: nothing; the return value is ignored.
    """


@hookspec
def register_datasets(register: Callable[[type], None]) -> None:
    """Register dataset classes (subclasses of :class:`dg2bench.Dataset`).

    Called once, when the plugin manager is built. Call ``register(cls)`` once per
    dataset class; names are unique across packages, as for generators.

    :param register: takes a ``Dataset`` subclass; returns nothing.
    :return: nothing; the return value is ignored.
    """
