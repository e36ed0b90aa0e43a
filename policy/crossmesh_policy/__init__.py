"""crossmesh guardrails: the rules, as plain Python over a resource view.

The same :data:`RULES` run in three places: the offline render (over the recorded resource graph,
``automation/guardrails.py``), the CrossGuard pack at ``pulumi preview``/``up`` (``pack.py``, built by
``policy/__main__.py``), and the unit tests (each rule's ``validate`` on good and bad resources).

Only the standard library is imported here, so the pack's own virtualenv needs nothing but
pulumi-policy, and the project imports the rules without it.
"""

from __future__ import annotations

from . import eks, iam, kubernetes, network, storage
from .evaluate import PolicyReport, Result, Status, evaluate
from .model import DEFAULT_APP_PORT, Level, Resource, Rule, Settings, Violation

PACK_NAME = "crossmesh-guardrails"

RULES: tuple[Rule, ...] = (*eks.RULES, *iam.RULES, *storage.RULES, *network.RULES, *kubernetes.RULES)
"""Every rule, in the order the render report lists them."""

BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
if len(BY_ID) != len(RULES):
    raise RuntimeError("two guardrail rules share an id")

ADVISORY_IDS = tuple(rule.id for rule in RULES if rule.level is Level.ADVISORY)

__all__ = [
    "ADVISORY_IDS",
    "BY_ID",
    "DEFAULT_APP_PORT",
    "PACK_NAME",
    "RULES",
    "Level",
    "PolicyReport",
    "Resource",
    "Result",
    "Rule",
    "Settings",
    "Status",
    "Violation",
    "evaluate",
]
