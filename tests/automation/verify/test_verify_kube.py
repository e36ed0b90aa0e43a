"""Pod verdicts over constructed V1Pod objects and dicts, and the thin list-pods adapter."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from kubernetes.client import (
    V1Container,
    V1ContainerStatus,
    V1ObjectMeta,
    V1Pod,
    V1PodCondition,
    V1PodList,
    V1PodReadinessGate,
    V1PodSpec,
    V1PodStatus,
)
from kubernetes.client.exceptions import ApiException

from automation.verify.kube import (
    evaluate_pods,
    kube_checks,
    pod_facts,
    probe_pods,
    ready_count,
    ready_pod_counter,
)
from automation.verify.model import CLOUDMAP_READINESS_GATE, VersionPods
from automation.verify.poll import PollSettings

GATE = CLOUDMAP_READINESS_GATE


def make_pod(
    name: str = "colorapp-blue-7d9f",
    *,
    containers: tuple[str, ...] = ("app", "envoy"),
    not_ready: tuple[str, ...] = (),
    phase: str = "Running",
    ready: str = "True",
    gate: str | None = "True",
    terminating: bool = False,
    init_sidecars: tuple[str, ...] = (),
) -> V1Pod:
    """A pod as the App Mesh injector and controller leave it once everything is healthy."""
    conditions = [
        V1PodCondition(type="Ready", status=ready),
        V1PodCondition(type="ContainersReady", status=ready),
    ]
    if gate is not None:
        conditions.append(V1PodCondition(type=GATE, status=gate))
    return V1Pod(
        metadata=V1ObjectMeta(
            name=name,
            labels={"app": "colorapp"},
            deletion_timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if terminating else None,
        ),
        spec=V1PodSpec(
            containers=[V1Container(name=c) for c in containers],
            init_containers=[V1Container(name="proxyinit")]
            + [V1Container(name=c, restart_policy="Always") for c in init_sidecars],
            readiness_gates=[V1PodReadinessGate(condition_type=GATE)],
        ),
        status=V1PodStatus(
            phase=phase,
            conditions=conditions,
            container_statuses=[
                V1ContainerStatus(
                    name=c, ready=c not in not_ready, restart_count=0, image="img", image_id="id"
                )
                for c in containers
            ],
            init_container_statuses=[
                V1ContainerStatus(name=c, ready=True, restart_count=0, image="img", image_id="id")
                for c in init_sidecars
            ],
        ),
    )


def test_healthy_meshed_pods_pass() -> None:
    probe = evaluate_pods([make_pod("a"), make_pod("b")], selector="app=colorapp", require_xray=False)
    assert probe.ok, probe.detail
    assert probe.detail.startswith("2 pod(s) for app=colorapp Ready with envoy")


@pytest.mark.parametrize(
    ("pod", "problem"),
    [
        (make_pod(ready="False"), "Ready=False"),
        (make_pod(containers=("app",)), "no envoy container (sidecar not injected)"),
        (make_pod(not_ready=("envoy",), ready="False"), "envoy not ready"),
        (make_pod(gate="False"), f"{GATE}=False"),
        (make_pod(gate=None), f"{GATE}=absent"),
        (make_pod(phase="Pending", ready="False"), "phase Pending"),
    ],
)
def test_each_broken_pod_state_fails_with_its_reason(pod: V1Pod, problem: str) -> None:
    probe = evaluate_pods([make_pod("good"), pod], selector="app=colorapp", require_xray=False)
    assert not probe.ok
    assert problem in probe.detail
    assert probe.detail.startswith("1 of 2 pod(s)")
    assert "good" not in probe.detail.split(":", 1)[1]


def test_tracing_requires_the_xray_daemon() -> None:
    plain = make_pod(containers=("app", "envoy"))
    traced = make_pod(containers=("app", "envoy", "xray-daemon"))
    assert evaluate_pods([plain], selector="s", require_xray=False).ok
    missing = evaluate_pods([plain], selector="s", require_xray=True)
    assert not missing.ok
    assert "no xray-daemon container" in missing.detail
    ok = evaluate_pods([traced], selector="s", require_xray=True)
    assert ok.ok
    assert "envoy+xray-daemon" in ok.detail
    unready = make_pod(containers=("app", "envoy", "xray-daemon"), not_ready=("xray-daemon",))
    assert "xray-daemon not ready" in evaluate_pods([unready], selector="s", require_xray=True).detail


def test_no_pods_fail() -> None:
    probe = evaluate_pods([], selector="app=front", require_xray=False)
    assert not probe.ok
    assert probe.detail == "no pods match app=front"


def test_terminating_pods_are_ignored_but_mentioned() -> None:
    old = make_pod("old", ready="False", gate="False", terminating=True)
    assert evaluate_pods([make_pod("new"), old], selector="s", require_xray=False).ok
    only_old = evaluate_pods([old], selector="s", require_xray=False)
    assert not only_old.ok
    assert "1 terminating pod(s) ignored" in only_old.detail


def test_native_sidecar_envoy_counts() -> None:
    pod = make_pod(containers=("app",), init_sidecars=("envoy",))
    assert evaluate_pods([pod], selector="s", require_xray=False).ok
    # An ordinary init container named envoy (runs to completion) is not a sidecar.
    plain_init = make_pod(containers=("app",))
    assert plain_init.spec is not None
    plain_init.spec.init_containers = [V1Container(name="envoy")]
    assert not evaluate_pods([plain_init], selector="s", require_xray=False).ok


def to_camel_json(pod: V1Pod) -> dict[str, Any]:
    """The pod as the API server sends it (camelCase keys), via the client's own serializer."""
    from kubernetes.client import ApiClient

    return ApiClient().sanitize_for_serialization(pod)


