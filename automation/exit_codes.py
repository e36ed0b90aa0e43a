"""Exit codes of `python -m automation`; the README documents the same table."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INVALID_RENDER = 1
    """render: a Kubernetes object failed schema validation (the object and field are named)."""
    BAD_INPUT = 2
    """Bad configuration, unknown environment or bad command-line usage; nothing was changed."""
    VERIFY_FAILED = 3
    """The deployment came up but verification failed."""
    PULUMI_CLI_MISSING = 4
    """The Pulumi CLI is not installed (use --install-cli)."""
    AWS_CREDENTIALS = 5
    """No valid AWS credentials (missing or expired), checked with STS before anything else."""
    MESH_UNAVAILABLE = 6
    """The chosen mesh backend is not available to the account (App Mesh support ended 2026-09-30)."""
    STACK_LOCKED = 7
    """Another update is running on this stack."""
    DEPLOY_FAILED = 8
    """The Pulumi engine reported an error (e.g. a Helm release timed out); the message says where to look."""
    INTERRUPTED = 130
