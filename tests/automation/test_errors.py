"""Engine errors -> messages and exit codes, from the Automation API's own exception classes."""

from __future__ import annotations

import pytest
from pulumi.automation import CommandError, CommandResult, ConcurrentUpdateError, StackNotFoundError
from pulumi.automation.errors import create_command_error

from automation.errors import (
    Diagnostic,
    EngineContext,
    classify_engine_error,
    error_lines,
    helm_timeouts,
    urn_name,
    urn_type,
)
from automation.exit_codes import ExitCode

RELEASE_URN = (
    "urn:pulumi:dev::crossmesh::crossmesh:infra:AppMeshController$kubernetes:helm.sh/v3:Release"
    "::eksc1-mesh-controller-release"
)
CLUSTER_URN = "urn:pulumi:dev::crossmesh::crossmesh:infra:EksCluster$eks:index:Cluster::eksc2-cluster"
CONTEXT = EngineContext(
    env="dev",
    operation="deploy",
    clusters=("eksc1", "eksc2"),
    eks_names={"eksc1": "eksc1-dev", "eksc2": "eksc2-dev"},
    region="us-east-1",
    log_path="build/logs/dev-deploy.jsonl",
)

# What `pulumi up` prints when the controller's release does not become ready (pulumi-kubernetes 4.x).
HELM_TIMEOUT_STDOUT = """\
Updating (dev):
 +  kubernetes:helm.sh/v3:Release eksc1-mesh-controller-release creating (600s) error: 1 error occurred:
Diagnostics:
  pulumi:pulumi:Stack (crossmesh-dev):
    error: update failed

  kubernetes:helm.sh/v3:Release (eksc1-mesh-controller-release):
    error: 1 error occurred:
    \t* Helm release "appmesh-system/appmesh-controller" was created but has a failed status. Use the `helm` command to investigate the error, correct it, then retry. Reason: context deadline exceeded

Resources:
    + 61 created
    1 errored

Duration: 14m2s
"""


def command_error(stdout: str = "", stderr: str = "", code: int = 255) -> CommandError:
    # The SDK's own factory: the same subclass the Automation API would raise for this output.
    return create_command_error(CommandResult(stdout=stdout, stderr=stderr, code=code))


def test_urn_parts() -> None:
    assert urn_type(RELEASE_URN) == "kubernetes:helm.sh/v3:Release"
    assert urn_name(RELEASE_URN) == "eksc1-mesh-controller-release"
    assert urn_type("not a urn") == ""


def test_helm_timeout_from_the_cli_text_names_release_cluster_and_what_to_check() -> None:
    failure = classify_engine_error(command_error(HELM_TIMEOUT_STDOUT), CONTEXT)
    assert failure.code is ExitCode.DEPLOY_FAILED
    assert failure.kind == "helm_timeout"
    assert "appmesh-system/appmesh-controller" in failure.message
    assert "eksc1-mesh-controller-release" in failure.message
    assert "in cluster eksc1" in failure.message
    for look in (
        "aws eks update-kubeconfig --name eksc1-dev --region us-east-1",
        "kubectl -n appmesh-system get pods,events",
        "kubectl -n appmesh-system logs deploy/appmesh-controller",
        "kubectl describe nodes",
        "eks\\.amazonaws\\.com/role-arn",
    ):
        assert look in failure.hint
    assert any("context deadline exceeded" in line for line in failure.details)


def test_helm_timeout_from_an_event_diagnostic() -> None:
    diagnostic = Diagnostic(
        RELEASE_URN,
        "error",
        "1 error occurred:\n\t* release appmesh-controller failed, and has been uninstalled due to atomic "
        "being set: timed out waiting for the condition\n",
    )
    failure = classify_engine_error(command_error("error: update failed"), CONTEXT, [diagnostic])
    assert failure.kind == "helm_timeout"
    assert "eksc1-mesh-controller-release" in failure.message
    assert "timed out waiting for the condition" in failure.details[0]


def test_a_deadline_on_something_else_is_not_a_helm_timeout() -> None:
    stdout = """\
Diagnostics:
  eks:index:Cluster (eksc2-cluster):
    error: waiting for cluster: context deadline exceeded

  kubernetes:helm.sh/v3:Release (eksc1-mesh-controller-release):
    error: release failed: chart not found
"""
    assert helm_timeouts(stdout) == []
    diagnostic = Diagnostic(CLUSTER_URN, "error", "context deadline exceeded")
    failure = classify_engine_error(command_error(stdout), CONTEXT, [diagnostic])
    assert failure.kind == "engine_error"
    assert failure.code is ExitCode.DEPLOY_FAILED
    assert failure.details == ("eks:index:Cluster eksc2-cluster: context deadline exceeded",)
    assert "build/logs/dev-deploy.jsonl" in failure.hint


