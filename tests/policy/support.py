"""Small builders for the policy tests: resources as CrossGuard and the render hand them to rules."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from policy.crossmesh_policy import Resource
from policy.crossmesh_policy.types import (
    EKS_CLUSTER,
    IAM_ROLE,
    IAM_ROLE_POLICY_ATTACHMENT,
    K8S_SERVICE_ACCOUNT,
)

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABC"


def res(
    type_: str,
    props: Mapping[str, Any] | None = None,
    name: str = "subject",
    *,
    provider: str | None = None,
    deps: Mapping[str, list[Resource]] | None = None,
) -> Resource:
    """A resource with a URN of its own and property dependencies on ``deps``' resources."""
    return Resource(
        type=type_,
        name=name,
        props=dict(props or {}),
        urn=f"urn:pulumi:test::crossmesh::{type_}::{name}",
        provider=provider,
        property_dependencies={k: tuple(r.urn for r in v) for k, v in (deps or {}).items()},
    )


def container(**overrides: Any) -> dict[str, Any]:
    """An app container that passes every container rule; ``overrides`` replace top-level fields."""
    base: dict[str, Any] = {
        "name": "app",
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:" + "a" * 64,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "livenessProbe": {"httpGet": {"path": "/ping", "port": "http"}},
    }
    base.update(overrides)
    return base


def security_context(**overrides: Any) -> dict[str, Any]:
    context = copy.deepcopy(container()["securityContext"])
    context.update(overrides)
    return context


def deployment(
    containers: list[dict[str, Any]] | None = None,
    namespace: str | None = "apps",
    annotations: dict[str, str] | None = None,
    **pod: Any,
) -> Resource:
    """A hardened Deployment (pod level: only the seccomp profile, as App Mesh pods need)."""
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": containers if containers is not None else [container()],
    }
    spec.update(pod)
    metadata: dict[str, Any] = {"name": "app"}
    if namespace is not None:
        metadata["namespace"] = namespace
    template = {"metadata": {"annotations": annotations} if annotations else {}, "spec": spec}
    return res(DEPLOYMENT, {"metadata": metadata, "spec": {"template": template}}, "app")


def trust(condition: Mapping[str, Any], action: str = "sts:AssumeRoleWithWebIdentity") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"},
                    "Action": action,
                    "Condition": condition,
                }
            ],
        }
    )


def pinned(namespace: str = "apps", account: str = "app") -> dict[str, Any]:
    return {
        "StringEquals": {
            f"{ISSUER}:sub": f"system:serviceaccount:{namespace}:{account}",
            f"{ISSUER}:aud": "sts.amazonaws.com",
        }
    }


def irsa_role(name: str, condition: Mapping[str, Any] | None = None) -> Resource:
    return res(IAM_ROLE, {"name": name, "assumeRolePolicy": trust(condition or pinned())}, name)


def node_role(name: str = "nodes") -> Resource:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": "sts:AssumeRole"}
        ],
    }
    return res(IAM_ROLE, {"name": name, "assumeRolePolicy": json.dumps(document)}, name)


def attachment(role: Resource, policy: str) -> Resource:
    return res(
        IAM_ROLE_POLICY_ATTACHMENT,
        {"role": role.props["name"], "policyArn": f"arn:aws:iam::aws:policy/{policy}"},
        f"{role.name}-{policy}",
    )


def service_account(name: str, role_arn: str, namespace: str = "apps", provider: str = "c1") -> Resource:
    metadata = {"name": name, "namespace": namespace, "annotations": {"eks.amazonaws.com/role-arn": role_arn}}
    return res(
        K8S_SERVICE_ACCOUNT,
        {"metadata": metadata, "automountServiceAccountToken": False},
        f"{name}-sa",
        provider=provider,
    )


def cluster(name: str) -> Resource:
    return res(EKS_CLUSTER, {"name": name}, name)
