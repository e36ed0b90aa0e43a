"""Post-deploy verification for crossmesh: App Mesh, Cloud Map, Kubernetes pods and HTTP through front.

Public API (what the CLI calls):

* :class:`VerifyPlan` - what to verify; :class:`VerifyReport` - the outcome (``to_json()``).
* :class:`HttpCheckSettings` - how the HTTP check through front runs and is judged.
* :func:`run_verification` - everything, with injected clients; :func:`verify_plan` builds the
  clients from the plan itself; :func:`run_http_only` - the ``--front-url`` mode.
* :func:`render_report` - rich tables for the terminal.
* :func:`make_aws_clients` / :func:`make_kube_clients` - client factories.

The names are loaded on first use (PEP 562): ``verify --front-url`` needs the HTTP check only, and
importing this package must not drag boto3 and the Kubernetes client in with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automation.verify.clients import AwsClients, make_aws_clients, make_kube_client, make_kube_clients
    from automation.verify.httpcheck import check_http, check_http_async, run_http_only
    from automation.verify.model import CheckResult, HttpStats, VerifyPlan, VerifyReport
    from automation.verify.poll import PollResult, poll_until
    from automation.verify.render import render_report, report_renderable
    from automation.verify.runner import run_verification, verify_plan
    from automation.verify.settings import HttpCheckSettings
    from automation.verify.stats import binom_test_two_sided

_WHERE = {
    "AwsClients": "clients",
    "make_aws_clients": "clients",
    "make_kube_client": "clients",
    "make_kube_clients": "clients",
    "check_http": "httpcheck",
    "check_http_async": "httpcheck",
    "run_http_only": "httpcheck",
    "CheckResult": "model",
    "HttpStats": "model",
    "VerifyPlan": "model",
    "VerifyReport": "model",
    "PollResult": "poll",
    "poll_until": "poll",
    "render_report": "render",
    "report_renderable": "render",
    "run_verification": "runner",
    "verify_plan": "runner",
    "HttpCheckSettings": "settings",
    "binom_test_two_sided": "stats",
}

__all__ = [
    "AwsClients",
    "CheckResult",
    "HttpCheckSettings",
    "HttpStats",
    "PollResult",
    "VerifyPlan",
    "VerifyReport",
    "binom_test_two_sided",
    "check_http",
    "check_http_async",
    "make_aws_clients",
    "make_kube_client",
    "make_kube_clients",
    "poll_until",
    "render_report",
    "report_renderable",
    "run_http_only",
    "run_verification",
    "verify_plan",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
