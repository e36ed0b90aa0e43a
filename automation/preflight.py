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

import base64
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

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
from automation.verify.aws import error_code_and_message as _code_and_message
from automation.verify.backends import checks_for
from infra.config import StackConfig
from infra.endpoint import PIPELINE_HINT, Endpoint
from infra.endpoint import probe as probe_endpoint
from infra.naming import (
    access_entry_key,
    cluster_prefix,
    control_plane_log_group,
    ecr_repository,
    flow_logs_group,
    physical,
)

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

# The error codes botocore's standard retry mode takes for throttling (botocore/retries/standard.py,
# ThrottledRetryableChecker; a test holds the two sets equal). Seen here, the retries ran out.
THROTTLING_CODES = frozenset(
    {
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "LimitExceededException",
        "PriorRequestNotComplete",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ThrottledException",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "TransactionInProgressException",
    }
)


@dataclass(frozen=True)
class PreflightClients:
    """boto3 clients for STS and App Mesh (``Any``: boto3 ships no types)."""

    sts: Any
    appmesh: Any
    lattice: Any = None
    eks: Any = None
    """For the deploy checks below (endpoint, names, operators); ``None`` skips them."""
    iam: Any = None
    ecr: Any = None
    logs: Any = None
    servicediscovery: Any = None
    ec2: Any = None
    """For the Lattice backend's check of the region's Lattice prefix list."""


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
            eks=session.client("eks", config=config),
            iam=session.client("iam", config=config),
            ecr=session.client("ecr", config=config),
            logs=session.client("logs", config=config),
            servicediscovery=session.client("servicediscovery", config=config),
            ec2=session.client("ec2", config=config),
        )
    except (BotoCoreError, ValueError) as exc:
        # ValueError: botocore's own refusal of an endpoint URL it cannot use (AWS_ENDPOINT_URL=x).
        raise aws_setup_failure(exc) from exc


def aws_setup_failure(exc: BotoCoreError | ValueError) -> CrossmeshError:
    """An AWS setup botocore cannot use: a missing profile, a malformed config file, half a key pair,
    an endpoint URL that is not one."""
    if isinstance(exc, json.JSONDecodeError):
        return _unreadable_credentials(exc)
    if isinstance(exc, ValueError):
        endpoint = "endpoint" in str(exc).lower()
        return _credentials_failure(
            "aws_config_invalid",
            f"the AWS configuration cannot be used{_profile()}: {exc}",
            "Check AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE> and endpoint_url in the profile: a URL "
            "like https://host:port, or unset them."
            if endpoint
            else "Check AWS_PROFILE, AWS_CONFIG_FILE and the AWS_* variables.",
        )
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


def _unreadable_credentials(exc: ValueError) -> CrossmeshError:
    """botocore reads a credential_process's answer as JSON and lets the parser's error through."""
    return _credentials_failure(
        "aws_credentials_missing",
        f"the configured credential source gave an answer botocore cannot read{_profile()}: "
        f"{type(exc).__name__}: {exc}",
        "Check the profile's credential_process: it must print the JSON botocore documents "
        "(Version 1, AccessKeyId, SecretAccessKey, SessionToken, Expiration).",
    )


def _credentials_failure(kind: str, message: str, hint: str) -> CrossmeshError:
    return CrossmeshError(Failure(ExitCode.AWS_CREDENTIALS, kind, message, hint + " Nothing was changed."))


