"""Loading an environment: ``Pulumi.<env>.yaml`` -> the validated :class:`infra.config.StackConfig`.

Every command that takes an environment starts here, before anything else runs: the stack file is
read, parsed into the model (:mod:`infra.config_parse`), and its guardrail relaxations are checked
against the policy pack (:func:`automation.guardrails.check_relaxations`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from infra.config import DnsLabel, StackConfig
from infra.config_parse import ConfigError, Problem, flatten_config, parse_stack_file
from infra.data import as_mapping, mapping_or_empty
from infra.known import did_you_mean

MAX_STACK_FILE_BYTES = 1024 * 1024
"""A stack file of this project is a few KB; a bigger one is refused unread."""

_ENVIRONMENT_NAME: TypeAdapter[str] = TypeAdapter(DnsLabel)


class EnvironmentInputError(Exception):
    """The environment argument, or its stack file, cannot be used (bad input, exit 2)."""


class UnknownEnvironmentError(EnvironmentInputError):
    """No ``Pulumi.<env>.yaml`` in the project."""

    def __init__(self, env: str, project_dir: Path) -> None:
        known = known_environments(project_dir)
        super().__init__(
            f"unknown environment {env!r}: no Pulumi.{env}.yaml in {project_dir}; "
            f"expected one of {', '.join(known)}"
        )
        self.known = known


class EnvironmentNameError(EnvironmentInputError):
    """The environment argument is not a name an environment can have."""


class StackFileError(EnvironmentInputError):
    """``Pulumi.<env>.yaml`` is there but is not a regular file this program may read."""


def _shown(env: str) -> str:
    text = repr(env)
    return text if len(text) <= 40 else text[:37] + "..."


def environment_name_problem(env: str) -> str | None:
    """Why ``env`` cannot name an environment (None when it can).

    Pulumi's own rule for stack names is 1 to 100 characters of letters, digits, ``-``, ``_`` and
    ``.`` (https://www.pulumi.com/docs/intro/concepts/stack/: "Stack names may only contain
    alphanumeric characters, hyphens, underscores, or periods"; the 100-character limit is
    ``ParseReference`` in pulumi/pulumi ``pkg/backend/diy/store.go``). This project also puts the
    stack name into AWS and Kubernetes names (``<cluster>-<stack>``), so its configuration model
    (``StackConfig.stack``) takes the stricter DNS label: every such name is a valid Pulumi stack
    name, and none holds a path separator, ``..`` or a leading dot.
    """
    try:
        _ENVIRONMENT_NAME.validate_python(env)
    except ValidationError as exc:
        reason = exc.errors()[0].get("ctx", {}).get("error")
        return str(reason) if reason is not None else exc.errors()[0]["msg"]
    return None


def known_environments(project_dir: Path) -> list[str]:
    """The environments of ``project_dir``: valid names whose ``Pulumi.<env>.yaml`` is a regular file."""
    known: list[str] = []
    for path in project_dir.glob("Pulumi.*.yaml"):
        name = path.name[len("Pulumi.") : -len(".yaml")]
        try:
            regular = stat.S_ISREG(path.stat().st_mode)
        except OSError:
            regular = False
        if regular and environment_name_problem(name) is None:
            known.append(name)
    return sorted(known)


def check_environment_name(env: str, project_dir: Path) -> None:
    """Refuse an environment argument that is no environment's name, before it is used in a path.

    Raises :class:`EnvironmentNameError` saying what a name must be and which environments exist.
    """
    problem = environment_name_problem(env)
    if problem is not None:
        known = known_environments(project_dir)
        raise EnvironmentNameError(
            f"environment {_shown(env)} is not a valid environment name: {problem} "
            f"(the environments of this project are {', '.join(known) or 'none'})"
        )


_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(name: str, mode: int) -> StackFileError:
    kind = next((what for test, what in _FILE_KINDS if test(mode)), "not a file")
    return StackFileError(f"{name} is not a regular file ({kind}); a stack file must be a YAML file")


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
    imports: object = None
    """The stack file's ``environment:`` (Pulumi ESC environments it imports), as written."""


