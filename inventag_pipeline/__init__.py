"""inventag-pipeline: daily AWS inventory history as Dagster assets."""

from typing import Any

# The Python API's classes, importable from the package itself; loaded on first use, so that
# `import inventag_pipeline` stays light (the API module never imports Dagster either).
_API = ("StateManager", "DeltaDetector", "ChangelogGenerator")


def __getattr__(name: str) -> Any:
    if name in _API:
        from inventag_pipeline import api

        return getattr(api, name)
    raise AttributeError(f"module 'inventag_pipeline' has no attribute {name!r}")