def test_two_releases_timing_out_are_both_named() -> None:
    stdout = HELM_TIMEOUT_STDOUT + HELM_TIMEOUT_STDOUT.replace("eksc1-mesh", "eksc2-mesh")
    timeouts = helm_timeouts(stdout)
    assert [t.logical_name for t in timeouts] == [
        "eksc1-mesh-controller-release",
        "eksc2-mesh-controller-release",
    ]
    failure = classify_engine_error(command_error(stdout), CONTEXT)
    assert "in cluster eksc1" in failure.message
    assert "in cluster eksc2" in failure.message
    assert "--name eksc2-dev" in failure.hint


def test_concurrent_update_on_pulumi_cloud() -> None:
    exc = command_error(stderr="error: [409] Conflict: Another update is currently in progress.")
    assert isinstance(exc, ConcurrentUpdateError)
    failure = classify_engine_error(exc, CONTEXT)
    assert failure.code is ExitCode.STACK_LOCKED
    assert "this deploy changed nothing" in failure.message
    assert "pulumi cancel --stack dev --yes" in failure.hint
    assert failure.details == ("error: [409] Conflict: Another update is currently in progress.",)


def test_concurrent_update_on_a_self_managed_backend_shows_the_lock_holder() -> None:
    stderr = (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end "
        "or delete the lock file with `pulumi cancel`.\n"
        "  s3://state/.pulumi/locks/organization/crossmesh/dev/6a1b.json: created by ci@runner-7 (pid 4242) "
        "at 2026-11-26T05:00:00Z"
    )
    exc = command_error(stderr=stderr)
    assert isinstance(exc, ConcurrentUpdateError)
    failure = classify_engine_error(exc, CONTEXT)
    assert failure.code is ExitCode.STACK_LOCKED
    assert any("created by ci@runner-7 (pid 4242)" in line for line in failure.details)


def test_stack_not_found() -> None:
    exc = command_error(stderr="error: no stack named 'dev' found")
    assert isinstance(exc, StackNotFoundError)
    failure = classify_engine_error(exc, CONTEXT)
    assert failure.code is ExitCode.NOT_DEPLOYED
    assert "--backend" in failure.hint


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        (
            "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE",
            "passphrase",
        ),
        ("error: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE", "passphrase"),
        (
            "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions",
            "backend_login",
        ),
    ],
)
def test_settings_the_cli_needs_are_bad_input(stderr: str, kind: str) -> None:
    failure = classify_engine_error(command_error(stderr=stderr), CONTEXT)
    assert (failure.code, failure.kind) == (ExitCode.BAD_INPUT, kind)


@pytest.mark.parametrize(
    "stderr",
    [
        # newDIYBackend (pulumi/pulumi pkg/backend/diy/backend.go)
        'error: unable to open bucket s3://state?region=us-east-1&x=1: unknown query parameter "x"',
        # readPulumiMeta (pkg/backend/diy/meta.go): a bucket that refuses the credentials
        'error: read ".pulumi/meta.yaml": blob (key ".pulumi/meta.yaml") (code=PermissionDenied): '
        "AccessDenied: Access Denied",
        # A bucket that does not exist: the blob library reads NoSuchBucket as a missing object, so
        # readPulumiMeta passes and the listing of stacks fails (legacyReferenceStore.ListReferences).
        "error: error listing stacks: could not list bucket: blob (code=NotFound): NoSuchBucket: "
        "The specified bucket does not exist",
        # A bucket that may be read but not written: the first metadata file cannot be put (WriteTo).
        'error: write ".pulumi/meta.yaml": blob (key ".pulumi/meta.yaml") (code=PermissionDenied): '
        "AccessDenied: Access Denied",
    ],
    ids=["url", "access-denied", "no-such-bucket", "write-denied"],
)
def test_a_backend_that_cannot_be_opened_is_bad_input_not_an_engine_error(stderr: str) -> None:
    failure = classify_engine_error(command_error(stderr=stderr), CONTEXT)
    assert (failure.code, failure.kind) == (ExitCode.BAD_INPUT, "backend_unavailable")
    assert "PULUMI_BACKEND_URL" in failure.hint
    assert failure.details == (stderr,)


def test_dependency_violation_on_destroy_points_at_load_balancer_leftovers() -> None:
    stdout = (
        "Diagnostics:\n  aws:ec2/securityGroup:SecurityGroup (eksc2-nodes):\n"
        "    error: deleting security group: DependencyViolation: resource sg-0abc has a dependent object\n"
    )
    context = EngineContext(env="dev", operation="destroy")
    failure = classify_engine_error(command_error(stdout), context)
    assert failure.kind == "dependency_violation"
    assert "describe-network-interfaces" in failure.hint


def test_unknown_engine_error_keeps_the_error_lines() -> None:
    stdout = "Diagnostics:\n  aws:iam/role:Role (x):\n    error: creating IAM Role: EntityAlreadyExists\n"
    failure = classify_engine_error(command_error(stdout), CONTEXT)
    assert failure.kind == "engine_error"
    assert failure.details == ("error: creating IAM Role: EntityAlreadyExists",)
    assert failure.to_dict()["exit_code"] == 8


