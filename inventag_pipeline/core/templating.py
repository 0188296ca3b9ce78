"""The Jinja2 environments every report renders with, and helpers shared by the HTML reports.

Templates are looked up in the configured template folder first and in the package's own folder second,
so a custom folder may override a single file (the shared `_report_base.html.j2`, say) and inherit the rest.
HTML is always autoescaped: every value from AWS is untrusted text.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jinja2

TEMPLATE_PACKAGE_DIR = Path(__file__).resolve().parent.parent / "templates"


class TemplateDirError(ValueError):
    """The configured template folder does not exist: say so instead of silently using the built-in files."""


def short_json(value: str | None, limit: int = 160) -> str:
    if value is None:
        return "—"
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        parsed = value
    text = parsed if isinstance(parsed, str) else json.dumps(parsed, sort_keys=True, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def md_escape(value: Any) -> str:
    text = "" if value is None else str(value)
    for ch in ("\\", "|", "`", "*", "_", "<", ">", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ")


def pct(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


@functools.lru_cache(maxsize=16)
def environment(template_dir: str | None, autoescape: bool) -> jinja2.Environment:
    """One environment per template folder and escaping mode, reused across renders.

    Compiled templates are also kept in Jinja's bytecode cache (a private folder under the system
    temporary directory), so a one-shot `inventag diff` does not spend a third of a second compiling.
    """
    if template_dir and not Path(template_dir).is_dir():
        raise TemplateDirError(f"template folder {template_dir!r} (INVENTAG_TEMPLATE_DIR) is not a directory")
    search = [template_dir, str(TEMPLATE_PACKAGE_DIR)] if template_dir else [str(TEMPLATE_PACKAGE_DIR)]
    try:
        cache: jinja2.BytecodeCache | None = jinja2.FileSystemBytecodeCache()
    except RuntimeError:  # no safe private folder: compile every time
        cache = None
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        bytecode_cache=cache,
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["short_json"] = short_json
    env.filters["md_escape"] = md_escape
    env.filters["pct"] = pct
    return env


def sort_styles(rows: Sequence[Any], keys: Sequence[Callable[[Any], Any]]) -> list[str]:
    """Per row, the CSS custom properties `--k0 … --kN` holding its rank under each column's sort key.

    The HTML tables sort without script: a radio button per column and direction sets `order` on the
    cells from these ranks (see `_report_base.html.j2`), so the ranks are computed once, here.
    """
    ranks = [[0] * len(keys) for _ in rows]
    for column, key in enumerate(keys):
        values = [key(row) for row in rows]
        rank, previous = -1, object()
        # Equal values share a rank, so either direction keeps them in the document's order.
        for index in sorted(range(len(rows)), key=values.__getitem__):
            if values[index] != previous:
                rank, previous = rank + 1, values[index]
            ranks[index][column] = rank
    return [";".join(f"--k{c}:{r}" for c, r in enumerate(row)) for row in ranks]
