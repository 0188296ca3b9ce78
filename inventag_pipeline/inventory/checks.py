"""Checks on the inventory assets, evaluated from what was written (not from memory)."""


from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from inventag_pipeline import steps
from inventag_pipeline.store.store import InventoryStore, Partition

SNAPSHOT_CHECKSUM = "snapshot_checksum_matches"
SNAPSHOT_SCHEMA = "snapshot_schema_valid"
DELTA_VERIFIED = "all_scopes_verified"


def snapshot_checks(store: InventoryStore, part: Partition) -> list[AssetCheckResult]:
    """Re-read the stored file: its checksum against the manifest, then its schema."""
    verdict = steps.verify_snapshot(store, part)
    checksum_problems = [p for p in verdict["problems"] if "SHA-256" in p]
    schema_problems = [p for p in verdict["problems"] if "SHA-256" not in p]
    return [
        AssetCheckResult(
            check_name=SNAPSHOT_CHECKSUM,
            passed=not checksum_problems,
            severity=AssetCheckSeverity.ERROR,
            metadata={"expected": MetadataValue.text(verdict.get("sha256", "")),
                      "problems": MetadataValue.text("; ".join(checksum_problems) or "none")},
        ),
        AssetCheckResult(
            check_name=SNAPSHOT_SCHEMA,
            passed=not schema_problems and not checksum_problems,
            severity=AssetCheckSeverity.ERROR,
            metadata={"rows": verdict.get("rows", 0),
                      "problems": MetadataValue.text("; ".join(schema_problems) or "none")},
        ),
    ]
