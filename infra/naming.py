"""Names: child resources take their parent's name plus a stable key; physical names carry the stack.

Physical names that AWS wants unique per account and region (EKS clusters, IAM roles, log groups, ECR
repositories, KMS aliases, launch templates, the Lattice service network) all come from the functions
below, so two stacks in one account never ask for the same name. The rule is injective: a cluster key
has no '-' (``cluster_key_problem``), so in ``crossmesh-<stack>-<cluster>-<kind>`` and
``<cluster>-<stack>`` the stack and the cluster can always be told apart again, whatever '-' the stack
name holds. ``tests/infra/test_naming.py`` checks this over every pair of short names.
"""

from __future__ import annotations

import hashlib
import re

PROJECT = "crossmesh"
TYPE_PREFIX = "crossmesh:infra"

IAM_ROLE_MAX = 64
EKS_CLUSTER_MAX = 100
_CLUSTER_KEY = re.compile(r"[a-z][a-z0-9]{0,30}")


def child(parent: str, key: str) -> str:
    """Logical name of a child resource: the component's name and a stable key (AZ, service, color)."""
    return f"{parent}-{key}"


def cluster_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a cluster key, or None. No '-': physical names join stack and key with '-'."""
    if _CLUSTER_KEY.fullmatch(key):
        return None
    return (
        "expected 1-31 lowercase letters and digits starting with a letter, without '-' (physical AWS "
        "names join the stack and the cluster key with '-', so a '-' in the key could make two stacks "
        "ask for the same name)"
    )


def compose(stack: str, *parts: str) -> str:
    """``crossmesh-<stack>-<parts...>``, whatever its length (see :func:`physical`)."""
    return "-".join((PROJECT, stack, *parts))


class NameTooLongError(ValueError):
    """A composed physical name is over its service's limit."""


def _checked(name: str, max_length: int) -> str:
    if len(name) > max_length:
        raise NameTooLongError(f"{name!r} is {len(name)} characters; the limit is {max_length}")
    return name


def physical(stack: str, *parts: str, max_length: int = IAM_ROLE_MAX) -> str:
    """A physical AWS name, unique per stack: ``crossmesh-<stack>-<parts...>``.

    The configuration refuses names that would overflow their service's limit, naming the key that
    feeds them (``infra/config_limits.py``), so this never shortens a name: a cut name with a hash
    was unique but unreadable, and hid that the configured names were too long.
    """
    return _checked(compose(stack, *parts), max_length)


def cluster_prefix(stack: str, cluster: str) -> str:
    """Prefix of a cluster's physical IAM, KMS and launch template names: ``crossmesh-<stack>-<cluster>``."""
    return physical(stack, cluster)


def eks_cluster_name(stack: str, cluster: str) -> str:
    """The EKS cluster name, ``<cluster>-<stack>`` (the blog's ``eksc1``, made unique per stack)."""
    return _checked(f"{cluster}-{stack}", EKS_CLUSTER_MAX)


def ecr_repository(stack: str, app: str) -> str:
    """ECR repository of an app image: ``crossmesh-<stack>/<app>``."""
    return f"{PROJECT}-{stack}/{app}"


def flow_logs_group(stack: str) -> str:
    return f"/{PROJECT}/{stack}/vpc-flow-logs"


def control_plane_log_group(eks_name: str) -> str:
    """The group EKS writes control-plane logs to; EKS fixes this name."""
    return f"/aws/eks/{eks_name}/cluster"


def service_network_name(stack: str) -> str:
    """Default VPC Lattice service network name, ``crossmesh-<stack>``, whatever its length."""
    return f"{PROJECT}-{stack}"


def service_network(stack: str) -> str:
    """Default VPC Lattice service network name (Lattice: lowercase letters, digits, '-', 3-63)."""
    return _checked(service_network_name(stack), 63)


_ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/(?:.*/)?(?P<name>[^/]+)$"
)


def access_entry_key(principal_arn: str) -> str:
    """Stable key of a principal's access entry: its kind and name plus a hash of the ARN without path.

    Never a list position: removing the first admin must not re-point ``admin-0`` at the second (EKS
    cannot change an entry's principal, so that would replace entries and cut access mid-update). The
    path is left out so that resolving it later (iam:GetRole) does not move the entry.
    """
    kind, _, rest = principal_arn.split(":", 5)[-1].partition("/")
    name = rest.rsplit("/", 1)[-1]
    account = principal_arn.split(":")[4]
    digest = hashlib.sha256(f"{account}:{kind}/{name}".encode()).hexdigest()[:6]
    readable = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    return f"{kind}-{readable}-{digest}"


def role_name_of(arn: str) -> str | None:
    """The role name in an IAM role ARN (whatever its path), or None for anything else."""
    match = _ROLE_ARN.fullmatch(arn)
    return match.group("name") if match else None
