"""The guardrails over the real program: every environment renders with no mandatory violation.

dev relaxes exactly one advisory policy (the public API endpoint, for operators' laptops); staging and
prod pass everything. Breaking a guardrail in the configuration fails the render, naming the resource,
the policy and the fix; relaxing what may not be relaxed is a configuration error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from automation.cli import app
from automation.environment import load_environment
from automation.guardrails import evaluate_recording, markdown, policy_pack_args, summary_line
from automation.session import Dependencies
from infra.config_parse import ConfigError
from policy import POLICY_PACK_DIR
from policy.crossmesh_policy import RULES, Status
from policy.crossmesh_policy.pack_config import settings_from
from tests.support import PROJECT_DIR, REFERENCE_DIR, record_document, record_env, render_written, variant

PUBLIC_ENDPOINT = "eks-endpoint-public-access-restricted"
runner = CliRunner()


def test_dev_relaxes_only_the_public_endpoint_and_says_why() -> None:
    config, _ = load_environment(PROJECT_DIR, "dev")
    report = evaluate_recording(record_env("dev"), config)
    assert report.ok
    relaxed = [r for r in report.results if r.status is Status.RELAXED]
    assert [r.rule.id for r in relaxed] == [PUBLIC_ENDPOINT]
    assert "operators reach it from their laptops" in (relaxed[0].relaxation or "")
    assert sorted(v.resource_name for v in relaxed[0].violations) == ["eksc1-eks", "eksc2-eks"]
    assert {r.status for r in report.results} == {Status.PASSED, Status.RELAXED}
    assert report.notes == ()


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_pass_every_policy(env: str) -> None:
    config, _ = load_environment(PROJECT_DIR, env)
    report = evaluate_recording(record_env(env), config)
    assert config.policy.relax == ()
    assert [(r.rule.id, str(r.status)) for r in report.results if r.status is not Status.PASSED] == []
    assert len(report.results) == len(RULES)


def test_render_report_has_a_guardrails_table(tmp_path: Path) -> None:
    result = render_written("dev", tmp_path)
    assert result.ok
    assert result.guardrails is not None
    text = (tmp_path / "report.md").read_text()
    section = text.split("## Guardrails", 1)[1]
    assert "| policy | CIS | level | result |" in section
    for rule in RULES:
        assert f"| `{rule.id}` | {rule.cis or '-'} | {rule.level} |" in section
    assert (
        f"| `{PUBLIC_ENDPOINT}` | 5.4.1 | advisory | relaxed (2): dev keeps the EKS API endpoint public"
        in section
    )
    assert section == markdown(result.guardrails).split("## Guardrails", 1)[1]
    assert "timings" not in section
    assert result.timings["guardrails"] < 0.5


def test_an_endpoint_open_to_two_halves_of_the_internet_is_open_to_it() -> None:
    """staging's allowlist replaced by 0.0.0.0/1 and 128.0.0.0/1: no 0.0.0.0/0 written, all of it let in."""

    def halves(config: dict[str, object]) -> None:
        clusters = config["crossmesh:clusters"]
        assert isinstance(clusters, list)
        for cluster in clusters:
            cluster["endpoint"] = {"publicAccess": True, "publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}

    document = variant("staging", halves)
    config, _ = load_environment(PROJECT_DIR, "staging", document)
    report = evaluate_recording(record_document(document, "staging"), config)
    result = report.result(PUBLIC_ENDPOINT)
    assert result.status is Status.VIOLATED
    assert sorted((v.resource_name, v.message) for v in result.violations) == [
        ("eksc1-eks", "the public API endpoint accepts 0.0.0.0/1, 128.0.0.0/1"),
        ("eksc2-eks", "the public API endpoint accepts 0.0.0.0/1, 128.0.0.0/1"),
    ]


def _project_with(tmp_path: Path, document: dict[str, object]) -> Path:
    """A project folder running the real program with another Pulumi.dev.yaml."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (project / "__main__.py").symlink_to(PROJECT_DIR / "__main__.py")
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    return project


def _render_with_the_private_endpoint_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *options: str
) -> Result:
    """Render dev with cluster 1's private API endpoint off: a mandatory policy's violation."""

    def private_endpoint_off(config: dict[str, object]) -> None:
        clusters = config["crossmesh:clusters"]
        assert isinstance(clusters, list)
        clusters[0]["endpoint"] = {"privateAccess": False}

    project = _project_with(tmp_path, variant("dev", private_endpoint_off))
    if REFERENCE_DIR.is_dir():
        monkeypatch.setenv("CROSSMESH_REFERENCE_DIR", str(REFERENCE_DIR))
    return runner.invoke(
        app,
        ["render", "dev", "--out", str(tmp_path / "out"), *options],
        obj=Dependencies(project_dir=project),
    )


def test_a_mandatory_violation_fails_the_render_naming_resource_policy_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = _render_with_the_private_endpoint_off(tmp_path, monkeypatch)
    assert outcome.exit_code == 1, outcome.output
    flat = " ".join(outcome.output.split())
    assert "1 mandatory violation(s)" in flat
    assert "policy violation eks:index:Cluster eksc1-eks: the private API endpoint is off" in flat
    assert "[policy eks-endpoint-private-access, mandatory]" in flat
    assert "fix: set endpointPrivateAccess: true" in flat
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| `eks-endpoint-private-access` | 5.4.2 | mandatory | **violated** (1) |" in report


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("eks-control-plane-logs", "eks-control-plane-logs is mandatory and cannot be relaxed"),
        (
            "eks-endpoint-public-acess-restricted",
            "unknown policy; did you mean 'eks-endpoint-public-access-restricted'?",
        ),
    ],
)
def test_relaxing_a_mandatory_or_unknown_policy_is_a_config_error(policy: str, expected: str) -> None:
    document = variant("dev", lambda c: c["crossmesh:policy"]["relax"][0].update(policy=policy))
    with pytest.raises(ConfigError) as raised:
        load_environment(PROJECT_DIR, "dev", document)
    message = str(raised.value)
    assert f"crossmesh:policy.relax[0].policy: got '{policy}'; {expected}" in message
    assert "expected an advisory policy: eks-endpoint-public-access-restricted" in message


def test_cli_bad_relaxation_exits_2(tmp_path: Path) -> None:
    document = variant("dev", lambda c: c["crossmesh:policy"]["relax"][0].update(policy="k8s-probes"))
    project = _project_with(tmp_path, document)
    outcome = runner.invoke(app, ["render", "dev"], obj=Dependencies(project_dir=project))
    assert outcome.exit_code == 2
    assert "crossmesh:policy.relax[0].policy: got 'k8s-probes'; k8s-probes is mandatory" in outcome.output


def test_summary_line() -> None:
    config, _ = load_environment(PROJECT_DIR, "dev")
    line = summary_line(evaluate_recording(record_env("dev"), config))
    assert line == (
        f"guardrails: {len(RULES)} policies: {len(RULES) - 1} passed, 1 relaxed ({PUBLIC_ENDPOINT}); "
        "no mandatory violations"
    )


def test_policy_pack_args_for_stack_up(tmp_path: Path) -> None:
    # the App Mesh reference: its backend's Pod Security exceptions travel with the pack config
    config, _ = load_environment(PROJECT_DIR, "appmesh")
    args = policy_pack_args(config, tmp_path)
    assert args["policy_packs"] == [str(POLICY_PACK_DIR)]
    [path] = args["policy_pack_configs"]
    written = yaml.safe_load(Path(path).read_text())
    assert written["network-cross-cluster-app-port"] == {"appPort": 8080}
    # The mesh backend's Pod Security exceptions reach the pack, which reads them back as settings.
    exceptions = written["k8s-pod-security-labels"]["podSecurityExceptions"]
    assert {name: e["level"] for name, e in exceptions.items()} == {
        "appmesh-system": "baseline",
        "appmesh-demo": "privileged",
    }
    assert set(written) == {"network-cross-cluster-app-port", "k8s-pod-security-labels"}
    assert settings_from(written["k8s-pod-security-labels"]).pod_security_exceptions == exceptions


def test_a_mandatory_violation_is_in_the_json_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Exit 1 with "ok": false and "problems": [] left a pipeline without the reason.
    outcome = _render_with_the_private_endpoint_off(tmp_path, monkeypatch, "--json")
    assert outcome.exit_code == 1
    document = json.loads(outcome.stdout)
    assert (document["ok"], document["exit_code"]) == (False, 1)
    assert len(document["problems"]) == 1
    problem = document["problems"][0]
    assert problem.startswith(
        "policy violation: eks:index:Cluster eksc1-eks: the private API endpoint is off"
    )
    assert "[policy eks-endpoint-private-access, mandatory] fix: set endpointPrivateAccess: true" in problem
