"""What AWS offers, as the botocore installed here knows it, read from the data files botocore ships
(``botocore/data``) without importing botocore or starting a session.

A session reads the user's AWS setup, so a missing AWS_PROFILE or a malformed ~/.aws/config would
break commands that need no AWS at all (render, verify --front-url), and importing botocore costs those
commands a third of a second. Reading the files costs milliseconds. A value botocore does not know
yet (a region or an instance type newer than the installed botocore) is refused with that said, so
the remedy is an upgrade, not a workaround.
"""

from __future__ import annotations

import difflib
import gzip
import importlib.util
import json
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any


def _data_dir() -> Path | None:
    spec = importlib.util.find_spec("botocore")
    for root in spec.submodule_search_locations or [] if spec else []:
        data = Path(root) / "data"
        if data.is_dir():
            return data
    return None


def _read(path: Path) -> bytes | None:
    """A data file, plain or gzipped as botocore ships some of them."""
    if path.is_file():
        return path.read_bytes()
    gz = path.with_name(path.name + ".gz")
    if gz.is_file():
        return gzip.decompress(gz.read_bytes())
    return None


@cache
def service_regions(service: str) -> frozenset[str]:
    """Regions with an endpoint of ``service`` (its endpoint prefix, e.g. ``vpc-lattice``), from
    ``data/endpoints.json``.

    The selection is botocore's own ``get_available_regions(service, partition)`` for every partition:
    the service's endpoint names that are regions of their partition (a test keeps the two equal).
    """
    data_dir = _data_dir()
    raw = _read(data_dir / "endpoints.json") if data_dir else None
    data: Mapping[str, Any] = json.loads(raw) if raw else {}
    regions: set[str] = set()
    for partition in data.get("partitions", []):
        known = partition.get("regions", {})
        endpoints = partition.get("services", {}).get(service, {}).get("endpoints", {})
        regions.update(str(name) for name in endpoints if name in known)
    return frozenset(regions)


def known_regions() -> frozenset[str]:
    """Regions with an EKS endpoint."""
    return service_regions("eks")


@cache
def _partitions() -> tuple[tuple[str, frozenset[str]], ...]:
    """(partition, its regions) for every partition in ``data/endpoints.json``."""
    data_dir = _data_dir()
    raw = _read(data_dir / "endpoints.json") if data_dir else None
    data: Mapping[str, Any] = json.loads(raw) if raw else {}
    return tuple(
        (str(p.get("partition", "")), frozenset(str(r) for r in p.get("regions", {})))
        for p in data.get("partitions", [])
    )


def partition_of(region: str) -> str | None:
    """The partition a region belongs to (``aws``, ``aws-cn``, ``aws-us-gov``...), or None if unknown."""
    return next((name for name, regions in _partitions() if region in regions), None)


# The shape's definition in the EC2 model: {"type":"string", "enum":[...]} (the model also has members
# named InstanceType that only point at a shape, which this does not match).
_INSTANCE_TYPE_SHAPE = re.compile(
    rb'"InstanceType"\s*:\s*\{\s*"type"\s*:\s*"string"\s*,\s*"enum"\s*:\s*(\[[^\]]*\])'
)


@cache
def known_instance_types() -> frozenset[str]:
    """Every EC2 instance type: the ``InstanceType`` enum of the newest EC2 model botocore ships
    (``data/ec2/<api version>/service-2.json``), the list EC2's own API validates against. Empty when
    the model cannot be read, and then nothing is refused on its account."""
    data_dir = _data_dir()
    versions = sorted(p for p in (data_dir / "ec2").iterdir() if p.is_dir()) if data_dir else []
    raw = _read(versions[-1] / "service-2.json") if versions else None
    found = _INSTANCE_TYPE_SHAPE.search(raw) if raw else None
    return frozenset(str(t) for t in json.loads(found.group(1))) if found else frozenset()


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``word`` is most plausibly a typo of (compared case-insensitively), or None."""
    by_lower: dict[str, str] = {}
    for candidate in sorted(candidates):
        by_lower.setdefault(candidate.lower(), candidate)
    wanted = word.lower()
    close = difflib.get_close_matches(wanted, by_lower, n=5, cutoff=0.6)
    # difflib scores swapped neighbours ("us-esat-1") no better than a changed letter; a candidate
    # made of exactly the same letters is the likelier typo.
    same_letters = [c for c in close if sorted(c) == sorted(wanted)]
    best = (same_letters or close or [None])[0]
    return by_lower[best] if best is not None else None
