"""`--help` is instant (no heavy imports) and docs/cli.md documents every command, option and exit code."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer
from typer.core import TyperGroup, TyperOption
from typer.testing import CliRunner

from automation.cli import app
from automation.exit_codes import ExitCode
from tests.support import PROJECT_DIR

COMMANDS = ("render", "deploy", "preview", "destroy", "refresh", "outputs", "verify")
DOCS = PROJECT_DIR / "docs" / "cli.md"


def _clean_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(PROJECT_DIR),
        "HOME": "/nonexistent",
    }


def test_help_lists_every_command() -> None:
    # Speed is the import test's business below (no heavy SDK on this path); a wall-clock bound
    # here only measured how busy the machine was. bench/ holds the timings.
    done = subprocess.run(
        [sys.executable, "-m", "automation", "--help"],
        cwd=PROJECT_DIR,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for command in COMMANDS:
        assert command in done.stdout


def test_the_cli_module_imports_no_heavy_sdk() -> None:
    probe = (
        "import sys, automation.cli\n"
        "heavy = ('pulumi', 'boto3', 'botocore', 'kubernetes', 'grpc', 'rich', 'pydantic', 'httpcore', 'infra')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_DIR,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    outcome = CliRunner().invoke(app, [command, "--help"])
    assert outcome.exit_code == 0
    assert "ENV" in outcome.stdout


def _options() -> dict[str, list[str]]:
    # typer 0.29 vendors its own click: use typer's classes, not the click package's.
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    found: dict[str, list[str]] = {}
    for name, command in group.commands.items():
        found[name] = [
            opt
            for param in command.params
            if isinstance(param, TyperOption)
            for opt in param.opts
            if opt != "--help"
        ]
    assert found["deploy"], "no options found: the introspection is broken"
    return found


def test_docs_list_every_command_and_option() -> None:
    text = DOCS.read_text(encoding="utf-8")
    options = _options()
    assert sorted(options) == sorted(COMMANDS)
    for command, opts in options.items():
        assert f"`{command} ENV`" in text, command
        for opt in opts:
            assert f"`{opt}" in text or f", `{opt}`" in text, (
                f"{command} {opt} is not documented in docs/cli.md"
            )


def test_docs_list_every_exit_code() -> None:
    rows = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in DOCS.read_text(encoding="utf-8").splitlines()
        if line.startswith("| ") and line.split("|")[1].strip().isdigit()
    }
    assert rows == {str(int(code)): code.name for code in ExitCode}
