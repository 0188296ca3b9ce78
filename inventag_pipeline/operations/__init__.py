"""Store-wide operations: storage statistics and integrity validation."""

from inventag_pipeline.operations.assets import storage_statistics, validate_store_job

OPERATIONS_ASSETS = [storage_statistics]
OPERATIONS_JOBS = [validate_store_job]
OPERATIONS_SCHEDULES: list = []
OPERATIONS_RESOURCES: dict = {}

__all__ = [
    "OPERATIONS_ASSETS",
    "OPERATIONS_JOBS",
    "OPERATIONS_RESOURCES",
    "OPERATIONS_SCHEDULES",
    "storage_statistics",
    "validate_store_job",
]
