"""Compact letter display: which methods' order a family of pairwise tests established.

Methods that share a letter were not told apart (after correction); two methods with
no letter in common differ significantly. The letters come from the insert-and-absorb
algorithm (Piepho 2004, "An algorithm for a letter-based representation of all-pairwise
comparisons", J. Comput. Graph. Stat. 13: 456-466), and ``a`` marks the group of the
best-ranked method.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def letter_groups(ranked: Sequence[str], different: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Letters per method: ``ranked`` best first; ``different`` the significantly different pairs.

    >>> letter_groups(["a", "b", "c"], [("a", "c")])
    {'a': 'a', 'b': 'ab', 'c': 'b'}
    """
    columns: list[set[str]] = [set(ranked)]
    for first, second in different:
        split: list[set[str]] = []
        for column in columns:
            if first in column and second in column:
                split += [column - {second}, column - {first}]
            else:
                split.append(column)
        # Absorb: a column inside another says nothing the other does not.
        columns = [c for i, c in enumerate(split)
                   if c and not any(i != j and (c < other or (c == other and j < i)) for j, other in enumerate(split))]
    order = {method: rank for rank, method in enumerate(ranked)}
    columns.sort(key=lambda column: sorted(order[m] for m in column))
    return {method: "".join(_letter(k) for k, column in enumerate(columns) if method in column)
            for method in ranked}


def _letter(k: int) -> str:
    """``a``..``z``, then ``A``..``Z``, then ``(53)``, ``(54)``, ...: never a letter used twice."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return letters[k] if k < len(letters) else f"({k + 1})"
