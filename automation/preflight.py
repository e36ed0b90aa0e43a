"""Checks that run after the configuration is validated and before Pulumi is touched.

1. AWS credentials, with STS ``GetCallerIdentity`` (needs no permission, so it tests exactly the
   credentials): missing, expired and rejected credentials each get their own message.
2. The mesh backend's availability, asked of the backend (``automation/verify/backends/<kind>.py``):
   e.g. App Mesh ``ListMeshes``. AWS ended App Mesh support on 2026-09-30; an account that can no
   longer use it must learn that here, with what to do, rather than from a controller timing out
   twenty minutes into a deploy.

Both raise :class:`automation.errors.CrossmeshError` with exit code 5 or 6. Clients are injected
(:class:`PreflightClients`), so tests use moto and botocore's Stubber.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    SSOError,
    TokenRetrievalError,
)

from automation.errors import CrossmeshError, Failure
from automation.exit_codes import ExitCode
from automation.verify.backends import checks_for
from infra.config import StackConfig

_EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
_REJECTED_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "AuthFailure",
        "AccessDenied",
    }
)


@dataclass(frozen=True)
class PreflightClients:
    """boto3 clients for STS and App Mesh (``Any``: boto3 ships no types)."""

    sts: Any
    appmesh: Any
    lattice: Any = None


def make_clients(region: str) -> PreflightClients:
    """Clients for ``region`` from the default credential chain, with short timeouts and few retries."""
    session = boto3.Session(region_name=region)
    config = Config(
        region_name=region,
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=10,
        user_agent_extra="crossmesh-preflight",
    )
    return PreflightClients(
        sts=session.client("sts", config=config),
        appmesh=session.client("appmesh", config=config),
        lattice=session.client("vpc-lattice", config=config),
    )


@dataclass(frozen=True)
class CallerIdentity:
    account: str
    arn: str


def _profile() -> str:
    profile = os.environ.get("AWS_PROFILE")
    return f" (AWS_PROFILE={profile})" if profile else ""


def _code_and_message(exc: ClientError) -> tuple[str, str]:
    response = cast("Mapping[str, object]", exc.response)
    error = response.get("Error")
    if not isinstance(error, Mapping):
        return "", ""
    fields = cast("Mapping[str, object]", error)
    return str(fields.get("Code") or ""), str(fields.get("Message") or "")


def _credentials_failure(kind: str, message: str, hint: str) -> CrossmeshError:
    return CrossmeshError(Failure(ExitCode.AWS_CREDENTIALS, kind, message, hint + " Nothing was changed."))


def check_aws_credentials(sts: Any) -> CallerIdentity:
    """``GetCallerIdentity``; raises :class:`CrossmeshError` (exit 5) saying what is wrong."""
    profile = _profile()
    try:
        answer: dict[str, Any] = sts.get_caller_identity()
    except NoCredentialsError as exc:
        raise _credentials_failure(
            "aws_credentials_missing",
            f"no AWS credentials found{profile}: none in the environment, shared config/credentials "
            "files, SSO cache, web identity or instance metadata",
            "Log in with `aws sso login --profile <profile>` and set AWS_PROFILE, or `aws configure`, or "
            "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; in GitHub Actions assume a role with "
            "aws-actions/configure-aws-credentials (OIDC, permissions id-token: write).",
        ) from exc
    except PartialCredentialsError as exc:
        raise _credentials_failure(
            "aws_credentials_missing",
            f"incomplete AWS credentials{profile}: {exc}",
            "Set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary "
            "credentials), or use a profile.",
        ) from exc
    except (TokenRetrievalError, SSOError) as exc:
        raise _credentials_failure(
            "aws_credentials_expired",
            f"the AWS SSO session has expired or is missing{profile}: {exc}",
            "Run `aws sso login` for the profile in use, then try again.",
        ) from exc
    except CredentialRetrievalError as exc:
        raise _credentials_failure(
            "aws_credentials_missing",
            f"the configured credential source failed{profile}: {exc}",
            "Check the profile's credential_process / role settings in ~/.aws/config.",
        ) from exc
    except ClientError as exc:
        code, message = _code_and_message(exc)
        if code in _EXPIRED_CODES:
            raise _credentials_failure(
                "aws_credentials_expired",
                f"the AWS credentials have expired{profile} ({code}: {message})",
                "Get fresh ones: `aws sso login` for SSO profiles, assume the role again for temporary "
                "credentials, or unset a stale AWS_SESSION_TOKEN.",
            ) from exc
        if code in _REJECTED_CODES:
            raise _credentials_failure(
                "aws_credentials_rejected",
                f"AWS rejected the credentials{profile} ({code}: {message})",
                "Check that the access key is active and belongs to the intended account, and that "
                "AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN belong to that key.",
            ) from exc
        raise _credentials_failure(
            "aws_credentials_error",
            f"STS GetCallerIdentity failed{profile} ({code}: {message})",
            "Check the credentials and the region's STS endpoint.",
        ) from exc
    except EndpointConnectionError as exc:
        raise _credentials_failure(
            "aws_unreachable",
            f"could not reach AWS STS to check the credentials: {exc}",
            "Check the network, proxy settings (HTTPS_PROXY) and that the region is right.",
        ) from exc
    except BotoCoreError as exc:
        raise _credentials_failure(
            "aws_credentials_error",
            f"checking the AWS credentials failed{profile}: {type(exc).__name__}: {exc}",
            "Check the AWS configuration.",
        ) from exc
    return CallerIdentity(account=str(answer.get("Account", "")), arn=str(answer.get("Arn", "")))


def check_mesh_backend(config: StackConfig, clients: PreflightClients, *, today: date | None = None) -> bool:
    """Run the availability check of the configured backend; ``False`` when there is nothing to check."""
    checks = checks_for(config.mesh.backend)
    if checks is None:
        return False
    return checks.check_available(clients, env=config.stack, region=config.region, today=today)


def check_deployable(config: StackConfig) -> None:
    """Refuse (exit 6) a backend that cannot be deployed at all, before anything else: the same check
    the program makes before its first registration (``infra.mesh.refuse_undeployable``)."""
    from infra.mesh import BackendUnavailable, refuse_undeployable  # noqa: PLC0415 - loads the Pulumi SDKs

    try:
        refuse_undeployable(config)
    except BackendUnavailable as exc:
        raise CrossmeshError(
            Failure(ExitCode.MESH_UNAVAILABLE, "mesh_unavailable", exc.message, exc.hint)
        ) from exc


def check_no_backend_switch(config: StackConfig, state_types: list[str] | None) -> None:
    """Refuse (exit 2) a deploy that would turn a stack deployed with one mesh backend into another in
    place: the two claim the same DNS name and the old one's objects cannot be deleted by the new one's
    controller. The way across is a new stack (docs/migration.md)."""
    from infra.config import MeshBackendKind  # noqa: PLC0415
    from infra.mesh import backend_class, backend_for  # noqa: PLC0415 - loads the Pulumi SDKs

    if not state_types:
        return
    present = set(state_types)
    configured = backend_for(config)
    for kind in MeshBackendKind:
        if kind.value == configured.kind.value:
            continue
        found = sorted(present & backend_class(kind.value)(config).state_markers())
        if found:
            raise CrossmeshError(
                Failure(
                    ExitCode.BAD_INPUT,
                    "backend_switch_refused",
                    f"stack {config.stack!r} holds {kind.value} resources ({', '.join(found)}) but its "
                    f"configuration now asks for {configured.kind.value}; a stack is not converted from one "
                    "mesh backend to another in place. Nothing was changed.",
                    "Follow docs/migration.md: deploy the new backend as a new stack, move traffic, "
                    "then tear the old stack down.",
                )
            )
