"""Deterministic, stateless batch sampling from image banks kept on the device.

The batch drawn at step ``s`` depends only on ``(seed, key, s)``: positions
``s*B .. s*B+B-1`` of an endless stream made of fresh permutations of each bank (a
shuffled pass per cycle, as a shuffling DataLoader does). Being stateless, sampling
needs nothing in a checkpoint, and a resumed run draws exactly the batches the
uninterrupted run would have drawn.
"""

from __future__ import annotations

import hashlib

import torch


def stateless_seed(seed: int, key: str, index: int) -> int:
    """A 63-bit seed that depends only on ``(seed, key, index)`` (stable across platforms)."""
    digest = hashlib.sha256(f"{seed}:{key}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class BatchSampler:
    """Index batches for named banks of known sizes."""

    def __init__(self, sizes: dict[str, int], batch_size: int, seed: int) -> None:
        empty = [k for k, n in sizes.items() if n < 1]
        if empty:
            raise ValueError(f"cannot sample from empty image banks: {empty}")
        self.sizes = dict(sizes)
        self.batch_size = batch_size
        self.seed = seed
        self._perm_cache: dict[tuple[str, int], torch.Tensor] = {}

    def _permutation(self, key: str, cycle: int) -> torch.Tensor:
        cached = self._perm_cache.get((key, cycle))
        if cached is None:
            gen = torch.Generator().manual_seed(stateless_seed(self.seed, key, cycle))
            cached = torch.randperm(self.sizes[key], generator=gen)
            self._perm_cache = {k: v for k, v in self._perm_cache.items() if k[0] != key}
            self._perm_cache[(key, cycle)] = cached
        return cached

    def indices(self, key: str, step: int) -> torch.Tensor:
        """CPU int64 indices into bank ``key`` for training step ``step``."""
        n = self.sizes[key]
        positions = torch.arange(step * self.batch_size, (step + 1) * self.batch_size)
        cycles = positions // n
        out = torch.empty(self.batch_size, dtype=torch.long)
        for cycle in range(int(cycles[0]), int(cycles[-1]) + 1):
            mask = cycles == cycle
            out[mask] = self._permutation(key, cycle)[positions[mask] % n]
        return out

    def generator(self, key: str, step: int) -> torch.Generator:
        """A CPU RNG for per-step randomness of bank ``key`` (load/crop/flip), stateless too.

        The ``":jitter"`` salt is the name this randomness had first: kept, so runs draw
        the crops they always drew."""
        return torch.Generator().manual_seed(stateless_seed(self.seed, f"{key}:jitter", step))
