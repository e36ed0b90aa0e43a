"""The pure parts of a shift: step weights, the per-version verdict, the Lattice weights observer
(botocore Stubber: moto has no listener-rule weights), the lease rules and the deploy guard."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from automation.exit_codes import ExitCode
from automation.shift.guard import stale_weights_failure
from automation.shift.judge import Answer, Limits, judge_step
from automation.shift.observe import SERVICE_NAME_TAG, LatticeWeights, same_weights, wait_for_weights
from automation.shift.plan import PlanError, parse_duration, parse_steps, parse_target, plan_steps, weights_at
from automation.shift.stack import targets_in
from automation.shift.state import Lease, lease_is_live
from automation.stack import StackOutput
from infra.config_parse import ConfigError, parse_config
from infra.topology import topology_of


def test_the_targeted_update_names_the_recorded_http_route_and_the_stack() -> None:
    from tests.automation.shift.test_shift_live import ROUTE, STACK
    from tests.support import record_env

    # the URNs the live tests' fake `pulumi` receives are the program's own
    assert sorted(targets_in(record_env("dev"))) == sorted([ROUTE, STACK])


def test_steps_move_the_weights_a_share_of_the_way_and_sum_to_100() -> None:
    start = {"blue": 100, "red": 0}
    target = parse_target("red=100", start)
    assert target == {"blue": 0, "red": 100}
    steps = plan_steps(start, target, parse_steps("10,25,50,100"))
    assert [s.weights for s in steps] == [
        {"blue": 90, "red": 10},
        {"blue": 75, "red": 25},
        {"blue": 50, "red": 50},
        {"blue": 0, "red": 100},
    ]
    assert sum(weights_at({"a": 33, "b": 33, "c": 34}, {"a": 0, "b": 0, "c": 100}, 10).values()) == 100


@pytest.mark.parametrize(
    ("steps", "message"),
    [("10,5,100", "strictly increasing"), ("10,50", "last step to be 100"), ("x", "expected increasing")],
)
def test_bad_steps_name_the_option(steps: str, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        parse_steps(steps)


def test_bad_targets_and_durations_name_the_option() -> None:
    with pytest.raises(PlanError, match="unknown version 'green'"):
        parse_target("green=100", {"blue": 50, "red": 50})
    with pytest.raises(PlanError, match="sum to 120"):
        parse_target("blue=60,red=60", {"blue": 50, "red": 50})
    assert parse_duration("2m") == 120
    assert parse_duration("500ms") == 0.5
    assert parse_duration("24h") == 86400
    for too_long in ("25h", "1441m", "99999999999999999999h"):
        with pytest.raises(PlanError, match=r"--hold: got '.+'; expected at most 24h"):
            parse_duration(too_long)
    with pytest.raises(PlanError, match="--hold"):
        parse_duration("soon")


def _answers(
    version: str | None, n: int, *, ok: bool = True, attempts: int = 1, ms: float = 5.0
) -> list[Answer]:
    return [Answer(version, attempts, ok, ms, "" if ok else "HTTP 502") for _ in range(n)]


def test_a_healthy_step_passes_for_every_version() -> None:
    verdict = judge_step(_answers("blue", 150) + _answers("red", 50), {"blue": 75, "red": 25}, Limits())
    assert verdict.ok
    red = next(v for v in verdict.versions if v.version == "red")
    assert red.share == 0.25
    assert red.p_value == 1.0


def test_failures_behind_retries_are_blamed_on_the_version_losing_share() -> None:
    # red's attempts fail; front retried them onto blue, so blue answers them with 2 attempts
    answers = _answers("blue", 150) + _answers("blue", 45, attempts=2) + _answers("red", 5)
    verdict = judge_step(answers, {"blue": 75, "red": 25}, Limits())
    failed = {v.version for v in verdict.failed}
    assert failed == {"red"}
    (red,) = verdict.failed
    assert any("hidden behind front's retries" in reason for reason in red.reasons)


def test_errors_latency_and_its_growth_are_judged_per_version() -> None:
    answers = _answers("blue", 150) + _answers("red", 40, ms=90) + _answers("red", 10, ok=False)
    verdict = judge_step(answers, {"blue": 75, "red": 25}, Limits(max_p99_ms=50), previous_p99={"red": 10.0})
    (red,) = verdict.failed
    assert red.version == "red"
    reasons = " | ".join(red.reasons)
    assert "error rate 20.0% (10 of 50)" in reasons
    assert "exceeds the limit of 50 ms" in reasons
    assert "more than 2x the previous step's 10.0 ms" in reasons


def _lattice() -> tuple[Any, Stubber]:
    client: Any = boto3.client(  # pyright: ignore[reportUnknownMemberType]
        "vpc-lattice", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_the_observer_reads_the_listener_rule_weights_by_kubernetes_service() -> None:
    client, stub = _lattice()
    svc, listener = "svc-0123456789abcdef0", "listener-0123456789abcdef0"
    stub.add_response(
        "list_services", {"items": [{"id": svc, "customDomainName": "colorapp.appmesh-demo.pvt.aws.local"}]}
    )
    stub.add_response("list_listeners", {"items": [{"id": listener}]}, {"serviceIdentifier": svc})
    stub.add_response(
        "list_rules",
        {
            "items": [
                {"id": "rule-default0000000", "isDefault": True},
                {"id": "rule-0123456789abcdef0", "isDefault": False},
            ]
        },
        {"serviceIdentifier": svc, "listenerIdentifier": listener},
    )
    stub.add_response(
        "get_rule",
        {
            "id": "rule-0123456789abcdef0",
            "action": {
                "forward": {
                    "targetGroups": [
                        {"targetGroupIdentifier": "tg-blue0000000000000", "weight": 90},
                        {"targetGroupIdentifier": "tg-red00000000000000", "weight": 10},
                    ]
                }
            },
        },
        {
            "serviceIdentifier": svc,
            "listenerIdentifier": listener,
            "ruleIdentifier": "rule-0123456789abcdef0",
        },
    )
    for color in ("blue", "red"):
        tg = f"tg-{color}".ljust(20, "0")
        arn = f"arn:aws:vpc-lattice:us-east-1:123456789012:targetgroup/{tg}"
        stub.add_response(
            "get_target_group", {"arn": arn, "name": f"k8s-{color}"}, {"targetGroupIdentifier": tg}
        )
        stub.add_response(
            "list_tags_for_resource", {"tags": {SERVICE_NAME_TAG: f"colorapp-{color}"}}, {"resourceArn": arn}
        )
    with stub:
        observed = LatticeWeights(client, "colorapp.appmesh-demo.pvt.aws.local", "colorapp-")()
    assert observed == {"blue": 90, "red": 10}
    stub.assert_no_pending_responses()


def test_waiting_for_weights_compares_shares_and_gives_up_at_the_deadline() -> None:
    assert same_weights({"blue": 9, "red": 1}, {"blue": 90, "red": 10})
    assert same_weights({"blue": 100}, {"blue": 100, "red": 0})
    now = [0.0]
    result = wait_for_weights(
        lambda: {"blue": 50, "red": 50},
        {"blue": 90, "red": 10},
        deadline_s=10,
        interval_s=4,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    assert not result.ok
    assert result.observed == {"blue": 50, "red": 50}


def test_a_lease_counts_until_it_expires_or_its_process_on_this_host_is_gone() -> None:
    lease = Lease("id", "ci-7", 4242, until=1000.0)
    assert Lease.from_tag(lease.to_tag()) == lease
    assert lease_is_live(lease, now=999, host="laptop")
    assert not lease_is_live(lease, now=1001, host="laptop")
    assert not lease_is_live(lease, now=999, host="ci-7", alive=lambda pid: False)


RAW = {
    "aws:region": "us-east-1",
    "crossmesh:clusters": '[{"name": "eksc1"}, {"name": "eksc2"}]',
}


def test_traffic_weights_override_the_versions_and_are_validated() -> None:
    config = parse_config({**RAW, "crossmesh:trafficWeights": '{"blue": 10, "red": 90}'}, "dev")
    assert topology_of(config).weights == {"blue": 10, "red": 90}
    with pytest.raises(ConfigError, match=r"crossmesh:trafficWeights: .*summing to 100"):
        parse_config({**RAW, "crossmesh:trafficWeights": '{"blue": 10, "red": 10}'}, "dev")
    with pytest.raises(
        ConfigError, match=r"crossmesh:trafficWeights\.green: got 100; no version is .green.; .*each version"
    ):
        parse_config({**RAW, "crossmesh:trafficWeights": '{"green": 100}'}, "dev")


def test_deploy_refuses_a_stack_file_with_other_weights_than_applied() -> None:
    applied = {"trafficWeights": StackOutput({"blue": 0, "red": 100}, secret=False)}
    problem = stale_weights_failure("dev", {"blue": 50, "red": 50}, applied)
    assert problem is not None
    assert problem.code == ExitCode.BAD_INPUT
    assert "holds colorapp weights blue=50,red=50, but the stack runs blue=0,red=100" in problem.message
    assert stale_weights_failure("dev", {"blue": 0, "red": 100}, applied) is None
    assert stale_weights_failure("dev", {"blue": 50, "red": 50}, {}) is None
