"""What went wrong, in words a user can act on: failures as messages, hints and exit codes.

Modules that detect a failure themselves (preflight, the stack wrapper) raise :class:`CrossmeshError`
carrying a :class:`Failure`. Errors that come from the Pulumi engine arrive as Automation API
``CommandError`` subclasses whose only payload is the CLI's text; :func:`classify_engine_error` reads
that text (and the error diagnostics the event stream carried) and picks the message and exit code.

This module imports nothing from Pulumi: errors are recognised by class name, so it stays cheap to
import and testable with plain exceptions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from automation.exit_codes import ExitCode

HELM_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
# The Helm SDK's wording when a release does not become ready within its timeout.
_TIMEOUT_MARKERS = ("context deadline exceeded", "timed out waiting")


@dataclass(frozen=True)
class Failure:
    """One failure: the exit code, a stable ``kind`` for machines, a message and what to do about it."""

    code: ExitCode
    kind: str
    message: str
    hint: str = ""
    details: Sequence[str] = field(default_factory=tuple[str, ...])
    """Extra lines worth showing (engine error lines, the lock holder)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "exit_code": int(self.code),
            "message": self.message,
            "hint": self.hint,
            "details": list(self.details),
        }


class CrossmeshError(Exception):
    """A failure this project detected and explained; the CLI prints it and exits with its code."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass(frozen=True)
class Diagnostic:
    """An engine diagnostic (from the event stream): which resource, how severe, what it said."""

    urn: str
    severity: str
    message: str


@dataclass(frozen=True)
class HelmTimeout:
    """A Helm release that did not become ready in time."""

    logical_name: str
    """Pulumi's name for the release resource, e.g. ``eksc1-mesh-controller-release``."""
    release: str
    """``namespace/name`` of the Helm release, e.g. ``appmesh-system/appmesh-controller``."""
    evidence: str
    """The engine's line that says so."""


# --------------------------------------------------------------------------------------------------
# Recognising engine errors


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def is_concurrent_update(exc: BaseException) -> bool:
    return "ConcurrentUpdateError" in _class_names(exc)


def is_stack_not_found(exc: BaseException) -> bool:
    return "StackNotFoundError" in _class_names(exc)


def is_command_error(exc: BaseException) -> bool:
    return "CommandError" in _class_names(exc)


def urn_type(urn: str) -> str:
    """``urn:pulumi:dev::crossmesh::a:b:C$kubernetes:helm.sh/v3:Release::name`` -> the resource's type."""
    parts = urn.split("::")
    if len(parts) < 4:
        return ""
    return parts[2].rsplit("$", 1)[-1]


def urn_name(urn: str) -> str:
    parts = urn.split("::")
    return parts[-1] if len(parts) >= 4 else ""


_HELM_RELEASE_IN_TEXT = re.compile(r'[Hh]elm [Rr]elease "?(?P<release>[\w.-]+/[\w.-]+)"?')
# A resource heading in the CLI's "Diagnostics:" section: `  kubernetes:helm.sh/v3:Release (name):`
_DIAGNOSTIC_HEADING = re.compile(r"^(?P<indent>\s*)(?P<type>[\w-]+:[\w./-]*:[\w]+) \((?P<name>[^()]+)\):\s*$")


def _release_named_in(text: str, fallback: str) -> str:
    """The release the text names, else ``fallback`` (the mesh controller's, from the backend)."""
    match = _HELM_RELEASE_IN_TEXT.search(text)
    return match.group("release") if match else fallback or "the mesh controller release"


def _timeout_line(text: str) -> str | None:
    for line in text.splitlines():
        if any(marker in line.lower() for marker in _TIMEOUT_MARKERS):
            return line.strip()
    return None


