"""Resource-type declarations by family, gathered into core.registry.

Each module declares `TYPES: tuple[ResourceType, ...]` with `core.resource_type._t(...)`, exactly
like the core types in core/registry.py; this package concatenates them in a fixed order.
"""

from __future__ import annotations

from importlib import import_module

from inventag_pipeline.core.resource_type import ResourceType

FAMILIES = ("network", "data_compute", "app_integration", "security_edge")


def _gather() -> tuple[ResourceType, ...]:
    out: list[ResourceType] = []
    for family in FAMILIES:
        out.extend(import_module(f"{__name__}.{family}").TYPES)
    return tuple(out)


FAMILY_TYPES: tuple[ResourceType, ...] = _gather()
