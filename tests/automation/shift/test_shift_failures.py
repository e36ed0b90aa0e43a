"""How a shift ends when something other than a check fails, or when it cannot start: driven through the
CLI with a fake stack, observer and sampler (nothing of Pulumi or AWS runs)."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import automation.cli as cli
from automation.interrupt import InterruptTiming
from automation.preflight import PreflightClients
from automation.session import Dependencies
from automation.shift.judge import Answer
from automation.shift.run import ShiftDeps
from automation.shift.state import STATE_TAG
from automation.stack import OperationResult, StackOutput
from automation.verify.settings import HttpCheckSettings
from tests.support import PROJECT_DIR


class _Sts:
    def get_caller_identity(self) -> dict[str, str]:
        return {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:role/deploy"}


class _Lattice:
    def list_service_networks(self, **_: object) -> dict[str, list[object]]:
        return {"items": []}


class _Stack:
    """The stack as a shift sees it: weights set in its config, a targeted update, outputs and tags."""

    def __init__(
        self, applied: dict[str, int], *, fail_update: Callable[[int], bool] = lambda n: False
    ) -> None:
        self.applied = dict(applied)
        self.configured: dict[str, int] = dict(applied)
        self.updates: list[dict[str, int]] = []
        self.tags: dict[str, str] = {}
        self.fail_update = fail_update

    def set_weights(self, weights: dict[str, int]) -> None:
        self.configured = dict(weights)

    def up_targets(self, targets: list[str], *, sink: object) -> OperationResult:
        self.updates.append(dict(self.configured))
        if self.fail_update(len(self.updates)):
            raise RuntimeError("update failed: ThrottlingException")
        self.applied = dict(self.configured)
        return OperationResult({"update": 1})

    def outputs(self) -> dict[str, StackOutput]:
        return {
            "frontUrl": StackOutput("http://front.example/color", False),
            "trafficWeights": StackOutput(dict(self.applied), False),
        }

    def cancel(self) -> None:
        pass

    def get_tag(self, key: str) -> str | None:
        return self.tags.get(key)

    def set_tag(self, key: str, value: str) -> None:
        self.tags[key] = value

    def remove_tag(self, key: str) -> None:
        self.tags.pop(key, None)


def _sampler(stack: _Stack, failing: str | None = None) -> Callable[[str, HttpCheckSettings], list[Answer]]:
    rng = random.Random(7)

    def sample(url: str, http: HttpCheckSettings) -> list[Answer]:
        colors = [c for c, w in stack.applied.items() if w > 0]
        weights = [stack.applied[c] for c in colors]
        answers: list[Answer] = []
        for _ in range(http.requests):
            color = rng.choices(colors, weights)[0]
            ok = color != failing
            answers.append(Answer(color, 1, ok, 5.0, None if ok else "HTTP 502"))
        return answers

    return sample


def _project(tmp_path: Path, versions: str = "") -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project)
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    (project / "Pulumi.dev.yaml").write_text(text + versions)
    return project


def _run(
    tmp_path: Path,
    stack: _Stack,
    *args: str,
    project: Path | None = None,
    failing: str | None = None,
    yes: bool = True,
) -> Result:
    deps = ShiftDeps(
        session=Dependencies(
            preflight_clients=lambda region: PreflightClients(_Sts(), None, _Lattice()),
            log_dir=tmp_path / "logs",
            is_interactive=lambda: False,
            project_dir=project or _project(tmp_path),
            interrupt=InterruptTiming(grace_s=1, after_cancel_wait_s=0.1),
        ),
        stack_factory=lambda request: stack,
        targets=lambda project_dir, env, flat: ["urn:route"],
        observer_factory=lambda config, outputs: lambda: dict(stack.applied),
        sampler=_sampler(stack, failing),
        sleep=lambda seconds: None,
        state_dir=tmp_path / "shift",
    )
    confirm = ["--yes"] if yes else []
    return CliRunner().invoke(cli.app, ["shift", "dev", *args, "--hold", "0s", *confirm, "--json"], obj=deps)


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["--to", "red=100"], "shift dev --to red=100 --yes"),
        (
            ["--to", "blue=90,red=10", "--steps", "50,100"],
            "shift dev --to blue=90,red=10 --steps 50,100 --yes",
        ),
    ],
)
def test_without_yes_off_a_terminal_the_hint_is_the_whole_command(
    tmp_path: Path, args: list[str], command: str
) -> None:
    stack = _Stack({"blue": 100, "red": 0})
    outcome = _run(tmp_path, stack, *args, yes=False)
    assert outcome.exit_code == 2, outcome.output
    error = json.loads(outcome.stdout)["error"]
    assert error["kind"] == "confirmation_required"
    assert error["hint"] == f"Pass --yes: `python -m automation {command}`. Nothing was changed."
    assert stack.updates == []


def test_an_update_that_fails_mid_shift_puts_the_last_good_weights_back(tmp_path: Path) -> None:
    # Before: exit 8 or a traceback (exit 1), 75/25 left applied and unchecked, the state still "running".
    stack = _Stack({"blue": 100, "red": 0}, fail_update=lambda n: n == 2)
    outcome = _run(tmp_path, stack, "--to", "red=100", "--steps", "10,25,100")
    assert outcome.exit_code == 3, outcome.output
    document = json.loads(outcome.stdout)
    assert document["error"]["message"] == (
        "step 2 (blue=75,red=25) failed: RuntimeError: update failed: ThrottlingException"
    )
    assert document["weights"] == {"blue": 90, "red": 10}
    # docs/cli.md: a shift's document names its target, failed or not
    assert document["target"] == {"blue": 0, "red": 100}
    assert stack.updates == [{"blue": 90, "red": 10}, {"blue": 75, "red": 25}, {"blue": 90, "red": 10}]
    assert stack.applied == {"blue": 90, "red": 10}
    assert STATE_TAG not in stack.tags  # a failed shift starts again, it is not resumed
    assert json.loads((tmp_path / "shift" / "dev.json").read_text())["status"] == "failed"


def test_a_rollback_that_fails_too_says_how_to_restore(tmp_path: Path) -> None:
    stack = _Stack({"blue": 100, "red": 0}, fail_update=lambda n: n >= 2)
    outcome = _run(tmp_path, stack, "--to", "red=100", "--steps", "10,100")
    assert outcome.exit_code == 3, outcome.output
    details = json.loads(outcome.stdout)["error"]["details"]
    assert details == [
        "the rollback to blue=90,red=10 failed (RuntimeError: update failed: ThrottlingException): run "
        "`python -m automation shift dev --to blue=90,red=10 --steps 100 --yes`"
    ]


def test_versions_the_deployed_stack_does_not_have_stop_the_shift_before_anything_changes(
    tmp_path: Path,
) -> None:
    # A green version in the file, not deployed: the steps would have written weights the program then
    # refused, leaving a half-written trafficWeights that refused every later command.
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project)
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    red = "        - { color: red, cluster: eksc2, weight: 50, replicas: 1 }\n"
    green = "        - { color: green, cluster: eksc2, weight: 0, replicas: 1 }\n"
    assert red in text
    (project / "Pulumi.dev.yaml").write_text(text.replace(red, red + green))
    stack = _Stack({"blue": 50, "red": 50})
    outcome = _run(tmp_path, stack, "--to", "red=100", project=project)
    assert outcome.exit_code == 2, outcome.output
    error = json.loads(outcome.stdout)["error"]
    assert (
        error["message"] == "dev's stack file has the versions blue, green, red, the deployed stack blue, red"
    )
    assert stack.updates == []
    assert stack.configured == {"blue": 50, "red": 50}


# A shift to red=100 in steps 10,25,100, interrupted after step 2's update, before its check.
_GOOD_STATE: dict[str, Any] = {
    "from": {"blue": 100, "red": 0},
    "to": {"blue": 0, "red": 100},
    "steps": [10, 25, 100],
    "good": {"blue": 90, "red": 10},
    "next": 1,
    "status": "interrupted",
}


def test_resume_rolls_back_to_the_last_checked_weights_not_to_what_is_applied(tmp_path: Path) -> None:
    # Interrupted after step 2's update, before its check: 75/25 is applied but was never checked.
    stack = _Stack({"blue": 75, "red": 25})
    stack.tags[STATE_TAG] = json.dumps(_GOOD_STATE)
    outcome = _run(tmp_path, stack, "--resume", failing="red")
    assert outcome.exit_code == 3, outcome.output
    assert json.loads(outcome.stdout)["weights"] == {"blue": 90, "red": 10}
    assert stack.applied == {"blue": 90, "red": 10}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--resume", "--steps", "50,100"],
            "--resume continues the interrupted shift's own steps; drop --steps",
        ),
        (["--to", "red=100", "--backend", ""], "expected a backend URL"),
    ],
)
def test_options_a_shift_cannot_honour_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    stack = _Stack({"blue": 50, "red": 50})
    outcome = _run(tmp_path, stack, *args)
    assert outcome.exit_code == 2, outcome.output
    document: dict[str, Any] = json.loads(outcome.stdout)
    assert message in document["error"]["message"]
    assert stack.updates == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"next": 7}, "its next step (8) is not one of its 3 steps"),
        ({"steps": [50, 10, 300]}, "its steps: got '50,10,300'"),
        (
            {"to": {"blue": 40, "red": 100}},
            "its target weights blue=40,red=100 are not percentages summing to 100",
        ),
        ({"to": {"green": 100}}, "its target weights name green; the stack has blue, red"),
    ],
)
def test_a_saved_shift_that_cannot_be_what_a_shift_saves_is_not_resumed(
    tmp_path: Path, change: dict[str, Any], reason: str
) -> None:
    # The state is a stack tag anyone can edit: "next": 7 ended a shift to red=100 at 50/50 with exit
    # 0, and "steps": [50, 10, 300] applied blue=-200,red=300.
    stack = _Stack({"blue": 75, "red": 25})
    stack.tags[STATE_TAG] = json.dumps({**_GOOD_STATE, **change})
    outcome = _run(tmp_path, stack, "--resume")
    assert outcome.exit_code == 2, outcome.output
    message = json.loads(outcome.stdout)["error"]["message"]
    assert message.startswith("--resume: the saved shift of dev cannot be continued: ")
    assert reason in message
    assert stack.updates == []


class _CtrlCSavingStep(_Stack):
    """Ctrl-C lands while the state of a step that passed is written to the stack's tags: between
    steps, where nothing restores weights (the step's weights passed their check)."""

    def __init__(self, applied: dict[str, int], *, at_update: int) -> None:
        super().__init__(applied)
        self.at_update = at_update
        self.interrupted = False

    def _ctrl_c(self, key: str) -> None:
        if key == STATE_TAG and len(self.updates) == self.at_update and not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt

    def set_tag(self, key: str, value: str) -> None:
        self._ctrl_c(key)
        super().set_tag(key, value)

    def remove_tag(self, key: str) -> None:
        self._ctrl_c(key)
        super().remove_tag(key)


@pytest.mark.parametrize(("at_update", "passed"), [(1, 1), (3, 3)], ids=["between steps", "after the last"])
def test_ctrl_c_between_steps_says_what_passed_and_keeps_it(
    tmp_path: Path, at_update: int, passed: int
) -> None:
    # Before: "shift interrupted before Pulumi changed anything; nothing was changed", while the step's
    # weights were applied and checked, and a document without the weights or the steps.
    stack = _CtrlCSavingStep({"blue": 100, "red": 0}, at_update=at_update)
    outcome = _run(tmp_path, stack, "--to", "red=100", "--steps", "10,25,100")
    assert outcome.exit_code == 130, outcome.output
    document = json.loads(outcome.stdout)
    weights = {1: {"blue": 90, "red": 10}, 3: {"blue": 0, "red": 100}}[passed]
    assert document["weights"] == weights == stack.applied
    assert [s["verdict"] for s in document["steps"]] == ["passed"] * passed
    error = document["error"]
    assert error["kind"] == "interrupted"
    assert "nothing was changed" not in error["message"]
    assert f"after step {passed} " in error["message"]
    saved = json.loads((tmp_path / "shift" / "dev.json").read_text())
    if passed < 3:  # resumable from the next step
        assert (saved["status"], saved["next_step"], saved["last_good"]) == ("interrupted", 1, weights)
        assert json.loads(stack.tags[STATE_TAG])["status"] == "interrupted"
        assert "--resume" in error["hint"]
    else:  # every step passed: the shift is done, nothing to resume
        assert saved["status"] == "done"
        assert STATE_TAG not in stack.tags


def test_a_shift_whose_plan_drops_steps_ends_done_not_running(tmp_path: Path) -> None:
    # plan_steps drops a step that would not change the weights: 10% and 25% of the way to red=1 are
    # both still red=0, so --steps 10,25,100 is one step. The shift is done after it, like any other:
    # before, its state stayed "running" on the stack's tags and the next shift was refused as
    # "an interrupted shift".
    stack = _Stack({"blue": 100, "red": 0})
    project = _project(tmp_path)
    outcome = _run(tmp_path, stack, "--to", "red=1", "--steps", "10,25,100", project=project)
    assert outcome.exit_code == 0, outcome.output
    assert stack.updates == [{"blue": 99, "red": 1}]
    assert STATE_TAG not in stack.tags
    assert json.loads((tmp_path / "shift" / "dev.json").read_text())["status"] == "done"
    again = _run(tmp_path, stack, "--to", "red=0", project=project)
    assert again.exit_code == 0, again.output
    assert stack.applied == {"blue": 100, "red": 0}


def test_a_shift_of_a_stack_whose_version_has_left_eks_is_refused_before_any_aws_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shift runs the program (to find the routing targets, and in each targeted update), and the
    # program refuses a version that has left EKS (infra/config_parse.py, from_pulumi): without this
    # check the shift took the lease and asked before failing there. The fakes here do not run the
    # program, so the steps went through.
    # dev's 1.35 leaves EKS on 2028-03-27 (EKS_VERSION_CALENDAR).
    import infra.config

    monkeypatch.setattr(infra.config, "utc_today", lambda: date(2028, 3, 27))
    stack = _Stack({"blue": 100, "red": 0})
    outcome = _run(tmp_path, stack, "--to", "red=100")
    assert outcome.exit_code == 2, outcome.output
    error = json.loads(outcome.stdout)["error"]
    assert error["kind"] == "bad_input"
    assert (
        "crossmesh:kubernetesVersion: got '1.35'; Kubernetes 1.35 left Amazon EKS on 2028-03-27"
        in error["message"]
    )
    assert stack.updates == []
    assert stack.tags == {}
