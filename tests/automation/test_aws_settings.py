"""An unusable AWS setup never gives a traceback: commands that need no AWS ignore it, the others exit 5.

Each case is a real environment botocore reads: AWS_PROFILE naming a profile the config files lack,
an AWS config file that does not parse (a temporary file), and half a key pair in the environment.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import automation.cli as cli
from automation.errors import CrossmeshError, Failure
from automation.exit_codes import ExitCode
from automation.session import Dependencies
from automation.stack import StackRequest
from tests.support import AWS_CREDENTIAL_VARIABLES, PROJECT_DIR, serve

AWS_VARIABLES = (*AWS_CREDENTIAL_VARIABLES, "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
GOOD_CONFIG = "[default]\nregion = us-east-1\n\n[profile deployer]\nregion = us-east-1\n"
BROKEN_CONFIG = "[default\nregion = us-east-1\n"  # an unclosed section header: botocore cannot parse it

# case -> (environment, the error kind, a phrase the message must carry)
CASES: dict[str, tuple[dict[str, str], str, str]] = {
    "missing profile": (
        {"AWS_PROFILE": "no-such-profile"},
        "aws_profile_not_found",
        "AWS_PROFILE=no-such-profile names a profile that is not in the AWS config files",
    ),
    "malformed config file": (
        {"AWS_CONFIG_FILE": "{broken}"},
        "aws_config_invalid",
        "the AWS config file cannot be read: Unable to parse config file",
    ),
    "endpoint that is not a URL": (
        {
            "AWS_ENDPOINT_URL": "notaurl",
            "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "x",
        },
        "aws_config_invalid",
        "the AWS configuration cannot be used: Invalid endpoint: notaurl",
    ),
    "credential process printing no JSON": (
        {"AWS_CONFIG_FILE": "{process}"},
        "aws_credentials_missing",
        "the configured credential source gave an answer botocore cannot read: JSONDecodeError",
    ),
    "partial key pair": (
        {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"},
        "aws_credentials_missing",
        "incomplete AWS credentials: Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY",
    ),
}


def aws_environment(tmp_path: Path, case: str) -> dict[str, str]:
    """The AWS variables of ``case``, over config files of its own (never the machine's)."""
    good, broken = tmp_path / "aws-config", tmp_path / "aws-config-broken"
    process = tmp_path / "aws-config-process"
    good.write_text(GOOD_CONFIG)
    broken.write_text(BROKEN_CONFIG)
    process.write_text("[default]\nregion = us-east-1\ncredential_process = /bin/echo notjson\n")
    env = {
        "AWS_CONFIG_FILE": str(good),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    variables, _, _ = CASES[case]
    return env | {
        name: value.replace("{broken}", str(broken)).replace("{process}", str(process))
        for name, value in variables.items()
    }


@pytest.fixture
def clean_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# --- commands that need AWS: exit 5, naming the cause ------------------------------------------------


@pytest.mark.usefixtures("clean_aws")
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(
    "command", [["deploy", "dev", "--yes"], ["verify", "dev"], ["destroy", "dev", "--yes"]]
)
def test_commands_that_need_aws_exit_5_naming_the_cause(
    case: str, command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in aws_environment(tmp_path, case).items():
        monkeypatch.setenv(name, value)
    opened: list[StackRequest] = []

    def factory(request: StackRequest) -> Any:
        opened.append(request)
        raise CrossmeshError(Failure(ExitCode.NOT_DEPLOYED, "reached_pulumi", "reached Pulumi"))

    # The real preflight clients (boto3 with the environment above); Pulumi must never be reached.
    deps = Dependencies(stack_factory=factory, log_dir=tmp_path / "logs")
    outcome = CliRunner().invoke(cli.app, [*command, "--json"], obj=deps)
    _, kind, phrase = CASES[case]
    assert outcome.exit_code == ExitCode.AWS_CREDENTIALS == 5, outcome.output
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)
    assert "Traceback" not in outcome.stderr
    assert phrase in outcome.stderr
    (line,) = outcome.stdout.strip().splitlines()
    error = json.loads(line)["error"]
    assert (error["kind"], error["exit_code"]) == (kind, 5)
    assert phrase in error["message"]
    assert "Nothing was changed." in error["hint"]
    assert opened == []


@pytest.mark.usefixtures("clean_aws")
def test_a_missing_profile_lists_the_profiles_there_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in aws_environment(tmp_path, "missing profile").items():
        monkeypatch.setenv(name, value)
    outcome = CliRunner().invoke(cli.app, ["preview", "dev"], obj=Dependencies(log_dir=tmp_path / "logs"))
    assert outcome.exit_code == 5
    assert "Known profiles: default, deployer." in outcome.stderr


# --- commands that need no AWS: the setup is ignored -------------------------------------------------


class _Alternating(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    colors = itertools.cycle(["blue", "red"])
    lock = threading.Lock()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with self.lock:
            body = next(self.colors).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def front() -> Iterator[str]:
    with serve(_Alternating) as port:
        yield f"http://127.0.0.1:{port}"


def run_cli(tmp_path: Path, aws: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m automation ARGS`` in a fresh process: nothing cached from other tests."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(PROJECT_DIR),
        "HOME": str(tmp_path),
    } | aws
    return subprocess.run(
        [sys.executable, "-m", "automation", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.network
@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_front_url_ignores_the_aws_setup(case: str, tmp_path: Path, front: str) -> None:
    done = run_cli(
        tmp_path,
        aws_environment(tmp_path, case),
        "verify",
        "dev",
        "--front-url",
        front,
        "--requests",
        "20",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert report["http"]["shares"] == {"blue": 0.5, "red": 0.5}


@pytest.mark.slow
def test_render_ignores_an_unusable_aws_setup(tmp_path: Path) -> None:
    # All three at once: a render is seconds long, and none of the three may matter to it.
    aws = (
        aws_environment(tmp_path, "malformed config file")
        | {"AWS_PROFILE": "no-such-profile"}
        | {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE"}
    )
    done = run_cli(tmp_path, aws, "render", "dev", "--out", str(tmp_path / "render"), "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout)["ok"] is True
    assert (tmp_path / "render" / "resources.json").is_file()
