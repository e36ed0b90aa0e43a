"""The config model describes itself: every field has a description, and the JSON Schema of stack
files and the README's key table generated from it are committed and current."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from automation import config_docs
from automation.environment import read_stack_document
from infra import config as model
from tests.support import PROJECT_DIR


def stack_document(env: str) -> dict[str, Any]:
    """The stack file as an editor's YAML language server reads it against the schema: every value typed
    (the CLI passes a value directly under ``config:`` on as its text, as Pulumi does)."""
    return yaml.safe_load((PROJECT_DIR / f"Pulumi.{env}.yaml").read_text(encoding="utf-8"))


def _models() -> list[type[BaseModel]]:
    return [
        value
        for value in vars(model).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == model.__name__
    ]


def test_every_field_of_the_model_has_a_description() -> None:
    missing = [
        f"{m.__name__}.{name}"
        for m in _models()
        for name, info in m.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert len(_models()) >= 10
    assert missing == []


def test_generated_schema_and_readme_table_are_current() -> None:
    assert config_docs.stale(PROJECT_DIR) == [], "run ./run config-docs and commit the result"


def test_a_stale_readme_or_schema_is_detected(tmp_path: Path) -> None:
    (tmp_path / "schema").mkdir()
    (tmp_path / config_docs.SCHEMA_PATH).write_text("{}\n")
    readme = (PROJECT_DIR / "README.md").read_text()
    (tmp_path / "README.md").write_text(readme.replace("| `crossmesh:workloads.port` |", "| `port` |"))
    assert config_docs.stale(tmp_path) == [config_docs.SCHEMA_PATH, config_docs.README_PATH]
    assert config_docs.write(tmp_path) == [config_docs.SCHEMA_PATH, config_docs.README_PATH]
    assert config_docs.stale(tmp_path) == []


def _schema() -> dict[str, Any]:
    return json.loads((PROJECT_DIR / config_docs.SCHEMA_PATH).read_text())


@pytest.mark.parametrize("env", ["dev", "staging", "prod", "appmesh"])
def test_committed_stack_files_satisfy_the_schema_and_point_editors_at_it(env: str) -> None:
    jsonschema.Draft202012Validator(_schema()).validate(stack_document(env))
    first = (PROJECT_DIR / f"Pulumi.{env}.yaml").read_text().splitlines()[0]
    assert first == f"# yaml-language-server: $schema={config_docs.SCHEMA_PATH.as_posix()}"


@pytest.mark.parametrize(
    ("key", "value", "where"),
    [
        ("crossmesh:netwrok", {}, "crossmesh:netwrok"),
        ("crossmesh:workloads", {"port": 0}, "port"),
        ("crossmesh:network", {"natGateways": "perZone"}, "perZone"),
        ("crossmesh:kubernetesVersion", "1.20", "1.20"),
    ],
)
def test_the_schema_refuses_what_the_model_refuses(key: str, value: Any, where: str) -> None:
    document = stack_document("dev")
    document["config"][key] = value
    errors = list(jsonschema.Draft202012Validator(_schema()).iter_errors(document))
    assert errors, f"{key}={value!r} passed the schema"
    assert any(where in (e.message + json.dumps(list(e.absolute_path))) for e in errors)


def test_other_namespaces_pass_the_schema() -> None:
    document = stack_document("dev")
    document["config"]["pulumi:template"] = "python"
    document["config"]["aws:allowedAccountIds"] = ["210987654321"]
    jsonschema.Draft202012Validator(_schema()).validate(document)


@pytest.mark.parametrize("key", ["aws:profile", "kubernetes:kubeconfig"])
def test_provider_keys_the_program_would_ignore_fail_the_schema_as_the_program_refuses_them(key: str) -> None:
    document = stack_document("dev")
    document["config"][key] = "ops"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(_schema()).validate(document)


def test_readme_table_lists_every_nested_key_with_its_default() -> None:
    table = config_docs.key_table()
    assert "| `crossmesh:clusters[].nodes.instanceTypes` | EC2 instance types" in table
    assert (
        "| `crossmesh:workloads.port` | Port both apps listen on and colorapp is called on. | `8080` |"
        in table
    )
    assert "| `aws:region` | AWS region of the stack (one where EKS is available). | required |" in table


DOCUMENTED_SETTING = re.compile(r"`(crossmesh:[A-Za-z.]+): ([^`]+)`")
"""A setting quoted in prose as it is written in a stack file, e.g. `crossmesh:mesh.tracing: none`."""


def _quoted_settings() -> list[tuple[str, str, str]]:
    pages = [
        PROJECT_DIR / "README.md",
        PROJECT_DIR / "workloads" / "README.md",
        *(PROJECT_DIR / "docs").glob("*.md"),
    ]
    return [
        (path.relative_to(PROJECT_DIR).as_posix(), key, value)
        for path in sorted(pages)
        for key, value in DOCUMENTED_SETTING.findall(path.read_text(encoding="utf-8"))
    ]


@pytest.mark.parametrize(("page", "key", "value"), _quoted_settings(), ids=str)
def test_every_setting_the_docs_quote_is_one_the_stack_file_takes(
    page: str, key: str, value: str, tmp_path: Path
) -> None:
    # Read as the CLI reads a stack file, then checked against the generated schema of that one key.
    top, *path = key.split(".")
    text = f"config:\n  {top}:\n" + "".join(f"{'  ' * (i + 2)}{part}:\n" for i, part in enumerate(path[:-1]))
    (tmp_path / "Pulumi.x.yaml").write_text(text + f"{'  ' * (len(path) + 1)}{path[-1]}: {value}\n")
    written: Any = read_stack_document(tmp_path / "Pulumi.x.yaml")["config"][top]
    schema = _schema()
    node: Any = schema["properties"]["config"]["properties"][top]
    for part in path:
        written = written[part]
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        node = node["properties"][part]
    jsonschema.Draft202012Validator({**node, "$defs": schema["$defs"]}).validate(written)
