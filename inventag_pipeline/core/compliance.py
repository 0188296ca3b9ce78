"""Tag-policy arithmetic shared by the delta's compliance impact and the compliance assets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from inventag_pipeline.core.registry import DEFAULT_REQUIRED_TAGS


def required_tags_mask(tags: pa.ChunkedArray | pa.Array, required: Sequence[str]) -> np.ndarray:
    """Vectorised: True where every required key is present with a non-empty value."""
    mask = np.ones(len(tags), dtype=bool)
    for key in required:
        values = pc.map_lookup(tags, pa.scalar(key), "first")
        present = pc.and_(pc.is_valid(values), pc.not_equal(pc.utf8_length(pc.fill_null(values, "")), 0))
        mask &= np.asarray(present.to_numpy(zero_copy_only=False), dtype=bool)
    return mask


def compliance_stats(table: pa.Table | None, required: Sequence[str] = DEFAULT_REQUIRED_TAGS) -> dict[str, Any]:
    """Share of resources carrying every required tag, as the delta summary reports it."""
    if table is None:
        return {"total_resources": 0, "compliant_resources": 0, "compliance_percentage": None}
    total = table.num_rows
    compliant = int(required_tags_mask(table.column("tags"), required).sum()) if total else 0
    percentage = round(100.0 * compliant / total, 2) if total else 100.0
    return {"total_resources": total, "compliant_resources": compliant, "compliance_percentage": percentage}
