"""`shift`'s command line refuses contradictory or incomplete targets before any credential check, with
the JSON error and exit 2: the session's preflight would otherwise report missing credentials first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import automation.cli as cli
from automation.session import Dependencies


def _never(*_: object, **__: object) -> object:
    raise AssertionError("the preflight ran although the target was refused")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # --to may be repeated: every value counts (a last-wins option silently dropped blue=60 here)
        (["--to", "blue=60", "--to", "red=60"], "--to: weights 'blue=60,red=60' sum to 120; expected 100"),
        (["--to", "blue=0", "--to", "red=0"], "--to: weights 'blue=0,red=0' sum to 0; expected 100"),
        (["--to", "red=100", "--to", "red=0"], "--to: red is named twice"),
        (["--to", "red=100", "--resume"], "--resume continues the interrupted shift's own target; drop --to"),
        ([], "give the target weights with --to"),
    ],
)
def test_bad_targets_are_refused_before_any_cloud_call(args: list[str], message: str, tmp_path: Path) -> None:
    deps = Dependencies(preflight_clients=_never, log_dir=tmp_path)  # type: ignore[arg-type] # a fake that fails when called
    outcome = CliRunner().invoke(cli.app, ["shift", "dev", *args, "--yes", "--json"], obj=deps)
    assert outcome.exit_code == 2, outcome.output
    error = json.loads(outcome.stdout)["error"]
    assert error["kind"] == "bad_input"
    assert message in error["message"]


def test_repeated_to_values_make_one_target(tmp_path: Path) -> None:
    # blue=20 and red=80 sum to 100: accepted, so the run goes on to the preflight (which fails here).
    deps = Dependencies(preflight_clients=_never, log_dir=tmp_path)  # type: ignore[arg-type] # a fake that fails when called
    outcome = CliRunner().invoke(
        cli.app, ["shift", "dev", "--to", "blue=20", "--to", "red=80", "--yes", "--json"], obj=deps
    )
    assert isinstance(outcome.exception, AssertionError)
    assert "the preflight ran" in str(outcome.exception)
