"""The command line's output contract: one JSON document per --json run, failures included; Ctrl-C
during a render; --version; shell completion; `./run --help`."""

from __future__ import annotations

import importlib.abc
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import automation.cli as cli
from automation.exit_codes import ExitCode
from automation.session import Dependencies
from tests.support import PROJECT_DIR

# Every command, run against an environment that does not exist: each must still answer in JSON.
COMMANDS = [
    ["render", "qa"],
    ["deploy", "qa", "--yes"],
    ["preview", "qa"],
    ["destroy", "qa", "--yes"],
    ["refresh", "qa", "--yes"],
    ["outputs", "qa"],
    ["verify", "qa"],
    ["verify", "qa", "--front-url", "http://127.0.0.1:9"],
]


def _clean_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(PROJECT_DIR),
        "HOME": str(home),
    }


def _one_document(stdout: str) -> dict[str, object]:
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, f"--json must print exactly one line on stdout, got {stdout!r}"
    return json.loads(lines[0])


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:1] + c[2:]))
def test_every_command_fails_with_exactly_one_json_document(command: list[str], tmp_path: Path) -> None:
    outcome = CliRunner().invoke(cli.app, [*command, "--json"], obj=Dependencies(log_dir=tmp_path))
    assert outcome.exit_code == ExitCode.BAD_INPUT
    document = _one_document(outcome.stdout)
    assert document["ok"] is False
    assert (document["env"], document["operation"], document["exit_code"]) == ("qa", command[0], 2)
    error = document["error"]
    assert isinstance(error, dict)
    assert error["kind"] == "bad_input"
    assert "unknown environment 'qa'" in str(error["message"])
    assert "unknown environment 'qa'" in outcome.stderr  # the same, for people


# Command lines that do not parse: the parser refuses them before any command runs.
USAGE_ERRORS = [
    (["render", "dev", "--bogus"], "dev", "render", "No such option: --bogus"),
    (["deploy", "dev", "--parallel", "-3"], "dev", "deploy", "Invalid value for '--parallel'"),
    (["verify", "dev", "--front-url", "http://x", "--requests", "0"], "dev", "verify", "'--requests'"),
    (["render"], None, "render", "Missing argument"),
    # an option's value is not the environment (it was reported as env "outdir")
    (["render", "--out", "outdir"], None, "render", "Missing argument"),
    (["render", "--out", "outdir", "dev", "--bogus"], "dev", "render", "No such option: --bogus"),
    (["nosuchcommand"], None, "nosuchcommand", "No such command 'nosuchcommand'"),
]


@pytest.mark.parametrize(("argv", "env", "operation", "message"), USAGE_ERRORS, ids=str)
def test_a_usage_error_with_json_is_one_json_document_and_exit_2(
    argv: list[str], env: str | None, operation: str, message: str, tmp_path: Path
) -> None:
    outcome = CliRunner().invoke(cli.app, [*argv, "--json"], obj=Dependencies(log_dir=tmp_path))
    assert outcome.exit_code == ExitCode.BAD_INPUT
    document = _one_document(outcome.stdout)
    assert (document["ok"], document["env"], document["operation"]) == (False, env, operation)
    error = document["error"]
    assert isinstance(error, dict)
    assert error["kind"] == "bad_input"
    assert message in str(error["message"])
    assert message in outcome.stderr  # click's own message, for people


