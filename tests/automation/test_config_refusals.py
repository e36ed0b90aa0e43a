"""Every class of bad stack file is refused by `python -m automation render`: exit 2, the key (or file,
line and column), the value and what was expected, and nothing written.

Each test writes a real broken ``Pulumi.<env>.yaml`` into a project folder of its own and runs the
command line on it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import automation.render as render_module
from automation.cli import app
from automation.environment import load_environment
from automation.session import Dependencies
from tests.support import PROJECT_DIR, stack_document

runner = CliRunner()
Change = Callable[[dict[str, Any]], None]


def _project(tmp_path: Path, text: str, env: str = "dev") -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (project / "__main__.py").symlink_to(PROJECT_DIR / "__main__.py")
    (project / f"Pulumi.{env}.yaml").write_text(text)
    return project


def _refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, *expected: str, env: str = "dev"
) -> str:
    project = _project(tmp_path, text, env)
    out = tmp_path / "out"
    ran: list[str] = []
    monkeypatch.setattr(render_module, "record_project", lambda *a, **k: ran.append("ran"))
    outcome = runner.invoke(app, ["render", env, "--out", str(out)], obj=Dependencies(project_dir=project))
    assert outcome.exit_code == 2, outcome.output
    flat = " ".join(outcome.output.split())
    for part in expected:
        assert part in flat, flat
    assert ran == [], "the program ran although the configuration is bad"
    assert not out.exists()
    assert not (project / "build").exists()
    return flat


def _changed(change: Change, env: str = "dev") -> str:
    document = stack_document(env)
    change(document["config"])
    return yaml.safe_dump(document, sort_keys=False)


def _workloads(**values: Any) -> Change:
    return lambda c: c["crossmesh:workloads"].update(values)


def _network(**values: Any) -> Change:
    return lambda c: c["crossmesh:network"].update(values)


def _rename_cluster(old: str, new: str) -> Change:
    def change(config: dict[str, Any]) -> None:
        for cluster in config["crossmesh:clusters"]:
            if cluster["name"] == old:
                cluster["name"] = new
        workloads = config["crossmesh:workloads"]
        if workloads["front"]["cluster"] == old:
            workloads["front"]["cluster"] = new
        for version in workloads["colorapp"]["versions"]:
            if version["cluster"] == old:
                version["cluster"] = new

    return change


# Names that overflow a service's limit once composed ----------------------------------------------------


def test_iam_role_name_over_64_names_the_cluster_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The longest cluster key allowed (31 characters, no '-') overflows a role name once the stack
    # name has more than three characters.
    long = "c" + "x" * 30
    _refused(
        tmp_path,
        monkeypatch,
        _changed(_rename_cluster("eksc1", long)),
        f"crossmesh:clusters[0].name: got '{long}'",
        f"composes the IAM role name 'crossmesh-devtwo-{long}-appmesh-controller' (67 characters); the limit is 64",
        env="devtwo",
    )


def test_version_color_that_overflows_its_role_names_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    color = "b" * 45

    def change(config: dict[str, Any]) -> None:
        config["crossmesh:workloads"]["colorapp"]["versions"][0]["color"] = color

    _refused(
        tmp_path,
        monkeypatch,
        _changed(change),
        f"crossmesh:workloads.colorapp.versions[0].color: got '{color}'",
        "IAM role name 'crossmesh-dev-eksc2-colorapp-bbbb",
    )


def test_a_long_stack_name_is_named_as_the_cause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = "e" * 58
    _refused(
        tmp_path,
        monkeypatch,
        (PROJECT_DIR / "Pulumi.dev.yaml").read_text(),
        f"(stack name): got '{env}'",
        "the limit is 64",
        env=env,
    )


def test_a_kubernetes_service_name_starting_with_a_digit_names_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A DNS label, so the key's own type accepts it; Kubernetes Service names must start with a letter.
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:workloads"]["front"]["name"] = "2front"

    _refused(
        tmp_path,
        monkeypatch,
        _changed(change),
        "crossmesh:workloads.front.name: got '2front'; composes the Kubernetes Service name '2front'",
        "expected an RFC 1035 label",
    )


def test_a_double_hyphen_in_a_name_lattice_receives_names_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Gateway API controller names target groups k8s-<namespace>-<service>; Lattice refuses '--'.
    _refused(
        tmp_path,
        monkeypatch,
        _changed(_workloads(namespace="apps--demo")),
        "crossmesh:workloads.namespace: got 'apps--demo'; composes the VPC Lattice target group name "
        "'k8s-apps--demo-colorapp-blue'",
        "no '--'",
    )


# Names that collide within a stack once composed -------------------------------------------------------


def test_front_named_like_a_colorapp_version_names_both_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:workloads"]["front"]["name"] = "colorapp-red"

    _refused(
        tmp_path,
        monkeypatch,
        _changed(change),
        "crossmesh:workloads.colorapp.versions[1].color: got 'red'; composes the Kubernetes Deployment name "
        "'colorapp-red' in namespace appmesh-demo",
        "which crossmesh:workloads.front.name ('colorapp-red') also composes",
    )


def test_an_app_named_like_a_role_the_program_creates_names_both_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:workloads"]["front"]["name"] = "vpc-cni"

    _refused(
        tmp_path,
        monkeypatch,
        _changed(change),
        "crossmesh:workloads.front.name: got 'vpc-cni'; composes the IAM role name 'crossmesh-dev-eksc1-vpc-cni'",
        "which crossmesh:clusters[0].name ('eksc1') also composes, for the vpc-cni role of cluster eksc1",
    )


# Values AWS or Kubernetes reject ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "namespace", ["default", "kube-system", "appmesh-system", "aws-application-networking-system"]
)
def test_reserved_namespace(namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _refused(
        tmp_path,
        monkeypatch,
        _changed(_workloads(namespace=namespace)),
        f"crossmesh:workloads.namespace: got '{namespace}'; is reserved",
    )


@pytest.mark.parametrize("port", [15000, 15001, 15006, 9901, 2000])
def test_proxy_port(port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _refused(
        tmp_path,
        monkeypatch,
        _changed(_workloads(port=port)),
        f"crossmesh:workloads.port: got {port}; is taken by the mesh proxy",
    )


def test_ssh_port_is_refused_before_the_guardrail_would_find_the_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app port is opened between the clusters' nodes: 22 would be an SSH rule (eks-no-ssh).
    _refused(
        tmp_path,
        monkeypatch,
        _changed(_workloads(port=22)),
        "crossmesh:workloads.port: got 22; is SSH's",
        "guardrail eks-no-ssh",
    )


@pytest.mark.parametrize("cidr", ["8.8.0.0/16", "11.0.0.0/16", "172.32.0.0/16", "192.169.0.0/16"])
def test_publicly_routable_vpc_block(cidr: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _refused(
        tmp_path,
        monkeypatch,
        _changed(_network(cidr=cidr)),
        f"crossmesh:network.cidr: got '{cidr}'",
        "expected a private block inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10",
    )


@pytest.mark.parametrize(
    ("instance_type", "hint"), [("t3.meduim", " (did you mean 't3.medium'?)"), ("t3.gigantic", "")]
)
def test_instance_type_ec2_does_not_know(
    instance_type: str, hint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:clusters"][1]["nodes"]["instanceTypes"] = [instance_type]

    _refused(
        tmp_path,
        monkeypatch,
        _changed(change),
        f"crossmesh:clusters[1].nodes.instanceTypes[0]: got '{instance_type}'",
        f"expected an EC2 instance type, as botocore knows them{hint}",
    )


@pytest.mark.parametrize("cidr", ["10.0.0.0/8", "10.0.0.0/29"])
def test_vpc_size_outside_16_to_28(cidr: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _refused(
        tmp_path,
        monkeypatch,
        _changed(_network(cidr=cidr)),
        f"crossmesh:network.cidr: got '{cidr}'",
        "expected a VPC block between /16 and /28",
    )


def test_log_retention_outside_cloudwatch_value_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _refused(
        tmp_path,
        monkeypatch,
        _changed(_network(flowLogRetentionDays=31)),
        "crossmesh:network.flowLogRetentionDays: got 31; expected a retention CloudWatch Logs accepts: 1, 3, 5",
    )


def test_aws_tag_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _refused(
        tmp_path,
        monkeypatch,
        _changed(lambda c: c.update({"crossmesh:tags": {"AWS:owner": "me"}})),
        "crossmesh:tags.AWS:owner",
        "the aws: prefix is reserved for AWS",
    )


def test_too_many_tags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tags = {f"team-{i}": "x" for i in range(45)}
    _refused(
        tmp_path,
        monkeypatch,
        _changed(lambda c: c.update({"crossmesh:tags": tags})),
        "crossmesh:tags: got",
        "45 tags; expected at most 43: AWS allows 50 per resource",
    )


def test_tag_key_too_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "k" * 129
    _refused(
        tmp_path,
        monkeypatch,
        _changed(lambda c: c.update({"crossmesh:tags": {key: "v"}})),
        f"crossmesh:tags.{key}",
        "expected a tag key of 1-128",
    )


def test_empty_load_balancer_source_ranges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:workloads"]["front"]["loadBalancerSourceRanges"] = []

    _refused(
        tmp_path,
        monkeypatch,
        _changed(change),
        "crossmesh:workloads.front.loadBalancerSourceRanges: got []; expected at least 1 item(s)",
    )


def test_empty_public_endpoint_cidrs_while_public(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:clusters"][0]["endpoint"] = {"publicAccess": True, "publicAccessCidrs": []}

    _refused(
        tmp_path,
        monkeypatch,
        _changed(change),
        "crossmesh:clusters[0].endpoint.publicAccessCidrs: got []",
        "EKS reads an empty list as 0.0.0.0/0",
    )


def test_weights_that_do_not_add_up_to_100(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:workloads"]["colorapp"]["versions"][0]["weight"] = 40

    _refused(
        tmp_path,
        monkeypatch,
        _changed(change),
        "crossmesh:workloads.colorapp.versions: got",
        "weights add up to 90; expected percentages of the traffic that add up to 100",
    )


def test_more_weighted_targets_than_app_mesh_takes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def change(config: dict[str, Any]) -> None:
        versions = [{"color": f"c{i}", "cluster": "eksc2", "weight": 10 if i else 0} for i in range(11)]
        config["crossmesh:workloads"]["colorapp"]["versions"] = versions

    _refused(
        tmp_path,
        monkeypatch,
        _changed(change, "appmesh"),
        "crossmesh:workloads.colorapp.versions: got",
        "11 versions; expected at most 10: App Mesh takes at most 10 weighted targets per route",
        env="appmesh",
    )


def test_availability_zones_of_another_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _refused(
        tmp_path,
        monkeypatch,
        _changed(_network(availabilityZones=["us-east-1a", "eu-west-1b"])),
        "crossmesh:network.availabilityZones[1]: got 'eu-west-1b'",
        "is not a zone of us-east-1",
    )


def test_secure_value_where_a_plain_one_is_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def change(config: dict[str, Any]) -> None:
        config["crossmesh:workloads"]["front"]["name"] = {"secure": "v1:abc:def"}

    flat = _refused(
        tmp_path,
        monkeypatch,
        _changed(change),
        "crossmesh:workloads.front.name: got a secret; a secret (secure:) where a plain value is needed",
    )
    assert "v1:abc:def" not in flat


# YAML itself -------------------------------------------------------------------------------------------


def test_duplicate_top_level_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text() + "  crossmesh:deletionProtection: true\n"
    text += "  crossmesh:deletionProtection: false\n"
    lines = text.splitlines()
    line = len(lines)
    _refused(
        tmp_path,
        monkeypatch,
        text,
        f"Pulumi.dev.yaml:{line}:3: got 'crossmesh:deletionProtection'",
        f"is given twice (first on line {line - 1})",
    )


def test_yaml_syntax_error_names_file_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "config:\n  aws:region: us-east-1\n  crossmesh:clusters: [{name: eksc1}\n"
    _refused(tmp_path, monkeypatch, text, "Pulumi.dev.yaml:4:1", "expected valid YAML")


def test_tab_indentation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "config:\n  aws:region: us-east-1\n\tcrossmesh:deletionProtection: true\n"
    _refused(
        tmp_path,
        monkeypatch,
        text,
        "Pulumi.dev.yaml:3:1",
        "indent with spaces, YAML does not allow tabs",
    )


def test_control_character(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "config:\n  aws:region: us-east-1\x07\n"
    _refused(
        tmp_path,
        monkeypatch,
        text,
        "Pulumi.dev.yaml:2:24: got 'character #x0007'",
        "YAML allows no control characters",
    )


def _dev_plus(extra: str) -> tuple[str, int]:
    """The shipped dev stack file with ``extra`` lines added to its config block, and the line number
    of the first added line."""
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    return text + extra, len(text.splitlines()) + 1


@pytest.mark.parametrize(
    ("extra", "line_offset", "column", "found", "expected"),
    [
        (
            "  crossmesh:tags:\n    created: 2024-01-01\n",
            1,
            14,
            "2024-01-01",
            'expected a date or time in quotes ("2024-01-01")',
        ),
        (
            "  crossmesh:tags:\n    blob: !!binary aGVsbG8=\n",
            1,
            11,
            "!!binary aGVsbG8=",
            "the tag !!binary has no JSON form",
        ),
        ("  crossmesh:tags: !!set {a, b}\n", 0, 19, "!!set", "the tag !!set has no JSON form"),
    ],
)
def test_value_without_one_meaning_for_pulumi(
    extra: str,
    line_offset: int,
    column: int,
    found: str,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text, line = _dev_plus(extra)
    _refused(
        tmp_path, monkeypatch, text, f"Pulumi.dev.yaml:{line + line_offset}:{column}: got {found!r}", expected
    )


def test_number_of_5000_digits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text, line = _dev_plus(f"  crossmesh:tags:\n    big: {'7' * 5000}\n")
    _refused(
        tmp_path,
        monkeypatch,
        text,
        f"Pulumi.dev.yaml:{line + 1}:10: got '{'7' * 20}...(5000 characters)'",
        "expected a whole number of at most 64 bits",
    )


@pytest.mark.parametrize(
    ("value", "column", "found"),
    [
        ("[" * 5000 + "]" * 5000, 19 + 62, "a list"),
        ("{a: " * 3000 + "x" + "}" * 3000, 19 + 4 * 61 + 1, "a"),
    ],
)
def test_nesting_thousands_deep(
    value: str, column: int, found: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, line = _dev_plus(f"  crossmesh:tags: {value}\n")
    _refused(
        tmp_path,
        monkeypatch,
        text,
        f"Pulumi.dev.yaml:{line}:{column}: got {found!r}",
        "expected lists and mappings nested at most 64 deep",
    )


def test_unquoted_date_as_kubernetes_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pulumi passes an unquoted date as Go prints a time (automation/stack_yaml.py), directly under
    # config: as inside a mapping.
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    text, replaced = re.subn(
        r'crossmesh:kubernetesVersion: "[0-9.]+"', "crossmesh:kubernetesVersion: 2024-01-01", text
    )
    assert replaced == 1
    _refused(
        tmp_path,
        monkeypatch,
        text,
        "Pulumi.dev.yaml:8:32: got '2024-01-01'",
        'expected crossmesh:kubernetesVersion in quotes ("2024-01-01")',
    )


def test_yes_on_and_base_60_reach_the_program_as_text(tmp_path: Path) -> None:
    # What Pulumi's YAML reader makes of them; PyYAML's YAML 1.1 rules made them True, True and 8060.
    text, _line = _dev_plus("  crossmesh:tags:\n    backup: yes\n    ha: on\n    window: 2:14:20\n")
    _config, flat = load_environment(_project(tmp_path, text), "dev", backend=False)
    assert flat["crossmesh:tags"] == '{"backup": "yes", "ha": "on", "window": "2:14:20"}'


def _alias_bomb() -> str:
    lines = ['config:\n  a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"  a{level}: &a{level} [{refs}]\n")
    return "".join(lines)


def test_alias_bomb_is_refused_before_it_expands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _refused(tmp_path, monkeypatch, _alias_bomb(), "Pulumi.dev.yaml:1:1", "expands to more than 20000 values")


def test_alias_bomb_through_the_real_command_line(tmp_path: Path) -> None:
    # The command exactly as a user runs it (`python -m automation render dev`), in a fresh process;
    # the session's project folder is the broken one.
    project = _project(tmp_path, _alias_bomb())
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from automation.cli import main\n"
        "from automation.session import Dependencies\n"
        "sys.argv = ['python -m automation', 'render', 'dev']\n"
        f"main(Dependencies(project_dir=Path({str(project)!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "expands to more than 20000 values" in " ".join(done.stderr.split())
    assert not (project / "build").exists()
