"""Resource-type declarations by family, gathered into core.registry.

Each module declares `TYPES: tuple[ResourceType, ...]` with `core.resource_type._t(...)`, exactly
like the core types in core/registry.py.
"""

from __future__ import annotations

from inventag_pipeline.core.resource_type import ResourceType
from inventag_pipeline.core.types import app_integration, data_compute, network, security_edge

FAMILY_TYPES: tuple[ResourceType, ...] = (
    network.TYPES + data_compute.TYPES + app_integration.TYPES + security_edge.TYPES
)