def test_a_usage_error_without_json_prints_no_document(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(cli.app, ["render", "dev", "--bogus"], obj=Dependencies(log_dir=tmp_path))
    assert outcome.exit_code == ExitCode.BAD_INPUT
    assert outcome.stdout == ""
    assert "No such option: --bogus" in outcome.stderr


def test_render_json_on_bad_configuration_names_the_key(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.dev.yaml").write_text(
        (PROJECT_DIR / "Pulumi.dev.yaml").read_text().replace("region: us-east-1", "region: us-east-7")
    )
    outcome = CliRunner().invoke(cli.app, ["render", "dev", "--json"], obj=Dependencies(project_dir=project))
    assert outcome.exit_code == 2
    error = _one_document(outcome.stdout)["error"]
    assert isinstance(error, dict)
    assert "aws:region: got 'us-east-7'" in str(error["message"])


def _console_script() -> list[str]:
    """The installed `crossmesh` command, as pyproject.toml declares it (module:function)."""
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    module, _, function = project["scripts"]["crossmesh"].partition(":")
    return ["-c", f"import sys; sys.argv[0] = 'crossmesh'; from {module} import {function}; {function}()"]


ENTRY_POINTS = {"python -m automation": ["-m", "automation"], "crossmesh": _console_script()}


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_during_render_prints_a_line_and_the_json_error_and_exits_130(
    tmp_path: Path, sent: signal.Signals, entry: str
) -> None:
    # SIGTERM (a cancelled CI job) ends a command as Ctrl-C does; it used to end it without a word,
    # and the installed `crossmesh` command, which called the typer app directly, still did.
    out_dir = tmp_path / "render"
    proc = subprocess.Popen(
        [sys.executable, *ENTRY_POINTS[entry], "render", "dev", "--json", "--out", str(out_dir)],
        cwd=PROJECT_DIR,
        env=_clean_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A test runner's background job may start children with SIGINT ignored; a terminal never does.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - no threads here
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the render announces itself, then records the program
        assert first.startswith("rendering dev offline"), first
        time.sleep(0.5)
        proc.send_signal(sent)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == ExitCode.INTERRUPTED == 130, stderr
    assert "Traceback" not in stderr
    assert "error: render of 'dev' interrupted; nothing was called or deployed" in stderr
    document = _one_document(stdout)
    assert (document["ok"], document["operation"], document["exit_code"]) == (False, "render", 130)
    error = document["error"]
    assert isinstance(error, dict)
    assert error["kind"] == "interrupted"
    assert f"{out_dir} may be incomplete" in str(error["hint"])


def test_once_a_command_has_ended_a_late_ctrl_c_cannot_change_how_the_process_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A SIGINT that arrived after the command had written its result used to land in the interpreter's
    # shutdown, which then ended the process by the signal (status -2, no exit code of ours): seen when
    # Ctrl-C reached a render as it finished. main() ignores both signals once the command has ended.
    before = {sent: signal.getsignal(sent) for sent in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr(sys, "argv", ["crossmesh", "--version"])
    try:
        with pytest.raises(SystemExit) as ended:
            cli.main()
        after = {sent: signal.getsignal(sent) for sent in before}
    finally:
        for sent, handler in before.items():
            signal.signal(sent, handler)
    assert ended.value.code in (0, None)
    assert after == {signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN}


def test_version() -> None:
    from importlib.metadata import version

    done = subprocess.run(
        [sys.executable, "-m", "automation", "--version"],
        cwd=PROJECT_DIR,
        env=_clean_env(PROJECT_DIR),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"crossmesh {version('crossmesh')}"


def test_shell_completion_completes_commands(tmp_path: Path) -> None:
    # What the script `crossmesh --install-completion` installs asks the program itself for candidates.
    env = _clean_env(tmp_path) | {
        "_CROSSMESH_COMPLETE": "complete_bash",
        "COMP_WORDS": "crossmesh de",
        "COMP_CWORD": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from automation.cli import app; app(prog_name='crossmesh')"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["deploy", "destroy"]
    shown = CliRunner().invoke(cli.app, ["--show-completion", "bash"], prog_name="crossmesh")
    assert "_CROSSMESH_COMPLETE=complete_bash" in shown.stdout


def test_run_help_lists_the_tasks_without_a_virtualenv(tmp_path: Path) -> None:
    # A copy of ./run alone in a folder: --help must not create a virtualenv or need the project.
    script = tmp_path / "run"
    script.write_text((PROJECT_DIR / "run").read_text())
    done = subprocess.run(
        ["bash", str(script), "--help"],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for task in ("./run render", "./run tests", "./run lint", "./run scan", "./run <anything else>"):
        assert task in done.stdout
    assert not (tmp_path / ".venv").exists()


def test_verify_front_url_imports_only_what_the_http_check_needs(tmp_path: Path) -> None:
    # The whole command runs in a fresh interpreter (against a closed port: the check runs and fails),
    # then reports which heavy packages it had imported. None of them serves the HTTP check.
    probe = (
        "import sys\n"
        "from automation.cli import main\n"
        "sys.argv = ['crossmesh', 'verify', 'dev', '--front-url', 'http://127.0.0.1:9', '--requests', '2',\n"
        "            '--timeout', '0.5', '--json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    code = done.code\n"
        "heavy = {'pulumi', 'grpc', 'boto3', 'botocore', 'kubernetes', 'kubernetes_validate', 'jsonschema',\n"
        "         'httpcore', 'anyio', 'pulumi_policy', 'opentelemetry'}\n"
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & heavy), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_DIR,
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    last = done.stderr.strip().splitlines()[-1]
    assert last == "3 []", done.stderr  # verification failed (nothing listens there), nothing heavy loaded
    report = json.loads(done.stdout)
    assert "connect error x2" in report["checks"][0]["detail"]


def _cli(args: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "automation", *args],
        cwd=PROJECT_DIR,
        text=True,
        timeout=60,
        check=False,
        **options,
    )


def test_columns_of_zero_still_shows_the_error(tmp_path: Path) -> None:
    # rich takes COLUMNS=0 as a width of 0 and printed every line, the error included, as nothing.
    done = _cli(["render", "../x"], env=_clean_env(tmp_path) | {"COLUMNS": "0"}, capture_output=True)
    assert done.returncode == ExitCode.BAD_INPUT
    assert "is not a valid environment name" in done.stderr


@pytest.mark.parametrize("stdout", ["closed", "full", "reader gone"])
def test_a_json_result_stdout_cannot_take_is_said_on_stderr_and_the_status_stays(
    tmp_path: Path, stdout: str
) -> None:
    # Before: a traceback and exit 1 (INVALID_RENDER) for a run that was a usage error (2).
    env = _clean_env(tmp_path)
    args = ["render", "../x", "--json"]
    if stdout == "closed":
        # the child's stdout is closed before it starts, as `>&-` does
        done = _cli(args, env=env, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    elif stdout == "full":
        with open("/dev/full", "w") as full:
            done = _cli(args, env=env, stdout=full, stderr=subprocess.PIPE)
    else:
        reader, writer = os.pipe()
        os.close(reader)
        try:
            done = _cli(args, env=env, stdout=writer, stderr=subprocess.PIPE)
        finally:
            os.close(writer)
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr
    assert "Traceback" not in done.stderr
    assert "the JSON result could not be written to stdout" in done.stderr
    assert "is not a valid environment name" in done.stderr


@pytest.mark.slow
def test_sigterm_during_the_http_burst_ends_it_every_time(tmp_path: Path) -> None:
    # A KeyboardInterrupt raised by a plain SIGTERM handler landed in an asyncio finalizer in about
    # half the runs, where Python drops it: the burst ran on. The loop now cancels its task itself.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    for _ in range(3):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "automation",
                "verify",
                "dev",
                "--front-url",
                f"http://127.0.0.1:{closed}",
                "--requests",
                "100000000",
                "--timeout",
                "0.5",
                "--json",
            ],
            cwd=PROJECT_DIR,
            env=_clean_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(2.0)
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == ExitCode.INTERRUPTED, stderr
        assert _one_document(stdout)["exit_code"] == 130


class _InterruptedImport(importlib.abc.MetaPathFinder):
    """Ctrl-C landing while ``name`` is being imported, as it does in a run's first second."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname == self.name:
            raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["render", "dev"], "automation.render_output"),
        (["verify", "dev", "--front-url", "http://127.0.0.1:9"], "automation.verify.httpcheck"),
    ],
    ids=["render", "verify --front-url"],
)
def test_ctrl_c_while_a_command_loads_is_the_interrupted_document(
    argv: list[str], module: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # render and verify --front-url loaded their modules (more than half a second for the renderer)
    # before the failure boundary: Ctrl-C there became typer's silent exit 130, no error line and,
    # with --json, no document at all.
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setattr(sys, "meta_path", [_InterruptedImport(module), *sys.meta_path])
    outcome = CliRunner().invoke(cli.app, [*argv, "--json"], obj=Dependencies(log_dir=tmp_path))
    assert outcome.exit_code == ExitCode.INTERRUPTED
    document = _one_document(outcome.stdout)
    assert (document["operation"], document["exit_code"]) == (argv[0], 130)
    error = document["error"]
    assert isinstance(error, dict)
    assert error["kind"] == "interrupted"
    assert "nothing was changed" in outcome.stderr
