"""The physical names the VPC Lattice backend adds to the apps' own, for the configuration's name checks
(:mod:`infra.config_limits`): its controller's namespace, network policy, Helm release and
GatewayClass, the Gateway API objects (from their builders), and the AWS names of the service network
and of what the AWS Gateway API controller derives from the route and the exported Services."""

from __future__ import annotations

import re
from collections.abc import Iterator

from infra.config import LatticeAuth, StackConfig
from infra.config_limits import (
    KMS_ALIAS,
    LOG_GROUP,
    ComposedName,
    Syntax,
    app_parts,
    colorapp_parts,
    config_key,
    helm_release,
    kubernetes_name,
    stack_parts,
    who,
)
from infra.mesh import common
from infra.mesh.lattice import objects
from infra.naming import service_network_name
from infra.topology import Topology

# VPC Lattice CreateServiceNetwork name, 3-63, and CreateService name, 3-40; for both, "the valid
# characters are a-z, 0-9, and hyphens (-). You can't use a hyphen as the first or last character, or
# immediately after another hyphen":
# https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_CreateServiceNetwork.html
# https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_CreateService.html
SERVICE_NETWORK = 63
SERVICE = 40
# CreateTargetGroup name, 3-128, same characters:
# https://docs.aws.amazon.com/vpc-lattice/latest/APIReference/API_CreateTargetGroup.html
TARGET_GROUP = 128
# All three are at least 3 characters long.
LATTICE_NAME = Syntax(
    "a VPC Lattice name: at least 3 lowercase letters, digits and single '-' between them (no '--')",
    re.compile(r"(?=.{3})[a-z0-9]+(-[a-z0-9]+)*"),
)
LATTICE_SERVICE_NAME = Syntax(
    "a VPC Lattice service name: at least 3 lowercase letters, digits and single '-' between them "
    "(no '--'), not starting with 'svc-'",
    re.compile(r"(?!svc-)(?=.{3})[a-z0-9]+(-[a-z0-9]+)*"),
)


def access_log_group(stack: str) -> str:
    return f"/crossmesh/{stack}/vpc-lattice-access"


def truncate(name: str, length: int) -> str:
    """The Gateway API controller's ``utils.Truncate``: cut to ``length``, then trim '-' at both ends."""
    return name[:length].strip("-")


def target_group_prefix(namespace: str, service: str) -> str:
    """The controller's target group name before its random 10-letter suffix (``TgNamePrefix`` in
    pkg/model/lattice/targetgroup.go): ``k8s-<namespace cut to 55>-<service cut to 55>``."""
    return f"k8s-{truncate(namespace, 55)}-{truncate(service, 55)}"


def composed_names(config: StackConfig, topology: Topology) -> Iterator[ComposedName]:
    yield from _aws_names(config, topology)
    purpose = "the Gateway API controller"
    namespace = objects.CONTROLLER_NAMESPACE
    yield kubernetes_name(common.controller_namespace(namespace, enforce="restricted"), (), purpose)
    yield kubernetes_name(common.controller_network_policy(namespace, config.network.cidr), (), purpose)
    yield helm_release(objects.CONTROLLER_RELEASE, namespace, purpose)
    yield kubernetes_name(objects.gateway_class(), (), purpose)
    network = _service_network(config)
    yield kubernetes_name(objects.gateway(network.name, topology), network.parts, "the service network")
    route = objects.http_route(
        topology, network.name, objects.lattice_service_name(topology.service, config.stack)
    )
    yield kubernetes_name(route, colorapp_parts(config), "colorapp's route")
    if config.mesh.lattice.auth is LatticeAuth.IAM:
        policy = objects.iam_auth_policy(topology, "{}")
        yield kubernetes_name(policy, colorapp_parts(config), "colorapp's auth policy")
    for app in topology.colors:
        parts = app_parts(config, app)
        for manifest in (
            objects.version_service(app, topology),
            objects.service_export(app, topology),
            objects.target_group_policy(app, topology, config.mesh.lattice.health_check),
            objects.service_import(app, topology, app.cluster),
        ):
            yield kubernetes_name(manifest, parts, f"{who(app)}'s {manifest['kind']}")


def _service_network(config: StackConfig) -> ComposedName:
    configured = config.mesh.lattice.service_network
    return ComposedName(
        configured or service_network_name(config.stack),
        SERVICE_NETWORK,
        "VPC Lattice service network name",
        ((config_key("mesh.lattice.serviceNetwork"), configured),) if configured else stack_parts(config),
        "the service network",
        syntax=LATTICE_NAME,
    )


def _aws_names(config: StackConfig, topology: Topology) -> Iterator[ComposedName]:
    yield _service_network(config)
    namespace = (config_key("workloads.namespace"), topology.namespace)
    # The Lattice service is named by the route's annotation (per stack: names are unique per account);
    # the target groups by what the controller derives from each exported Service: it cuts them to
    # fit, but keeps whatever '--' they hold, which Lattice refuses.
    yield ComposedName(
        objects.lattice_service_name(topology.service, config.stack),
        SERVICE,
        "VPC Lattice service name",
        (*stack_parts(config), *colorapp_parts(config)),
        "colorapp's Lattice service",
        syntax=LATTICE_SERVICE_NAME,
    )
    for app in topology.colors:
        yield ComposedName(
            target_group_prefix(topology.namespace, app.name),
            TARGET_GROUP,
            "VPC Lattice target group name",
            (namespace, *app_parts(config, app)),
            f"{who(app)}'s target group (named by the Gateway API controller)",
            syntax=LATTICE_NAME,
        )
    if config.mesh.lattice.access_logs.enabled:
        group = access_log_group(config.stack)
        by_stack = stack_parts(config)
        yield ComposedName(group, LOG_GROUP, "log group name", by_stack, "the Lattice access logs")
        yield ComposedName(
            f"alias/{group.strip('/').replace('/', '-')}",
            KMS_ALIAS,
            "KMS alias",
            by_stack,
            "the access logs' key",
        )


__all__ = ["composed_names", "target_group_prefix"]
