"""Loading an environment: ``Pulumi.<env>.yaml`` -> the validated :class:`infra.config.StackConfig`.

Every command that takes an environment starts here, before anything else runs. Kept apart from the
render (which records the program with Pulumi's SDK) so that commands needing only the configuration,
``verify --front-url`` above all, import the model and PyYAML and nothing heavier.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.config import StackConfig, flatten_config, parse_stack_file
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


def stack_file(project_dir: Path, env: str) -> Path:
    path = project_dir / f"Pulumi.{env}.yaml"
    if not path.is_file():
        raise UnknownEnvironmentError(env, project_dir)
    return path


def read_stack_document(path: Path) -> Mapping[str, Any]:
    """The parsed stack file."""
    import yaml  # noqa: PLC0415 - keeps `import automation.environment` light for the CLI's --help

    return mapping_or_empty(yaml.safe_load(path.read_text(encoding="utf-8")))


def load_environment(
    project_dir: Path, env: str, document: Mapping[str, Any] | None = None
) -> tuple[StackConfig, dict[str, str]]:
    """Read and validate ``Pulumi.<env>.yaml`` (or the given parsed ``document`` in its place).

    Returns the model and the flat map Pulumi would pass to the program. Raises
    :class:`infra.config.ConfigError` or :class:`UnknownEnvironmentError`.
    """
    source = f"Pulumi.{env}.yaml"
    if document is None:
        document = read_stack_document(stack_file(project_dir, env))
    config = parse_stack_file(document, env, source=source)
    return config, flatten_config(mapping_or_empty(document.get("config")))
