"""Data shapes for post-deploy verification: the plan (what to check) and the report (what was found).

The report serialises to exactly::

    {"ok": bool,
     "checks": [{"name": str, "ok": bool, "detail": str}, ...],
     "http": {"requests": int, "errors": int, "p50_ms": float | None, "p99_ms": float | None,
              "shares": {"blue": 0.5, "red": 0.5}} | None}

``http`` is ``None`` when no HTTP check ran; ``p50_ms``/``p99_ms`` are ``None`` when not a single
request succeeded (there is no latency to report then).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from infra.config import MeshBackendKind

# The App Mesh controller's readiness gate: True once the pod is registered in Cloud Map.
CLOUDMAP_READINESS_GATE = "conditions.appmesh.k8s.aws/aws-cloudmap-healthy"


class VersionPods(NamedTuple):
    """Where one version's pods run: the cluster, and the label selector matching only them."""

    cluster: str
    selector: str
    """e.g. ``app=colorapp,version=blue``."""


@dataclass(frozen=True)
class VerifyPlan:
    """Everything verification needs to know about one deployed environment.

    Every AWS name is explicit because crossmesh sets ``awsName`` on its App Mesh custom resources,
    so the controller's ``<name>_<namespace>`` default does not apply.
    """

    region: str
    mesh_name: str
    cloudmap_namespace: str
    service_name: str
    k8s_namespace: str
    weights: Mapping[str, int]
    """color -> route weight (non-negative integers, at least one positive)."""
    virtual_node_names: Mapping[str, str]
    """color -> AWS virtual node name; must have the same colors as ``weights``."""
    router_name: str
    route_name: str
    virtual_service_name: str
    tracing: bool
    front_url: str | None
    pod_selectors: Mapping[str, Sequence[str]]
    """cluster name -> label selectors whose pods must be meshed and Ready."""
    # Kubeconfigs can carry bearer tokens or client keys: keep them out of reprs and logs.
    kubeconfigs: Mapping[str, str] = field(repr=False)
    """cluster name -> kubeconfig as a JSON (or YAML) string."""
    front_node_name: str | None = None
    """AWS name of front's virtual node; when set, it must be ACTIVE with the virtual service as backend."""
    backend: str = "appmesh"
    """The mesh backend's kind (``MeshBackendKind`` value): picks its checks in
    ``automation/verify/backends/<backend>.py``."""
    service_network: str | None = None
    """The VPC Lattice service network (lattice backend)."""
    invoker_role: str | None = None
    """IAM role name the Lattice auth policies must name as their only principal (lattice with IAM auth)."""
    version_pods: Mapping[str, VersionPods] = field(default_factory=dict[str, VersionPods])
    """color -> where that version's pods run (lattice: its HEALTHY targets must be as many as its
    Ready pods)."""
    vpc_id: str | None = None
    """The stack's VPC (output ``vpcId``); lattice: the service network association to judge. Without
    it every VPC association of the service network is judged."""
    lattice_service: str | None = None
    """The name of the Lattice service front calls through (lattice): another stack's service may have
    the same custom domain, never the same name. Without it, any service for the host is judged."""

    def __post_init__(self) -> None:
        problems = plan_problems(self)
        if problems:
            raise ValueError("invalid VerifyPlan: " + "; ".join(problems))


def plan_problems(plan: VerifyPlan) -> list[str]:
    """Return human-readable reasons why ``plan`` cannot be verified whatever its backend (empty when it
    is usable); what a backend's own checks need is :func:`automation.verify.backends.checks_of`."""
    problems: list[str] = []
    problems.extend(weights_problems(plan.weights))
    kinds = [kind.value for kind in MeshBackendKind]
    if plan.backend not in kinds:
        problems.append(f"backend {plan.backend!r} is not one of {', '.join(kinds)}")
    clusters = set(plan.pod_selectors) | {where.cluster for where in plan.version_pods.values()}
    missing_kube = sorted(clusters - set(plan.kubeconfigs))
    if missing_kube:
        problems.append(f"no kubeconfig for clusters {missing_kube}")
    return problems


def weights_problems(weights: Mapping[str, object]) -> list[str]:
    """Validate a color -> weight mapping; returns the reasons it is unusable.

    Typed as ``object`` values on purpose: weights arrive from YAML/JSON config and are checked here.
    """
    problems: list[str] = []
    if not weights:
        problems.append("weights are empty")
    positive = 0
    for color, weight in weights.items():
        # bool is an int subclass; True as a weight is almost certainly a config mistake.
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            problems.append(f"weight for {color!r} must be a non-negative int, got {weight!r}")
        elif weight > 0:
            positive += 1
    if weights and not problems and positive == 0:
        problems.append("at least one weight must be positive")
    return problems


@dataclass(frozen=True)
class CheckResult:
    """One named verification step and its verdict; ``detail`` says what was seen either way."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: ``{"name", "ok", "detail"}``."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class HttpStats:
    """Aggregate numbers from the HTTP burst against front's ``/color``."""

    requests: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    shares: Mapping[str, float]
    """color -> fraction of successful answers (configured colors always present, unknown ones added)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: ``{"requests", "errors", "p50_ms", "p99_ms", "shares"}``."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "shares": dict(self.shares),
        }


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a verification run; ``ok`` is True only when every check passed."""

    checks: tuple[CheckResult, ...]
    http: HttpStats | None = None

    @property
    def ok(self) -> bool:
        """All checks passed (and there was at least one: an empty run proves nothing)."""
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        """The checks that did not pass, in run order."""
        return tuple(check for check in self.checks if not check.ok)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, exactly ``{"ok", "checks", "http"}``."""
        return {
            "ok": self.ok,
            "checks": [check.to_dict() for check in self.checks],
            "http": None if self.http is None else self.http.to_dict(),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """``to_dict()`` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)
