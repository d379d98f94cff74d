"""A third-party plugin package on disk: a module and its dist-info, as pip would install them."""

from __future__ import annotations

import textwrap
from pathlib import Path


def install_distribution(tmp_path: Path, dist_name: str, module: str, entry: str, source: str,
                         version: str = "1.0") -> None:
    """Write ``module`` and a dist-info making it entry point ``entry`` of ``dist_name``.

    The caller puts ``tmp_path`` on ``sys.path`` (``monkeypatch.syspath_prepend``).
    """
    info = tmp_path / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[dg2bench]\n{entry} = {module}\n")
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))


def minimal_generator_source(class_name: str, name: str, summary: str) -> str:
    """A plugin module defining one do-nothing unconditional generator and registering it."""
    return f"""\
    import dataclasses
    from dg2bench import Generator, hookimpl

    @dataclasses.dataclass(frozen=True)
    class Hp:
        batch_size: int = 1
        epochs: int = 1

    class {class_name}(Generator):
        name = "{name}"
        summary = "{summary}"
        kind = "unconditional"
        Hyperparameters = Hp
        def networks(self): return {{}}
        def setup(self, plan): pass
        def train_step(self, batch, step): return {{}}
        def generate(self, n, source): return None

    @hookimpl
    def register_generators(register):
        register({class_name})
    """


THIRD_PARTY_WGAN = minimal_generator_source("OtherGan", "othergan",
                                            "third-party generator under the entry-point name wgan")
