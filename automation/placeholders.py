"""Documentation values a user must replace before deploying.

Staging and prod ship with values from the ranges and accounts that documentation reserves (API
endpoint CIDRs in 203.0.113.0/24, an admin role in account 111122223333), so the files render and
read like the real thing without pointing at anyone's network or account. ``render`` keeps them and
lists each as a value to replace; ``deploy`` and ``preview`` refuse them (exit 2, naming the key)
before credentials or any other check: :func:`refuse_documentation_values`.

Documentation ranges are RFC 5737's TEST-NET-1/2/3; the example accounts are the ones AWS's own
documentation uses.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from infra.config_parse import ConfigError, Problem

DOCUMENTATION_RANGES = tuple(
    ipaddress.IPv4Network(cidr) for cidr in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
EXAMPLE_ACCOUNTS = ("111122223333", "123456789012")

_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?:/(\d{1,2}))?(?![\d.])")
_ACCOUNT = re.compile(r"(?<!\d)(\d{12})(?!\d)")


@dataclass(frozen=True)
class DocumentationValue:
    key: str
    """Full configuration key, e.g. ``crossmesh:clusters[0].endpoint.publicAccessCidrs[0]``."""
    value: str
    why: str

    def __str__(self) -> str:
        return f"{self.key}: {self.value!r} ({self.why})"


def _in_documentation_range(text: str) -> ipaddress.IPv4Network | None:
    for match in _IPV4.finditer(text):
        try:
            network = ipaddress.IPv4Network(match.group(0), strict=False)
        except ValueError:
            continue
        for reserved in DOCUMENTATION_RANGES:
            if network.subnet_of(reserved):
                return reserved
    return None


def _findings(value: Any, key: str) -> Iterator[DocumentationValue]:
    if isinstance(value, Mapping):
        for inner_key, inner in value.items():  # pyright: ignore[reportUnknownVariableType]
            yield from _findings(inner, f"{key}.{inner_key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            yield from _findings(inner, f"{key}[{index}]")
    elif isinstance(value, str):
        reserved = _in_documentation_range(value)
        if reserved is not None:
            yield DocumentationValue(key, value, f"in the documentation range {reserved}")
        for match in _ACCOUNT.finditer(value):
            if match.group(1) in EXAMPLE_ACCOUNTS:
                yield DocumentationValue(key, value, f"the example account {match.group(1)}")


def documentation_values(config_block: Mapping[str, Any]) -> list[DocumentationValue]:
    """Every documentation value in a stack file's ``config:`` block, with its full key."""
    return [finding for key, value in config_block.items() for finding in _findings(value, str(key))]


def refuse_documentation_values(config_block: Mapping[str, Any], source: str) -> None:
    """Raise :class:`ConfigError` (exit 2) naming every key that still holds a documentation value."""
    found = documentation_values(config_block)
    if found:
        raise ConfigError(
            [
                Problem(
                    f.key,
                    f.value,
                    f"{f.why}: a placeholder from the documentation; expected your own value before a "
                    "deploy or preview (render keeps it and lists it under values to replace)",
                )
                for f in found
            ],
            source,
        )
