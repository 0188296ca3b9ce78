"""Store-wide operations: storage statistics, integrity validation and retention."""

from inventag_pipeline.operations.assets import storage_statistics, validate_store_job
from inventag_pipeline.operations.retention import RetentionResource, retention_job, retention_schedule

OPERATIONS_ASSETS = [storage_statistics]
OPERATIONS_JOBS = [validate_store_job, retention_job]
OPERATIONS_SCHEDULES: list = [retention_schedule]
OPERATIONS_RESOURCES: dict = {"retention": RetentionResource()}

__all__ = [
    "OPERATIONS_ASSETS",
    "OPERATIONS_JOBS",
    "OPERATIONS_RESOURCES",
    "OPERATIONS_SCHEDULES",
    "RetentionResource",
    "retention_job",
    "retention_schedule",
    "storage_statistics",
    "validate_store_job",
]