def check_account(config: StackConfig, identity: CallerIdentity) -> None:
    """The credentials' account against ``aws:allowedAccountIds`` / ``aws:forbiddenAccountIds``: a
    stack file that names its accounts is never deployed to, changed in or destroyed from another one.
    The program's AWS provider checks the same, but only once the engine runs; this is before."""
    allowed, forbidden = config.allowed_account_ids, config.forbidden_account_ids
    if allowed and identity.account not in allowed:
        rule = f"aws:allowedAccountIds in Pulumi.{config.stack}.yaml allows only {', '.join(allowed)}"
    elif identity.account in forbidden:
        rule = f"aws:forbiddenAccountIds in Pulumi.{config.stack}.yaml forbids it"
    else:
        return
    raise _credentials_failure(
        "aws_wrong_account",
        f"the AWS credentials are for account {identity.account} ({identity.arn}){_profile()}, and {rule}",
        f"Use credentials for the stack's account (AWS_PROFILE, or the role your pipeline assumes for "
        f"{config.stack}).",
    )


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
    except ValueError as exc:
        raise _unreadable_credentials(exc) from exc
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


# --------------------------------------------------------------------------------------------------
# Deploy checks: the account is ready for this stack (after the credentials, before Pulumi).


@dataclass(frozen=True)
class ExistingCluster:
    name: str
    endpoint: Endpoint
    tags: Mapping[str, str]
    version: str = ""
    """The Kubernetes minor version EKS runs the control plane at, e.g. ``1.33``."""


def describe_clusters(eks: Any, names: Sequence[str]) -> dict[str, ExistingCluster]:
    """The stack's EKS clusters that exist already (an update), by name."""
    found: dict[str, ExistingCluster] = {}
    for name in names:
        try:
            cluster = eks.describe_cluster(name=name)["cluster"]
        except ClientError as exc:
            if _code_and_message(exc)[0] == "ResourceNotFoundException":
                continue
            raise
        authority: Mapping[str, Any] = cluster.get("certificateAuthority") or {}
        ca: str | None = authority.get("data")
        found[name] = ExistingCluster(
            name=name,
            endpoint=Endpoint(url=str(cluster.get("endpoint") or ""), ca_pem=_pem(ca)),
            tags=dict(cluster.get("tags") or {}),
            version=str(cluster.get("version") or ""),
        )
    return found


def describe_stack_clusters(config: StackConfig, eks: Any) -> dict[str, ExistingCluster]:
    """The EKS clusters that exist under the names this stack gives its clusters (whoever owns them)."""
    return describe_clusters(eks, [config.eks_name(c.name) for c in config.clusters])


def own_clusters(config: StackConfig, existing: Mapping[str, ExistingCluster]) -> dict[str, ExistingCluster]:
    """Those of ``existing`` this stack made (its ``environment`` tag), by name."""
    return {name: cluster for name, cluster in existing.items() if owner_of(cluster.tags) == config.stack}


