"""The rules as a pulumi-policy (CrossGuard) pack: thin adapters, no logic of their own.

A resource rule becomes a ``ResourceValidationPolicy`` (it sees each resource's inputs at preview and
up, components' inputs included); a stack rule becomes a ``StackValidationPolicy`` (it sees every
resource's outputs after the update, with property dependencies to follow references). Mandatory rules
stop ``pulumi up``; advisory ones warn. Violation messages name the resource, the problem and the fix;
Pulumi adds the policy name and the URN.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import PACK_NAME, RULES
from .model import Level, Resource, Rule, Violation
from .pack_config import schema_for, settings_from

CIS_FRAMEWORK = "CIS Amazon EKS Benchmark"


def message(violation: Violation) -> str:
    return f"{violation.resource_type} {violation.resource_name}: {violation.message}. Fix: {violation.fix}"


def _enforcement(rule: Rule) -> EnforcementLevel:
    return EnforcementLevel.MANDATORY if rule.level is Level.MANDATORY else EnforcementLevel.ADVISORY


def _metadata(rule: Rule) -> dict[str, Any]:
    schema = PolicyConfigSchema(properties=schema_for(rule)) if rule.settings else None
    return {
        "name": rule.id,
        "description": rule.title,
        "enforcement_level": _enforcement(rule),
        "config_schema": schema,
        "remediation_steps": rule.remediation,
        "framework": PolicyComplianceFramework(name=CIS_FRAMEWORK, reference=rule.cis) if rule.cis else None,
    }


def resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not rule.applies_to(args.resource_type):
            return
        resource = Resource(type=args.resource_type, name=args.name, props=args.props, urn=args.urn)
        for violation in rule.check(resource, settings_from(args.get_config())):
            report_violation(message(violation), None)

    return ResourceValidationPolicy(validate=validate, **_metadata(rule))


def stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            Resource(
                type=r.resource_type,
                name=r.name,
                props=r.props,
                urn=r.urn,
                parent=r.parent.urn if r.parent is not None else None,
                provider=r.provider.urn if r.provider is not None else None,
                property_dependencies={
                    k: tuple(d.urn for d in v) for k, v in r.property_dependencies.items()
                },
            )
            for r in args.resources
        ]
        for violation in rule.validate_stack(resources, settings_from(args.get_config())):
            report_violation(message(violation), violation.urn or None)

    return StackValidationPolicy(validate=validate, **_metadata(rule))


def policies() -> list[Policy]:
    return [stack_policy(rule) if rule.is_stack_rule else resource_policy(rule) for rule in RULES]


def serve() -> None:
    """Start the pack's gRPC server for the Pulumi engine (blocks; run by ``policy/__main__.py``)."""
    PolicyPack(
        name=PACK_NAME,
        policies=policies(),
        enforcement_level=EnforcementLevel.ADVISORY,
        description="crossmesh guardrails: EKS, IAM, ECR, logs, network and Kubernetes hardening",
    )
