"""Kubeconfigs are Pulumi secrets and hold no credential; nothing the render writes carries one."""

from __future__ import annotations

import json
import re

import pytest

from automation.recorder import dump
from tests.support import record_env

CREDENTIALS = [
    re.compile(r"AKIA[0-9A-Z]{16}"),  # access key ids
    re.compile(r"ASIA[0-9A-Z]{16}"),  # temporary access key ids
    re.compile(r"aws_secret_access_key|aws_session_token", re.IGNORECASE),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r'"token"\s*:\s*"[^"<]'),  # a static bearer token in a kubeconfig user
    re.compile(r'"client-key-data"'),
]


@pytest.mark.parametrize("env", ["appmesh", "prod", "dev"])
def test_kubeconfigs_are_secret_and_authenticate_with_the_aws_cli_only(env: str) -> None:
    recording = record_env(env)
    providers = recording.of_type("pulumi:providers:kubernetes")
    assert providers
    for provider in providers:
        assert "kubeconfig" in provider.secret_paths, provider.name
        kubeconfig = json.loads(provider.inputs["kubeconfig"])
        (user,) = kubeconfig["users"]
        assert set(user["user"]) == {"exec"}  # no token, no client key: `aws eks get-token` each call
        assert user["user"]["exec"]["command"] == "aws"
    for gate in recording.of_type("pulumi-python:dynamic:Resource"):
        assert "kubeconfig" in gate.secret_paths


@pytest.mark.parametrize("env", ["appmesh", "prod", "dev"])
def test_no_credential_in_the_recording_the_outputs_or_the_logs(env: str) -> None:
    recording = record_env(env)
    text = "\n".join(
        [dump(recording), json.dumps(recording.outputs, default=str), *(m for _, m in recording.logs)]
    )
    for pattern in CREDENTIALS:
        assert not pattern.search(text), pattern.pattern
