"""The environment argument and its stack file, as a hostile caller gives them: refused with exit 2,
a message about the environment, and one JSON document; never a traceback, never a path built from
an unchecked name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import automation.render as render_module
from automation.cli import app
from automation.environment import EnvironmentInputError, project_name
from automation.session import Dependencies
from tests.support import PROJECT_DIR, stack_document

NAME_RULE = (
    "is not a valid environment name: expected a DNS label: 1-63 characters of lowercase letters, "
    "digits and '-', starting and ending with a letter or digit"
)


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.dev.yaml").write_text((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    return project


def _run(project: Path, argv: list[str], tmp_path: Path) -> tuple[int, dict[str, Any], str]:
    outcome = CliRunner().invoke(app, argv, obj=Dependencies(project_dir=project, log_dir=tmp_path / "logs"))
    lines = outcome.stdout.strip().splitlines()
    assert len(lines) == 1, outcome.output
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.exception
    return outcome.exit_code, json.loads(lines[0]), outcome.stderr


@pytest.mark.parametrize(
    ("env", "shown"),
    [
        ("/etc/passwd", "'/etc/passwd'"),
        ("", "''"),
        (".", "'.'"),
        ("..", "'..'"),
        ("../dev", "'../dev'"),
        ("a" * 300, "'" + "a" * 36 + "..."),
        ("Dev", "'Dev'"),
    ],
    ids=["absolute-path", "empty", "dot", "dot-dot", "parent-path", "300-chars", "uppercase"],
)
def test_render_refuses_an_environment_name_before_using_it_in_a_path(
    env: str, shown: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded: list[str] = []
    monkeypatch.setattr(render_module, "record_project", lambda *a, **k: recorded.append("ran"))
    project = _project(tmp_path)
    code, document, stderr = _run(project, ["render", env, "--json"], tmp_path)
    assert code == 2
    assert (document["ok"], document["exit_code"], document["operation"]) == (False, 2, "render")
    message = document["error"]["message"]
    assert message.startswith(f"environment {shown} {NAME_RULE}")
    assert message.endswith("(the environments of this project are dev)")
    assert "--out" not in message
    assert NAME_RULE in stderr
    assert recorded == []
    assert not (project / "build").exists()


@pytest.mark.parametrize("command", [["deploy", "--yes"], ["destroy", "--yes"], ["outputs"], ["verify"]])
def test_every_command_refuses_a_bad_environment_name(command: list[str], tmp_path: Path) -> None:
    code, document, _ = _run(_project(tmp_path), [command[0], "../x", *command[1:], "--json"], tmp_path)
    assert code == 2
    assert document["error"]["message"].startswith(f"environment '../x' {NAME_RULE}")


def test_a_stack_file_under_a_name_pulumi_allows_but_this_project_does_not_is_about_the_name(
    tmp_path: Path,
) -> None:
    # Pulumi takes h_port_0 as a stack name; the AWS names built from it (<cluster>-<stack>) would
    # not: the message speaks of the environment name, not of a key the user never wrote.
    project = _project(tmp_path)
    (project / "Pulumi.h_port_0.yaml").write_text((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    code, document, _ = _run(project, ["render", "h_port_0", "--json"], tmp_path)
    assert code == 2
    message = document["error"]["message"]
    assert message == f"environment 'h_port_0' {NAME_RULE} (the environments of this project are dev)"
    assert "crossmesh:stack" not in message


def test_an_unknown_but_valid_name_lists_the_environments(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "Pulumi.Bad_Name.yaml").write_text("config: {}\n")
    code, document, _ = _run(project, ["render", "qa", "--json"], tmp_path)
    assert code == 2
    assert document["error"]["message"] == (
        f"unknown environment 'qa': no Pulumi.qa.yaml in {project}; expected one of dev"
    )


def _make_fifo(path: Path) -> None:
    import os

    os.mkfifo(path)


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda p: p.mkdir(), "a folder"),
        (_make_fifo, "a named pipe"),
        (lambda p: p.symlink_to("/dev/zero"), "a character device"),
        (lambda p: p.symlink_to(p.parent / "missing.yaml"), "a symbolic link to"),
    ],
    ids=["folder", "fifo", "dev-zero", "dangling-symlink"],
)
def test_a_stack_file_that_is_not_a_regular_file_is_refused_unread(
    make: Any, what: str, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    make(project / "Pulumi.x.yaml")
    # A pipe with no writer or /dev/zero would block or fill memory if read: the test would hang.
    code, document, _ = _run(project, ["render", "x", "--json"], tmp_path)
    assert code == 2
    message = document["error"]["message"]
    assert message.startswith(f"Pulumi.x.yaml is not a regular file ({what}")
    assert "unknown environment" not in message


def test_a_stack_file_past_the_size_bound_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "Pulumi.x.yaml").write_bytes(b"#" * (1024 * 1024 + 1))
    code, document, _ = _run(project, ["render", "x", "--json"], tmp_path)
    assert code == 2
    assert document["error"]["message"] == (
        "Pulumi.x.yaml is larger than 1024 KiB; a stack file is a few KB of YAML"
    )


def test_the_environments_listed_are_regular_files_only(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "Pulumi.x.yaml").mkdir()
    code, document, _ = _run(project, ["render", "qa", "--json"], tmp_path)
    assert code == 2
    assert document["error"]["message"].endswith("; expected one of dev")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Pulumi.x.yaml: got 'an empty file'; expected a mapping with a config: block"),
        (
            "# nothing but a comment\n",
            "Pulumi.x.yaml: got 'an empty file'; expected a mapping with a config: block",
        ),
        ("- a\n- b\n", "Pulumi.x.yaml: got 'a list at the top'; expected a mapping with a config: block"),
        ("42\n", "Pulumi.x.yaml: got 'int 42 at the top'; expected a mapping with a config: block"),
    ],
)
def test_a_stack_file_that_is_no_mapping_says_so(text: str, expected: str, tmp_path: Path) -> None:
    # Before, these read as an empty configuration and the refusals spoke only of missing keys.
    project = _project(tmp_path)
    (project / "Pulumi.x.yaml").write_text(text)
    code, document, _ = _run(project, ["render", "x", "--json"], tmp_path)
    assert code == 2
    assert expected in document["error"]["message"]
    assert "missing" not in document["error"]["message"]


def test_an_unknown_top_level_key_is_refused_with_the_key_meant(tmp_path: Path) -> None:
    # Pulumi reads only its own top-level keys: a misspelt config: block would be ignored whole.
    project = _project(tmp_path)
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text() + "confg:\n  crossmesh:network: {}\n"
    (project / "Pulumi.x.yaml").write_text(text)
    code, document, _ = _run(project, ["render", "x", "--json"], tmp_path)
    assert code == 2
    assert (
        "Pulumi.x.yaml: confg: got {\"crossmesh:network\": {}}; unknown top-level key; did you mean 'config'? "
        "expected one of config, environment, secretsprovider, encryptedkey, encryptionsalt"
    ) in document["error"]["message"]


# --- Pulumi.yaml -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "Pulumi.yaml cannot be read: No such file or directory"),
        (
            "name: [crossmesh\n",
            "Pulumi.yaml: not read at line 2, column 1: expected valid YAML: expected ',' or ']', but got "
            "'<stream end>'",
        ),
        (
            "name: crossmesh\nx: " + "[" * 5000 + "]" * 5000 + "\n",
            "Pulumi.yaml: not read at line 2, column 67: expected lists and mappings nested at most 64 deep",
        ),
        (
            "name: crossmesh\nname: other\n",
            "Pulumi.yaml: not read at line 2, column 1: key 'name' is given twice (first on line 1); YAML "
            "keeps only the last copy: expected each key once",
        ),
        (
            "name: crossmesh\na0: &a0 [x]\n"
            + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)),
            "Pulumi.yaml: not read at line 1, column 1: the document expands to more than 20000 values "
            "through its aliases (*name); expected a stack file without alias bombs",
        ),
        ("runtime: python\n", "Pulumi.yaml: expected the project's name at the top (name: crossmesh)"),
        ("name: ''\n", "Pulumi.yaml: expected the project's name at the top (name: crossmesh)"),
        (b"name: cross\xffmesh\n", "Pulumi.yaml: not UTF-8 text (byte 11)"),
    ],
    ids=["missing", "not-yaml", "5000-deep", "name-twice", "alias-bomb", "no-name", "empty-name", "not-utf8"],
)
def test_a_project_file_that_names_no_project_is_bad_input_naming_it(
    tmp_path: Path, content: str | bytes | None, reason: str
) -> None:
    # Before: a KeyError or YAML traceback (exit 1), or for a missing file an error blaming --out; a
    # file nested thousands deep ended in a RecursionError traceback.
    if isinstance(content, bytes):
        (tmp_path / "Pulumi.yaml").write_bytes(content)
    elif content is not None:
        (tmp_path / "Pulumi.yaml").write_text(content)
    with pytest.raises(EnvironmentInputError) as caught:
        project_name(tmp_path)
    assert str(caught.value) == reason


def test_project_level_config_the_stack_file_does_not_set_is_refused(tmp_path: Path) -> None:
    # `pulumi up` applies Pulumi.yaml's config: as every stack's defaults; the CLI reads the stack file
    # only, so such a value would be deployed unchecked and never shown in a render. A key without a
    # namespace is the project's; a value the stack file sets itself wins, and is harmless.
    from automation.environment import check_project_config

    (tmp_path / "Pulumi.yaml").write_text(
        "name: crossmesh\nconfig:\n  kubernetesVersion: '1.29'\n  crossmesh:deletionProtection: true\n"
        "  aws:region: us-east-1\n  other:thing: 1\n"
    )
    with pytest.raises(EnvironmentInputError) as caught:
        check_project_config(tmp_path, {"aws:region": "eu-west-1"}, "Pulumi.dev.yaml")
    assert str(caught.value).startswith(
        "Pulumi.yaml: project-level config sets crossmesh:deletionProtection, crossmesh:kubernetesVersion, "
        "which Pulumi.dev.yaml does not;"
    )
    check_project_config(
        tmp_path,
        {"aws:region": "x", "kubernetesVersion": "1.34", "crossmesh:deletionProtection": "false"},
        "Pulumi.dev.yaml",
    )
    assert project_name(tmp_path) == "crossmesh"


def test_the_committed_project_file_names_the_project() -> None:
    assert project_name(PROJECT_DIR) == "crossmesh"


def test_a_render_says_esc_environments_were_not_read() -> None:
    from automation.render import render

    document = stack_document("dev")
    document["environment"] = ["crossmesh-prod-overrides"]
    result = render("dev", PROJECT_DIR, document=document)
    (note,) = [n for n in result.notes if "ESC" in n]
    assert "Pulumi.dev.yaml imports Pulumi ESC environments (['crossmesh-prod-overrides'])" in note
    assert "do not read" in note
