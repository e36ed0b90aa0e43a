"""Documentation values (example CIDRs and accounts): render lists them as values to replace; deploy
and preview refuse them with exit 2, naming the key, before credentials or any other check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from automation.cli import app
from automation.placeholders import documentation_values
from automation.session import Dependencies
from tests.support import render_written, stack_document

runner = CliRunner()


def test_staging_and_prod_hold_documentation_values_dev_does_not() -> None:
    staging = [(v.key, v.value) for v in documentation_values(stack_document("staging")["config"])]
    assert ("crossmesh:clusters[0].endpoint.publicAccessCidrs[0]", "203.0.113.0/24") in staging
    prod = [(v.key, v.why) for v in documentation_values(stack_document("prod")["config"])]
    assert ("crossmesh:clusters[0].adminPrincipalArns[0]", "the example account 111122223333") in prod
    assert documentation_values(stack_document("appmesh")["config"]) == []
    assert documentation_values(stack_document("dev")["config"]) == []


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("192.0.2.7", True),
        ("198.51.100.0/25", True),
        ("203.0.113.0/24", True),
        ("203.0.112.0/23", False),  # wider than the documentation range: a real block
        ("10.0.0.0/8", False),
        ("arn:aws:iam::123456789012:role/x", True),
        ("arn:aws:iam::210987654321:role/x", False),
    ],
)
def test_what_counts_as_a_documentation_value(value: str, found: bool) -> None:
    assert bool(documentation_values({"crossmesh:x": [value]})) is found


def test_render_lists_values_to_replace_in_summary_report_and_json(tmp_path: Path) -> None:
    result = render_written("staging", tmp_path)
    assert result.ok
    keys = [v.key for v in result.to_replace]
    assert "crossmesh:clusters[1].endpoint.publicAccessCidrs[0]" in keys
    report = (tmp_path / "report.md").read_text()
    assert "## Values to replace before deploying" in report
    assert "- `crossmesh:clusters[0].endpoint.publicAccessCidrs[0]`: `203.0.113.0/24`" in report
    outcome = runner.invoke(app, ["render", "prod", "--out", str(tmp_path / "cli"), "--json"])
    assert outcome.exit_code == 0, outcome.output
    payload: dict[str, Any] = json.loads(outcome.stdout.strip().splitlines()[-1])
    assert {"key": "crossmesh:clusters[0].adminPrincipalArns[0]"}.items() <= payload["to_replace"][0].items()
    assert "replace before deploying" in outcome.output


@pytest.mark.parametrize(
    ("command", "env", "key"),
    [
        (["deploy", "--yes"], "staging", "crossmesh:clusters[0].endpoint.publicAccessCidrs[0]"),
        (["preview"], "prod", "crossmesh:clusters[0].adminPrincipalArns[0]"),
    ],
)
def test_deploy_and_preview_refuse_before_credentials(command: list[str], env: str, key: str) -> None:
    called: list[str] = []

    def no_credentials(region: str) -> Any:
        called.append(region)
        raise AssertionError("credentials were looked at before the configuration was refused")

    def no_stack(request: Any) -> Any:
        called.append("stack")
        raise AssertionError("the stack was opened before the configuration was refused")

    deps = Dependencies(
        preflight_clients=no_credentials, stack_factory=no_stack, is_interactive=lambda: False
    )
    outcome = runner.invoke(app, [command[0], env, *command[1:]], obj=deps)
    assert outcome.exit_code == 2, outcome.output
    flat = " ".join(outcome.output.split())
    assert key in flat
    assert "a placeholder from the documentation" in flat
    assert called == []
