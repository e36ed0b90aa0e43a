"""What to verify, from the stack's configuration and its outputs: a pure function, no I/O.

The configuration says what *should* exist: colors and weights, mesh and Cloud Map names, the names
the mesh backend gives its objects (``MeshBackend.verify_targets``), which app runs in which cluster.
The stack outputs say *where* it is: the region, the VPC, front's URL and one kubeconfig per cluster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from automation.verify import VerifyPlan
from automation.verify.backends import checks_of
from automation.verify.model import VersionPods
from infra.config import StackConfig
from infra.mesh import backend_for
from infra.topology import topology_of


class PlanError(ValueError):
    """The stack outputs lack something verification needs; the message names the output key."""


def _mapping(value: object) -> Mapping[str, Any] | None:
    return cast("Mapping[str, Any]", value) if isinstance(value, Mapping) else None


def _front_url(value: object) -> str | None:
    """``frontUrl`` is ``http://<load balancer host>/color``; before the LB has a host it is ``http:///color``."""
    if not isinstance(value, str) or not value.strip():
        return None
    parts = urlsplit(value if "://" in value else f"http://{value}")
    return value if parts.hostname else None


def _kubeconfig(clusters: Mapping[str, Any], cluster: str) -> str:
    entry = _mapping(clusters.get(cluster))
    kubeconfig: object = entry.get("kubeconfig") if entry is not None else None
    if isinstance(kubeconfig, Mapping):
        # Some providers hand the kubeconfig over as an object rather than JSON text.
        return json.dumps(kubeconfig)
    if isinstance(kubeconfig, str) and kubeconfig.strip():
        return kubeconfig
    raise PlanError(
        f"stack output clusters.{cluster}.kubeconfig is missing or empty; expected the kubeconfig of "
        f"cluster {cluster}, which runs apps (has the stack been deployed with this configuration?)"
    )


def _selector(labels: Mapping[str, str]) -> str:
    """A label selector matching exactly these labels: ``app=colorapp,version=blue``."""
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def _vpc_id(value: object) -> str | None:
    """``vpcId`` when the stack exported one; older stacks and previews may not have it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise PlanError(f"stack output vpcId must be a string (vpc-...), got {value!r}")
    return value


def build_verify_plan(config: StackConfig, outputs: Mapping[str, Any]) -> VerifyPlan:
    """The :class:`VerifyPlan` for a deployed environment; ``outputs`` are plain values by output name."""
    topology = topology_of(config)
    namespace = topology.namespace
    backend = backend_for(config)
    targets = backend.verify_targets(topology)
    region = outputs.get("region")
    if region is not None and not isinstance(region, str):
        raise PlanError(f"stack output region must be a string, got {region!r}")
    clusters = _mapping(outputs.get("clusters"))
    if clusters is None:
        raise PlanError(
            "stack output clusters is missing; expected {cluster: {eksName, kubeconfig}} "
            "(has the stack been deployed?)"
        )
    pod_selectors: dict[str, list[str]] = {}
    for app in topology.apps:
        selectors = pod_selectors.setdefault(app.cluster, [])
        # One selector per app label: both colors of colorapp in one cluster share `app=colorapp`.
        selector = f"app={app.app}"
        if selector not in selectors:
            selectors.append(selector)
    plan = VerifyPlan(
        region=region or config.region,
        mesh_name=config.mesh.name,
        cloudmap_namespace=config.mesh.cloud_map_namespace,
        service_name=topology.service,
        k8s_namespace=namespace,
        weights={app.version or app.name: app.weight or 0 for app in topology.colors},
        virtual_node_names=targets.virtual_node_names,
        router_name=targets.router_name,
        route_name=targets.route_name,
        virtual_service_name=topology.service_host,
        front_node_name=targets.front_node_name,
        backend=backend.kind.value,
        service_network=targets.service_network,
        invoker_role=targets.invoker_role,
        version_pods={
            app.version or app.name: VersionPods(app.cluster, _selector(app.labels))
            for app in topology.colors
        },
        vpc_id=_vpc_id(outputs.get("vpcId")),
        lattice_service=targets.lattice_service,
        tracing=targets.tracing,
        front_url=_front_url(outputs.get("frontUrl")),
        pod_selectors={cluster: tuple(selectors) for cluster, selectors in pod_selectors.items()},
        kubeconfigs={cluster: _kubeconfig(clusters, cluster) for cluster in topology.clusters},
    )
    try:
        checks_of(plan)  # what the backend's checks need of the plan, before anything is checked
    except ValueError as exc:
        raise PlanError(str(exc)) from exc
    return plan
