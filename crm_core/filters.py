"""The shared pipeline filters (period, owner, department, region, product, source).

One `PipelineFilter` travels from the sidebar to every crm_core read, so the
same selection means the same rows on every page, in the CLI and in tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class PipelineFilter:
    date_from: date | None = None          # on the column named by `date_column`
    date_to: date | None = None            # inclusive
    owner_ids: tuple[int, ...] = field(default_factory=tuple)
    department_ids: tuple[int, ...] = field(default_factory=tuple)
    regions: tuple[str, ...] = field(default_factory=tuple)
    product_ids: tuple[int, ...] = field(default_factory=tuple)
    sources: tuple[str, ...] = field(default_factory=tuple)

    def is_empty(self) -> bool:
        return not any([self.date_from, self.date_to, self.owner_ids, self.department_ids, self.regions,
                        self.product_ids, self.sources])

    def where(self, alias: str = "o", *, date_column: str | None = "created_at",
              skip: tuple[str, ...] = ()) -> tuple[str, list[Any]]:
        """SQL conditions on an opportunities-shaped table aliased `alias`.

        `alias` and `date_column` are names written by crm_core, never user text;
        every value is a bound parameter. `skip` leaves out named dimensions
        (e.g. "date" when a report applies its own period).
        """
        parts: list[str] = []
        params: list[Any] = []
        if date_column and "date" not in skip:
            if self.date_from is not None:
                parts.append(f"{alias}.{date_column} >= ?")
                params.append(self.date_from)
            if self.date_to is not None:
                parts.append(f"{alias}.{date_column} < ?::DATE + INTERVAL 1 DAY")
                params.append(self.date_to)
        for name, column, values, typ in (
            ("owner", "owner_id", self.owner_ids, "BIGINT"),
            ("department", "department_id", self.department_ids, "BIGINT"),
            ("region", "region", self.regions, "VARCHAR"),
            ("product", "product_id", self.product_ids, "BIGINT"),
            ("source", "source", self.sources, "VARCHAR"),
        ):
            if values and name not in skip:
                parts.append(f"{alias}.{column} IN (SELECT unnest(?::{typ}[]))")
                params.append(list(values))
        return (" AND ".join(parts) if parts else "TRUE"), params