def stack_file(project_dir: Path, env: str) -> Path:
    """``Pulumi.<env>.yaml``, checked to be a regular file (a folder, pipe or device is refused unread).

    Raises :class:`EnvironmentNameError`, :class:`UnknownEnvironmentError` or :class:`StackFileError`.
    """
    check_environment_name(env, project_dir)
    path = project_dir / f"Pulumi.{env}.yaml"
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise StackFileError(
                f"{path.name} is not a regular file (a symbolic link to {os.readlink(path)!r}, "
                "which does not exist)"
            ) from None
        raise UnknownEnvironmentError(env, project_dir) from None
    except OSError as exc:
        raise StackFileError(f"{path.name} cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise _not_regular(path.name, mode)
    return path


def _read_bounded(path: Path) -> bytes:
    """The bytes of the regular file ``path``, at most :data:`MAX_STACK_FILE_BYTES` of them.

    Opened without blocking and checked on the open descriptor, so a file swapped for a pipe or a
    device after :func:`stack_file` looked at it is refused rather than read forever.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise StackFileError(f"{path.name} cannot be read: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(path.name, mode)
        try:
            raw = handle.read(MAX_STACK_FILE_BYTES + 1)
        except OSError as exc:
            raise StackFileError(f"{path.name} cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_STACK_FILE_BYTES:
        raise StackFileError(
            f"{path.name} is larger than {MAX_STACK_FILE_BYTES // 1024} KiB; a stack file is a few KB of YAML"
        )
    return raw


PROJECT_FILE = "Pulumi.yaml"
CONFIG_NAMESPACES = ("crossmesh:", "aws:")
"""The configuration the model reads: a value for one of these set anywhere but the stack file would
reach ``pulumi up`` without being checked, rendered or shown by this CLI."""


def project_name(project_dir: Path) -> str:
    """The project's name from ``Pulumi.yaml``; :class:`EnvironmentInputError` (exit 2) naming the file
    and what is wrong when it is missing, unreadable, not YAML or names no project."""
    return str(_project_document(project_dir)["name"])


def _project_document(project_dir: Path) -> Mapping[str, Any]:
    # Read as strictly as a stack file (aliases and nesting bounded: PyYAML's own loader recursed into a
    # file nested thousands deep until a RecursionError), but its config: keeps its typed values.
    from automation.stack_yaml import StackYamlError, load_stack_yaml  # noqa: PLC0415 - imports yaml

    path = project_dir / PROJECT_FILE
    try:
        document: object = load_stack_yaml(_read_bounded(path).decode("utf-8"), config_as_passed=False)
    except StackFileError as exc:
        raise EnvironmentInputError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise EnvironmentInputError(f"{PROJECT_FILE}: not UTF-8 text (byte {exc.start})") from None
    except StackYamlError as exc:
        raise EnvironmentInputError(
            f"{PROJECT_FILE}: not read at line {exc.line}, column {exc.column}: {exc.expected}"
        ) from None
    found = mapping_or_empty(document)
    name: object = found.get("name")
    if not isinstance(name, str) or not name.strip():
        raise EnvironmentInputError(
            f"{PROJECT_FILE}: expected the project's name at the top (name: crossmesh)"
        )
    return found


def check_project_config(project_dir: Path, block: Mapping[str, Any], source: str) -> None:
    """Refuse (exit 2) configuration ``Pulumi.yaml`` sets for this project or AWS that the stack file
    does not set itself: ``pulumi up`` would apply it (project-level values are every stack's defaults;
    a key without a namespace is the project's), while this CLI checks and renders the stack file."""
    from infra.config_parse import qualified_key  # noqa: PLC0415 - the model, only here

    project_config = mapping_or_empty(_project_document(project_dir).get("config"))
    given = {qualified_key(str(key)) for key in block}
    keys = [qualified_key(str(key)) for key in project_config]
    unseen = sorted(key for key in keys if key.startswith(CONFIG_NAMESPACES) and key not in given)
    if unseen:
        raise EnvironmentInputError(
            f"{PROJECT_FILE}: project-level config sets {', '.join(unseen)}, which {source} does not; "
            "`pulumi up` would apply it unchecked by this CLI and unseen in its renders: set each in the "
            "config: block of the stack files instead"
        )


def read_stack_document(path: Path) -> Mapping[str, Any]:
    """The parsed stack file, or :class:`ConfigError` naming the file, line and column of what is wrong:
    YAML syntax (tabs, control characters, ...), a key given twice, or aliases that would expand past
    :data:`automation.stack_yaml.MAX_EXPANDED_NODES`. A file that is no regular file, cannot be read or
    is larger than :data:`MAX_STACK_FILE_BYTES` raises :class:`StackFileError`."""
    from automation.stack_yaml import StackYamlError, load_stack_yaml  # noqa: PLC0415 - imports yaml

    raw = _read_bounded(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = Problem(
            f"{path.name}:{line}:{column}", f"byte 0x{raw[exc.start]:02x}", "expected a UTF-8 text file"
        )
        raise ConfigError([problem], path.name) from None
    try:
        document = load_stack_yaml(text)
    except StackYamlError as exc:
        where = f"{path.name}:{exc.line}:{exc.column}"
        raise ConfigError([Problem(where, exc.found, exc.expected)], path.name) from None
    return stack_document(document, path.name)


STACK_FILE_KEYS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")
"""The top-level keys of a stack file (``ProjectStack`` in pulumi/pulumi
``sdk/go/common/workspace/project.go``); anything else there is a typo Pulumi would not read."""


def stack_document(document: object, name: str) -> Mapping[str, Any]:
    """A parsed stack file's top level, checked: a mapping of Pulumi's stack-file keys only."""
    if document is None:
        raise ConfigError(
            [
                Problem(
                    name,
                    "an empty file",
                    "expected a mapping with a config: block, like config: {aws:region: us-east-1, ...}",
                )
            ],
            name,
        )
    found = as_mapping(document)
    if found is None:
        shown = "a list" if isinstance(document, list) else f"{type(document).__name__} {document!r:.40}"
        raise ConfigError(
            [Problem(name, f"{shown} at the top", "expected a mapping with a config: block")], name
        )
    problems: list[Problem] = []
    for key in found:
        if key not in STACK_FILE_KEYS:
            typo = did_you_mean(str(key), STACK_FILE_KEYS)
            hint = f"did you mean '{typo}'? " if typo else ""
            problems.append(
                Problem(
                    f"{name}: {key}",
                    found[key],
                    f"unknown top-level key; {hint}expected one of {', '.join(STACK_FILE_KEYS)}",
                )
            )
    if problems:
        raise ConfigError(problems, name)
    return found


def environment(
    project_dir: Path, env: str, document: Mapping[str, Any] | None = None, *, backend: bool = True
) -> Environment:
    """Read and validate ``Pulumi.<env>.yaml`` (or the given parsed ``document`` in its place).

    ``backend=False`` skips the mesh backend's own checks, which load the Pulumi SDKs: for commands
    that only read the apps' topology (``verify --front-url``).

    Raises :class:`infra.config_parse.ConfigError` or :class:`EnvironmentInputError`.
    """
    from automation.guardrails import check_relaxations  # noqa: PLC0415 - loads the rules, only here

    check_environment_name(env, project_dir)
    source = f"Pulumi.{env}.yaml"
    if document is None:
        document = read_stack_document(stack_file(project_dir, env))
    if os.path.lexists(project_dir / PROJECT_FILE):
        # Checked here when present (a render needs it; the recorder refuses a missing one).
        check_project_config(project_dir, mapping_or_empty(document.get("config")), source)
    config = parse_stack_file(document, env, source=source)
    check_relaxations(config, source)
    if backend:
        from infra.mesh import backend_for  # noqa: PLC0415 - loads the Pulumi SDKs, only here
        from workloads.deploy.names import app_names  # noqa: PLC0415 - with the backend it is checked with

        # The mesh backend refuses settings it cannot honour, and names its objects and the apps'
        # would share or overflow.
        backend_for(config, source=source, app_names=app_names(config))
    block = mapping_or_empty(document.get("config"))
    return Environment(env, config, flatten_config(block), source, block, document.get("environment"))


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
