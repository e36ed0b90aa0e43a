"""The virtual-service check, which moto cannot serve: botocore Stubber with documented shapes.

Stubber validates every queued response against botocore's appmesh service model, so these
responses are the real DescribeVirtualService output shape, not a guess.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from automation.verify.backends.appmesh import probe_virtual_service
from automation.verify.poll import PollSettings, polled_check

MESH = "crossmesh"
SERVICE = "colorapp.appmesh-demo.pvt.aws.local"
ROUTER = "colorapp-router"
PARAMS = {"meshName": MESH, "virtualServiceName": SERVICE}


def virtual_service_response(
    *, status: str = "ACTIVE", provider: dict[str, Any] | None = None
) -> dict[str, Any]:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return {
        "virtualService": {
            "meshName": MESH,
            "virtualServiceName": SERVICE,
            "metadata": {
                "arn": f"arn:aws:appmesh:us-west-2:123456789012:mesh/{MESH}/virtualService/{SERVICE}",
                "createdAt": when,
                "lastUpdatedAt": when,
                "meshOwner": "123456789012",
                "resourceOwner": "123456789012",
                "uid": "0b8c1f3e-0000-4000-8000-000000000000",
                "version": 1,
            },
            "spec": {"provider": provider or {"virtualRouter": {"virtualRouterName": ROUTER}}},
            "status": {"status": status},
        }
    }


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "appmesh", region_name="us-west-2", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_active_virtual_service_provided_by_the_router_passes(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_virtual_service", virtual_service_response(), PARAMS)
    probe = probe_virtual_service(client, mesh=MESH, service=SERVICE, router=ROUTER)
    assert probe.ok, probe.detail
    assert probe.detail == f"virtual service {SERVICE} is ACTIVE, provided by router {ROUTER}"


def test_virtual_service_bypassing_the_router_fails(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    provider = {"virtualNode": {"virtualNodeName": "colorapp-blue"}}
    stubber.add_response("describe_virtual_service", virtual_service_response(provider=provider), PARAMS)
    probe = probe_virtual_service(client, mesh=MESH, service=SERVICE, router=ROUTER)
    assert not probe.ok
    assert "provided by virtual node colorapp-blue, want virtual router colorapp-router" in probe.detail


def test_inactive_virtual_service_is_retried_until_active(
    stubbed: tuple[Any, Stubber], fake_clock: Any
) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_virtual_service", virtual_service_response(status="INACTIVE"), PARAMS)
    stubber.add_response("describe_virtual_service", virtual_service_response(), PARAMS)
    settings = PollSettings.starting_now(30, initial_backoff_s=1, clock=fake_clock, sleep=fake_clock.sleep)
    result = polled_check(
        "vs", lambda: probe_virtual_service(client, mesh=MESH, service=SERVICE, router=ROUTER), settings
    )
    assert result.ok
    assert fake_clock.sleeps == [1]


def test_missing_virtual_service_fails_with_a_clear_detail(
    stubbed: tuple[Any, Stubber], fake_clock: Any
) -> None:
    client, stubber = stubbed
    for _ in range(3):
        stubber.add_client_error(
            "describe_virtual_service",
            service_error_code="NotFoundException",
            service_message=f"VirtualService {SERVICE} not found in mesh {MESH}",
            http_status_code=404,
            expected_params=PARAMS,
        )
    settings = PollSettings.starting_now(
        3, initial_backoff_s=1, max_backoff_s=2, clock=fake_clock, sleep=fake_clock.sleep
    )
    result = polled_check(
        "vs", lambda: probe_virtual_service(client, mesh=MESH, service=SERVICE, router=ROUTER), settings
    )
    assert not result.ok
    assert result.detail == (
        f"DescribeVirtualService failed: NotFoundException: VirtualService {SERVICE} not found in mesh {MESH} "
        "(deadline passed; 3 attempt(s) over 3.0s)"
    )


def test_access_denied_is_not_retried(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error(
        "describe_virtual_service",
        service_error_code="ForbiddenException",
        service_message="no",
        http_status_code=403,
    )
    probe = probe_virtual_service(client, mesh=MESH, service=SERVICE, router=ROUTER)
    assert not probe.ok
    assert probe.terminal
    assert "ForbiddenException" in probe.detail


def test_moto_not_implemented_answer_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch, fake_clock: Any
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(var, "testing")
    with mock_aws():
        client = boto3.client("appmesh", region_name="us-west-2")
        client.create_mesh(meshName=MESH)
        settings = PollSettings.starting_now(600, clock=fake_clock, sleep=fake_clock.sleep)
        result = polled_check(
            "vs", lambda: probe_virtual_service(client, mesh=MESH, service=SERVICE, router=ROUTER), settings
        )
    assert not result.ok
    assert result.detail.startswith("DescribeVirtualService is not implemented by this endpoint (HTTP 404")
    assert "Not yet implemented" in result.detail
    assert fake_clock.sleeps == []  # a 10-minute budget is not burnt on something that cannot change


def test_fake_client_raising_not_implemented_error(fake_clock: Any) -> None:
    class NoVirtualServices:
        def describe_virtual_service(self, **_: Any) -> dict[str, Any]:
            raise NotImplementedError("describe_virtual_service")

    settings = PollSettings.starting_now(600, clock=fake_clock, sleep=fake_clock.sleep)
    result = polled_check(
        "vs",
        lambda: probe_virtual_service(NoVirtualServices(), mesh=MESH, service=SERVICE, router=ROUTER),  # type: ignore[arg-type]  # partial fake on purpose
        settings,
    )
    assert not result.ok
    assert "operation not implemented by this endpoint" in result.detail
    assert fake_clock.sleeps == []


def test_unexpected_response_shape_is_a_failed_check(fake_clock: Any) -> None:
    class Garbage:
        def describe_virtual_service(self, **_: Any) -> dict[str, Any]:
            return {"something": "else"}

    settings = PollSettings.starting_now(0, clock=fake_clock, sleep=fake_clock.sleep)
    result = polled_check(
        "vs",
        lambda: probe_virtual_service(Garbage(), mesh=MESH, service=SERVICE, router=ROUTER),  # type: ignore[arg-type]  # partial fake on purpose
        settings,
    )
    assert not result.ok
    assert "status is None, want ACTIVE" in result.detail
