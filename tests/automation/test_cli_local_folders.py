"""The folders a command writes on this machine (its event log, the guardrails' policy config, a
shift's state and lock) are checked before anything reaches AWS or Pulumi (docs/cli.md, step 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import automation.cli as cli
from automation.exit_codes import ExitCode
from automation.preflight import PreflightClients
from automation.session import Dependencies
from tests.support import PROJECT_DIR


def _no_aws(region: str) -> PreflightClients:
    raise AssertionError(f"AWS was reached ({region}) though the run could not write its folders")


@pytest.fixture
def read_only_build(tmp_path: Path) -> Path:
    """A project whose ``build`` is a file, so nothing under it can be made: what a checkout this user
    may not write (a read-only mount, another user's clone) gives, as ENOTDIR instead of EACCES."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(PROJECT_DIR / name, project / name)
    (project / "build").write_text("not a folder\n")
    return project


@pytest.mark.parametrize(
    ("command", "folder"),
    [
        (["deploy", "dev", "--yes", "--skip-verify"], "build/logs"),
        (["deploy", "dev", "--yes", "--skip-verify"], "build/guardrails"),
        (["preview", "dev"], "build/guardrails"),
        (["destroy", "dev", "--yes"], "build/logs"),
        (["refresh", "dev", "--yes"], "build/logs"),
        (["shift", "dev", "--to", "red=100", "--yes"], "build/logs"),
        (["shift", "dev", "--to", "red=100", "--yes"], "build/shift"),
    ],
    ids=["deploy-logs", "deploy-guardrails", "preview", "destroy", "refresh", "shift-logs", "shift-state"],
)
def test_a_folder_the_run_cannot_write_is_refused_before_aws(
    read_only_build: Path, tmp_path: Path, command: list[str], folder: str
) -> None:
    # Before: the run checked the credentials and the account, then failed making the folder with
    # NotADirectoryError (PermissionError on a read-only checkout): a traceback, exit 1, no JSON.
    # The event log's folder is checked first; elsewhere it lets the check reach the next folder.
    deps = Dependencies(
        project_dir=read_only_build,
        log_dir=read_only_build / folder if folder == "build/logs" else tmp_path / "logs",
        preflight_clients=_no_aws,
        is_interactive=lambda: False,
    )
    outcome = CliRunner().invoke(cli.app, [*command, "--json"], obj=deps)
    assert outcome.exit_code == ExitCode.BAD_INPUT, outcome.output
    error = json.loads(outcome.stdout)["error"]
    assert error["kind"] == "bad_input"
    assert str(read_only_build / folder) in error["message"]
    assert "Not a directory" in error["message"]
    assert "Nothing was called or changed" in error["hint"]
