"""Where data rests: container images (ECR), logs (CloudWatch Logs) and the keys that encrypt them (KMS)."""

from __future__ import annotations

from collections.abc import Iterator

from .model import Level, Resource, Rule, Settings
from .props import as_int, block, is_placeholder, is_true
from .types import ECR_REPOSITORY, KMS_KEY, LOG_GROUP

# --- ECR ---------------------------------------------------------------------------------------------


def scan_on_push(resource: Resource, _settings: Settings) -> Iterator[str]:
    if not is_true((block(resource.props.get("imageScanningConfiguration")) or {}).get("scanOnPush")):
        yield "images are not scanned for vulnerabilities when pushed"


ECR_SCAN_ON_PUSH = Rule(
    id="ecr-scan-on-push",
    cis="5.1.1",
    level=Level.MANDATORY,
    title="Every ECR repository scans images for vulnerabilities on push.",
    remediation="set imageScanningConfiguration.scanOnPush: true (workloads/deploy/images.py)",
    types=frozenset({ECR_REPOSITORY}),
    resource_check=scan_on_push,
)


def immutable_tags(resource: Resource, _settings: Settings) -> Iterator[str]:
    if resource.props.get("imageTagMutability") != "IMMUTABLE":
        yield "image tags can be overwritten, so a tag may point at different images over time"


ECR_IMMUTABLE_TAGS = Rule(
    id="ecr-immutable-tags",
    cis=None,
    level=Level.MANDATORY,
    title="Every ECR repository has immutable tags.",
    remediation="set imageTagMutability: IMMUTABLE (workloads/deploy/images.py)",
    types=frozenset({ECR_REPOSITORY}),
    resource_check=immutable_tags,
)


# --- CloudWatch Logs -------------------------------------------------------------------------------


def log_group_encryption_and_retention(resource: Resource, _settings: Settings) -> Iterator[str]:
    key = resource.props.get("kmsKeyId")
    if not isinstance(key, str) or not key:
        yield "the log group is not encrypted with a customer-managed KMS key (kmsKeyId)"
    days = as_int(resource.props.get("retentionInDays"))
    if days is None or days <= 0:
        yield "the log group keeps logs forever (no retentionInDays)"


LOG_GROUPS = Rule(
    id="logs-encrypted-with-retention",
    cis=None,
    level=Level.MANDATORY,
    title="Every CloudWatch log group is encrypted with a customer-managed KMS key and has a retention "
    "period.",
    remediation="create the group with kms_key_id (a key whose policy admits logs.<region>.amazonaws.com "
    "for this group) and retention_in_days (infra/iam.py logs_key_policy)",
    types=frozenset({LOG_GROUP}),
    resource_check=log_group_encryption_and_retention,
)


# --- KMS --------------------------------------------------------------------------------------------


def key_rotation(resource: Resource, _settings: Settings) -> Iterator[str]:
    spec = resource.props.get("customerMasterKeySpec") or resource.props.get("keySpec")
    # Automatic rotation exists only for symmetric encryption keys.
    if spec not in (None, "SYMMETRIC_DEFAULT") and not is_placeholder(spec):
        return
    if not is_true(resource.props.get("enableKeyRotation")):
        yield "automatic key rotation is off"


KMS_KEY_ROTATION = Rule(
    id="kms-key-rotation",
    cis=None,
    level=Level.MANDATORY,
    title="Every symmetric KMS key rotates its key material automatically.",
    remediation="set enable_key_rotation=True on the aws.kms.Key",
    types=frozenset({KMS_KEY}),
    resource_check=key_rotation,
)

RULES = (ECR_SCAN_ON_PUSH, ECR_IMMUTABLE_TAGS, LOG_GROUPS, KMS_KEY_ROTATION)
