"""infra/known.py reads botocore's data files directly; what it finds must be what botocore's own API
finds, or the config would refuse (or accept) what AWS does not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest

from infra.known import did_you_mean, known_instance_types, known_regions, service_regions
from tests.support import clear_aws_environment


@pytest.mark.parametrize(
    ("service", "ours"), [("eks", known_regions), ("vpc-lattice", lambda: service_regions("vpc-lattice"))]
)
def test_the_regions_known_for_a_service_are_the_regions_botocore_lists_for_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, service: str, ours: Callable[[], frozenset[str]]
) -> None:
    clear_aws_environment(monkeypatch, tmp_path)
    session: Any = botocore.session.Session()
    expected = {
        str(region)
        for partition in session.get_available_partitions()
        for region in session.get_available_regions(service, partition_name=partition)
    }
    assert "us-east-1" in expected
    assert ours() == frozenset(expected)


def test_known_instance_types_are_the_enum_the_ec2_model_validates_against() -> None:
    loader: Any = botocore.loaders.create_loader()
    model: Any = loader.load_service_model("ec2", "service-2")
    expected = frozenset(model["shapes"]["InstanceType"]["enum"])
    assert {"t3.medium", "m6i.large", "t4g.medium"} <= expected
    assert known_instance_types() == expected


def test_did_you_mean_prefers_the_candidate_made_of_the_same_letters() -> None:
    regions = known_regions()
    assert did_you_mean("us-esat-1", regions) == "us-east-1"
    assert did_you_mean("t3.meduim", known_instance_types()) == "t3.medium"
    assert did_you_mean("zzzz", ["alpha", "beta"]) is None
