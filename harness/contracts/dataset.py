"""The dataset contract: a source of labelled images cut into a standardized split."""

from __future__ import annotations

import abc
import dataclasses
from pathlib import Path
from typing import Any, ClassVar, Literal

from PIL import Image

Side = Literal["train", "test"]


@dataclasses.dataclass(frozen=True)
class SplitItem:
    """One image of a split: where it comes from, its label and its side.

    :param id: stable unique id, e.g. ``"017.jpg@64,128"``; per-image predictions use it.
    :param source: path of the source image, relative to the dataset root.
    :param box: ``(left, top, right, bottom)`` crop of the source, or ``None`` for whole.
    :param label: 0 = defect-free, 1 = defect.
    :param side: ``"train"`` or ``"test"``.
    :param defect_type: finer class where the data has one (e.g. ``"MT_Crack"``).
    """

    id: str
    source: str
    box: tuple[int, int, int, int] | None
    label: int
    side: Side
    defect_type: str | None = None


class Dataset(abc.ABC):
    """A dataset plugin: turns files under ``root`` into a deterministic split.

    The same options and seed must give the same items in the same order on any
    machine (the harness hashes the manifest and records the hash in every result),
    and every source image must fall on one side of the split only.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    #: Frozen dataclass of the dataset's options (patch size, counts, ...).
    Options: ClassVar[type]
    #: Named overrides of ``Options`` (e.g. ``paper``, ``tiny``).
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    #: Environment variable naming the data folder when a spec gives no ``root``
    #: (for data that cannot be shipped, e.g. ``DG2BENCH_MVTEC_ROOT``).
    root_env: ClassVar[str | None] = None
    #: Where to get the data; shown when the data folder is missing.
    data_hint: ClassVar[str] = ""

    def __init__(self, options: Any, root: Path) -> None:
        self.options = options
        self.root = Path(root)

    @abc.abstractmethod
    def check_root(self) -> None:
        """Raise :class:`dg2bench.DataError` if ``root`` does not hold this dataset."""

    @abc.abstractmethod
    def build_split(self, seed: int) -> list[SplitItem]:
        """Every item of the split for ``seed``, train and test, in a stable order.

        :raises dg2bench.DataError: when the requested counts exceed what the data holds;
            its ``where`` names the option at fault (``"train_defect"``), or is ``""``
            for the options as a whole: ``bench`` puts the spec file and the dataset's
            table in front (``spec.toml: datasets.cracks.train_defect: ...``).
        """

    @abc.abstractmethod
    def load_image(self, item: SplitItem) -> Image.Image:
        """The RGB image of ``item`` (cropped to its box), at its native size."""

    def load_mask(self, item: SplitItem) -> Image.Image | None:
        """The defect mask of ``item`` (cropped to its box; non-zero = defect), or None.

        Datasets without masks keep this default. Mask-driven methods (``cutpaste``)
        need it.
        """
        return None
