"""Entry points: the full post-deploy verification and the HTTP-only mode (``--front-url``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from automation.verify import backends
from automation.verify.backends.appmesh import AppMeshClient, ServiceDiscoveryClient
from automation.verify.backends.lattice import LatticeClient
from automation.verify.clients import AwsClients, make_aws_clients, make_kube_client
from automation.verify.httpcheck import check_http, color_url, run_http_only, wait_until_reachable
from automation.verify.kube import PodLister, kube_checks, ready_pod_counter
from automation.verify.model import CheckResult, HttpStats, VerifyPlan, VerifyReport
from automation.verify.poll import PollSettings
from automation.verify.settings import DEFAULT_DEADLINE_S, DEFAULT_HTTP_CHECK, HttpCheckSettings

__all__ = ["DEFAULT_DEADLINE_S", "run_http_only", "run_verification", "verify_plan"]


def run_verification(
    plan: VerifyPlan,
    *,
    appmesh_client: AppMeshClient,
    servicediscovery_client: ServiceDiscoveryClient,
    kube_clients: Mapping[str, PodLister],
    lattice_client: LatticeClient | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
    http: HttpCheckSettings = DEFAULT_HTTP_CHECK,
    initial_backoff_s: float = 1.0,
    max_backoff_s: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> VerifyReport:
    """Verify a deployed environment: the mesh backend's AWS objects, every cluster's pods, then HTTP
    via front.

    ``deadline_s`` is one budget for the whole run, shared by all polled checks in order; a check
    that is still failing when the budget is spent ends the wait for every later check, but each
    later check still gets one attempt so the report shows the state of everything. The HTTP burst
    starts once front is reachable (any HTTP answer) or the budget is spent; the burst itself is
    bounded by ``ceil(http.requests / http.concurrency) * http.timeout_s`` on top.
    ``clock``/``sleep`` drive the polling and exist for tests.
    """
    settings = PollSettings.starting_now(
        deadline_s, initial_backoff_s=initial_backoff_s, max_backoff_s=max_backoff_s, clock=clock, sleep=sleep
    )
    backend = backends.checks_of(plan)
    clients = AwsClients(
        appmesh=appmesh_client, servicediscovery=servicediscovery_client, lattice=lattice_client
    )
    # Counted anew at each call, so an AWS check comparing with the pods converges with them.
    ready_pods = ready_pod_counter(kube_clients, plan.version_pods, plan.k8s_namespace)
    checks = backend.aws_checks(plan, clients, settings, ready_pods)
    checks += kube_checks(
        kube_clients=kube_clients,
        pod_selectors=plan.pod_selectors,
        namespace=plan.k8s_namespace,
        tracing=plan.tracing,
        settings=settings,
        sidecars=backend.sidecars,
    )
    stats: HttpStats | None = None
    if plan.front_url is None:
        checks.append(
            CheckResult(
                "http /color", False, "no front URL in the plan (has the LoadBalancer a hostname yet?)"
            )
        )
    else:
        reachable = wait_until_reachable(
            plan.front_url,
            deadline_s=settings.remaining_s(),
            timeout_s=http.timeout_s,
            initial_backoff_s=initial_backoff_s,
            max_backoff_s=max_backoff_s,
            clock=clock,
            sleep=sleep,
        )
        if reachable.done:
            result, stats = check_http(plan.front_url, plan.weights, http)
            checks.append(result)
        else:
            checks.append(
                CheckResult(
                    f"http {color_url(plan.front_url)}",
                    False,
                    f"front never answered within the deadline ({reachable.attempts} attempt(s); "
                    f"last: {reachable.value})",
                )
            )
    return VerifyReport(checks=tuple(checks), http=stats)


def verify_plan(
    plan: VerifyPlan,
    *,
    deadline_s: float = DEFAULT_DEADLINE_S,
    http: HttpCheckSettings = DEFAULT_HTTP_CHECK,
    aws_endpoint_url: str | None = None,
    **options: Any,
) -> VerifyReport:
    """:func:`run_verification` with real clients built from the plan (region, kubeconfigs).

    A kubeconfig that cannot be turned into a client becomes a failed check for that cluster
    instead of an exception. ``options`` are passed through to :func:`run_verification`.
    """
    aws = make_aws_clients(plan.region, endpoint_url=aws_endpoint_url)
    kube_clients: dict[str, PodLister] = {}
    client_errors: list[CheckResult] = []
    for cluster, kubeconfig in plan.kubeconfigs.items():
        try:
            kube_clients[cluster] = make_kube_client(kubeconfig)
        except Exception as exc:  # bad kubeconfig: report it, keep verifying the rest
            client_errors.append(CheckResult(f"k8s {cluster} client", False, f"{type(exc).__name__}: {exc}"))
    report = run_verification(
        plan,
        appmesh_client=aws.appmesh,
        servicediscovery_client=aws.servicediscovery,
        kube_clients=kube_clients,
        lattice_client=aws.lattice,
        deadline_s=deadline_s,
        http=http,
        **options,
    )
    return VerifyReport(checks=(*client_errors, *report.checks), http=report.http)
