"""IAM: pods get AWS permissions through their own service account, nodes get only what nodes need."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .graph import Graph, attached_to, provider_key
from .model import Level, Resource, Rule, Settings
from .props import annotations_of, as_map, get, maps, policy_document, principals, statements, strings
from .types import (
    HELM_RELEASE,
    IAM_ATTACHMENTS,
    IAM_DOCUMENTS,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    IAM_ROLE_POLICY_ATTACHMENT,
    K8S_SERVICE_ACCOUNT,
)

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"

# What an EKS node itself needs (https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html):
# joining the cluster, and pulling images. Everything else belongs to a pod's service account.
NODE_MANAGED_POLICIES = frozenset(
    {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKSWorkerNodeMinimalPolicy",
        "AmazonSSMManagedInstanceCore",
    }
)
ECR_READ_ONLY_POLICIES = frozenset(
    {"AmazonEC2ContainerRegistryReadOnly", "AmazonEC2ContainerRegistryPullOnly"}
)
# ECR actions that only read: pulls, and the lookups a kubelet or scanner makes.
_ECR_READ_PREFIXES = ("ecr:Get", "ecr:BatchGet", "ecr:BatchCheck", "ecr:Describe", "ecr:List")


def managed_policy_name(arn: str) -> str | None:
    """``arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy`` -> ``AmazonEKS_CNI_Policy``.

    None for a policy that is not AWS-managed.
    """
    marker = ":iam::aws:policy/"
    if marker not in arn:
        return None
    return arn.split(marker, 1)[1].rsplit("/", 1)[-1]


def _actions(statement: Mapping[str, Any], key: str = "Action") -> list[str]:
    return strings(statement.get(key))


def _grants(statement: Mapping[str, Any], action: str) -> bool:
    """Whether an Allow statement's ``Action`` covers ``action``. IAM matches action names without
    regard to case and expands ``*`` and ``?`` in them
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html)."""
    if statement.get("Effect") != "Allow":
        return False
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in _actions(statement))


def _documents(resource: Resource) -> list[Mapping[str, Any]]:
    """The permission documents a resource carries (a policy, or a role's inline policies)."""
    found: list[Mapping[str, Any]] = []
    if resource.type in IAM_DOCUMENTS:
        document = policy_document(resource.props.get("policy"))
        if document is not None:
            found.append(document)
    elif resource.type == IAM_ROLE:
        for inline in maps(resource.props.get("inlinePolicies")):
            document = policy_document(inline.get("policy"))
            if document is not None:
                found.append(document)
    return found


# --- no "*" on "*" ---------------------------------------------------------------------------------


def no_wildcard_admin(resource: Resource, _settings: Settings) -> Iterator[str]:
    for document in _documents(resource):
        for statement in statements(document):
            if statement.get("Effect") != "Allow" or "*" not in strings(statement.get("Resource")):
                continue
            if {"*", "*:*"} & set(_actions(statement)):
                yield f"statement {statement.get('Sid') or '(no Sid)'} allows every action on every resource"
            elif statement.get("NotAction") is not None:
                sid = statement.get("Sid") or "(no Sid)"
                yield f"statement {sid} allows all but a few actions on every resource"


NO_WILDCARD_ADMIN = Rule(
    id="iam-no-wildcard-admin",
    cis=None,
    level=Level.MANDATORY,
    title='No IAM policy allows action "*" on resource "*".',
    remediation="list the actions the principal calls and the resources it calls them on "
    "(infra/iam.py builders)",
    types=frozenset({*IAM_DOCUMENTS, IAM_ROLE}),
    resource_check=no_wildcard_admin,
)


# --- no *FullAccess managed policies ----------------------------------------------------------------


def _is_full_access(arn: str) -> bool:
    name = managed_policy_name(arn)
    return name is not None and (name.endswith("FullAccess") or name == "AdministratorAccess")


def no_full_access(resource: Resource, _settings: Settings) -> Iterator[str]:
    arns = strings(resource.props.get("policyArn"))
    if resource.type == IAM_ROLE:
        arns = strings(resource.props.get("managedPolicyArns"))
    for arn in arns:
        if _is_full_access(arn):
            yield f"attaches the broad AWS managed policy {managed_policy_name(arn)}"


NO_FULL_ACCESS = Rule(
    id="iam-no-full-access-policies",
    cis=None,
    level=Level.MANDATORY,
    title="No AWS managed *FullAccess (or AdministratorAccess) policy is attached to anything.",
    remediation="replace the managed policy with an inline least-privilege document (infra/iam.py)",
    types=frozenset({*IAM_ATTACHMENTS, IAM_ROLE}),
    resource_check=no_full_access,
)


# --- roles, trust and who uses them -----------------------------------------------------------------


def _trusts(role: Resource) -> list[Mapping[str, Any]]:
    return list(statements(policy_document(role.props.get("assumeRolePolicy"))))


def is_node_role(role: Resource) -> bool:
    """A role EC2 instances assume: an EKS node role."""
    return any(
        service.startswith("ec2.amazonaws.com")
        for statement in _trusts(role)
        for service in principals(statement, "Service")
    )


def _node_role_permissions(graph: Graph, role: Resource) -> tuple[list[tuple[Resource, str]], list[Resource]]:
    """(attachment resource, managed policy ARN) pairs and inline policy resources of a role."""
    managed = [(role, arn) for arn in strings(role.props.get("managedPolicyArns"))]
    for attachment in attached_to(graph, role, graph.of_type(IAM_ROLE_POLICY_ATTACHMENT)):
        managed += [(attachment, arn) for arn in strings(attachment.props.get("policyArn"))]
    inline = attached_to(graph, role, graph.of_type(IAM_ROLE_POLICY))
    return managed, inline


def _is_ecr_policy(name: str) -> bool:
    return "ContainerRegistry" in name


def _web_identity_problem(statement: Mapping[str, Any]) -> str | None:
    conditions = as_map(statement.get("Condition")) or {}
    equals = as_map(conditions.get("StringEquals")) or {}
    subjects = [(k, v) for k, v in equals.items() if k.endswith(":sub")]
    audiences = [v for k, v in equals.items() if k.endswith(":aud")]
    like = as_map(conditions.get("StringLike")) or {}
    if any(k.endswith(":sub") for k in like):
        return "trusts service accounts by pattern (StringLike on :sub); pin exactly one with StringEquals"
    if len(subjects) != 1 or len(strings(subjects[0][1])) != 1:
        return "does not pin exactly one service account (StringEquals on <issuer>:sub)"
    subject = strings(subjects[0][1])[0]
    if "*" in subject or subject.count(":") != 3 or not subject.startswith("system:serviceaccount:"):
        return f"trusts {subject!r}; expected system:serviceaccount:<namespace>:<name>"
    if audiences != ["sts.amazonaws.com"]:
        return "does not pin the audience to sts.amazonaws.com (StringEquals on <issuer>:aud)"
    return None


def _service_account_users(graph: Graph) -> dict[str, set[str]]:
    """Role ARN -> the service accounts annotated with it (``cluster/namespace/name``)."""
    users: dict[str, set[str]] = {}
    for account in graph.of_type(K8S_SERVICE_ACCOUNT):
        arn = annotations_of(account.props).get(ROLE_ARN_ANNOTATION)
        if isinstance(arn, str):
            namespace = get(account.props, "metadata", "namespace") or "default"
            name = get(account.props, "metadata", "name")
            users.setdefault(arn, set()).add(f"{provider_key(account)}/{namespace}/{name}")
    for release in graph.of_type(HELM_RELEASE):
        values = as_map(release.props.get("values")) or {}
        arn = get(values, "serviceAccount", "annotations", ROLE_ARN_ANNOTATION)
        if isinstance(arn, str):
            namespace = release.props.get("namespace") or "default"
            name = get(values, "serviceAccount", "name") or release.props.get("name")
            users.setdefault(arn, set()).add(f"{provider_key(release)}/{namespace}/{name}")
    return users


def _role_arn_matches(role: Resource, arn: str) -> bool:
    name = role.props.get("name")
    return isinstance(name, str) and arn.endswith(f":role/{name}")


def irsa_per_service_account(
    resources: Sequence[Resource], _settings: Settings
) -> Iterator[tuple[Resource, str]]:
    graph = Graph(resources)
    roles = graph.of_type(IAM_ROLE)
    for role in roles:
        for statement in _trusts(role):
            # A web-identity trust however it is spelt: by its federated principal, or by an action
            # that covers AssumeRoleWithWebIdentity ("sts:assumerolewithwebidentity", "sts:*").
            if statement.get("Effect") == "Allow" and (
                principals(statement, "Federated") or _grants(statement, WEB_IDENTITY)
            ):
                problem = _web_identity_problem(statement)
                if problem:
                    yield role, f"web-identity trust {problem}"
    for arn, users in sorted(_service_account_users(graph).items()):
        if len(users) > 1:
            owner = next((r for r in roles if _role_arn_matches(r, arn)), None)
            subject = owner or Resource(type=IAM_ROLE, name=arn, props={})
            yield subject, f"one role is shared by {len(users)} service accounts: {', '.join(sorted(users))}"
    for role in filter(is_node_role, roles):
        managed, inline = _node_role_permissions(graph, role)
        for holder, arn in managed:
            name = managed_policy_name(arn) or arn
            if name not in NODE_MANAGED_POLICIES and not _is_ecr_policy(name):
                yield holder, f"node role {role.name} carries {name}; pods would inherit it through the node"
        for policy in inline:
            yield (
                policy,
                f"node role {role.name} carries an inline policy; pods would inherit it through the node",
            )


IRSA_PER_SERVICE_ACCOUNT = Rule(
    id="iam-irsa-per-service-account",
    cis="5.2.1",
    level=Level.MANDATORY,
    title="Pods get AWS permissions from a role per service account (IRSA, trust pinned to one service "
    "account and the STS audience); node roles carry only node policies.",
    remediation="create an IrsaRole (infra/irsa.py) for the service account that needs the permission, "
    "and remove it from the node role",
    types=frozenset({IAM_ROLE, K8S_SERVICE_ACCOUNT, HELM_RELEASE}),
    stack_check=irsa_per_service_account,
)


# --- who may assume a role ---------------------------------------------------------------------------


def _everyone(statement: Mapping[str, Any]) -> bool:
    """``"Principal": "*"`` or ``{"AWS": "*"}``: anyone, in any account, may assume the role; the IAM
    guide says never to leave a role so (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html)."""
    return statement.get("Principal") == "*" or "*" in principals(statement, "AWS")


def trust_named_principals(resource: Resource, _settings: Settings) -> Iterator[str]:
    for statement in _trusts(resource):
        if statement.get("Effect") == "Allow" and _everyone(statement):
            sid = statement.get("Sid") or "(no Sid)"
            yield f"trust statement {sid} lets every AWS principal, in any account, assume the role"


TRUST_NAMED_PRINCIPALS = Rule(
    id="iam-trust-named-principals",
    cis=None,
    level=Level.MANDATORY,
    title='Every role names who may assume it: no "*" principal in a trust policy.',
    remediation="trust the AWS service, the cluster's OIDC provider (infra/irsa.py) or the role ARNs that "
    "assume the role (infra/iam.py trust policy builders)",
    types=frozenset({IAM_ROLE}),
    resource_check=trust_named_principals,
)


def _ecr_write_actions(document: Mapping[str, Any] | None) -> list[str]:
    out: list[str] = []
    for statement in statements(document):
        if statement.get("Effect") != "Allow":
            continue
        for action in _actions(statement):
            if action in ("*", "ecr:*") or (
                action.startswith("ecr:") and not action.startswith(_ECR_READ_PREFIXES)
            ):
                out.append(action)
    return out


def node_role_ecr_read_only(
    resources: Sequence[Resource], _settings: Settings
) -> Iterator[tuple[Resource, str]]:
    graph = Graph(resources)
    for role in filter(is_node_role, graph.of_type(IAM_ROLE)):
        managed, inline = _node_role_permissions(graph, role)
        for holder, arn in managed:
            name = managed_policy_name(arn) or arn
            if _is_ecr_policy(name) and name not in ECR_READ_ONLY_POLICIES:
                yield holder, f"node role {role.name} gets {name}, which can push or delete images"
        documents = [(p, policy_document(p.props.get("policy"))) for p in inline]
        documents += [(role, d) for d in _documents(role)]
        for holder, document in documents:
            writes = _ecr_write_actions(document)
            if writes:
                yield holder, f"node role {role.name} may call {', '.join(sorted(set(writes)))} on ECR"


NODE_ROLE_ECR_READ_ONLY = Rule(
    id="iam-node-role-ecr-read-only",
    cis="5.1.3",
    level=Level.MANDATORY,
    title="Node roles reach ECR read-only (AmazonEC2ContainerRegistryReadOnly or PullOnly); "
    "nodes never push.",
    remediation="attach AmazonEC2ContainerRegistryReadOnly to the node role instead (infra/iam.py "
    "NODE_MANAGED_POLICIES)",
    types=frozenset({IAM_ROLE}),
    stack_check=node_role_ecr_read_only,
)

RULES = (
    IRSA_PER_SERVICE_ACCOUNT,
    TRUST_NAMED_PRINCIPALS,
    NO_WILDCARD_ADMIN,
    NO_FULL_ACCESS,
    NODE_ROLE_ECR_READ_ONLY,
)