@pytest.mark.parametrize(
    "pod",
    [
        make_pod(),
        make_pod(ready="False"),
        make_pod(containers=("app",)),
        make_pod(gate="Unknown"),
        make_pod(terminating=True),
        make_pod(containers=("app",), init_sidecars=("envoy",)),
    ],
)
def test_dict_pods_in_both_key_styles_match_the_model(pod: V1Pod) -> None:
    from_model = pod_facts(pod)
    camel = to_camel_json(pod)
    assert "readinessGates" in camel["spec"]  # really the API's key style
    assert pod_facts(camel) == from_model
    assert pod_facts(pod.to_dict()) == from_model
    for require_xray in (False, True):
        expected = evaluate_pods([pod], selector="s", require_xray=require_xray)
        assert evaluate_pods([camel], selector="s", require_xray=require_xray) == expected


class FakeCoreV1:
    """Stands in for CoreV1Api.list_namespaced_pod; answers from a queue and records calls."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str | None]] = []

    def list_namespaced_pod(
        self, namespace: str, *, label_selector: str | None = None, _request_timeout: float | None = None
    ) -> Any:
        self.calls.append((namespace, label_selector))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_probe_pods_lists_by_namespace_and_selector() -> None:
    api = FakeCoreV1(V1PodList(items=[make_pod()]))
    probe = probe_pods(api, namespace="appmesh-demo", selector="app=colorapp", require_xray=False)
    assert probe.ok
    assert api.calls == [("appmesh-demo", "app=colorapp")]
    as_dict = FakeCoreV1({"items": [to_camel_json(make_pod())]})
    assert probe_pods(as_dict, namespace="n", selector="s", require_xray=False).ok


def test_probe_pods_reports_api_errors() -> None:
    forbidden = probe_pods(
        FakeCoreV1(ApiException(status=403, reason="Forbidden")),
        namespace="n",
        selector="s",
        require_xray=False,
    )
    assert not forbidden.ok
    assert forbidden.terminal
    assert "HTTP 403 Forbidden" in forbidden.detail
    flaky = probe_pods(
        FakeCoreV1(ApiException(status=500, reason="Internal")),
        namespace="n",
        selector="s",
        require_xray=False,
    )
    assert not flaky.terminal
    offline = probe_pods(
        FakeCoreV1(ConnectionRefusedError("refused")), namespace="n", selector="s", require_xray=False
    )
    assert "ConnectionRefusedError" in offline.detail
    assert not offline.terminal


def test_kube_checks_wait_for_pods_to_become_ready(fake_clock: Any) -> None:
    starting = V1PodList(items=[make_pod(ready="False", gate="False")])
    ready = V1PodList(items=[make_pod()])
    eksc2 = FakeCoreV1(V1PodList(items=[]), starting, starting, ready)
    eksc1 = FakeCoreV1(V1PodList(items=[make_pod("front-1", containers=("front", "envoy"))]))
    settings = PollSettings.starting_now(60, initial_backoff_s=1, clock=fake_clock, sleep=fake_clock.sleep)
    results = kube_checks(
        kube_clients={"eksc1": eksc1, "eksc2": eksc2},
        pod_selectors={"eksc1": ["app=front"], "eksc2": ["app=colorapp"]},
        namespace="appmesh-demo",
        tracing=False,
        settings=settings,
    )
    assert [(r.name, r.ok) for r in results] == [
        ("k8s eksc1 appmesh-demo/app=front", True),
        ("k8s eksc2 appmesh-demo/app=colorapp", True),
    ]
    assert len(eksc2.calls) == 4
    assert eksc1.calls == [("appmesh-demo", "app=front")]
    assert fake_clock.sleeps == [1, 2, 4]


def test_kube_checks_fail_for_a_cluster_without_client(fake_clock: Any) -> None:
    settings = PollSettings.starting_now(0, clock=fake_clock, sleep=fake_clock.sleep)
    results = kube_checks(
        kube_clients={},
        pod_selectors={"eksc2": ["app=colorapp"]},
        namespace="n",
        tracing=True,
        settings=settings,
    )
    assert len(results) == 1
    assert not results[0].ok
    assert results[0].detail == "no Kubernetes client for cluster eksc2"


def test_kube_checks_time_out_on_pods_that_never_get_ready(fake_clock: Any) -> None:
    api = FakeCoreV1(V1PodList(items=[make_pod(gate="False")]))
    settings = PollSettings.starting_now(
        20, initial_backoff_s=1, max_backoff_s=8, clock=fake_clock, sleep=fake_clock.sleep
    )
    (result,) = kube_checks(
        kube_clients={"eksc2": api},
        pod_selectors={"eksc2": ["app=colorapp"]},
        namespace="n",
        tracing=False,
        settings=settings,
    )
    assert not result.ok
    assert "deadline passed" in result.detail
    assert sum(fake_clock.sleeps) == 20


def test_ready_count_counts_running_ready_live_pods_only() -> None:
    """The count a load balancer's healthy targets are compared with: sidecars play no part (Lattice)."""
    pods = [
        make_pod("ready-1", containers=("app",), gate=None),
        make_pod("ready-2", containers=("app",), gate=None),
        make_pod("not-ready", containers=("app",), gate=None, ready="False"),
        make_pod("pending", containers=("app",), gate=None, phase="Pending", ready="False"),
        make_pod("leaving", containers=("app",), gate=None, terminating=True),
    ]
    assert ready_count(pods) == 2
    assert ready_count([to_camel_json(p) for p in pods]) == 2
    assert ready_count([]) == 0


