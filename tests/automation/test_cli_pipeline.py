"""The GitHub Actions example deploys through the CLI the way docs/pipeline.md says it does."""

from __future__ import annotations

from typing import Any

import yaml

from tests.support import PROJECT_DIR

WORKFLOW = PROJECT_DIR / ".github" / "workflows" / "deploy.yml"


def workflow() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def deploy_job() -> dict[str, Any]:
    # jobs: tests -> preview -> deploy (the deploy waits for both)
    return workflow()["jobs"]["deploy"]


def steps() -> list[dict[str, Any]]:
    return deploy_job()["steps"]


def step_using(action: str) -> dict[str, Any]:
    found = [s for s in steps() if str(s.get("uses", "")).startswith(f"{action}@")]
    assert len(found) == 1, f"expected one step using {action}"
    return found[0]


def test_oidc_role_and_no_stored_aws_keys() -> None:
    assert deploy_job()["permissions"]["id-token"] == "write"
    aws = step_using("aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"] == "${{ secrets.AWS_DEPLOY_ROLE_ARN }}"
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "AWS_ACCESS_KEY_ID" not in text
    assert "AWS_SECRET_ACCESS_KEY" not in text


def test_backend_and_passphrase_come_from_secrets() -> None:
    job = deploy_job()
    assert job["env"]["PULUMI_BACKEND_URL"] == "${{ secrets.PULUMI_BACKEND_URL }}"
    assert job["env"]["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"


def test_tools_are_installed_before_the_deploy_which_writes_the_report() -> None:
    names = [s.get("uses", s.get("run", "")) for s in steps()]
    pulumi = next(i for i, s in enumerate(names) if "get.pulumi.com" in s)
    aws_cli = next(i for i, s in enumerate(names) if "awscli-exe-linux" in s)
    credentials = next(
        i for i, s in enumerate(names) if s.startswith("aws-actions/configure-aws-credentials@")
    )
    deploy = next(i for i, s in enumerate(names) if "python -m automation deploy" in s)
    assert max(pulumi, aws_cli, credentials) < deploy
    assert names[deploy] == 'python -m automation deploy "$STACK" --yes --json > verify-report.json'
    job = deploy_job()
    assert job["env"]["STACK"] == "${{ inputs.environment || 'dev' }}"


def test_the_report_is_uploaded_even_when_the_deploy_failed() -> None:
    upload = step_using("actions/upload-artifact")
    assert upload["if"] == "always()"
    assert "verify-report.json" in upload["with"]["path"]


def test_runs_for_one_environment_queue_instead_of_cancelling() -> None:
    concurrency = workflow()["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    assert "inputs.environment" in concurrency["group"]
