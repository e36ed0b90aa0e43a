"""Report shape and plan validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from automation.verify.backends import checks_of
from automation.verify.model import CheckResult, HttpStats, VerifyPlan, VerifyReport


def make_plan(**overrides: Any) -> VerifyPlan:
    fields: dict[str, Any] = {
        "region": "us-west-2",
        "mesh_name": "crossmesh",
        "cloudmap_namespace": "appmesh-demo.pvt.aws.local",
        "service_name": "colorapp",
        "k8s_namespace": "appmesh-demo",
        "weights": {"blue": 50, "red": 50},
        "virtual_node_names": {"blue": "colorapp-blue", "red": "colorapp-red"},
        "router_name": "colorapp-router",
        "route_name": "color-route",
        "virtual_service_name": "colorapp.appmesh-demo.pvt.aws.local",
        "tracing": False,
        "front_url": None,
        "pod_selectors": {"eksc1": ["app=front"], "eksc2": ["app=colorapp"]},
        "kubeconfigs": {"eksc1": '{"token": "secret-one"}', "eksc2": '{"token": "secret-two"}'},
    }
    fields.update(overrides)
    return VerifyPlan(**fields)


def test_report_serialises_to_exactly_the_documented_shape() -> None:
    report = VerifyReport(
        checks=(CheckResult("a", True, "fine"), CheckResult("b", False, "broken")),
        http=HttpStats(requests=200, errors=1, p50_ms=3.2, p99_ms=9.9, shares={"blue": 0.5, "red": 0.5}),
    )
    data = report.to_dict()
    assert data == {
        "ok": False,
        "checks": [
            {"name": "a", "ok": True, "detail": "fine"},
            {"name": "b", "ok": False, "detail": "broken"},
        ],
        "http": {
            "requests": 200,
            "errors": 1,
            "p50_ms": 3.2,
            "p99_ms": 9.9,
            "shares": {"blue": 0.5, "red": 0.5},
        },
    }
    assert json.loads(report.to_json()) == data
    assert report.failed == (CheckResult("b", False, "broken"),)


def test_report_ok_needs_all_checks_and_at_least_one() -> None:
    assert VerifyReport(checks=(CheckResult("a", True, ""),)).ok
    assert not VerifyReport(checks=()).ok
    assert VerifyReport(checks=(CheckResult("a", True, ""),)).to_dict()["http"] is None


def test_plan_is_frozen_and_hides_kubeconfigs() -> None:
    plan = make_plan()
    assert "secret-one" not in repr(plan)
    with pytest.raises(AttributeError):
        plan.mesh_name = "other"  # type: ignore[misc]  # frozen dataclass: assignment must fail


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"weights": {"blue": 50}}, "differ from virtual_node_names"),
        ({"weights": {"blue": -1, "red": 5}}, "non-negative int"),
        ({"weights": {"blue": True, "red": 5}}, "non-negative int"),
        ({"weights": {"blue": 0, "red": 0}}, "at least one weight must be positive"),
        ({"kubeconfigs": {"eksc1": "{}"}}, "no kubeconfig for clusters ['eksc2']"),
    ],
)
def test_plan_rejects_inconsistent_config(overrides: dict[str, Any], message: str) -> None:
    # What every backend needs is checked when the plan is made; what its own checks need (App Mesh:
    # a virtual node per weighted color) when they are taken for it (checks_of, as the runner does).
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        checks_of(make_plan(**overrides))
