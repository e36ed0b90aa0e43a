"""Kubernetes-side checks: are the workload pods Ready and actually meshed?

The verdict is a pure function over pod objects (:func:`evaluate_pods`), accepting
``kubernetes.client.V1Pod`` models or plain dicts (API JSON with camelCase keys, or ``to_dict()``
output with snake_case keys). The API call is a thin adapter (:func:`probe_pods`) so the logic can
be tested without an API server.

A pod passes when it is Running, its ``Ready`` condition is True, it has the containers the App Mesh
injector adds (``envoy``, plus ``xray-daemon`` when tracing is on) and the controller's readiness
gate condition ``conditions.appmesh.k8s.aws/aws-cloudmap-healthy`` is True, i.e. the pod is
registered and healthy in Cloud Map. Pods that are being deleted are left out (a rolling update
leaves a terminating pod behind for a while), but are mentioned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from kubernetes.client import V1Pod

from automation.verify.model import CLOUDMAP_READINESS_GATE, CheckResult, VersionPods
from automation.verify.poll import PollSettings, Probe, polled_check

ENVOY_CONTAINER = "envoy"
XRAY_CONTAINER = "xray-daemon"
# 401/403 will not fix themselves by waiting; everything else (timeouts, 5xx, 429) may.
_TERMINAL_HTTP_STATUSES = frozenset({401, 403})

PodLike = V1Pod | Mapping[str, Any]


class PodLister(Protocol):
    """The one CoreV1Api call used here (``kubernetes.client.CoreV1Api`` or a fake)."""

    def list_namespaced_pod(
        self,
        namespace: str,
        *,
        label_selector: str | None = None,
        _request_timeout: float | None = None,
    ) -> Any: ...


@dataclass(frozen=True)
class PodFacts:
    """The handful of pod fields the verdict depends on, normalised from any pod representation."""

    name: str
    phase: str | None
    terminating: bool
    containers: frozenset[str]
    ready_containers: frozenset[str]
    conditions: Mapping[str, str]
    """condition type -> status ("True"/"False"/"Unknown")."""


def pod_facts(pod: PodLike) -> PodFacts:
    """Extract :class:`PodFacts` from a ``V1Pod`` or a dict in either key style."""
    if isinstance(pod, V1Pod):
        return _facts_from_model(pod)
    return _facts_from_mapping(pod)


def _facts_from_model(pod: V1Pod) -> PodFacts:
    meta, spec, status = pod.metadata, pod.spec, pod.status
    containers = [c.name for c in spec.containers] if spec is not None else []
    # Native sidecars (init containers with restartPolicy Always) also count as sidecars.
    if spec is not None and spec.init_containers:
        containers += [c.name for c in spec.init_containers if c.restart_policy == "Always"]
    statuses = list(status.container_statuses or []) if status is not None else []
    if status is not None and status.init_container_statuses:
        statuses += status.init_container_statuses
    conditions = {c.type: c.status for c in (status.conditions or [])} if status is not None else {}
    return PodFacts(
        name=(meta.name if meta is not None else None) or "?",
        phase=status.phase if status is not None else None,
        terminating=meta is not None and meta.deletion_timestamp is not None,
        containers=frozenset(containers),
        ready_containers=frozenset(s.name for s in statuses if s.ready),
        conditions=conditions,
    )


def _get(obj: object, snake: str) -> Any:
    """``obj[snake]`` or ``obj[camelCase(snake)]`` for dict pods; ``None`` when absent or not a dict."""
    if not isinstance(obj, Mapping):
        return None
    mapping = cast("Mapping[str, Any]", obj)
    if snake in mapping:
        return mapping[snake]
    head, *rest = snake.split("_")
    return mapping.get(head + "".join(word.capitalize() for word in rest))


def _items(obj: object, snake: str) -> list[Any]:
    value = _get(obj, snake)
    return cast("list[Any]", value) if isinstance(value, list) else []


def _facts_from_mapping(pod: Mapping[str, Any]) -> PodFacts:
    meta, spec, status = _get(pod, "metadata"), _get(pod, "spec"), _get(pod, "status")
    containers = [str(_get(c, "name")) for c in _items(spec, "containers")]
    containers += [
        str(_get(c, "name")) for c in _items(spec, "init_containers") if _get(c, "restart_policy") == "Always"
    ]
    statuses = _items(status, "container_statuses") + _items(status, "init_container_statuses")
    return PodFacts(
        name=str(_get(meta, "name") or "?"),
        phase=_get(status, "phase"),
        terminating=_get(meta, "deletion_timestamp") is not None,
        containers=frozenset(containers),
        ready_containers=frozenset(str(_get(s, "name")) for s in statuses if _get(s, "ready") is True),
        conditions={str(_get(c, "type")): str(_get(c, "status")) for c in _items(status, "conditions")},
    )


def pod_problems(facts: PodFacts, *, require_xray: bool, sidecars: bool = True) -> list[str]:
    """Why this pod does not count as a Ready, meshed workload pod (empty list when it does).

    With ``sidecars=False`` (a mesh without sidecars, such as VPC Lattice) only Running and Ready
    count; Ready already includes any readiness gate the mesh adds.
    """
    problems: list[str] = []
    if facts.phase != "Running":
        problems.append(f"phase {facts.phase}")
    if facts.conditions.get("Ready") != "True":
        problems.append(f"Ready={facts.conditions.get('Ready', 'absent')}")
    if not sidecars:
        return problems
    wanted = [ENVOY_CONTAINER] + ([XRAY_CONTAINER] if require_xray else [])
    for container in wanted:
        if container not in facts.containers:
            problems.append(f"no {container} container (sidecar not injected)")
        elif container not in facts.ready_containers:
            problems.append(f"{container} not ready")
    gate = facts.conditions.get(CLOUDMAP_READINESS_GATE)
    if gate != "True":
        problems.append(f"{CLOUDMAP_READINESS_GATE}={gate or 'absent'}")
    return problems


def evaluate_pods(
    pods: Iterable[PodLike], *, selector: str, require_xray: bool, sidecars: bool = True
) -> Probe:
    """Pure verdict over the pods a selector matched.

    Passes when at least one pod is not terminating and every non-terminating pod has no
    :func:`pod_problems`. Zero pods fails: a selector that matches nothing proves nothing.
    """
    facts = [pod_facts(pod) for pod in pods]
    live = [f for f in facts if not f.terminating]
    terminating = len(facts) - len(live)
    suffix = f" ({terminating} terminating pod(s) ignored)" if terminating else ""
    if not live:
        return Probe(False, f"no pods match {selector}{suffix}")
    broken = [
        (f.name, problems)
        for f in live
        if (problems := pod_problems(f, require_xray=require_xray, sidecars=sidecars))
    ]
    if broken:
        listed = "; ".join(f"{name}: {', '.join(problems)}" for name, problems in sorted(broken))
        return Probe(False, f"{len(broken)} of {len(live)} pod(s) for {selector} not ready: {listed}{suffix}")
    if not sidecars:
        return Probe(True, f"{len(live)} pod(s) for {selector} Running and Ready{suffix}")
    injected = ENVOY_CONTAINER + (f"+{XRAY_CONTAINER}" if require_xray else "")
    return Probe(
        True, f"{len(live)} pod(s) for {selector} Ready with {injected} and Cloud Map gate True{suffix}"
    )


def _pod_items(response: Any) -> Sequence[PodLike]:
    # A dict answer first: getattr(dict, "items") would find the dict method, not the pod list.
    if isinstance(response, Mapping):
        items: object = cast("Mapping[str, object]", response).get("items")
    else:
        items = getattr(response, "items", None)
    return cast("list[PodLike]", items) if isinstance(items, list) else []


def list_pods(
    api: PodLister, *, namespace: str, selector: str, request_timeout_s: float = 15.0
) -> Sequence[PodLike] | Probe:
    """The pods ``selector`` matches in ``namespace``; an API error becomes a failed probe (401/403
    terminal, the rest retried)."""
    try:
        response = api.list_namespaced_pod(
            namespace, label_selector=selector, _request_timeout=request_timeout_s
        )
    except Exception as exc:  # ApiException, urllib3 errors, exec-plugin failures: report, never crash
        status: object = getattr(exc, "status", None)
        reason: object = getattr(exc, "reason", None)
        what = f"HTTP {status} {reason}" if isinstance(status, int) else f"{type(exc).__name__}: {exc}"
        return Probe(
            False,
            f"listing pods {selector} in {namespace} failed: {what}",
            terminal=status in _TERMINAL_HTTP_STATUSES,
        )
    return _pod_items(response)


def probe_pods(
    api: PodLister,
    *,
    namespace: str,
    selector: str,
    require_xray: bool,
    request_timeout_s: float = 15.0,
    sidecars: bool = True,
) -> Probe:
    """List pods by ``selector`` in ``namespace`` and judge them; API errors become failed probes."""
    pods = list_pods(api, namespace=namespace, selector=selector, request_timeout_s=request_timeout_s)
    if isinstance(pods, Probe):
        return pods
    return evaluate_pods(pods, selector=selector, require_xray=require_xray, sidecars=sidecars)


def ready_count(pods: Iterable[PodLike]) -> int:
    """How many of ``pods`` are Running, Ready and not being deleted: the pods a load balancer in front
    of them should have as healthy targets (Ready already includes any readiness gate)."""
    return sum(
        1
        for facts in map(pod_facts, pods)
        if not facts.terminating and not pod_problems(facts, require_xray=False, sidecars=False)
    )


ReadyPods = Callable[[str], "int | Probe"]
"""version -> how many of its pods are Ready now, or the failed probe that says why it is unknown."""


def ready_pod_counter(
    kube_clients: Mapping[str, PodLister],
    version_pods: Mapping[str, VersionPods],
    namespace: str,
    *,
    request_timeout_s: float = 15.0,
) -> ReadyPods:
    """A :data:`ReadyPods` that lists a version's pods in the cluster it runs in each time it is asked,
    so a check polling it sees pods come and go."""

    def count(version: str) -> int | Probe:
        where = version_pods.get(version)
        if where is None:
            return Probe(False, f"the plan says nothing of where version {version}'s pods run")
        api = kube_clients.get(where.cluster)
        if api is None:
            return Probe(False, f"no Kubernetes client for cluster {where.cluster} (version {version})")
        pods = list_pods(
            api, namespace=namespace, selector=where.selector, request_timeout_s=request_timeout_s
        )
        return pods if isinstance(pods, Probe) else ready_count(pods)

    return count


def kube_checks(
    *,
    kube_clients: Mapping[str, PodLister],
    pod_selectors: Mapping[str, Sequence[str]],
    namespace: str,
    tracing: bool,
    settings: PollSettings,
    sidecars: bool = True,
) -> list[CheckResult]:
    """One polled check per (cluster, selector), each against that cluster's own client."""
    results: list[CheckResult] = []
    for cluster, selectors in pod_selectors.items():
        api = kube_clients.get(cluster)
        for selector in selectors:
            name = f"k8s {cluster} {namespace}/{selector}"
            if api is None:
                results.append(CheckResult(name, False, f"no Kubernetes client for cluster {cluster}"))
                continue
            results.append(
                polled_check(
                    name,
                    lambda api=api, selector=selector: probe_pods(
                        api, namespace=namespace, selector=selector, require_xray=tracing, sidecars=sidecars
                    ),
                    settings,
                )
            )
    return results
