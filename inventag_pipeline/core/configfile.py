"""Reading the project's YAML configuration files with errors that name the file and the setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_yaml_file(path: str | Path, what: str, setting: str, error: type[Exception]) -> Any:
    """Parsed YAML of `path`; a missing or unparsable file raises `error` naming `what` and `setting`."""
    file = Path(path)
    if not file.is_file():
        raise error(f"{what} {str(file)!r} does not exist ({setting})")
    try:
        return yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise error(f"{what} {str(file)!r} is not valid YAML: {exc}") from None
