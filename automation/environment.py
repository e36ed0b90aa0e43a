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
from infra.config_parse import flatten_config, parse_stack_file
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


def stack_file(project_dir: Path, env: str) -> Path:
    path = project_dir / f"Pulumi.{env}.yaml"
    if not path.is_file():
        raise UnknownEnvironmentError(env, project_dir)
    return path


def read_stack_document(path: Path) -> Mapping[str, Any]:
    """The parsed stack file."""
    import yaml  # noqa: PLC0415 - keeps `import automation` light for the CLI's --help

    return mapping_or_empty(yaml.safe_load(path.read_text(encoding="utf-8")))


def environment(project_dir: Path, env: str, document: Mapping[str, Any] | None = None) -> Environment:
    """Read and validate ``Pulumi.<env>.yaml`` (or the given parsed ``document`` in its place).

    Raises :class:`infra.config_parse.ConfigError` or :class:`UnknownEnvironmentError`.
    """
    from automation.guardrails import check_relaxations  # noqa: PLC0415 - loads the rules, only here
    from infra.mesh import backend_for  # noqa: PLC0415 - loads the Pulumi SDKs, only here

    source = f"Pulumi.{env}.yaml"
    if document is None:
        document = read_stack_document(stack_file(project_dir, env))
    config = parse_stack_file(document, env, source=source)
    check_relaxations(config, source)
    backend_for(config, source=source)  # the mesh backend refuses settings it cannot honour
    return Environment(env, config, flatten_config(mapping_or_empty(document.get("config"))), source)


def load_environment(
    project_dir: Path, env: str, document: Mapping[str, Any] | None = None
) -> tuple[StackConfig, dict[str, str]]:
    """The model and the flat map Pulumi would pass to the program (see :func:`environment`)."""
    loaded = environment(project_dir, env, document)
    return loaded.config, loaded.flat
