"""Narrowing untyped JSON/YAML data to typed views, so strict type checking holds at the edges."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast


def as_mapping(value: object) -> Mapping[str, Any] | None:
    """``value`` as a string-keyed mapping, or None if it is not a mapping."""
    return cast(Mapping[str, Any], value) if isinstance(value, Mapping) else None


def as_list(value: object) -> list[Any] | None:
    """``value`` as a list, or None if it is not a list."""
    return cast(list[Any], value) if isinstance(value, list) else None


def mapping_or_empty(value: object) -> Mapping[str, Any]:
    found = as_mapping(value)
    return found if found is not None else {}


def list_or_empty(value: object) -> list[Any]:
    found = as_list(value)
    return found if found is not None else []