def test_error_lines_prefer_error_diagnostics_and_drop_duplicates() -> None:
    diagnostics = [
        Diagnostic(RELEASE_URN, "warning", "deprecated"),
        Diagnostic(CLUSTER_URN, "error", "boom"),
        Diagnostic(CLUSTER_URN, "error", "boom"),
    ]
    assert error_lines("error: ignored", diagnostics) == ["eks:index:Cluster eksc2-cluster: boom"]
    assert error_lines("x\nerror: a\nerror: a\n") == ["error: a"]


def test_protected_resources_on_destroy_say_how_to_unprotect() -> None:
    stdout = (
        "Diagnostics:\n  eks:index:Cluster (eksc1-cluster):\n"
        '    error: unable to delete resource "urn:pulumi:prod::crossmesh::eks:index:Cluster::eksc1-cluster"\n'
        "    as it is currently marked for protection. To unprotect the resource, remove the `protect` flag\n"
    )
    failure = classify_engine_error(command_error(stdout), EngineContext(env="prod", operation="destroy"))
    assert (failure.code, failure.kind) == (ExitCode.DEPLOY_FAILED, "protected_resource")
    assert "crossmesh:deletionProtection" in failure.hint
    assert "Pulumi.prod.yaml" in failure.hint


PROD_CLUSTER_URN = "urn:pulumi:prod::crossmesh::crossmesh:infra:EksCluster$eks:index:Cluster::eksc1-cluster"


def test_protected_resources_in_the_engines_current_words_say_how_to_unprotect() -> None:
    # Since the engine's deleteProtectedError, a destroy that reaches a protected resource says
    # "cannot be deleted / because it is protected", in the CLI's text and in its diagnostic event.
    refusal = (
        f'resource "{PROD_CLUSTER_URN}" cannot be deleted\n'
        "because it is protected. To unprotect the resource, either remove the `protect` flag from the "
        "resource in your Pulumi program and run `pulumi up`, or use the command:\n"
        f"`pulumi state unprotect '{PROD_CLUSTER_URN}'`"
    )
    context = EngineContext(env="prod", operation="destroy")
    stdout = "Destroying (prod):\n\nDiagnostics:\n  eks:index:Cluster (eksc1-cluster):\n" + "".join(
        f"    {line}\n" for line in f"error: {refusal}".splitlines()
    )
    from_text = classify_engine_error(command_error(stdout), context)
    from_event = classify_engine_error(
        command_error("error: destroy failed"), context, [Diagnostic(PROD_CLUSTER_URN, "error", refusal)]
    )
    for failure in (from_text, from_event):
        assert (failure.code, failure.kind) == (ExitCode.DEPLOY_FAILED, "protected_resource")
        assert failure.message == "destroy stopped at a protected resource"
        assert "set it to false in Pulumi.prod.yaml" in failure.hint


@pytest.mark.parametrize("operation", ["deploy", "preview"])
def test_a_change_that_would_replace_a_protected_resource_is_not_told_to_destroy_again(
    operation: str,
) -> None:
    refusal = f'resource "{PROD_CLUSTER_URN}" cannot be deleted\nbecause it is protected.'
    failure = classify_engine_error(
        command_error("error: update failed"),
        EngineContext(env="prod", operation=operation),
        [Diagnostic(PROD_CLUSTER_URN, "error", refusal)],
    )
    assert (failure.code, failure.kind) == (ExitCode.DEPLOY_FAILED, "protected_resource")
    assert failure.message == f"{operation} stopped at a protected resource"
    assert "this change would replace one" in failure.hint
    assert "destroy again" not in failure.hint


def test_a_huge_engine_line_is_cut_in_the_failure_but_its_start_is_kept() -> None:
    # A provider error quoting a whole manifest: megabytes on one line, in the CLI text and in a
    # diagnostic. The failure repeats the first 1,000 characters and says how much it left out.
    huge = "error: creating Deployment: " + "y" * 2_000_000
    from_text = classify_engine_error(command_error(f"{huge}\n{huge}\nerror: second\n"), CONTEXT)
    assert from_text.details == (
        huge[:1000] + f"... ({len(huge) - 1000} more characters not shown)",
        "error: second",
    )
    quoted = "x" * 5000
    from_event = classify_engine_error(
        command_error("error: update failed"), CONTEXT, [Diagnostic(CLUSTER_URN, "error", quoted)]
    )
    (line,) = from_event.details
    assert (
        line == f"eks:index:Cluster eksc2-cluster: {quoted}"[:1000] + "... (4033 more characters not shown)"
    )
    unlabelled = classify_engine_error(command_error("z" * 3000), CONTEXT)
    assert unlabelled.details == ("z" * 1000 + "... (2000 more characters not shown)",)