def _minor(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        return None
    return int(parts[0]), int(parts[1])


def version_step_problem(current: str, wanted: str) -> str | None:
    """Why EKS cannot take a control plane from ``current`` to ``wanted``, or None if it can: "you can
    update only one minor version at a time", and "once you upgrade a cluster, you can't downgrade"
    (https://docs.aws.amazon.com/eks/latest/userguide/update-cluster.html)."""
    now, then = _minor(current), _minor(wanted)
    if now is None or then is None or then == now:
        return None
    if then < now:
        return f"runs Kubernetes {current} and EKS cannot downgrade a cluster; expected {current} or later"
    if then != (now[0], now[1] + 1):
        return (
            f"runs Kubernetes {current} and EKS updates a cluster one minor version at a time; expected "
            f"{now[0]}.{now[1] + 1} first (deploy it, then {wanted})"
        )
    return None


def check_versions(config: StackConfig, existing: Mapping[str, ExistingCluster]) -> None:
    """On an update, each cluster's configured version must be one EKS can move it to from where it
    is: refused here, before Pulumi changes anything, instead of by UpdateClusterVersion half-way."""
    problems: list[str] = []
    ours = own_clusters(config, existing)
    for index, cluster in enumerate(config.clusters):
        found = ours.get(config.eks_name(cluster.name))
        if found is None:
            continue
        wanted = config.kubernetes_version_of(cluster)
        problem = version_step_problem(found.version, wanted)
        if problem:
            key = config.kubernetes_version_key(index)
            problems.append(f"{key}: got {wanted!r}; cluster {found.name} {problem}")
    if problems:
        raise CrossmeshError(
            Failure(
                ExitCode.BAD_INPUT,
                "version_step_refused",
                "; ".join(problems),
                "Set a version EKS can move the cluster to and deploy once per minor version. Nothing "
                "was changed.",
            )
        )


def _pem(data: str | None) -> str | None:
    if not data:
        return None
    try:
        return base64.b64decode(data, validate=True).decode()
    except ValueError:
        return None


def check_endpoints(
    existing: Mapping[str, ExistingCluster], *, probe: Callable[[Endpoint], str | None] = probe_endpoint
) -> None:
    """On an update, each cluster's API endpoint must answer from here before Pulumi touches it (a
    first deploy is covered by the EndpointGate in the program)."""
    problems = [
        f"{name} ({cluster.endpoint.url}): {problem}"
        for name, cluster in sorted(existing.items())
        if cluster.endpoint.url and (problem := probe(cluster.endpoint)) is not None
    ]
    if problems:
        raise CrossmeshError(
            Failure(
                ExitCode.ENDPOINT_UNREACHABLE,
                "endpoint_unreachable",
                "the API endpoint of " + "; ".join(problems) + " does not answer from this machine",
                "Nothing was changed. To fix: " + PIPELINE_HINT + ".",
            )
        )


@dataclass(frozen=True)
class Owned:
    kind: str
    name: str
    tags: Mapping[str, str]


def owner_of(tags: Mapping[str, str]) -> str | None:
    """The crossmesh stack that tagged a resource, or None when crossmesh did not make it."""
    return tags.get("environment") if tags.get("project") == "crossmesh" else None


def _role_tags(iam: Any, name: str) -> Mapping[str, str] | None:
    try:
        return {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name).get("Tags") or ()}
    except ClientError as exc:
        if _code_and_message(exc)[0] == "NoSuchEntity":
            return None
        raise


def _repository_tags(ecr: Any, name: str) -> Mapping[str, str] | None:
    try:
        arn = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryArn"]
    except ClientError as exc:
        if _code_and_message(exc)[0] == "RepositoryNotFoundException":
            return None
        raise
    return {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=arn).get("tags") or ()}


def _log_group_tags(logs: Any, name: str) -> Mapping[str, str] | None:
    groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups") or ()
    group = next((g for g in groups if g.get("logGroupName") == name), None)
    if group is None:
        return None
    arn = str(group["arn"]).removesuffix(":*")
    return dict(logs.list_tags_for_resource(resourceArn=arn).get("tags") or {})


def names_taken(
    config: StackConfig, clients: PreflightClients, existing: Mapping[str, ExistingCluster]
) -> list[Owned]:
    """Physical names this stack needs that exist with another owner (by the ``environment`` tag)."""
    stack = config.stack
    found: list[Owned] = [Owned("EKS cluster", name, c.tags) for name, c in existing.items()]
    if clients.iam is not None:
        roles = [physical(stack, "vpc-flow-logs")] + [
            f"{cluster_prefix(stack, c.name)}-{kind}"
            for c in config.clusters
            for kind in ("nodes", "vpc-cni")
        ]
        for role in roles:
            tags = _role_tags(clients.iam, role)
            if tags is not None:
                found.append(Owned("IAM role", role, tags))
    if clients.ecr is not None and config.workloads.images.build:
        for app in ("front", "colorapp"):
            tags = _repository_tags(clients.ecr, ecr_repository(stack, app))
            if tags is not None:
                found.append(Owned("ECR repository", ecr_repository(stack, app), tags))
    if clients.logs is not None:
        groups = [control_plane_log_group(config.eks_name(c.name)) for c in config.clusters]
        for group in (*groups, flow_logs_group(stack)):
            tags = _log_group_tags(clients.logs, group)
            if tags is not None:
                found.append(Owned("log group", group, tags))
    checks = checks_for(config.mesh.backend)
    if checks is not None:
        found.extend(Owned(kind, name, tags) for kind, name, tags in checks.existing_names(config, clients))
    return [o for o in found if owner_of(o.tags) != stack]


