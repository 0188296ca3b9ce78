"""The Python API for scripts, CI jobs and Lambda: the seed documents' classes over the pipeline's own code.

    from inventag_pipeline.api import StateManager, DeltaDetector, ChangelogGenerator

`StateManager` stores states in the DESIGN §4 layout by running the daily job's steps, `DeltaDetector`
computes deltas with the `inventory_delta` engine and rules, `ChangelogGenerator` renders the `changelog`
asset's documents. Importing this package does not import Dagster (only `cleanup_old_states` does).
"""

from inventag_pipeline.api.changelog import ChangelogGenerator
from inventag_pipeline.api.delta import (
    AttributeChange,
    ChangeCategory,
    ChangeSeverity,
    ChangeType,
    DeltaDetector,
    DeltaReport,
    ResourceChange,
)
from inventag_pipeline.api.state import StateManager, StateNotFoundError, StateResources, StateSnapshot

__all__ = [
    "AttributeChange",
    "ChangeCategory",
    "ChangeSeverity",
    "ChangeType",
    "ChangelogGenerator",
    "DeltaDetector",
    "DeltaReport",
    "ResourceChange",
    "StateManager",
    "StateNotFoundError",
    "StateResources",
    "StateSnapshot",
]