def helm_timeouts(
    text: str, diagnostics: Iterable[Diagnostic] = (), controller_release: str = ""
) -> list[HelmTimeout]:
    """Helm releases that timed out, from event diagnostics and from the CLI's own error text.

    Only a timeout *next to a Helm release* counts: "context deadline exceeded" on, say, an EKS
    cluster is a different problem with a different fix. Diagnostics carry the resource's URN; the
    CLI text carries a heading per resource in its "Diagnostics:" section.
    """
    found: dict[str, HelmTimeout] = {}
    for diagnostic in diagnostics:
        if urn_type(diagnostic.urn) != HELM_RELEASE_TYPE:
            continue
        line = _timeout_line(diagnostic.message)
        if line is not None:
            name = urn_name(diagnostic.urn)
            found.setdefault(
                name, HelmTimeout(name, _release_named_in(diagnostic.message, controller_release), line)
            )
    heading: tuple[str, str, int] | None = None
    block: list[str] = []

    def close_block() -> None:
        if heading is None or heading[0] != HELM_RELEASE_TYPE:
            return
        body = "\n".join(block)
        line = _timeout_line(body)
        if line is not None:
            found.setdefault(
                heading[1], HelmTimeout(heading[1], _release_named_in(body, controller_release), line)
            )

    for raw in text.splitlines():
        match = _DIAGNOSTIC_HEADING.match(raw)
        if match:
            close_block()
            heading, block = (match.group("type"), match.group("name"), len(match.group("indent"))), []
            continue
        if heading is not None and raw.strip() and len(raw) - len(raw.lstrip()) <= heading[2]:
            # Back at (or left of) the heading's indentation: that resource's block is over.
            close_block()
            heading, block = None, []
            continue
        block.append(raw)
    close_block()
    return list(found.values())


def _cluster_of(logical_name: str, clusters: Sequence[str]) -> str | None:
    """Release resources are named ``<cluster>-mesh-controller-release``: the longest matching prefix."""
    matching = [c for c in clusters if logical_name.startswith(f"{c}-")]
    return max(matching, key=len) if matching else None


DETAIL_CHARS = 1000
"""The most of one engine line a failure repeats: a provider error can quote a whole manifest or chart,
megabytes on the terminal and in the JSON result; the event log keeps every line whole."""


def shortened(line: str, limit: int = DETAIL_CHARS) -> str:
    """``line``, cut to ``limit`` characters with a note of how much was left out."""
    if len(line) <= limit:
        return line
    return f"{line[:limit]}... ({len(line) - limit} more characters not shown)"


def error_lines(text: str, diagnostics: Iterable[Diagnostic] = (), limit: int = 8) -> list[str]:
    """The engine's error lines worth showing: error diagnostics first, else ``error:`` lines of the
    text; each at most :data:`DETAIL_CHARS` long."""
    lines = [
        f"{urn_type(d.urn) or 'pulumi'} {urn_name(d.urn)}: {d.message.strip()}".strip()
        for d in diagnostics
        if d.severity == "error" and d.message.strip()
    ]
    if not lines:
        lines = [line.strip() for line in text.splitlines() if line.strip().lower().startswith("error:")]
    unique = list(dict.fromkeys(lines))
    return [shortened(line) for line in unique[:limit]]


# --------------------------------------------------------------------------------------------------
# Failures


@dataclass(frozen=True)
class EngineContext:
    """What the classifier knows about the run, to make hints concrete."""

    env: str
    operation: str
    clusters: Sequence[str] = ()
    """Cluster keys of the configuration (``eksc1``...)."""
    eks_names: dict[str, str] = field(default_factory=dict[str, str])
    """cluster key -> physical EKS cluster name."""
    region: str = ""
    log_path: str = ""
    controller_release: str = ""
    """``namespace/name`` of the mesh controller's Helm release (``MeshBackend.controller_release``),
    named when the engine's text names no release."""


