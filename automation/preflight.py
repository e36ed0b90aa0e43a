"""Checks that run after the configuration is validated and before Pulumi is touched.

1. AWS credentials, with STS ``GetCallerIdentity`` (needs no permission, so it tests exactly the
   credentials): missing, expired and rejected credentials each get their own message.
2. The mesh backend: for ``crossmesh:mesh.backend: appmesh``, App Mesh ``ListMeshes``. AWS ended
   App Mesh support on 2026-09-30; an account that can no longer use it must learn that here, with
   what to do, rather than from a controller timing out twenty minutes into a deploy.

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
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConfigParseError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)

from automation.errors import CrossmeshError, Failure
from automation.exit_codes import ExitCode
from infra.config import MeshBackendKind, StackConfig

APPMESH_END_OF_SUPPORT = date(2026, 9, 30)
APPMESH_NO_NEW_CUSTOMERS = date(2024, 9, 24)

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
# What App Mesh answers an account that may not use it: no access, or a service that is gone.
_MESH_DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "ForbiddenException",
        "UnauthorizedOperation",
        "SubscriptionRequiredException",
        "OptInRequired",
    }
)


@dataclass(frozen=True)
class PreflightClients:
    """boto3 clients for STS and App Mesh (``Any``: boto3 ships no types)."""

    sts: Any
    appmesh: Any
    lattice: Any = None


def make_clients(region: str) -> PreflightClients:
    """Clients for ``region`` from the default credential chain, with short timeouts and few retries.

    An unusable AWS setup fails here, before any call: botocore reads the profile and the config file
    when the session is made, and resolves the credentials when a client is made. Each such failure
    raises :class:`CrossmeshError` (exit 5) naming the cause, never a traceback.
    """
    config = Config(
        region_name=region,
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=10,
        user_agent_extra="crossmesh-preflight",
    )
    try:
        session = boto3.Session(region_name=region)
        return PreflightClients(
            sts=session.client("sts", config=config),
            appmesh=session.client("appmesh", config=config),
            lattice=session.client("vpc-lattice", config=config),
        )
    except BotoCoreError as exc:
        raise aws_setup_failure(exc) from exc


def aws_setup_failure(exc: BotoCoreError) -> CrossmeshError:
    """An AWS setup botocore cannot use: a missing profile, a malformed config file, half a key pair."""
    if isinstance(exc, ProfileNotFound):
        profiles = ", ".join(_known_profiles())
        return _credentials_failure(
            "aws_profile_not_found",
            f"AWS_PROFILE={os.environ.get('AWS_PROFILE', '')} names a profile that is not in the AWS "
            f"config files ({exc})",
            (f"Known profiles: {profiles}. " if profiles else "")
            + "Set AWS_PROFILE to one of them (`aws configure list-profiles`), create it "
            "(`aws configure --profile <name>` or `aws configure sso`), or unset AWS_PROFILE.",
        )
    if isinstance(exc, ConfigParseError):
        return _credentials_failure(
            "aws_config_invalid",
            f"the AWS config file cannot be read: {exc}",
            "Fix its syntax (INI: `[default]` or `[profile name]` sections of `key = value` lines), or "
            "point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at good files.",
        )
    if isinstance(exc, PartialCredentialsError):
        return _credentials_failure(
            "aws_credentials_missing",
            f"incomplete AWS credentials{_profile()}: {exc}",
            "Set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary "
            "credentials), or unset both and use a profile.",
        )
    return _credentials_failure(
        "aws_credentials_error",
        f"the AWS configuration cannot be used{_profile()}: {type(exc).__name__}: {exc}",
        "Check AWS_PROFILE, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE and the AWS_* credential variables.",
    )


def _known_profiles() -> list[str]:
    """The profiles in the config and credentials files (a botocore session reads them lazily, without
    resolving AWS_PROFILE)."""
    try:
        session: Any = botocore.session.Session()
        profiles = [str(p) for p in session.available_profiles]
    except BotoCoreError:
        return []
    return sorted(profiles)


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


def backend_hint(env: str) -> str:
    """How to choose the other mesh backend."""
    return (
        f"The mesh backend is chosen by `crossmesh:mesh` -> `backend` in Pulumi.{env}.yaml. Switch to "
        f"`lattice` (Amazon VPC Lattice with the AWS Gateway API controller, AWS's stated path off App "
        f"Mesh for EKS): `pulumi config set --path crossmesh:mesh.backend lattice --stack {env}` and drop "
        "`crossmesh:mesh.tracing` if it is set. The apps, their Deployments and the name front calls stay "
        "the same; Pulumi.lattice.yaml is a complete example. Render it first, offline: "
        f"`python -m automation render {env}`."
    )


def _eol_sentence(today: date) -> str:
    verb = "ended" if today >= APPMESH_END_OF_SUPPORT else "ends"
    return (
        f"AWS App Mesh support {verb} on {APPMESH_END_OF_SUPPORT.isoformat()}: after that date the App Mesh "
        "API and its resources are no longer accessible (new customers could not onboard since "
        f"{APPMESH_NO_NEW_CUSTOMERS.isoformat()})."
    )


def check_appmesh(appmesh: Any, *, env: str, region: str, today: date | None = None) -> int:
    """``ListMeshes`` (one page); returns how many meshes it listed, or raises (exit 6)."""
    today = today or date.today()
    try:
        answer: dict[str, Any] = appmesh.list_meshes(limit=1)
    except ClientError as exc:
        code, message = _code_and_message(exc)
        if code in _MESH_DENIED_CODES:
            reason = (
                f"App Mesh is not available to this account in {region} ({code}: {message}). "
                + _eol_sentence(today)
                + " (If only this role lacks appmesh:ListMeshes, grant it; the account itself may still "
                "have App Mesh.)"
            )
        else:
            reason = (
                f"App Mesh ListMeshes failed in {region} ({code}: {message}); the mesh cannot be managed. "
                + _eol_sentence(today)
            )
        raise CrossmeshError(
            Failure(ExitCode.MESH_UNAVAILABLE, "mesh_unavailable", reason, backend_hint(env))
        ) from exc
    except (EndpointConnectionError, BotoCoreError) as exc:
        reason = f"the App Mesh endpoint in {region} did not answer ({exc}). " + _eol_sentence(today)
        raise CrossmeshError(
            Failure(ExitCode.MESH_UNAVAILABLE, "mesh_unavailable", reason, backend_hint(env))
        ) from exc
    meshes: list[Any] = list(answer.get("meshes") or [])
    return len(meshes)


def check_lattice(lattice: Any, *, env: str, region: str) -> int:
    """``ListServiceNetworks`` (one page): VPC Lattice answers in this region for these credentials."""
    try:
        answer: dict[str, Any] = lattice.list_service_networks(maxResults=1)
    except ClientError as exc:
        code, message = _code_and_message(exc)
        reason = (
            f"VPC Lattice ListServiceNetworks failed in {region} ({code}: {message}); "
            "the mesh cannot be built."
        )
        hint = (
            "Grant the deploying role vpc-lattice:ListServiceNetworks (and the rest of what Pulumi creates), "
            f"or check that VPC Lattice is offered in {region}."
        )
        raise CrossmeshError(Failure(ExitCode.MESH_UNAVAILABLE, "mesh_unavailable", reason, hint)) from exc
    except (EndpointConnectionError, BotoCoreError) as exc:
        reason = f"the VPC Lattice endpoint in {region} did not answer ({exc})."
        hint = f"Check network access to vpc-lattice.{region}.amazonaws.com and that the region offers it."
        raise CrossmeshError(Failure(ExitCode.MESH_UNAVAILABLE, "mesh_unavailable", reason, hint)) from exc
    return len(list(answer.get("items") or []))


def check_mesh_backend(config: StackConfig, clients: PreflightClients, *, today: date | None = None) -> bool:
    """Run the availability check of the configured backend; ``False`` when there is nothing to check."""
    if config.mesh.backend is MeshBackendKind.APPMESH:
        check_appmesh(clients.appmesh, env=config.stack, region=config.region, today=today)
        return True
    if config.mesh.backend is MeshBackendKind.LATTICE and clients.lattice is not None:
        check_lattice(clients.lattice, env=config.stack, region=config.region)
        return True
    return False
