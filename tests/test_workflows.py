"""The GitHub workflows: every action pinned by commit SHA, no persisted checkout token, a pinned
Pulumi CLI, and a deploy that waits for the tests and a preview. (actionlint and zizmor check the
rest in .ci/run.)"""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.support import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def _steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job, step) for job, spec in workflow["jobs"].items() for step in spec["steps"]]


def test_every_action_is_pinned_by_a_full_commit_sha_and_checkout_keeps_no_token() -> None:
    names = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
    assert names == ["ci.yml", "deploy.yml"]
    for name in names:
        for job, step in _steps(_load(name)):
            uses = step.get("uses")
            if uses is None:
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), (name, job, uses)
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, (name, job)


def test_ci_runs_ci_run_on_every_pull_request() -> None:
    ci = _load("ci.yml")
    assert "pull_request" in ci[True]  # YAML 1.1 reads the key `on` as True
    assert [s.get("run") for _, s in _steps(ci)][-1] == ".ci/run"
    assert ci["permissions"] == {"contents": "read"}


def test_deploy_runs_only_after_the_tests_and_a_preview_with_a_pinned_cli() -> None:
    deploy = _load("deploy.yml")
    jobs = deploy["jobs"]
    assert jobs["preview"]["needs"] == "tests"
    assert jobs["deploy"]["needs"] == "preview"
    assert ".ci/run" in [s.get("run") for s in jobs["tests"]["steps"]]
    assert any("automation preview" in (s.get("run") or "") for s in jobs["preview"]["steps"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", deploy["env"]["PULUMI_VERSION"])
    for job in ("preview", "deploy"):
        installs = [s["run"] for s in jobs[job]["steps"] if "get.pulumi.com" in (s.get("run") or "")]
        assert installs
        assert all('--version "$PULUMI_VERSION"' in run for run in installs)
    assert deploy["permissions"] == {}
    assert "id-token" not in jobs["tests"]["permissions"]


def test_ci_run_tests_the_python_its_job_sets_up() -> None:
    # ./run takes the newest python3.x on PATH unless PYTHON names one, and the runner image brings a
    # Python of its own (3.12 on ubuntu-24.04): without PYTHON, a job that sets up 3.11 tests 3.12.
    jobs = [
        (name, job, spec) for name in ("ci.yml", "deploy.yml") for job, spec in _load(name)["jobs"].items()
    ]
    checked = 0
    for name, job, spec in jobs:
        runs = [s for s in spec["steps"] if s.get("run") == ".ci/run"]
        if not runs:
            continue
        (setup,) = [s for s in spec["steps"] if str(s.get("uses", "")).startswith("actions/setup-python@")]
        wanted = f"python{setup['with']['python-version']}"
        assert [(s.get("env") or {}).get("PYTHON") for s in runs] == [wanted], (name, job)
        checked += 1
    assert checked == 2
