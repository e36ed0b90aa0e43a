"""The machine checks, with fake `pulumi`, `docker` and `aws` binaries first (and alone) on PATH."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from automation.errors import CrossmeshError
from automation.exit_codes import ExitCode
from automation.machine import check_aws_cli, check_docker, check_machine, check_pulumi, run_command
from infra.config_parse import parse_stack_file
from tests.support import stack_document, variant


def _tool(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script + "\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))  # nothing but the fakes
    monkeypatch.setenv("HOME", str(tmp_path))  # no CLI an --install-cli of this machine's user put there
    return folder


def _ready(bin_dir: Path, pulumi: str = "v3.272.0") -> None:
    _tool(bin_dir, "pulumi", f'echo "{pulumi}"')
    _tool(
        bin_dir,
        "docker",
        'if [ "$1" = buildx ]; then echo "github.com/docker/buildx v0.17.1"; else echo "27.3.1"; fi',
    )
    _tool(bin_dir, "aws", 'echo "aws-cli/2.22.1 Python/3.12.6 Linux/6.8 exe/x86_64.ubuntu.24" >&2')


def _code(exc: pytest.ExceptionInfo[CrossmeshError]) -> ExitCode:
    return exc.value.failure.code


def test_a_ready_machine_passes_and_says_what_it_found(bin_dir: Path) -> None:
    _ready(bin_dir)
    config = parse_stack_file(stack_document("dev"), "dev")
    assert check_machine(config) == ["pulumi 3.272.0", "docker with buildx", "aws-cli 2.22.1"]


def test_pulumi_older_than_the_sdk_is_refused_with_the_version_to_install(bin_dir: Path) -> None:
    _ready(bin_dir, pulumi="v3.100.0")
    with pytest.raises(CrossmeshError) as caught:
        check_pulumi(run_command, sdk=(3, 272, 0))
    assert _code(caught) is ExitCode.PULUMI_CLI_MISSING
    assert (
        "the Pulumi CLI on PATH is 3.100.0; this program's Pulumi SDK is 3.272.0"
        in caught.value.failure.message
    )
    assert "--version 3.272.0" in caught.value.failure.hint
    assert check_pulumi(run_command, sdk=(3, 100, 0)) == "3.100.0"


def test_the_cli_install_cli_put_in_place_is_checked_not_an_older_one_on_path(
    bin_dir: Path, tmp_path: Path
) -> None:
    # A run uses the SDK's CLI in ~/.pulumi/versions when it is there (automation/stack.py), so a later
    # run without --install-cli must not be stopped by the older CLI on PATH.
    _ready(bin_dir, pulumi="v3.100.0")
    root = tmp_path / "versions" / "3.272.0"
    (root / "bin").mkdir(parents=True)
    _tool(root / "bin", "pulumi", 'echo "v3.272.0"')
    assert check_pulumi(run_command, sdk=(3, 272, 0), root=root) == "3.272.0"
    _tool(root / "bin", "pulumi", 'echo "v3.200.0"')
    with pytest.raises(CrossmeshError) as caught:
        check_pulumi(run_command, sdk=(3, 272, 0), root=root)
    assert f"the Pulumi CLI in {root} is 3.200.0" in caught.value.failure.message


def test_install_cli_is_not_stopped_by_an_older_cli_on_path(bin_dir: Path, tmp_path: Path) -> None:
    # The too-old message says to rerun with --install-cli; that rerun must get past this check.
    _ready(bin_dir, pulumi="v3.100.0")
    root = tmp_path / "versions" / "3.272.0"
    with pytest.raises(CrossmeshError):
        check_pulumi(run_command, sdk=(3, 272, 0), root=root)
    found = check_pulumi(run_command, sdk=(3, 272, 0), root=root, install=True)
    assert found == "3.272.0 (--install-cli installs it for this run)"
    config = parse_stack_file(stack_document("dev"), "dev")
    with pytest.raises(CrossmeshError):
        check_machine(config)
    assert check_machine(config, install_cli=True)[0].startswith("pulumi ")


def test_no_pulumi_on_path_is_left_to_opening_the_stack(bin_dir: Path) -> None:
    assert check_pulumi(run_command, sdk=(3, 272, 0)) is None


def test_docker_missing_without_buildx_or_without_engine(bin_dir: Path) -> None:
    with pytest.raises(CrossmeshError) as caught:
        check_docker(run_command)
    assert (_code(caught), caught.value.failure.kind) == (ExitCode.MACHINE_NOT_READY, "docker_missing")
    assert "images.build: false" in caught.value.failure.hint
    _tool(
        bin_dir,
        "docker",
        'if [ "$1" = buildx ]; then echo "unknown command: buildx" >&2; exit 1; fi; echo 27',
    )
    with pytest.raises(CrossmeshError) as caught:
        check_docker(run_command)
    assert caught.value.failure.kind == "docker_buildx_missing"
    assert "docker/setup-buildx-action" in caught.value.failure.hint
    _tool(
        bin_dir,
        "docker",
        'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock" >&2; exit 1',
    )
    with pytest.raises(CrossmeshError) as caught:
        check_docker(run_command)
    assert caught.value.failure.kind == "docker_engine_unreachable"
    assert "Cannot connect to the Docker daemon" in caught.value.failure.message


def test_docker_is_not_needed_when_images_are_not_built(bin_dir: Path) -> None:
    _ready(bin_dir)
    (bin_dir / "docker").unlink()
    document = variant(
        "dev",
        lambda c: c["crossmesh:workloads"].update(
            images={
                "build": False,
                "front": "111122223333.dkr.ecr.us-east-1.amazonaws.com/f@sha256:" + "a" * 64,
                "colorapp": "111122223333.dkr.ecr.us-east-1.amazonaws.com/c@sha256:" + "b" * 64,
            }
        ),
    )
    assert check_machine(parse_stack_file(document, "dev")) == ["pulumi 3.272.0", "aws-cli 2.22.1"]


def test_aws_cli_missing_or_broken(bin_dir: Path) -> None:
    with pytest.raises(CrossmeshError) as caught:
        check_aws_cli(run_command)
    assert (_code(caught), caught.value.failure.kind) == (ExitCode.MACHINE_NOT_READY, "aws_cli_missing")
    assert "aws eks get-token" in caught.value.failure.message
    _tool(bin_dir, "aws", "echo 'exec format error' >&2; exit 126")
    with pytest.raises(CrossmeshError) as caught:
        check_aws_cli(run_command)
    assert caught.value.failure.kind == "aws_cli_broken"