def stack_locked(context: EngineContext, text: str) -> Failure:
    holder = [
        shortened(line.strip())
        for line in text.splitlines()
        if "created by" in line or "currently locked" in line or "in progress" in line.lower()
    ]
    return Failure(
        ExitCode.STACK_LOCKED,
        "stack_locked",
        f"another update is running on stack {context.env!r}; this {context.operation} changed nothing",
        "Wait for the other update to finish and run again. If nothing else is running (a previous run was "
        f"killed, a CI job cancelled), release the lock from the project directory: `pulumi cancel --stack "
        f"{context.env} --yes` (same backend: --backend / PULUMI_BACKEND_URL), then run `python -m "
        f"automation refresh {context.env} --yes` to reconcile resources the killed run may have left "
        "pending.",
        tuple(dict.fromkeys(holder))[:4],
    )


def helm_timeout(context: EngineContext, timeouts: Sequence[HelmTimeout], others: Sequence[str]) -> Failure:
    names: list[str] = []
    looks: list[str] = []
    for timeout in timeouts:
        cluster = _cluster_of(timeout.logical_name, context.clusters)
        where = f" in cluster {cluster}" if cluster else ""
        names.append(f"{timeout.release} (Pulumi resource {timeout.logical_name}){where}")
        namespace, _, release = timeout.release.partition("/")
        looks.append(f"For {timeout.release}{where}:")
        if cluster and cluster in context.eks_names:
            region = f" --region {context.region}" if context.region else ""
            looks.append(
                f"  - kubectl access: aws eks update-kubeconfig --name {context.eks_names[cluster]}{region}"
            )
        looks += [
            f"  - pods and events: kubectl -n {namespace} get pods,events (Pending pods, pulls, webhooks)",
            f"  - controller logs: kubectl -n {namespace} logs deploy/{release}",
            "  - node capacity: kubectl describe nodes (allocatable vs requested; scale the node group if "
            "pods stay Pending)",
            f"  - IRSA role annotation: kubectl -n {namespace} get sa {release} -o "
            "jsonpath='{.metadata.annotations.eks\\.amazonaws\\.com/role-arn}' (a missing or wrong role "
            "keeps the controller from starting)",
        ]
    return Failure(
        ExitCode.DEPLOY_FAILED,
        "helm_timeout",
        "Helm release did not become ready in time: " + "; ".join(names),
        "\n".join(
            [
                "The release is installed atomically, so Helm rolled it back; nothing is half-installed.",
                *looks,
                f"Fix the cause and run `python -m automation deploy {context.env}` again.",
            ]
        ),
        tuple([shortened(t.evidence) for t in timeouts] + list(others)),
    )


_RESULT_PREFIX = re.compile(r"^ ?(stdout|stderr): ?")
# The engine's refusal to touch a protected resource: deleting one (destroy, or an update that removes
# it) reads "resource <urn> cannot be deleted\nbecause it is protected" (pkg/resource/deploy/step.go,
# deleteProtectedError); replacing one still reads "... as it is currently marked for protection".
_PROTECTED = re.compile(r"cannot be deleted\s+because it is protected|marked for protection")
# A self-managed backend the CLI cannot use (pulumi/pulumi pkg/backend/diy): its URL does not open
# (newDIYBackend: "unable to open bucket %s: %w"), its metadata cannot be read or, on first use,
# written (readPulumiMeta, WriteTo: "read %q: %w" / "write %q: %w" of .pulumi/meta.yaml: a bucket
# that refuses the credentials), or its stacks cannot be listed (ListReferences: "error listing
# stacks: %w": a bucket that does not exist, which the blob library reports to readPulumiMeta as a
# missing file).
_BACKEND_UNAVAILABLE = re.compile(
    r"unable to open bucket |(read|write) \"\.pulumi/meta\.yaml\": |error listing stacks: "
)


def command_text(exc: BaseException) -> str:
    """The CLI's stdout and stderr from a ``CommandError``, without the SDK's ``code:/stdout:/stderr:``
    labels (``str(CommandError)`` is ``"\n code: 255\n stdout: ...\n stderr: ..."``)."""
    lines = [_RESULT_PREFIX.sub("", line) for line in str(exc).splitlines()]
    return "\n".join(line for line in lines if not re.fullmatch(r" ?code: -?\d+", line))


