"""Exit codes of `python -m automation`; docs/cli.md documents the same table (a test keeps them in step)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """Success (for verify: every check passed)."""
    INVALID_RENDER = 1
    """render: a Kubernetes object failed schema validation (the object and field are named)."""
    BAD_INPUT = 2
    """Bad configuration, unknown environment, bad command-line usage (e.g. a change without --yes in a
    non-interactive run) or a Pulumi setting the run needs (passphrase, login); nothing was changed."""
    VERIFY_FAILED = 3
    """The deployment came up but verification failed (the report names every failed check)."""
    PULUMI_CLI_MISSING = 4
    """The Pulumi CLI is not installed, too old, or --install-cli could not install it."""
    AWS_CREDENTIALS = 5
    """No valid AWS credentials (missing, expired or rejected), checked with STS before anything else."""
    MESH_UNAVAILABLE = 6
    """The configured mesh backend is not available to the account (App Mesh support ended 2026-09-30)."""
    STACK_LOCKED = 7
    """Another update holds the stack; this run changed nothing."""
    DEPLOY_FAILED = 8
    """The Pulumi engine reported an error (e.g. a Helm release timed out); the message says where to look."""
    NOT_DEPLOYED = 9
    """The stack does not exist in the backend, or lacks the outputs the command needs: deploy it first."""
    LEAKED = 10
    """destroy finished but resources of the stack are left (listed), or the leak check could not run."""
    MACHINE_NOT_READY = 11
    """A tool a deploy runs is missing or unusable on this machine: Docker with buildx (when images are
    built) or the AWS CLI the kubeconfigs call."""
    ENDPOINT_UNREACHABLE = 12
    """A deployed cluster's API endpoint does not answer from this machine (private-only endpoint,
    source CIDR not allowed); nothing was changed."""
    NAME_TAKEN = 13
    """A physical name this stack needs (EKS cluster, IAM role, ECR repository, ...) belongs to another
    stack or to something not made by crossmesh; nothing was changed."""
    INTERRUPTED = 130
    """Ctrl-C: the running operation was stopped and the stack's lock released (or how to release it said)."""
