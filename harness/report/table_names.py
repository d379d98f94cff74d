"""The leaderboard tables: their names, their titles, and the references of the classify table."""

from __future__ import annotations

from typing import Literal

TableName = Literal["time", "fid", "classify"]
TABLES: tuple[TableName, ...] = ("time", "fid", "classify")
TITLES: dict[TableName, str] = {"time": "Training cost (Table 3)",
                                "fid": "Image quality vs real training defects (Tables 4-6)",
                                "classify": "Recognition after augmentation (Tables 9-12)"}

#: References every method of a classify table is paired against (when present).
REFERENCES = ("baseline", "oversample")