def check_names(
    config: StackConfig, clients: PreflightClients, existing: Mapping[str, ExistingCluster]
) -> None:
    taken = names_taken(config, clients, existing)
    if taken:
        lines = [
            f"{o.kind} {o.name}: owned by "
            + (
                f"stack {owner}"
                if (owner := owner_of(o.tags))
                else "something not made by crossmesh (no crossmesh tags)"
            )
            for o in taken
        ]
        raise CrossmeshError(
            Failure(
                ExitCode.NAME_TAKEN,
                "name_taken",
                f"stack {config.stack} needs names that already exist in this account and region: "
                + "; ".join(lines),
                "Names come from the stack name (infra/naming.py): deploy under another stack name, or "
                "destroy/rename the owner. Nothing was changed.",
            )
        )


def check_cloud_map_namespace(config: StackConfig, clients: PreflightClients) -> str | None:
    """A namespace of the same name owned by another stack.

    Route 53 refuses two private zones of one name only in the same VPC (AssociateVPCWithHostedZone:
    ConflictingDomainExists, https://docs.aws.amazon.com/Route53/latest/APIReference/API_AssociateVPCWithHostedZone.html),
    and each stack has its own VPC, so DNS alone allows the name twice; the Cloud Map docs
    (https://docs.aws.amazon.com/cloud-map/latest/dg/working-with-namespaces.html) say nothing more. But
    App Mesh finds instances with DiscoverInstances by *namespace name*, which two namespaces would
    make ambiguous: with the appmesh backend this is refused, with lattice (DNS only) it is a note.
    """
    if clients.servicediscovery is None:
        return None
    name = config.mesh.cloud_map_namespace
    for page in clients.servicediscovery.get_paginator("list_namespaces").paginate():
        for namespace in page.get("Namespaces") or ():
            if namespace.get("Name") != name:
                continue
            tags = (
                clients.servicediscovery.list_tags_for_resource(ResourceARN=namespace["Arn"]).get("Tags")
                or ()
            )
            owner = owner_of({t["Key"]: t["Value"] for t in tags})
            if owner == config.stack:
                continue
            who = f"stack {owner}" if owner else "something not made by crossmesh"
            checks = checks_for(config.mesh.backend)
            if checks is not None and checks.discovers_by_namespace_name:
                raise CrossmeshError(
                    Failure(
                        ExitCode.NAME_TAKEN,
                        "name_taken",
                        f"the Cloud Map namespace {name} ({namespace['Id']}) already exists, owned by {who}; "
                        "App Mesh discovers instances by namespace name, so two namespaces of one name "
                        "would be ambiguous",
                        "Give this stack its own `crossmesh:mesh.cloudMapNamespace`. Nothing was changed.",
                    )
                )
            return f"Cloud Map namespace {name} also exists for {who} (allowed: another VPC, DNS only)"
    return None


