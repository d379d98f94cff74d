"""MkDocs hook: lay out the ``dg2bench`` package as one tree for mkdocstrings (griffe).

The import package ``dg2bench`` is the ``harness/`` folder and ``dg2bench.plugins`` the
``plugins/`` folder (``package-dir`` in ``pyproject.toml``); griffe reads source files
from one folder per package and cannot join the two. When a build starts this hook makes
``build/docs-api/dg2bench/``: a symbolic link to each entry of ``harness/`` plus
``plugins`` linking to ``plugins/``. ``mkdocs.yml`` points mkdocstrings there
(``paths``). Nothing in the source tree changes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TREE = REPO / "build" / "docs-api" / "dg2bench"


def on_startup(command, dirty):
    """Rebuild the linked tree (a stale one could name removed modules).

    On start-up, before any plugin's ``on_config``: mkdocstrings sets up its search
    paths there, and drops one that does not exist yet.
    """
    if TREE.exists():
        shutil.rmtree(TREE)
    TREE.mkdir(parents=True)
    for entry in sorted((REPO / "harness").iterdir()):
        if entry.name != "__pycache__":
            (TREE / entry.name).symlink_to(entry)
    (TREE / "plugins").symlink_to(REPO / "plugins")
