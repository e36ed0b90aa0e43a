"""What AWS reports the weights to be: the VPC Lattice listener rule the HTTPRoute became.

Pulumi's update ends when Kubernetes accepted the new HTTPRoute; the AWS Gateway API controller then
updates the Lattice listener rule. A step is judged only once Lattice itself reports the new weights:

1. ``ListServices``: the stack's service (by name, when known) whose ``customDomainName`` is the name
   front calls (:func:`serves`);
2. ``ListListeners`` of it, then ``ListRules`` of each listener and ``GetRule`` of every non-default
   rule: ``action.forward.targetGroups[]`` holds ``{targetGroupIdentifier, weight}``;
3. ``GetTargetGroup`` and ``ListTagsForResource``: the controller tags each target group with the
   Kubernetes service it serves, ``application-networking.k8s.aws/ServiceName`` (``colorapp-red``).

Field names from botocore's ``vpc-lattice`` model (2022-11-30); the tag key from the controller's
source (pkg/model/lattice: ``TagBase + "ServiceName"``, TagBase ``application-networking.k8s.aws/``).
Weights of several target groups of one version (one per exporting cluster) are added up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

SERVICE_NAME_TAG = "application-networking.k8s.aws/ServiceName"

WeightsObserver = Callable[[], "dict[str, int] | None"]
"""Returns the weights the data plane reports now (color -> weight), or ``None`` when it cannot tell."""


class LatticeRules(Protocol):
    """The VPC Lattice calls the observer makes (a boto3 ``vpc-lattice`` client, or a Stubber's)."""

    def list_services(self, **kwargs: Any) -> Mapping[str, Any]: ...
    def list_listeners(self, **kwargs: Any) -> Mapping[str, Any]: ...
    def list_rules(self, **kwargs: Any) -> Mapping[str, Any]: ...
    def get_rule(self, **kwargs: Any) -> Mapping[str, Any]: ...
    def get_target_group(self, **kwargs: Any) -> Mapping[str, Any]: ...
    def list_tags_for_resource(self, **kwargs: Any) -> Mapping[str, Any]: ...


def serves(service: Mapping[str, Any], host: str, name: str | None) -> bool:
    """Whether a ListServices item is the stack's Lattice service for ``host``.

    A custom domain name is unique only within one service network ("Custom domain names must be
    unique per service network": https://docs.aws.amazon.com/vpc-lattice/latest/ug/service-custom-domain-name.html),
    and stacks may share a discovery namespace name, so two stacks in one account can each have a
    service for ``host``. The service's name (``<service>-<stack>``, unique per account and region:
    infra/mesh/lattice/objects.py, lattice_service_name) tells them apart; without it, any service for
    ``host`` is taken.
    """
    return service.get("customDomainName") == host and (name is None or service.get("name") == name)


def _all(call: Callable[..., Mapping[str, Any]], **kwargs: Any) -> list[Mapping[str, Any]]:
    items: list[Mapping[str, Any]] = []
    token: str | None = None
    while True:
        page = call(**kwargs, **({"nextToken": token} if token else {}))
        items += cast("list[Mapping[str, Any]]", page.get("items") or [])
        token = page.get("nextToken")
        if not token:
            return items


@dataclass
class LatticeWeights:
    """Reads the weights of the route serving ``host`` from VPC Lattice; target groups are resolved once."""

    client: LatticeRules
    host: str
    service_prefix: str
    """colorapp's service name and a dash, ``colorapp-``: the version's service is ``colorapp-red``."""
    lattice_service: str | None = None
    """The stack's Lattice service name (:func:`serves`); ``None`` takes any service for ``host``."""

    def __post_init__(self) -> None:
        self._colors: dict[str, str] = {}
        self.groups: dict[str, str] = {}
        """target group id -> version, of the rule read by the last call (verify lists their targets)."""

    def _color_of(self, target_group: str) -> str:
        if target_group not in self._colors:
            group = self.client.get_target_group(targetGroupIdentifier=target_group)
            tags = cast(
                "Mapping[str, str]",
                self.client.list_tags_for_resource(resourceArn=group["arn"]).get("tags") or {},
            )
            service = tags.get(SERVICE_NAME_TAG, str(group.get("name", target_group)))
            self._colors[target_group] = service.removeprefix(self.service_prefix)
        return self._colors[target_group]

    def __call__(self) -> dict[str, int] | None:
        services = [s for s in _all(self.client.list_services) if serves(s, self.host, self.lattice_service)]
        if not services:
            return None
        service = str(services[0]["id"])
        weights: dict[str, int] = {}
        self.groups = {}
        for listener in _all(self.client.list_listeners, serviceIdentifier=service):
            listener_id = str(listener["id"])
            for rule in _all(
                self.client.list_rules, serviceIdentifier=service, listenerIdentifier=listener_id
            ):
                if rule.get("isDefault"):
                    continue  # the controller's default action is a fixed 404, not the route
                detail = self.client.get_rule(
                    serviceIdentifier=service, listenerIdentifier=listener_id, ruleIdentifier=str(rule["id"])
                )
                forward = cast("Mapping[str, Any]", (detail.get("action") or {}).get("forward") or {})
                for group in cast("list[Mapping[str, Any]]", forward.get("targetGroups") or []):
                    color = self._color_of(str(group["targetGroupIdentifier"]))
                    self.groups[str(group["targetGroupIdentifier"])] = color
                    weights[color] = weights.get(color, 0) + int(group.get("weight", 0))
        return weights or None


def same_weights(observed: Mapping[str, int], wanted: Mapping[str, int]) -> bool:
    """Lattice omits a zero-weight target group or keeps it at 0; both are the wanted weights.

    Lattice weights are relative, so they are compared as shares of their sum.
    """
    total_observed = sum(observed.values())
    total_wanted = sum(wanted.values())
    if not total_observed or not total_wanted:
        return False
    colors = set(observed) | set(wanted)
    return all(observed.get(c, 0) * total_wanted == wanted.get(c, 0) * total_observed for c in colors)


@dataclass(frozen=True)
class WaitResult:
    ok: bool
    observed: dict[str, int] | None
    seconds: float


def wait_for_weights(
    observe: WeightsObserver,
    wanted: Mapping[str, int],
    *,
    deadline_s: float,
    interval_s: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitResult:
    """Poll ``observe`` until it reports ``wanted`` or ``deadline_s`` passes."""
    started = clock()
    observed: dict[str, int] | None = None
    while True:
        observed = observe()
        if observed is not None and same_weights(observed, wanted):
            return WaitResult(True, observed, clock() - started)
        if clock() - started >= deadline_s:
            return WaitResult(False, observed, clock() - started)
        sleep(interval_s)
