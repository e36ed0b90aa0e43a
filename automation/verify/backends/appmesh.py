"""The App Mesh backend's AWS-side checks: Cloud Map instances and App Mesh resources.

Each ``probe_*`` function makes one attempt and returns a :class:`Probe`; :func:`polled_check`
retries a probe until a shared deadline, because the App Mesh controller and Cloud Map are
eventually consistent (a route edit or a pod registration shows up seconds to minutes later).

AWS clients are untyped boto3 objects; the Protocols below name exactly the calls made here so a
test fake (or a botocore ``Stubber``-wrapped client) can stand in. Field names follow botocore's
service models for ``appmesh`` (2019-01-25) and ``servicediscovery`` (2017-03-14).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, cast

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from automation.errors import CrossmeshError, Failure
from automation.exit_codes import ExitCode
from automation.verify.aws import ACTIVE, call, dig, error_code_and_message
from automation.verify.model import CheckResult
from automation.verify.poll import PollSettings, Probe, polled_check

if TYPE_CHECKING:
    from automation.verify.clients import AwsClients
    from automation.verify.kube import ReadyPods
    from automation.verify.model import VerifyPlan
    from infra.config import StackConfig

HEALTHY = "HEALTHY"
COLOR_ATTRIBUTE = "color"
# DiscoverInstances has no pagination token; 1000 is its documented maximum page.
_DISCOVER_MAX_RESULTS = 1000
# Route kinds that carry weightedTargets, in the order App Mesh documents them.
_ROUTE_KINDS = ("httpRoute", "http2Route", "grpcRoute", "tcpRoute")


class AppMeshClient(Protocol):
    """The App Mesh calls verification makes (boto3 ``appmesh`` client or a fake)."""

    def describe_mesh(self, *, meshName: str) -> Mapping[str, Any]: ...

    def describe_virtual_node(self, *, meshName: str, virtualNodeName: str) -> Mapping[str, Any]: ...

    def describe_virtual_router(self, *, meshName: str, virtualRouterName: str) -> Mapping[str, Any]: ...

    def describe_route(
        self,
        *,
        meshName: str,
        virtualRouterName: str,
        routeName: str,
    ) -> Mapping[str, Any]: ...

    def describe_virtual_service(self, *, meshName: str, virtualServiceName: str) -> Mapping[str, Any]: ...


class ServiceDiscoveryClient(Protocol):
    """The Cloud Map call verification makes (boto3 ``servicediscovery`` client or a fake)."""

    def discover_instances(self, **kwargs: Any) -> Mapping[str, Any]: ...


# --- Cloud Map -------------------------------------------------------------------------------------


def count_colors(instances: Collection[Mapping[str, Any]], attribute: str = COLOR_ATTRIBUTE) -> Counter[str]:
    """Count instances by their ``attribute`` value (``"(none)"`` when the attribute is missing)."""
    counts: Counter[str] = Counter()
    for instance in instances:
        value = dig(instance, "Attributes", attribute)
        counts["(none)" if value is None else str(value)] += 1
    return counts


def probe_cloudmap(
    client: ServiceDiscoveryClient,
    *,
    namespace: str,
    service: str,
    colors: Collection[str],
    attribute: str = COLOR_ATTRIBUTE,
) -> Probe:
    """One ``DiscoverInstances`` (HEALTHY only) call: is every color in ``colors`` registered and healthy?"""
    answer = call(
        lambda: client.discover_instances(
            NamespaceName=namespace,
            ServiceName=service,
            HealthStatus=HEALTHY,
            MaxResults=_DISCOVER_MAX_RESULTS,
        )
    )
    if isinstance(answer, Probe):
        return answer
    healthy = count_colors(answer.get("Instances") or [], attribute)
    missing = [color for color in colors if healthy.get(color, 0) == 0]
    detail = "HEALTHY instances: " + _format_counts(healthy, colors)
    if not missing:
        return Probe(True, detail)
    # Only on failure: ask for every instance so the report can say "registered but unhealthy"
    # rather than just "missing". This is a diagnosis aid; its own errors are ignored.
    everything = call(
        lambda: client.discover_instances(
            NamespaceName=namespace,
            ServiceName=service,
            HealthStatus="ALL",
            MaxResults=_DISCOVER_MAX_RESULTS,
        )
    )
    hints = ""
    if not isinstance(everything, Probe):
        registered = count_colors(everything.get("Instances") or [], attribute)
        unhealthy = {c: registered.get(c, 0) - healthy.get(c, 0) for c in missing}
        hints = "".join(f"; {c} has {n} registered but not HEALTHY" for c, n in unhealthy.items() if n > 0)
    return Probe(False, f"no HEALTHY {', '.join(missing)} instance; {detail}{hints}")


def _format_counts(counts: Counter[str], expected: Collection[str]) -> str:
    parts = [f"{color}={counts.get(color, 0)}" for color in expected]
    parts += [f"{color}={n} (unexpected)" for color, n in sorted(counts.items()) if color not in expected]
    return ", ".join(parts)


# --- App Mesh --------------------------------------------------------------------------------------


def _status_probe(kind: str, name: str, answer: Mapping[str, Any] | Probe, key: str) -> Probe:
    if isinstance(answer, Probe):
        return answer
    status = dig(answer, key, "status", "status")
    if status != ACTIVE:
        return Probe(False, f"{kind} {name} status is {status}, want {ACTIVE}")
    return Probe(True, f"{kind} {name} is {ACTIVE}")


def probe_mesh(client: AppMeshClient, *, mesh: str) -> Probe:
    """Does the mesh exist and is it ACTIVE?"""
    return _status_probe("mesh", mesh, call(lambda: client.describe_mesh(meshName=mesh)), "mesh")


def probe_virtual_node(client: AppMeshClient, *, mesh: str, node: str) -> Probe:
    """Does the virtual node exist in ``mesh`` and is it ACTIVE?"""
    answer = call(lambda: client.describe_virtual_node(meshName=mesh, virtualNodeName=node))
    return _status_probe("virtual node", node, answer, "virtualNode")


def probe_virtual_router(client: AppMeshClient, *, mesh: str, router: str) -> Probe:
    """Does the virtual router exist in ``mesh`` and is it ACTIVE?"""
    answer = call(lambda: client.describe_virtual_router(meshName=mesh, virtualRouterName=router))
    return _status_probe("virtual router", router, answer, "virtualRouter")


def probe_client_node(client: AppMeshClient, *, mesh: str, node: str, service: str) -> Probe:
    """Is the calling node ACTIVE, and does it list ``service`` among its backends?

    Without the backend, the caller's Envoy has no route to the service and its requests are refused
    by the mesh's egress filter, however healthy the rest of the mesh is.
    """
    answer = call(lambda: client.describe_virtual_node(meshName=mesh, virtualNodeName=node))
    status = _status_probe("virtual node", node, answer, "virtualNode")
    if not status.ok or isinstance(answer, Probe):
        return status
    backends = dig(answer, "virtualNode", "spec", "backends")
    names = [
        str(dig(b, "virtualService", "virtualServiceName"))
        for b in (cast("list[object]", backends) if isinstance(backends, list) else [])
    ]
    if service not in names:
        return Probe(False, f"virtual node {node} has backends {names or 'none'}, want {service}")
    return Probe(True, f"virtual node {node} is {ACTIVE} with backend {service}")


def route_weights(route: Mapping[str, Any]) -> dict[str, int] | None:
    """Virtual node -> weight from a ``DescribeRoute`` ``route`` object; ``None`` without targets.

    Looks at whichever of httpRoute/http2Route/grpcRoute/tcpRoute the spec uses. Targets naming the
    same node twice (different ports) are summed; zero weights are dropped because a target with
    weight 0 receives exactly as much traffic as no target at all.
    """
    for kind in _ROUTE_KINDS:
        targets = dig(route, "spec", kind, "action", "weightedTargets")
        if not isinstance(targets, list):
            continue
        weights: Counter[str] = Counter()
        for target in cast("list[object]", targets):
            weights[str(dig(target, "virtualNode"))] += int(dig(target, "weight") or 0)
        return {node: weight for node, weight in weights.items() if weight > 0}
    return None


def probe_route(
    client: AppMeshClient, *, mesh: str, router: str, route: str, expected: Mapping[str, int]
) -> Probe:
    """Is the route ACTIVE, and are its weighted targets exactly ``expected`` (node -> weight)?

    Weights are compared as integers, not as proportions: the infrastructure passes the configured
    weights through unchanged, so 1/1 in the route when 50/50 was configured means drift.
    """
    answer = call(lambda: client.describe_route(meshName=mesh, virtualRouterName=router, routeName=route))
    label = f"{router}/{route}"
    status = _status_probe("route", label, answer, "route")
    if not status.ok or isinstance(answer, Probe):
        return status
    actual = route_weights(answer.get("route") or {})
    want = {node: weight for node, weight in expected.items() if weight > 0}
    if actual is None:
        return Probe(False, f"route {label} has no weightedTargets")
    if actual != want:
        return Probe(
            False, f"route {label} weights {_fmt_weights(actual)} differ from config {_fmt_weights(want)}"
        )
    return Probe(True, f"route {label} is {ACTIVE} with weights {_fmt_weights(actual)}")


def _fmt_weights(weights: Mapping[str, int]) -> str:
    return "{" + ", ".join(f"{node}: {weight}" for node, weight in sorted(weights.items())) + "}"


def probe_virtual_service(client: AppMeshClient, *, mesh: str, service: str, router: str) -> Probe:
    """Is the virtual service ACTIVE and provided by ``router``?

    A virtual service provided directly by a virtual node would bypass the router and its weights,
    so the provider is part of the check.
    """
    answer = call(lambda: client.describe_virtual_service(meshName=mesh, virtualServiceName=service))
    status = _status_probe("virtual service", service, answer, "virtualService")
    if not status.ok or isinstance(answer, Probe):
        return status
    provider = dig(answer, "virtualService", "spec", "provider")
    via_router = dig(provider, "virtualRouter", "virtualRouterName")
    if via_router != router:
        via_node = dig(provider, "virtualNode", "virtualNodeName")
        actual = f"virtual router {via_router}" if via_router else f"virtual node {via_node}"
        return Probe(
            False, f"virtual service {service} is provided by {actual}, want virtual router {router}"
        )
    return Probe(True, f"virtual service {service} is {ACTIVE}, provided by router {router}")


def aws_checks(
    *,
    appmesh: AppMeshClient,
    servicediscovery: ServiceDiscoveryClient,
    mesh: str,
    cloudmap_namespace: str,
    service_name: str,
    virtual_node_names: Mapping[str, str],
    weights: Mapping[str, int],
    router: str,
    route: str,
    virtual_service: str,
    settings: PollSettings,
    front_node: str | None = None,
) -> list[CheckResult]:
    """All AWS checks in dependency order (mesh before its children, Cloud Map last), sharing a deadline."""
    results = [
        polled_check(f"appmesh mesh {mesh}", lambda: probe_mesh(appmesh, mesh=mesh), settings),
    ]
    for node in virtual_node_names.values():
        results.append(
            polled_check(
                f"appmesh virtual node {node}",
                lambda node=node: probe_virtual_node(appmesh, mesh=mesh, node=node),
                settings,
            )
        )
    results.append(
        polled_check(
            f"appmesh virtual router {router}",
            lambda: probe_virtual_router(appmesh, mesh=mesh, router=router),
            settings,
        )
    )
    expected = {virtual_node_names[color]: weight for color, weight in weights.items()}
    results.append(
        polled_check(
            f"appmesh route {router}/{route}",
            lambda: probe_route(appmesh, mesh=mesh, router=router, route=route, expected=expected),
            settings,
        )
    )
    results.append(
        polled_check(
            f"appmesh virtual service {virtual_service}",
            lambda: probe_virtual_service(appmesh, mesh=mesh, service=virtual_service, router=router),
            settings,
        )
    )
    if front_node is not None:
        results.append(
            polled_check(
                f"appmesh virtual node {front_node}",
                lambda: probe_client_node(appmesh, mesh=mesh, node=front_node, service=virtual_service),
                settings,
            )
        )
    results.append(
        polled_check(
            f"cloudmap {service_name}.{cloudmap_namespace}",
            lambda: probe_cloudmap(
                servicediscovery,
                namespace=cloudmap_namespace,
                service=service_name,
                colors=list(virtual_node_names),
            ),
            settings,
        )
    )
    return results


# --- availability (deploy preflight) ------------------------------------------------------------------

APPMESH_END_OF_SUPPORT = date(2026, 9, 30)
APPMESH_NO_NEW_CUSTOMERS = date(2024, 9, 24)
# What App Mesh answers an account that may not use it: no access, or a service that is gone.
_MESH_DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "ForbiddenException",
        "UnauthorizedOperation",
        "SubscriptionRequiredException",
        "OptInRequired",
    }
)


def backend_hint(env: str) -> str:
    """Where to go instead. Never "flip the backend of this stack": a deployed App Mesh stack is not
    converted in place (the deploy refuses it); a new VPC Lattice stack takes over."""
    return (
        "Deploy a VPC Lattice environment instead (Amazon VPC Lattice with the AWS Gateway API "
        "controller, AWS's stated path off App Mesh for EKS; crossmesh:mesh -> backend: lattice, as in "
        "dev, staging and prod) as a new stack, and follow docs/migration.md to move traffic and tear "
        f"down stack {env}. The apps and the name front calls stay the same."
    )


def _eol_sentence(today: date) -> str:
    verb = "ended" if today >= APPMESH_END_OF_SUPPORT else "ends"
    return (
        f"AWS App Mesh support {verb} on {APPMESH_END_OF_SUPPORT.isoformat()}: after that date the App Mesh "
        "API and its resources are no longer accessible (new customers could not onboard since "
        f"{APPMESH_NO_NEW_CUSTOMERS.isoformat()})."
    )


def check_appmesh(appmesh: Any, *, env: str, region: str, today: date | None = None) -> int:
    """``ListMeshes`` (one page); returns how many meshes it listed, or raises (exit 6)."""
    today = today or date.today()
    try:
        answer: dict[str, Any] = appmesh.list_meshes(limit=1)
    except ClientError as exc:
        code, message = error_code_and_message(exc)
        if code in _MESH_DENIED_CODES:
            reason = (
                f"App Mesh is not available to this account in {region} ({code}: {message}). "
                + _eol_sentence(today)
                + " (If only this role lacks appmesh:ListMeshes, grant it; the account itself may still "
                "have App Mesh.)"
            )
        else:
            reason = (
                f"App Mesh ListMeshes failed in {region} ({code}: {message}); the mesh cannot be managed. "
                + _eol_sentence(today)
            )
        raise CrossmeshError(
            Failure(ExitCode.MESH_UNAVAILABLE, "mesh_unavailable", reason, backend_hint(env))
        ) from exc
    except (EndpointConnectionError, BotoCoreError) as exc:
        reason = f"the App Mesh endpoint in {region} did not answer ({exc}). " + _eol_sentence(today)
        raise CrossmeshError(
            Failure(ExitCode.MESH_UNAVAILABLE, "mesh_unavailable", reason, backend_hint(env))
        ) from exc
    meshes: list[Any] = list(answer.get("meshes") or [])
    return len(meshes)


class AppMeshChecks:
    """App Mesh and Cloud Map objects; every app pod carries Envoy (and the X-Ray daemon with tracing)."""

    sidecars = True

    def plan_problems(self, plan: VerifyPlan) -> list[str]:
        if set(plan.weights) != set(plan.virtual_node_names):
            return [
                f"weights colors {sorted(plan.weights)} differ from virtual_node_names colors "
                f"{sorted(plan.virtual_node_names)}"
            ]
        return []

    def aws_checks(
        self, plan: VerifyPlan, clients: AwsClients, settings: PollSettings, ready_pods: ReadyPods
    ) -> list[CheckResult]:
        # Cloud Map's healthy instances are what the pods' readiness gate already reflects, and the
        # Kubernetes checks judge that gate: the Ready pod count adds nothing here.
        del ready_pods
        return aws_checks(
            appmesh=clients.appmesh,
            servicediscovery=clients.servicediscovery,
            mesh=plan.mesh_name,
            cloudmap_namespace=plan.cloudmap_namespace,
            service_name=plan.service_name,
            virtual_node_names=plan.virtual_node_names,
            weights=plan.weights,
            router=plan.router_name,
            route=plan.route_name,
            virtual_service=plan.virtual_service_name,
            settings=settings,
            front_node=plan.front_node_name,
        )

    def check_available(self, clients: Any, *, env: str, region: str, today: date | None = None) -> bool:
        check_appmesh(clients.appmesh, env=env, region=region, today=today)
        return True

    def check_for_deploy(self, clients: Any, *, region: str) -> None:
        return  # App Mesh cannot be deployed any more: check_deployable refuses it first

    # The App Mesh reference environment cannot be deployed any more: out of shift's scope.
    traffic_shift = False

    # Envoy's Cloud Map discovery calls DiscoverInstances by namespace name.
    discovers_by_namespace_name = True

    def existing_names(self, config: StackConfig, clients: Any) -> list[tuple[str, str, Mapping[str, str]]]:
        # The mesh is per stack by name inside the account, but App Mesh is closed to every account
        # since 2026-09-30: the availability check stops a deploy before this would matter.
        return []


CHECKS = AppMeshChecks()