def test_ready_pod_counter_lists_the_versions_pods_in_their_cluster_at_every_call() -> None:
    eksc2 = FakeCoreV1(
        V1PodList(items=[make_pod("blue-1", gate=None)]),
        V1PodList(items=[make_pod("blue-1", gate=None), make_pod("blue-2", gate=None)]),
    )
    eksc1 = FakeCoreV1(V1PodList(items=[]))
    count = ready_pod_counter(
        {"eksc1": eksc1, "eksc2": eksc2},
        {"blue": VersionPods("eksc2", "app=colorapp,version=blue")},
        "appmesh-demo",
    )
    assert count("blue") == 1
    assert count("blue") == 2  # asked again, listed again: a polling check sees pods come
    assert eksc2.calls == [("appmesh-demo", "app=colorapp,version=blue")] * 2
    assert eksc1.calls == []


def test_ready_pod_counter_says_why_a_count_is_unknown() -> None:
    count = ready_pod_counter(
        {"eksc2": FakeCoreV1(ApiException(status=403, reason="Forbidden"))},
        {
            "blue": VersionPods("eksc2", "app=colorapp,version=blue"),
            "red": VersionPods("eksc3", "app=colorapp,version=red"),
        },
        "appmesh-demo",
    )
    denied = count("blue")
    assert not isinstance(denied, int)
    assert denied.terminal
    assert "HTTP 403 Forbidden" in denied.detail
    no_client = count("red")
    assert not isinstance(no_client, int)
    assert no_client.detail == "no Kubernetes client for cluster eksc3 (version red)"
    unknown = count("green")
    assert not isinstance(unknown, int)
    assert unknown.detail == "the plan says nothing of where version green's pods run"
