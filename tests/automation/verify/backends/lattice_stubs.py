"""A vpc-lattice client that is moto's for every call except those moto 5.2.5 lacks, which a botocore
Stubber answers; shared by the Lattice verification tests."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

REGION = "us-east-1"


class Split:
    """moto's client for every call except the ones moto lacks, which the Stubber's client answers."""

    def __init__(self, moto: Any, stubbed: Any, stubbed_calls: set[str]) -> None:
        self._moto = moto
        self._stubbed = stubbed
        self._calls = stubbed_calls
        self.groups: dict[str, str] = {}
        """target group id -> color, as created in moto."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stubbed if name in self._calls else self._moto, name)


def stubbed_lattice() -> tuple[Any, Stubber]:
    """A real botocore vpc-lattice client and the Stubber that answers for it (it checks each call's
    parameters and each answer's shape against botocore's service model)."""
    client: Any = boto3.client(  # pyright: ignore[reportUnknownMemberType]
        "vpc-lattice", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)
