"""Loading an environment: ``Pulumi.<env>.yaml`` -> the validated :class:`infra.config.StackConfig`.

Every command that takes an environment starts here, before anything else runs: the stack file is
read, parsed into the model (:mod:`infra.config_parse`), and its guardrail relaxations are checked
against the policy pack (:func:`automation.guardrails.check_relaxations`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.config import StackConfig
from infra.config_parse import ConfigError, Problem, flatten_config, parse_stack_file
from infra.data import mapping_or_empty


class UnknownEnvironmentError(Exception):
    """No ``Pulumi.<env>.yaml`` in the project."""

    def __init__(self, env: str, project_dir: Path) -> None:
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        super().__init__(
            f"unknown environment {env!r}: no Pulumi.{env}.yaml in {project_dir}; "
            f"expected one of {', '.join(known)}"
        )
        self.known = known


@dataclass(frozen=True)
class Environment:
    """One environment as the program will see it."""

    name: str
    config: StackConfig
    flat: dict[str, str]
    """The flat map Pulumi passes to the program (structured values JSON-encoded)."""
    source: str
    """Where it came from, for messages: ``Pulumi.<env>.yaml``."""
    block: Mapping[str, Any]
    """The stack file's ``config:`` block as written (for the documentation-value check)."""


def stack_file(project_dir: Path, env: str) -> Path:
    path = project_dir / f"Pulumi.{env}.yaml"
    if not path.is_file():
        raise UnknownEnvironmentError(env, project_dir)
    return path


def read_stack_document(path: Path) -> Mapping[str, Any]:
    """The parsed stack file, or :class:`ConfigError` naming the file, line and column of what is wrong:
    YAML syntax (tabs, control characters, ...), a key given twice, or aliases that would expand past
    :data:`automation.stack_yaml.MAX_EXPANDED_NODES`."""
    from automation.stack_yaml import StackYamlError, load_stack_yaml  # noqa: PLC0415 - imports yaml

    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = Problem(f"{path.name}", f"byte {exc.start}", "expected a UTF-8 text file")
        raise ConfigError([problem], path.name) from None
    try:
        return mapping_or_empty(load_stack_yaml(text))
    except StackYamlError as exc:
        where = f"{path.name}:{exc.line}:{exc.column}"
        raise ConfigError([Problem(where, exc.found, exc.expected)], path.name) from None


def environment(
    project_dir: Path, env: str, document: Mapping[str, Any] | None = None, *, backend: bool = True
) -> Environment:
    """Read and validate ``Pulumi.<env>.yaml`` (or the given parsed ``document`` in its place).

    ``backend=False`` skips the mesh backend's own checks, which load the Pulumi SDKs: for commands
    that only read the apps' topology (``verify --front-url``).

    Raises :class:`infra.config_parse.ConfigError` or :class:`UnknownEnvironmentError`.
    """
    from automation.guardrails import check_relaxations  # noqa: PLC0415 - loads the rules, only here

    source = f"Pulumi.{env}.yaml"
    if document is None:
        document = read_stack_document(stack_file(project_dir, env))
    config = parse_stack_file(document, env, source=source)
    check_relaxations(config, source)
    if backend:
        from infra.mesh import backend_for  # noqa: PLC0415 - loads the Pulumi SDKs, only here
        from workloads.deploy.names import app_names  # noqa: PLC0415 - with the backend it is checked with

        # The mesh backend refuses settings it cannot honour, and names its objects and the apps'
        # would share or overflow.
        backend_for(config, source=source, app_names=app_names(config))
    block = mapping_or_empty(document.get("config"))
    return Environment(env, config, flatten_config(block), source, block)


def load_for_deploy(project_dir: Path, env: str) -> StackConfig:
    """:func:`environment` for ``deploy`` and ``preview``: also refuses documentation values (the
    203.0.113.0/24 endpoint ranges and 111122223333 accounts staging and prod ship with), before
    credentials or any other check. Raises :class:`ConfigError` naming each key."""
    from automation.placeholders import refuse_documentation_values  # noqa: PLC0415

    loaded = environment(project_dir, env)
    refuse_documentation_values(loaded.block, loaded.source)
    return loaded.config


def load_environment(
    project_dir: Path, env: str, document: Mapping[str, Any] | None = None, *, backend: bool = True
) -> tuple[StackConfig, dict[str, str]]:
    """The model and the flat map Pulumi would pass to the program (see :func:`environment`)."""
    loaded = environment(project_dir, env, document, backend=backend)
    return loaded.config, loaded.flat
