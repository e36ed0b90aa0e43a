"""Post-deploy verification for crossmesh: App Mesh, Cloud Map, Kubernetes pods and HTTP through front.

Public API (what the CLI calls):

* :class:`VerifyPlan` - what to verify; :class:`VerifyReport` - the outcome (``to_json()``).
* :func:`run_verification` - everything, with injected clients; :func:`verify_plan` builds the
  clients from the plan itself; :func:`run_http_only` - the ``--front-url`` mode.
* :func:`render_report` - rich tables for the terminal.
* :func:`make_aws_clients` / :func:`make_kube_clients` - client factories.
"""

from automation.verify.clients import AwsClients, make_aws_clients, make_kube_client, make_kube_clients
from automation.verify.httpcheck import check_http, check_http_async
from automation.verify.model import CheckResult, HttpStats, VerifyPlan, VerifyReport
from automation.verify.poll import PollResult, poll_until
from automation.verify.render import render_report, report_renderable
from automation.verify.runner import run_http_only, run_verification, verify_plan
from automation.verify.stats import binom_test_two_sided

__all__ = [
    "AwsClients",
    "CheckResult",
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
