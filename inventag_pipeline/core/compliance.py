"""Tag-policy arithmetic shared by the delta's compliance impact and the compliance assets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from inventag_pipeline.core.registry import DEFAULT_REQUIRED_TAGS


def required_tags_mask(tags: pa.ChunkedArray | pa.Array, required: Sequence[str]) -> np.ndarray:
    """Vectorised: True where every required key is present with a non-empty value.

    The map column is flattened once into (row, key, value) arrays and each required key is counted
    per row with a bincount, instead of one map lookup pass per key.
    """
    array = tags.combine_chunks() if isinstance(tags, pa.ChunkedArray) else tags
    rows = len(array)
    if rows == 0 or not required:
        return np.ones(rows, dtype=bool)
    # Offsets are absolute even for a sliced array, whose .keys/.items are not sliced.
    offsets = array.offsets.to_numpy()
    first, last = int(offsets[0]), int(offsets[-1])
    parents = np.repeat(np.arange(rows), np.diff(offsets))
    keys, values = array.keys.slice(first, last - first), array.items.slice(first, last - first)
    non_empty = pc.fill_null(pc.not_equal(pc.utf8_length(values), 0), False)
    mask = np.ones(rows, dtype=bool)
    for key in required:
        hit = pc.and_(pc.equal(keys, key), non_empty).to_numpy(zero_copy_only=False).astype(bool)
        mask &= np.bincount(parents[hit], minlength=rows).astype(bool)
    # Rows whose whole map is null have no tags at all.
    if array.null_count:
        mask &= array.is_valid().to_numpy(zero_copy_only=False)
    return mask


def compliance_stats(table: pa.Table | None, required: Sequence[str] = DEFAULT_REQUIRED_TAGS) -> dict[str, Any]:
    """Share of resources carrying every required tag, as the delta summary reports it."""
    if table is None:
        return {"total_resources": 0, "compliant_resources": 0, "compliance_percentage": None}
    total = table.num_rows
    compliant = int(required_tags_mask(table.column("tags"), required).sum()) if total else 0
    percentage = round(100.0 * compliant / total, 2) if total else 100.0
    return {"total_resources": total, "compliant_resources": compliant, "compliance_percentage": percentage}