def caller_role_arn(identity: CallerIdentity, iam: Any) -> str | None:
    """The IAM role behind an assumed-role ARN, with its path (iam:GetRole); None for users."""
    match = re.fullmatch(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/.+", identity.arn)
    if match is None:
        return identity.arn if ":role/" in identity.arn else None
    return str(iam.get_role(RoleName=match.group(3))["Role"]["Arn"])


def check_creator_not_an_operator(
    config: StackConfig,
    identity: CallerIdentity,
    clients: PreflightClients,
    existing: Mapping[str, ExistingCluster],
) -> None:
    """A first deploy runs as the role EKS will make admin at creation (bootstrapClusterCreatorAdmin-
    Permissions); listing that role in ``crossmesh:operators`` too would fail with 409 on its entry."""
    if clients.iam is None or not config.operators or len(existing) == len(config.clusters):
        return
    role = caller_role_arn(identity, clients.iam)
    if role is None:
        return
    keys = {access_entry_key(arn): arn for arn in config.operators}
    if access_entry_key(role) in keys:
        raise CrossmeshError(
            Failure(
                ExitCode.BAD_INPUT,
                "creator_is_operator",
                f"crossmesh:operators lists {keys[access_entry_key(role)]}, the role this first deploy "
                f"runs as ({identity.arn}); EKS makes the creator admin when it creates the cluster, and a "
                "second access entry for it fails (409)",
                "Remove it from crossmesh:operators (it keeps admin as the creator), or create the stack "
                "from a role not listed there. Nothing was changed.",
            )
        )


# What the account-side checks read; a deploying role without them is refused here, by name.
DEPLOY_CHECK_READS = (
    "eks:DescribeCluster, iam:ListRoleTags, iam:GetRole, ecr:DescribeRepositories, "
    "ecr:ListTagsForResource, logs:DescribeLogGroups, logs:ListTagsForResource, "
    "servicediscovery:ListNamespaces, servicediscovery:ListTagsForResource, "
    "vpc-lattice:ListServiceNetworks, vpc-lattice:ListTagsForResource"
)


def deploy_check_failure(exc: ClientError | BotoCoreError, *, before: str = "deploying") -> CrossmeshError:
    """An AWS call of the deploy checks that failed: refused, throttled or unanswered. Without this
    the run ended in a traceback (exit 1) and, under --json, with no document at all. ``before``
    names the operation the checks guard."""
    code = ""
    if isinstance(exc, ClientError):
        code, message = _code_and_message(exc)
        what = f"{exc.operation_name} failed ({code}: {message})"
    else:
        what = f"an AWS call did not complete ({type(exc).__name__}: {exc})"
    if code in _REJECTED_CODES or code in {"AccessDeniedException", "UnauthorizedOperation"}:
        hint = (
            f"Grant the deploying role the reads these checks make ({DEPLOY_CHECK_READS}); a deploy "
            "needs them anyway."
        )
    elif code in THROTTLING_CODES:
        hint = (
            "AWS throttled the account's API calls past botocore's retries (other tools calling the same "
            "API at once?); wait a minute, then run the command again."
        )
    else:
        hint = "Check the network and proxy settings (HTTPS_PROXY), then run the command again."
    return CrossmeshError(
        Failure(
            ExitCode.AWS_CREDENTIALS,
            "aws_check_failed",
            f"the checks before {before} could not read the account: {what}",
            hint + " Nothing was changed.",
        )
    )


def check_for_deploy(
    config: StackConfig,
    identity: CallerIdentity,
    clients: PreflightClients,
    *,
    probe: Callable[[Endpoint], str | None] = probe_endpoint,
) -> list[str]:
    """The account-side checks of deploy and preview; notes worth printing. An AWS call that fails
    stops the run with exit 5 naming the call (:func:`deploy_check_failure`)."""
    try:
        return _check_for_deploy(config, identity, clients, probe=probe)
    except (ClientError, BotoCoreError) as exc:
        raise deploy_check_failure(exc) from exc


def _check_for_deploy(
    config: StackConfig,
    identity: CallerIdentity,
    clients: PreflightClients,
    *,
    probe: Callable[[Endpoint], str | None],
) -> list[str]:
    if clients.eks is None:
        return []
    existing = describe_stack_clusters(config, clients.eks)
    check_names(config, clients, existing)
    check_versions(config, existing)
    check_creator_not_an_operator(config, identity, clients, existing)
    note = check_cloud_map_namespace(config, clients)
    check_endpoints(own_clusters(config, existing), probe=probe)
    checks = checks_for(config.mesh.backend)
    if checks is not None:
        checks.check_for_deploy(clients, region=config.region)
    return [note] if note else []


def check_endpoints_for_cleanup(
    config: StackConfig,
    clients: PreflightClients,
    *,
    operation: str,
    probe: Callable[[Endpoint], str | None] = probe_endpoint,
) -> None:
    """destroy and refresh: each of the stack's clusters that still exists must answer from here.

    Every cluster's Kubernetes provider is made with ``deleteUnreachable`` (infra/cluster.py), so that a
    destroy can finish once a cluster is really gone. Its other side: when the endpoint merely does not
    answer from this machine (a private-only endpoint seen from outside the VPC, an address outside
    ``publicAccessCidrs``), the provider takes the cluster for gone and drops its objects from the state
    without deleting them ("the provider will delete unreachable cluster resources from state",
    https://github.com/pulumi/pulumi-kubernetes/pull/2489). A destroy then deletes the nodes and the
    controllers while front's load balancer and the Lattice services they made are still there, and
    fails on the subnets and the service network they hold; a refresh forgets objects that exist. A
    cluster EKS no longer has is not probed: that is what ``deleteUnreachable`` is for."""
    if clients.eks is None:
        return
    try:
        existing = describe_stack_clusters(config, clients.eks)
    except (ClientError, BotoCoreError) as exc:
        raise deploy_check_failure(exc, before=operation) from exc
    check_endpoints(own_clusters(config, existing), probe=probe)


def check_nothing_protected(env: str, state: Sequence[Mapping[str, Any]]) -> None:
    """destroy: refuse a stack whose state holds protected resources, before anything is deleted.

    The engine deletes dependents first and refuses a protected resource only when its own delete
    comes up ("destroy will error when it tries to delete a protected resource",
    https://github.com/pulumi/pulumi/issues/15896; children and dependents go first,
    https://github.com/pulumi/pulumi/issues/782). With crossmesh:deletionProtection the clusters, their
    keys and the VPC are protected, and everything on top of them is not: a destroy would delete the
    apps, the controllers, the load balancer and the node groups, then stop, leaving a protected
    environment that serves nothing. The state, not the stack file, says what is protected: destroy
    does not run the program."""
    protected = sorted(str(r.get("urn", "")).rsplit("::", 1)[-1] for r in state if r.get("protect") is True)
    if not protected:
        return
    shown = ", ".join(protected[:6]) + (f" and {len(protected) - 6} more" if len(protected) > 6 else "")
    raise CrossmeshError(
        Failure(
            ExitCode.BAD_INPUT,
            "deletion_protected",
            f"{env} has {len(protected)} protected resource(s) in its state ({shown}); destroy would "
            "delete everything that stands on them (apps, controllers, load balancer, node groups) and "
            "then stop at them",
            f"To destroy {env}: set crossmesh:deletionProtection to false in Pulumi.{env}.yaml, run "
            f"`python -m automation deploy {env}` (it lifts Pulumi's protection and the clusters' EKS "
            "deletion protection), then destroy. Nothing was changed.",
        )
    )


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


def check_no_fixed_setting_change(config: StackConfig, state: Sequence[Mapping[str, Any]] | None) -> None:
    """Refuse (exit 2) a deploy or preview whose stack file changes a setting the deployed stack cannot
    change in place (infra/fixed_settings.py): Pulumi's replacement would collide with the resource it
    replaces and leave the update half-applied."""
    from infra.fixed_settings import fixed_setting_problems  # noqa: PLC0415

    problems = fixed_setting_problems(config, state or [])
    if not problems:
        return
    lines = "\n".join(f"  - {problem}" for problem in problems)
    raise CrossmeshError(
        Failure(
            ExitCode.BAD_INPUT,
            "fixed_setting_changed",
            f"Pulumi.{config.stack}.yaml changes what stack {config.stack!r} was built with, which it "
            f"cannot change in place:\n{lines}",
            f"Put the deployed values back in Pulumi.{config.stack}.yaml. To move to new ones, deploy a new "
            "stack beside this one and move traffic to it, as docs/migration.md does, or destroy this "
            "stack first. Nothing was changed.",
        )
    )
