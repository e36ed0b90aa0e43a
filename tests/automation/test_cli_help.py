"""`--help` is instant (no heavy imports) and docs/cli.md documents every command, option and exit code."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import pytest
import typer
from typer.core import TyperGroup, TyperOption
from typer.testing import CliRunner

from automation.cli import app
from automation.exit_codes import ExitCode
from tests.support import PROJECT_DIR

COMMANDS = ("render", "deploy", "preview", "destroy", "refresh", "outputs", "verify", "shift")
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


def _failure_kinds() -> dict[str, set[str]]:
    """Every ``kind`` a failure of the CLI can carry, read from the source: ``Failure(code, kind, ...)``,
    the helpers that pass a ``kind`` parameter on to ``Failure``, and the verification error document;
    kind -> the names of the exit codes it is raised with (empty when the code is a variable)."""
    trees = [
        ast.parse(path.read_text(encoding="utf-8")) for path in (PROJECT_DIR / "automation").rglob("*.py")
    ]
    helpers = {
        node.name: [arg.arg for arg in node.args.args]
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and "kind" in [arg.arg for arg in node.args.args]
        and any(isinstance(c, ast.Call) and ast.unparse(c.func) == "Failure" for c in ast.walk(node))
    }
    fixed_code = {"_credentials_failure": "AWS_CREDENTIALS"}  # its code is not a parameter
    assert {"Failure", *helpers} >= {"_fail", "_credentials_failure", "failure"}, helpers
    kinds: dict[str, set[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                keys = [k.value if isinstance(k, ast.Constant) else None for k in node.keys]
                value = node.values[keys.index("kind")] if {"kind", "exit_code"} <= set(keys) else None
                if isinstance(value, ast.Constant):
                    kinds.setdefault(str(value.value), set())
                continue
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            params = ["code", "kind"] if name == "Failure" else helpers.get(name)
            if params is None:
                continue
            given = dict(zip(params, node.args, strict=False)) | {
                k.arg: k.value for k in node.keywords if k.arg
            }
            kind, code = given.get("kind"), given.get("code")
            code_name = fixed_code.get(name) or (
                code.attr
                if isinstance(code, ast.Attribute) and ast.unparse(code.value) == "ExitCode"
                else None
            )
            choices = [kind.body, kind.orelse] if isinstance(kind, ast.IfExp) else [kind]
            for choice in choices:
                if isinstance(choice, ast.Constant):
                    kinds.setdefault(str(choice.value), set()).update([code_name] if code_name else [])
                else:  # only the helpers themselves pass a kind they were given
                    assert isinstance(choice, ast.Name), ast.unparse(node)
                    assert choice.id == "kind", ast.unparse(node)
    return kinds


def _documented_kinds() -> dict[str, str]:
    """The error kinds docs/cli.md lists, each with the exit code of its row."""
    text = DOCS.read_text(encoding="utf-8")
    table = text[text.index("| `kind` | exit |") :].split("\n\n", 1)[0]
    documented: dict[str, str] = {}
    for row in table.splitlines()[2:]:
        kinds, code = (cell.strip() for cell in row.strip("|").split("|"))
        for kind in re.findall(r"^`([a-z_]+)`|, `([a-z_]+)`", kinds):
            documented[kind[0] or kind[1]] = ExitCode(int(code)).name
    return documented


def test_docs_list_every_error_kind_with_its_exit_code() -> None:
    found, documented = _failure_kinds(), _documented_kinds()
    assert {"aws_wrong_account", "verify_failed"} <= set(found), "the source scan is broken"
    assert sorted(set(found) - set(documented)) == [], "error kinds the code raises but docs/cli.md omits"
    assert sorted(set(documented) - set(found)) == [], (
        "error kinds docs/cli.md lists but the code never raises"
    )
    wrong = {
        kind: (documented[kind], codes)
        for kind, codes in found.items()
        if codes and documented[kind] not in codes
    }
    assert wrong == {}, "error kinds listed under another exit code than the code raises them with"


def test_docs_name_every_environment_variable_of_ours_the_code_reads() -> None:
    names = {
        node.value
        for path in (PROJECT_DIR / "automation").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if re.fullmatch(r"CROSSMESH_[A-Z_]+", node.value)
    }
    assert "CROSSMESH_CACHE_DIR" in names, "the source scan is broken"
    pages = "".join(p.read_text(encoding="utf-8") for p in (PROJECT_DIR / "docs").glob("*.md"))
    assert sorted(n for n in names if f"`{n}`" not in pages and f"`${n}`" not in pages) == []


def test_docs_list_every_stack_output_the_program_exports() -> None:
    program = ast.parse((PROJECT_DIR / "__main__.py").read_text(encoding="utf-8"))
    exported = {
        node.args[0].value
        for node in ast.walk(program)
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) == "pulumi.export"
        and isinstance(node.args[0], ast.Constant)
    }
    assert {"frontUrl", "clusters"} <= exported, "the program scan is broken"
    row = next(
        line for line in DOCS.read_text(encoding="utf-8").splitlines() if line.startswith("| `outputs ENV`")
    )
    assert set(re.findall(r"`([a-zA-Z]+)`", row.split("|")[2])) == exported
