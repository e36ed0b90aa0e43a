"""checkov and bandit: report parsing everywhere, and the real scanners where they are installed.

The real runs are skipped, with the reason, when checkov or bandit is not installed (``./run scan``
installs both in build/.venv-scan). They take seconds in processes of their own, so they are live
tests (``slow``): CI runs the scan before ``./run tests --live``, so they run there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from automation.recorder import Recording
from automation.scan import bandit, checkov
from automation.scan.run import ALLOWLIST, environments, scan
from automation.scan.terraform_plan import to_plan
from automation.scan.tools import find_tool
from tests.automation.scan.test_terraform_plan import REPOSITORY, reg
from tests.support import PROJECT_DIR

CHECKOV = find_tool("checkov")
BANDIT = find_tool("bandit")


def _needs(tool: object, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Skipped without the tool; a live test (slow) with it."""
    skip = pytest.mark.skipif(tool is None, reason=f"{name} is not installed (./run scan installs it)")
    return lambda test: pytest.mark.slow(skip(test))


needs_checkov = _needs(CHECKOV, "checkov")
needs_bandit = _needs(BANDIT, "bandit")


def test_parse_checkov_report() -> None:
    report = [
        {
            "check_type": "terraform_plan",
            "summary": {"checkov_version": "3.3.30"},
            "results": {
                "passed_checks": [
                    {"check_id": "CKV_AWS_7", "resource": "aws_kms_key.k", "file_path": "/dev/plan.json"}
                ],
                "failed_checks": [
                    {
                        "check_id": "CKV_AWS_338",
                        "check_name": "Ensure CloudWatch log groups retains logs for at least 1 year",
                        "resource": "aws_cloudwatch_log_group.g",
                        "file_path": "/staging/plan.json",
                    }
                ],
            },
        },
        {
            "check_type": "kubernetes",
            "summary": {"checkov_version": "3.3.30"},
            "results": {"failed_checks": []},
        },
    ]
    result = checkov.parse_report(json.dumps(report))
    assert result.version == "3.3.30"
    assert result.passed[("dev", "terraform_plan")] == 1
    assert result.failed[("staging", "terraform_plan")] == 1
    [finding] = result.findings
    assert (finding.check, finding.object, finding.environment) == (
        "CKV_AWS_338",
        "aws_cloudwatch_log_group.g",
        "staging",
    )


def test_parse_bandit_report_keeps_the_flagged_line() -> None:
    report = {
        "errors": [],
        "metrics": {"_totals": {"loc": 10, "nosec": 1}, "a.py": {}},
        "results": [
            {
                "test_id": "B104",
                "issue_text": "Possible binding to all interfaces.",
                "issue_severity": "MEDIUM",
                "issue_confidence": "MEDIUM",
                "filename": "workloads/runtime/common/config.py",
                "line_number": 129,
                "code": '128     return ServerSettings(\n129         host=env_str(env, "HOST", "0.0.0.0"),\n',
            }
        ],
    }
    result = bandit.parse_report(json.dumps(report), PROJECT_DIR)
    assert (result.files, result.lines, result.nosec) == (1, 10, 1)
    [finding] = result.findings
    assert finding.object == "workloads/runtime/common/config.py"
    assert finding.line.strip() == 'host=env_str(env, "HOST", "0.0.0.0"),'


def test_a_nosec_needs_a_test_id_and_a_reason(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(
        "import subprocess  # nosec B404 - runs the scanners only, with fixed arguments\n"
        "x = 1  # nosec\n"
        'y = "# nosec in a string is not a comment"\n'
    )
    found = bandit.unexplained_nosec(tmp_path, ["pkg"])
    assert [(f.location, f.check) for f in found] == [("pkg/a.py:2", "nosec")]


@needs_checkov
def test_checkov_fails_a_bad_resource_through_the_converter(tmp_path: Path) -> None:
    # Proof that the converted plan reaches checkov's AWS checks: a mutable, unscanned repository fails.
    mutable = reg(
        "aws:ecr/repository:Repository",
        "images-bad",
        {"name": "bad", "imageTagMutability": "MUTABLE", "imageScanningConfiguration": {"scanOnPush": False}},
    )
    (tmp_path / "dev").mkdir()
    plan = to_plan(Recording("crossmesh", "dev", [REPOSITORY, mutable])).to_json()
    (tmp_path / "dev" / "plan.json").write_text(json.dumps(plan))
    result = checkov.scan(tmp_path, frameworks=["terraform_plan"])
    failed = {(f.check, f.object) for f in result.findings}
    assert ("CKV_AWS_51", "aws_ecr_repository.images-bad") in failed  # tags must be immutable
    assert ("CKV_AWS_163", "aws_ecr_repository.images-bad") in failed  # scan on push
    assert not {o for _, o in failed} & {"aws_ecr_repository.images-front"}


@needs_checkov
def test_checkov_over_the_dev_render_is_clean_with_the_allow_list(tmp_path: Path) -> None:
    report = scan(["dev"], ["checkov"], out=tmp_path)
    assert report.unmapped == {"dev": []}
    assert report.checkov is not None
    assert report.checkov.passed[("dev", "kubernetes")] > 100
    assert report.checkov.passed[("dev", "terraform_plan")] > 100
    assert report.outcome.failures == [], [str(f) for f in report.outcome.failures]
    assert report.outcome.unused == []
    assert {(f.check, f.object) for f, _ in report.outcome.accepted} == {
        ("CKV_AWS_338", "aws_cloudwatch_log_group.network-flow-logs"),
        ("CKV_AWS_338", "aws_cloudwatch_log_group.eksc1-control-plane"),
        ("CKV_AWS_338", "aws_cloudwatch_log_group.eksc2-control-plane"),
        ("CKV_AWS_338", "aws_cloudwatch_log_group.mesh-access-logs"),
    }
    assert report.ok


@needs_bandit
def test_bandit_findings_in_policy_and_scan_code_are_none() -> None:
    result = bandit.scan(PROJECT_DIR, ["policy", "automation/scan", "automation/guardrails.py"])
    assert result.findings == [], [str(f) for f in result.findings]


def test_allow_list_environments_exist() -> None:
    assert ALLOWLIST.is_file()
    assert environments() == ["dev", "staging", "prod", "appmesh"]
