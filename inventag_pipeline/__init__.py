"""inventag-pipeline: daily AWS inventory history as Dagster assets."""
