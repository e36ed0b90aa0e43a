"""The automation half of each mesh backend: its AWS-side verification checks and the availability
check the deploy preflight runs, in ``automation/verify/backends/<kind>.py``.

The infrastructure half lives in ``infra/mesh/<kind>/``, below automation in the import graph, so
these modules cannot sit in that folder; they are found by the backend kind's value instead, so
adding a backend adds a module here and nothing else in automation changes.
"""

from __future__ import annotations

import importlib
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, cast

from infra.config import MeshBackendKind

if TYPE_CHECKING:
    from collections.abc import Mapping

    from automation.verify.clients import AwsClients
    from automation.verify.kube import ReadyPods
    from automation.verify.model import CheckResult, VerifyPlan
    from automation.verify.poll import PollSettings
    from infra.config import StackConfig


class BackendChecks(Protocol):
    """What verification and the preflight ask of a backend."""

    @property
    def sidecars(self) -> bool:
        """App pods carry the mesh's sidecar containers (checked by the Kubernetes checks)."""
        ...

    def plan_problems(self, plan: VerifyPlan) -> list[str]:
        """Why ``plan`` lacks what this backend's checks need (empty when it is usable)."""
        ...

    def aws_checks(
        self, plan: VerifyPlan, clients: AwsClients, settings: PollSettings, ready_pods: ReadyPods
    ) -> list[CheckResult]:
        """The backend's AWS objects, checked in dependency order, sharing ``settings``' deadline.

        ``ready_pods(version)`` counts that version's Ready pods in its cluster when called, for a
        backend whose AWS side registers pods one by one (Lattice's targets) to compare against."""
        ...

    def check_available(self, clients: Any, *, env: str, region: str, today: date | None = None) -> bool:
        """Raise ``CrossmeshError`` (exit 6) when the backend's AWS service cannot be used; ``False``
        when there was no client to check with.

        ``clients`` is the preflight's client set (``automation.preflight.PreflightClients``)."""
        ...

    def check_for_deploy(self, clients: Any, *, region: str) -> None:
        """Raise ``CrossmeshError`` when this account or region cannot take what the backend would make;
        deploy and preview only (``clients`` as for :meth:`check_available`)."""
        ...

    @property
    def traffic_shift(self) -> bool:
        """``shift`` can move weights step by step with a targeted update of the routing objects and
        read the applied weights back from AWS (automation/shift/observe.py)."""
        ...

    @property
    def discovers_by_namespace_name(self) -> bool:
        """The data plane finds instances by Cloud Map namespace *name*, so a second namespace of
        the same name in the account (another stack's) would be ambiguous and is refused."""
        ...

    def existing_names(self, config: StackConfig, clients: Any) -> list[tuple[str, str, Mapping[str, str]]]:
        """(kind, name, tags) of the backend's own account-unique physical names that exist already;
        the preflight refuses those another stack owns. ``clients`` as for :meth:`check_available`."""
        ...


KINDS = tuple(kind.value for kind in MeshBackendKind)


def checks_of(plan: VerifyPlan) -> BackendChecks:
    """The checks of ``plan``'s backend; ``ValueError`` when the plan lacks what they need (the plan
    itself has checked what every backend needs when it was made)."""
    checks = checks_for(plan.backend)
    if checks is None:  # VerifyPlan refuses unknown backends; this keeps the type checker honest
        raise ValueError(f"unknown mesh backend {plan.backend!r}")
    problems = checks.plan_problems(plan)
    if problems:
        raise ValueError("invalid VerifyPlan: " + "; ".join(problems))
    return checks


def checks_for(backend: str) -> BackendChecks | None:
    """The checks of backend ``backend`` (a ``MeshBackendKind`` value), or None for an unknown one."""
    if backend not in KINDS:
        return None
    module = importlib.import_module(f"{__name__}.{backend}")
    return cast("BackendChecks", module.CHECKS)
