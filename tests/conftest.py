"""Process-wide settings for the whole suite (each pytest-xdist worker imports this once).

Two costs that say nothing about crossmesh are cut here:

- moto's EC2 backend loads its catalogue of default AMIs (with a volume and a snapshot each, about
  20,000 objects) whenever a region's backend is created. No test reads an AMI, and moto documents
  ``MOTO_EC2_LOAD_DEFAULT_AMIS=false`` to skip it (moto/settings.py, ``ec2_load_default_amis``).
- botocore gives every new ``Session`` its own model loader, so every test that builds its own session
  re-parses the same service JSON (EC2's alone is several MB). One loader per data path, shared by
  every session of the process, parses each model once. botocore already shares one loader's models
  between all clients of a session, so sharing it between sessions changes nothing they can observe.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import date
from typing import Any, cast

import botocore.loaders
import botocore.session
import pytest

os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

_create_loader = cast("Callable[[str | None], Any]", botocore.loaders.create_loader)
botocore.session.create_loader = functools.cache(_create_loader)


@pytest.fixture(autouse=True)
def _calendar_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every in-process test judges Kubernetes versions on one fixed day (the EKS release calendar,
    infra/config.py), so the suite does not change verdict as versions leave EKS; a test about the
    calendar sets its own day on the same function."""
    import infra.config

    monkeypatch.setattr(infra.config, "utc_today", lambda: date(2026, 12, 8))
