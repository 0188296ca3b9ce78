"""Attribute-level diff of two canonical documents, addressing list items by identity.

A change is reported once, at the deepest path where the two sides differ: a new dict key or list
item is one `added` change carrying its whole value, never one change per nested leaf.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from inventag_pipeline.core.canonical import KeyResolver, item_key, pattern_of


@dataclass(frozen=True)
class AttributeChange:
    path: str
    change: str  # added | removed | changed
    old: Any
    new: Any
    pattern: str  # the registry-style pattern of `path` (`IpPermissions[]`), for rule matching


_ABSENT = object()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def diff_documents(old: Any, new: Any, keys: KeyResolver, *, prefix: str = "") -> list[AttributeChange]:
    """All changes from `old` to `new` (both canonical), in path order."""
    return list(_diff(old, new, prefix, (prefix,) if prefix else (), keys))


def _is_map(value: Any) -> bool:
    # Parsed documents are plain dicts; the exact-type test spares the ABC machinery on the hot path.
    return type(value) is dict or isinstance(value, Mapping)


def _diff(old: Any, new: Any, path: str, pattern: tuple[str, ...], keys: KeyResolver) -> Iterator[AttributeChange]:
    if _is_map(old) and _is_map(new):
        for key in sorted(old.keys() | new.keys()):
            before, after = old.get(key, _ABSENT), new.get(key, _ABSENT)
            if before is after or (before is not _ABSENT and after is not _ABSENT and before == after):
                continue  # equal subtrees (compared in C) cost no path, pattern or recursion
            sub_path, sub_pattern = _join(path, key), (*pattern, key)
            if before is _ABSENT:
                yield AttributeChange(sub_path, "added", None, after, pattern_of(sub_pattern))
            elif after is _ABSENT:
                yield AttributeChange(sub_path, "removed", before, None, pattern_of(sub_pattern))
            else:
                yield from _diff(before, after, sub_path, sub_pattern, keys)
        return
    if isinstance(old, list) and isinstance(new, list) and not keys.is_ordered(pattern_of(pattern)):
        yield from _diff_lists(old, new, path, pattern, keys)
        return
    if old != new:
        yield AttributeChange(path, "changed", old, new, pattern_of(pattern))


def _diff_lists(old: list[Any], new: list[Any], path: str, pattern: tuple[str, ...],
                keys: KeyResolver) -> Iterator[AttributeChange]:
    list_pattern = pattern_of(pattern)
    fields = _shared_key_fields(keys, list_pattern, old, new)
    old_by_key = _index(old, fields)
    new_by_key = _index(new, fields)
    item_pattern = (*pattern, "[]")
    for key in sorted(set(old_by_key) | set(new_by_key)):
        item_path = f"{path}[{key}]"
        if key not in old_by_key:
            yield AttributeChange(item_path, "added", None, new_by_key[key], pattern_of(item_pattern))
        elif key not in new_by_key:
            yield AttributeChange(item_path, "removed", old_by_key[key], None, pattern_of(item_pattern))
        elif old_by_key[key] != new_by_key[key]:
            yield from _diff(old_by_key[key], new_by_key[key], item_path, item_pattern, keys)


def _shared_key_fields(keys: KeyResolver, pattern: str, old: list[Any], new: list[Any]) -> tuple[str, ...] | None:
    """Identity fields valid on each side: an item present on both sides must not break uniqueness."""
    if not old or not new:
        return keys.key_fields(pattern, old or new)
    old_fields, new_fields = keys.key_fields(pattern, old), keys.key_fields(pattern, new)
    return old_fields if old_fields == new_fields else None


def _index(items: list[Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key = item_key(item, fields)
        if key in out and out[key] != item:
            # Declared key not unique here: fall back to whole-item identity for the clash.
            key = item_key(item, None)
        out[key] = item
    return out