def classify_engine_error(
    exc: BaseException, context: EngineContext, diagnostics: Sequence[Diagnostic] = ()
) -> Failure:
    """Turn an Automation API error (a ``CommandError`` and subclasses) into a :class:`Failure`."""
    text = command_text(exc)
    lowered = text.lower()
    log = f" Full log: {context.log_path}." if context.log_path else ""
    if is_concurrent_update(exc):
        return stack_locked(context, text)
    if is_stack_not_found(exc):
        return Failure(
            ExitCode.NOT_DEPLOYED,
            "stack_not_found",
            f"there is no stack {context.env!r} in this Pulumi backend",
            f"Deploy it first (`python -m automation deploy {context.env}`), or point at the backend that "
            "holds it with --backend URL or PULUMI_BACKEND_URL.",
        )
    if "pulumi_config_passphrase" in lowered or "incorrect passphrase" in lowered:
        return Failure(
            ExitCode.BAD_INPUT,
            "passphrase",
            "the stack's secrets are passphrase-encrypted and no (or a wrong) passphrase was given",
            "Set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to the stack's passphrase.",
        )
    if "pulumi_access_token" in lowered or "pulumi login" in lowered:
        return Failure(
            ExitCode.BAD_INPUT,
            "backend_login",
            "the Pulumi CLI is not logged in to a backend",
            "Set PULUMI_ACCESS_TOKEN for Pulumi Cloud, or choose a self-managed backend with --backend "
            "(e.g. s3://bucket/prefix or file://~/.pulumi-state) or PULUMI_BACKEND_URL.",
        )
    if _BACKEND_UNAVAILABLE.search(text):
        return Failure(
            ExitCode.BAD_INPUT,
            "backend_unavailable",
            "the Pulumi backend that holds the stack's state could not be opened or read",
            "Check the URL given with --backend or PULUMI_BACKEND_URL (for s3://, the bucket, its region "
            "and the credentials' s3:GetObject, s3:PutObject and s3:ListBucket on it). Nothing was changed.",
            tuple(shortened(line) for line in text.strip().splitlines()[-3:] if line.strip()),
        )
    timeouts = helm_timeouts(text, diagnostics, context.controller_release)
    others = error_lines(text, [d for d in diagnostics if urn_type(d.urn) != HELM_RELEASE_TYPE])
    if timeouts:
        return helm_timeout(context, timeouts, others)
    if _PROTECTED.search(lowered) or any(_PROTECTED.search(d.message.lower()) for d in diagnostics):
        return Failure(
            ExitCode.DEPLOY_FAILED,
            "protected_resource",
            f"{context.operation} stopped at a protected resource",
            "crossmesh protects the clusters, KMS keys and VPC when crossmesh:deletionProtection is true "
            + (
                f"(staging, prod): set it to false in Pulumi.{context.env}.yaml, run "
                f"`python -m automation deploy {context.env}`, then destroy again."
                if context.operation == "destroy"
                else "(staging, prod), and this change would replace one, which deletes it: check what "
                "the preview says is replaced. Only to replace it on purpose, set it to false in "
                f"Pulumi.{context.env}.yaml and run the command again."
            )
            + log,
            tuple(others),
        )
    if "dependencyviolation" in lowered:
        return Failure(
            ExitCode.DEPLOY_FAILED,
            "dependency_violation",
            f"{context.operation} stopped on an AWS DependencyViolation: something outside this stack "
            "still uses a network resource",
            "Usually load balancer network interfaces left by a LoadBalancer Service, or security groups "
            "still attached to them: wait a few minutes for AWS to release them, or find them with `aws ec2 "
            "describe-network-interfaces --filters Name=vpc-id,Values=<vpc>`, then run the command again."
            + log,
            tuple(others),
        )
    return Failure(
        ExitCode.DEPLOY_FAILED,
        "engine_error",
        f"pulumi {context.operation} failed on stack {context.env!r}",
        "The engine's errors are below." + log,
        tuple(others) or tuple(shortened(line) for line in text.strip().splitlines()[-8:] if line.strip()),
    )
