"""Is this machine able to deploy? The tools a deploy runs, checked before anything else happens.

- a Pulumi CLI no older than the Pulumi SDK the program uses (a CLI older than its SDK can lack
  engine features the SDK asks for; ``--install-cli`` installs the matching one). The CLI checked is
  the one the run will use: the SDK's own version in ~/.pulumi/versions when it is there (where
  ``--install-cli`` puts it), else the one on PATH;
- Docker with the buildx plugin and a reachable engine, when the app images are built
  (``crossmesh:workloads.images.build``): pulumi-docker-build drives BuildKit through them;
- the AWS CLI, which the clusters' kubeconfigs run (``aws eks get-token``) for every Kubernetes call.

Each problem is a :class:`automation.errors.CrossmeshError` with what is wrong and how to fix it.
Commands run through an injected ``run`` so tests put fake binaries on PATH or fake the runner.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from automation.errors import CrossmeshError, Failure
from automation.exit_codes import ExitCode
from infra.config import StackConfig


@dataclass(frozen=True)
class Ran:
    code: int
    output: str


Runner = Callable[[Sequence[str]], Ran]


def run_command(argv: Sequence[str], timeout: float = 20.0) -> Ran:
    """Run a tool found on PATH; a missing binary is code 127 like a shell's."""
    found = shutil.which(argv[0])
    if found is None:
        return Ran(127, f"{argv[0]}: not found on PATH")
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv of a tool found on PATH, no shell
            [found, *argv[1:]], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Ran(126, f"{argv[0]}: {exc}")
    return Ran(done.returncode, (done.stdout + done.stderr).strip())


_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.search(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def sdk_version() -> tuple[int, int, int]:
    parsed = parse_version(importlib.metadata.version("pulumi"))
    return parsed or (3, 0, 0)


def installed_cli_root() -> Path:
    """Where ``--install-cli`` (``PulumiCommand.install``) puts the CLI matching this SDK; a run uses
    the CLI there, when there is one, before the one on PATH (automation/stack.py)."""
    return Path.home() / ".pulumi" / "versions" / importlib.metadata.version("pulumi")


def _fail(code: ExitCode, kind: str, message: str, hint: str) -> CrossmeshError:
    return CrossmeshError(Failure(code, kind, message, hint + " Nothing was changed."))


def check_pulumi(
    run: Runner, sdk: tuple[int, int, int] | None = None, *, install: bool = False, root: Path | None = None
) -> str | None:
    """The version of the Pulumi CLI the run will use, or None when there is none (opening the stack
    reports that, with ``--install-cli`` as the fix); raises when it is older than the SDK.

    ``root``: where ``--install-cli`` puts the CLI (:func:`installed_cli_root`). ``install``: the run
    installs the SDK's CLI there when it lacks one, so one on PATH that would not do is no reason to stop.
    """
    sdk = sdk or sdk_version()
    installed = (root or installed_cli_root()) / "bin" / "pulumi"
    has_installed = installed.is_file()
    if has_installed:
        which, argv = f"the Pulumi CLI in {installed.parent.parent}", [str(installed), "version"]
    else:
        which, argv = "the Pulumi CLI on PATH", ["pulumi", "version"]
    answer = run(argv)
    if answer.code == 127:
        return None
    version = parse_version(answer.output) if answer.code == 0 else None
    wanted = ".".join(map(str, sdk))
    usable = version is not None and version[0] == sdk[0] and version >= sdk
    if not usable and install and not has_installed:
        return f"{wanted} (--install-cli installs it for this run)"
    if version is None:
        raise _fail(
            ExitCode.PULUMI_CLI_MISSING,
            "pulumi_cli_broken",
            f"`pulumi version` failed ({answer.code}) for {which}: {answer.output[:200]}",
            f"Reinstall the Pulumi CLI {wanted} or newer (https://www.pulumi.com/docs/install/), or rerun "
            "with --install-cli.",
        )
    if not usable:
        found = ".".join(map(str, version))
        raise _fail(
            ExitCode.PULUMI_CLI_MISSING,
            "pulumi_cli_too_old",
            f"{which} is {found}; this program's Pulumi SDK is {wanted}, and a CLI older "
            "than its SDK can lack what the SDK asks of the engine",
            f"Install the Pulumi CLI {wanted} or newer: `curl -fsSL https://get.pulumi.com | sh -s -- "
            f"--version {wanted}`, or rerun with --install-cli (it installs {wanted} for this run).",
        )
    return ".".join(map(str, version))


def check_docker(run: Runner) -> None:
    """Docker, its buildx plugin, and an engine that answers."""
    hint_off = (
        " Or set `crossmesh:workloads.images.build: false` and give digest-pinned images "
        "(`crossmesh:workloads.images.front` / `.colorapp`)."
    )
    answer = run(["docker", "version", "--format", "{{.Server.Version}}"])
    if answer.code == 127:
        raise _fail(
            ExitCode.MACHINE_NOT_READY,
            "docker_missing",
            "Docker is not installed (no `docker` on PATH); the app images are built with Docker buildx",
            "Install Docker Engine or Docker Desktop (https://docs.docker.com/engine/install/)." + hint_off,
        )
    if answer.code != 0:
        raise _fail(
            ExitCode.MACHINE_NOT_READY,
            "docker_engine_unreachable",
            f"the Docker engine does not answer: {answer.output[:200]}",
            "Start Docker (or check DOCKER_HOST and that this user may use the Docker socket)." + hint_off,
        )
    buildx = run(["docker", "buildx", "version"])
    if buildx.code != 0:
        raise _fail(
            ExitCode.MACHINE_NOT_READY,
            "docker_buildx_missing",
            f"Docker's buildx plugin is missing: {buildx.output[:200]}",
            "Install it (package docker-buildx-plugin, or https://github.com/docker/buildx#installing); in "
            "GitHub Actions use docker/setup-buildx-action." + hint_off,
        )


def check_aws_cli(run: Runner) -> str:
    """The AWS CLI the kubeconfigs run (``aws eks get-token``); its version."""
    answer = run(["aws", "--version"])
    if answer.code == 127:
        raise _fail(
            ExitCode.MACHINE_NOT_READY,
            "aws_cli_missing",
            "the AWS CLI is not installed (no `aws` on PATH); every Kubernetes call of the deploy runs "
            "`aws eks get-token` from the clusters' kubeconfigs",
            "Install the AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html).",
        )
    version = parse_version(answer.output) if answer.code == 0 else None
    if version is None:
        raise _fail(
            ExitCode.MACHINE_NOT_READY,
            "aws_cli_broken",
            f"`aws --version` failed ({answer.code}): {answer.output[:200]}",
            "Reinstall the AWS CLI v2.",
        )
    return ".".join(map(str, version))


def check_machine(config: StackConfig, run: Runner = run_command, *, install_cli: bool = False) -> list[str]:
    """Every tool a deploy of ``config`` needs; what was found, one line each. ``install_cli``: the
    run was given --install-cli."""
    found: list[str] = []
    pulumi = check_pulumi(run, install=install_cli)
    found.append(f"pulumi {pulumi}" if pulumi else "pulumi: not on PATH (opening the stack decides)")
    if config.workloads.images.build:
        check_docker(run)
        found.append("docker with buildx")
    found.append(f"aws-cli {check_aws_cli(run)}")
    return found
