"""aws:allowedAccountIds / aws:forbiddenAccountIds: a stack file that names its accounts is never run
against another one, and no other aws:/kubernetes: key is taken silently.

The program's AWS and Kubernetes providers are explicit ones, which read none of the stack's settings
of their namespace (https://www.pulumi.com/docs/iac/concepts/providers/): every such key the program
does not read itself is refused, or it would be ignored with no word.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto import mock_aws
from typer.testing import CliRunner

import automation.cli as cli
from automation.errors import CrossmeshError, Failure
from automation.exit_codes import ExitCode
from automation.preflight import CallerIdentity, check_account, make_clients
from automation.session import Dependencies
from automation.stack import StackRequest
from infra.config_parse import ConfigError, parse_config, parse_stack_file
from tests.support import (
    PROJECT_DIR,
    clear_aws_environment,
    flat,
    inputs,
    record_document,
    stack_document,
    variant,
)

MOTO_ACCOUNT = "123456789012"  # the account moto's STS answers with
OTHER_ACCOUNT = "210987654321"


def _problems(**extra: str) -> list[str]:
    raw = {**flat(stack_document("dev")), **extra}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "dev")
    return [str(p) for p in caught.value.problems]


def test_the_account_lists_are_read_as_pulumi_passes_them() -> None:
    config = parse_config(
        {**flat(stack_document("dev")), "aws:allowedAccountIds": f'["{OTHER_ACCOUNT}"]'}, "dev"
    )
    assert (config.allowed_account_ids, config.forbidden_account_ids) == ((OTHER_ACCOUNT,), ())
    config = parse_stack_file(
        variant("dev", lambda c: c.update({"aws:forbiddenAccountIds": [OTHER_ACCOUNT]})), "dev"
    )
    assert (config.allowed_account_ids, config.forbidden_account_ids) == ((), (OTHER_ACCOUNT,))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            # YAML reads an unquoted id as a number, which the provider would take for another text
            {"aws:allowedAccountIds": "[210987654321]"},
            "aws:allowedAccountIds[0]: got 210987654321, a YAML number",
        ),
        (
            {"aws:forbiddenAccountIds": '["2109876543"]'},
            "aws:forbiddenAccountIds[0]: got '2109876543'; expected a 12-digit AWS account id as a quoted "
            'string, like "210987654321"',
        ),
        (
            {"aws:allowedAccountIds": f'"{OTHER_ACCOUNT}"'},
            "aws:allowedAccountIds: got '210987654321'; expected a list",
        ),
    ],
    ids=["number", "short", "not-a-list"],
)
def test_a_bad_account_id_names_the_key(extra: dict[str, str], expected: str) -> None:
    problems = _problems(**extra)
    assert len(problems) == 1
    assert problems[0].startswith(expected)
    assert problems[0].endswith('a 12-digit AWS account id as a quoted string, like "210987654321"')


def test_allowed_and_forbidden_together_are_refused() -> None:
    problems = _problems(
        **{"aws:allowedAccountIds": f'["{OTHER_ACCOUNT}"]', "aws:forbiddenAccountIds": f'["{MOTO_ACCOUNT}"]'}
    )
    assert len(problems) == 1
    assert problems[0].startswith("aws:forbiddenAccountIds: ")
    assert "expected one of the two" in problems[0]


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        (
            "aws:profile",
            "prod-admin",
            "expected only aws:region, aws:allowedAccountIds or aws:forbiddenAccountIds",
        ),
        ("aws:assumeRoles", '[{"roleArn": "arn:aws:iam::210987654321:role/deploy"}]', "AWS_PROFILE"),
        ("aws:skipCredentialsValidation", "true", "an explicit provider does not read"),
        ("kubernetes:kubeconfig", "~/.kube/config", "expected no kubernetes: keys"),
    ],
)
def test_a_provider_key_the_program_would_ignore_is_refused(key: str, value: str, words: str) -> None:
    problems = _problems(**{key: value})
    assert len(problems) == 1
    assert problems[0].startswith(f"{key}: got ")
    assert "would be ignored" in problems[0]
    assert words in problems[0]


# The documentation's example secret access key: what a stack file could hold in the clear.
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_a_refused_provider_key_never_repeats_its_value() -> None:
    # aws:secretKey or aws:token in the clear is refused; the refusal goes to the terminal, the --json
    # document and CI logs, so it names the key and never quotes the credential.
    (problem,) = _problems(**{"aws:secretKey": EXAMPLE_SECRET})
    assert problem.startswith("aws:secretKey: got a value, not repeated here (it may be a credential); ")
    assert "would be ignored" in problem
    assert EXAMPLE_SECRET not in problem


def test_a_provider_key_given_as_a_secret_is_refused_as_ignored_not_asked_for_in_the_clear() -> None:
    # A secure: value elsewhere is asked for as plain text; for a key the program ignores, that would
    # tell the user to write the credential into the file in the clear, and then refuse it anyway.
    document = variant("dev", lambda c: c.update({"aws:secretKey": {"secure": "v1:AAAA:ciphertext"}}))
    with pytest.raises(ConfigError) as caught:
        parse_stack_file(document, "dev")
    (problem,) = [str(p) for p in caught.value.problems]
    assert problem.startswith("aws:secretKey: got a value, not repeated here (it may be a credential); ")
    assert "would be ignored" in problem
    assert "expected the plain value" not in problem


def test_keys_of_pulumi_itself_still_pass() -> None:
    parse_config({**flat(stack_document("dev")), "pulumi:template": "python"}, "dev")


def test_the_programs_aws_provider_gets_the_lists() -> None:
    allowed = record_document(variant("dev", lambda c: c.update({"aws:allowedAccountIds": [OTHER_ACCOUNT]})))
    # A provider's structured inputs reach the engine as JSON text, as the SDK serialises them.
    provider = inputs(allowed, "pulumi:providers:aws", "aws")
    assert json.loads(provider["allowedAccountIds"]) == [OTHER_ACCOUNT]
    assert "forbiddenAccountIds" not in provider
    forbidden = record_document(
        variant("dev", lambda c: c.update({"aws:forbiddenAccountIds": [OTHER_ACCOUNT]}))
    )
    provider = inputs(forbidden, "pulumi:providers:aws", "aws")
    assert json.loads(provider["forbiddenAccountIds"]) == [OTHER_ACCOUNT]
    assert "allowedAccountIds" not in provider


def _config(**lists: list[str]) -> Any:
    return parse_stack_file(variant("dev", lambda c: c.update(lists)), "dev")


IDENTITY = CallerIdentity(account=MOTO_ACCOUNT, arn=f"arn:aws:iam::{MOTO_ACCOUNT}:user/ci")


def test_credentials_of_the_allowed_account_pass() -> None:
    check_account(_config(**{"aws:allowedAccountIds": [OTHER_ACCOUNT, MOTO_ACCOUNT]}), IDENTITY)
    check_account(_config(**{"aws:forbiddenAccountIds": [OTHER_ACCOUNT]}), IDENTITY)
    check_account(_config(), IDENTITY)


@pytest.mark.parametrize(
    ("lists", "rule"),
    [
        (
            {"aws:allowedAccountIds": [OTHER_ACCOUNT]},
            "aws:allowedAccountIds in Pulumi.dev.yaml allows only 210987654321",
        ),
        (
            {"aws:forbiddenAccountIds": [MOTO_ACCOUNT]},
            "aws:forbiddenAccountIds in Pulumi.dev.yaml forbids it",
        ),
    ],
    ids=["not-allowed", "forbidden"],
)
def test_credentials_of_another_account_are_exit_5(lists: dict[str, list[str]], rule: str) -> None:
    with pytest.raises(CrossmeshError) as caught:
        check_account(_config(**lists), IDENTITY)
    failure = caught.value.failure
    assert (failure.code, failure.kind) == (ExitCode.AWS_CREDENTIALS, "aws_wrong_account")
    assert failure.message == (
        f"the AWS credentials are for account {MOTO_ACCOUNT} (arn:aws:iam::{MOTO_ACCOUNT}:user/ci), and {rule}"
    )


REACHED_PULUMI = Failure(ExitCode.NOT_DEPLOYED, "reached_pulumi", "the stack factory was reached")


@pytest.mark.parametrize(
    "command",
    [["deploy", "dev", "--yes"], ["destroy", "dev", "--yes"], ["refresh", "dev", "--yes"], ["verify", "dev"]],
)
def test_every_command_stops_before_pulumi_with_another_accounts_credentials(
    command: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clear_aws_environment(monkeypatch, tmp_path)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    project = tmp_path / "project"
    project.mkdir()
    document = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    document["config"]["aws:allowedAccountIds"] = [OTHER_ACCOUNT]
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    requests: list[StackRequest] = []

    def factory(request: StackRequest) -> Any:
        requests.append(request)
        raise CrossmeshError(REACHED_PULUMI)

    deps = Dependencies(
        stack_factory=factory,
        preflight_clients=make_clients,
        leak_check=lambda config: None,
        machine_check=lambda config, install_cli: [],
        log_dir=tmp_path / "logs",
        project_dir=project,
    )
    with mock_aws():
        outcome = CliRunner().invoke(cli.app, [*command, "--json"], obj=deps)
    assert outcome.exit_code == ExitCode.AWS_CREDENTIALS == 5, outcome.stderr
    error = json.loads(outcome.stdout.strip().splitlines()[-1])["error"]
    assert error["kind"] == "aws_wrong_account"
    assert f"account {MOTO_ACCOUNT}" in error["message"]
    assert requests == []
