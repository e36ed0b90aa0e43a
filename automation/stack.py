"""The Pulumi Automation API behind a small interface (Ctrl-C around its operations: automation.interrupt).

The CLI talks to a :class:`StackRunner`; :class:`PulumiStackRunner` is the real one: a LocalWorkspace
over the project directory (``Pulumi.yaml``, ``__main__.py``, ``Pulumi.<env>.yaml``), so
``pulumi up --stack dev`` and ``python -m automation deploy dev`` run the very same program with the
very same configuration. Tests substitute a fake runner.

The CLI imports this module inside its commands only: ``--help`` must not pay for gRPC and the SDK.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, cast

from pulumi import automation as auto
from pulumi.automation import CommandError, PulumiCommand
from pulumi.automation.errors import InvalidVersionError

from automation.errors import CrossmeshError, Failure
from automation.exit_codes import ExitCode
from automation.machine import installed_cli_root
from automation.progress import EventSink

INSTALL_HINT = (
    "Install the Pulumi CLI: `curl -fsSL https://get.pulumi.com | sh` (Linux, macOS), "
    "`brew install pulumi/tap/pulumi`, or `winget install pulumi`; in GitHub Actions use "
    "pulumi/actions or the install script."
)
INSTALL_CLI_HINT = (
    " Or rerun with --install-cli to let the Automation API download it to ~/.pulumi/versions/."
)


@dataclass(frozen=True)
class StackOutput:
    value: Any
    secret: bool


@dataclass(frozen=True)
class OperationResult:
    changes: Mapping[str, int]
    """op -> number of resources (``{"create": 87}``; ``same`` included when the engine reports it)."""


class StackRunner(Protocol):
    """What the CLI needs from one Pulumi stack."""

    def up(self, *, sink: EventSink, parallel: int | None = None) -> OperationResult: ...

    def preview(self, *, sink: EventSink, parallel: int | None = None) -> OperationResult: ...

    def destroy(self, *, sink: EventSink, parallel: int | None = None) -> OperationResult: ...

    def refresh(self, *, sink: EventSink, parallel: int | None = None) -> OperationResult: ...

    def outputs(self) -> dict[str, StackOutput]: ...

    def cancel(self) -> None: ...

    def resource_count(self) -> int | None:
        """Resources in the stack's current state (a progress estimate); ``None`` when unknown."""
        ...

    def state_resources(self) -> list[Mapping[str, Any]] | None:
        """The resources of the stack's current state as ``pulumi stack export`` writes them (``type``,
        ``urn``, ``inputs``, ``outputs``); ``None`` when unknown."""
        ...


@dataclass(frozen=True)
class StackRequest:
    """Which stack to open, and how."""

    env: str
    project_dir: Path
    backend_url: str | None = None
    """``--backend``; ``None`` leaves PULUMI_BACKEND_URL or the CLI's login in charge."""
    install_cli: bool = False
    create: bool = False
    """Create the stack when the backend has none (deploy, preview); otherwise it must exist."""
    policy_packs: tuple[str, ...] = ()
    """CrossGuard packs run by ``up`` and ``preview`` (the guardrails in policy/)."""
    policy_pack_configs: tuple[str, ...] = ()
    """Config file of each pack, in the same order."""


StackFactory = Callable[[StackRequest], StackRunner]


def _changes(op_map: Mapping[Any, Any] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for op, count in (op_map or {}).items():
        key = str(getattr(op, "value", op))
        out[key] = int(count)
    return out


class PulumiStackRunner:
    """:class:`StackRunner` over ``pulumi.automation.Stack`` (typed ``Any``: the SDK is untyped)."""

    def __init__(self, stack: Any, policy: Mapping[str, list[str]] | None = None) -> None:
        self._stack = stack
        self._policy = dict(policy or {})

    def _kwargs(self, sink: EventSink, parallel: int | None) -> dict[str, Any]:
        return {
            "parallel": parallel,
            "on_event": sink.on_event,
            "on_output": sink.on_output,
            "on_error": sink.on_error,
            "color": "never",
        }

    def up(self, *, sink: EventSink, parallel: int | None = None) -> OperationResult:
        # The guardrails judge what is about to be created: up and preview carry the pack.
        result = self._stack.up(**self._kwargs(sink, parallel), **self._policy)
        return OperationResult(_changes(result.summary.resource_changes))

    def preview(self, *, sink: EventSink, parallel: int | None = None) -> OperationResult:
        result = self._stack.preview(**self._kwargs(sink, parallel), **self._policy)
        return OperationResult(_changes(result.change_summary))

    def destroy(self, *, sink: EventSink, parallel: int | None = None) -> OperationResult:
        result = self._stack.destroy(**self._kwargs(sink, parallel))
        return OperationResult(_changes(result.summary.resource_changes))

    def refresh(self, *, sink: EventSink, parallel: int | None = None) -> OperationResult:
        result = self._stack.refresh(**self._kwargs(sink, parallel))
        return OperationResult(_changes(result.summary.resource_changes))

    def outputs(self) -> dict[str, StackOutput]:
        # `pulumi stack output --json --show-secrets`: secrets arrive in plain text, flagged.
        return {name: StackOutput(out.value, bool(out.secret)) for name, out in self._stack.outputs().items()}

    def cancel(self) -> None:
        self._stack.cancel()

    @property
    def sdk_stack(self) -> Any:
        """The ``pulumi.automation.Stack`` itself, for commands that need more than this protocol
        (``shift``: configuration, tags and targeted updates; automation/shift/stack.py)."""
        return self._stack

    def resource_count(self) -> int | None:
        resources = self.state_resources()
        return None if resources is None else len(resources)

    def state_resources(self) -> list[Mapping[str, Any]] | None:
        try:
            deployment = self._stack.export_stack().deployment
        except CommandError:
            return None
        state: Mapping[str, object] = (
            cast("Mapping[str, object]", deployment) if isinstance(deployment, Mapping) else {}
        )
        resources = state.get("resources")
        if not isinstance(resources, list):
            return []
        return [
            cast("Mapping[str, Any]", r) for r in cast("list[object]", resources) if isinstance(r, Mapping)
        ]


def cli_missing_failure(reason: str, *, tried_install: bool = False) -> Failure:
    hint = INSTALL_HINT if tried_install else INSTALL_HINT + INSTALL_CLI_HINT
    return Failure(ExitCode.PULUMI_CLI_MISSING, "pulumi_cli_missing", reason, hint)


def _installed_command(install: bool) -> Any:
    """A PulumiCommand for a CLI installed by ``--install-cli`` earlier, or installed now; else ``None``.

    ``PulumiCommand.install`` puts the CLI in ~/.pulumi/versions/<sdk version>, which is not on PATH:
    later runs find it there without --install-cli.
    """
    # The folder PulumiCommand.install() picks by default: the CLI version matching this SDK.
    root = installed_cli_root()
    if (root / "bin" / "pulumi").is_file():
        try:
            return PulumiCommand(root=str(root))
        except (OSError, subprocess.CalledProcessError, InvalidVersionError):
            pass  # a broken earlier install: fall back to PATH (or reinstall below)
    if not install:
        return None
    try:
        return PulumiCommand.install(root=str(root))
    except OSError as exc:  # URLError is an OSError: no network, a proxy, get.pulumi.com unreachable
        reason = getattr(exc, "reason", None) or exc
        message = f"--install-cli could not download the Pulumi CLI from get.pulumi.com: {reason}"
        raise CrossmeshError(cli_missing_failure(message, tried_install=True)) from exc
    except subprocess.CalledProcessError as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else str(exc.output)
        message = f"--install-cli: the Pulumi install script failed (exit {exc.returncode}): "
        failure = cli_missing_failure(message + output.strip()[-400:], tried_install=True)
        raise CrossmeshError(failure) from exc


def open_stack(request: StackRequest) -> PulumiStackRunner:
    """Select (or create) the stack ``request.env`` in a LocalWorkspace over the project directory.

    Raises :class:`CrossmeshError` when the CLI is missing or too old, or the stack does not exist
    and may not be created.
    """
    command = _installed_command(request.install_cli)
    env_vars: dict[str, str] = {}
    if request.backend_url:
        env_vars["PULUMI_BACKEND_URL"] = request.backend_url
    # The CLI must not stop to ask anything: the Automation API adds --non-interactive, and this
    # keeps update checks from printing into the event stream.
    env_vars["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    options = auto.LocalWorkspaceOptions(env_vars=env_vars, pulumi_command=command)
    opener = auto.create_or_select_stack if request.create else auto.select_stack
    try:
        stack = opener(stack_name=request.env, work_dir=str(request.project_dir), opts=options)
    except FileNotFoundError as exc:
        # LocalWorkspace runs `pulumi version` first; without a CLI on PATH that is ENOENT for "pulumi".
        if "pulumi" not in f"{exc} {exc.filename}":
            raise
        message = "the Pulumi CLI (`pulumi`) is not installed or not on PATH"
        raise CrossmeshError(cli_missing_failure(message)) from exc
    except PermissionError as exc:
        # A `pulumi` on PATH that cannot be started (no execute bit, a folder, a noexec mount): with no
        # runnable one after it on PATH, starting `pulumi version` fails with EACCES.
        if "pulumi" not in f"{exc} {exc.filename}":
            raise
        found = next(
            (str(Path(d) / "pulumi") for d in os.get_exec_path() if (Path(d) / "pulumi").exists()), "pulumi"
        )
        raise CrossmeshError(
            Failure(
                ExitCode.PULUMI_CLI_MISSING,
                "pulumi_cli_broken",
                f"the `pulumi` on PATH ({found}) cannot be run: {exc.strerror or exc}",
                f"Make it executable (`chmod +x {found}`) if it is the Pulumi CLI, or remove it from "
                "PATH. " + INSTALL_HINT + INSTALL_CLI_HINT,
            )
        ) from exc
    except InvalidVersionError as exc:
        # The SDK's own check (pulumi/automation/_cmd.py): older than its minimum is a CLI too old,
        # as the machine check says for deploy and preview (automation/machine.py); a newer major
        # version or an unreadable version is a CLI this SDK cannot use.
        too_old = "Minimum version requirement failed" in str(exc)
        kind = "pulumi_cli_too_old" if too_old else "pulumi_cli_broken"
        failure = cli_missing_failure(f"the installed Pulumi CLI is not supported by this SDK: {exc}")
        raise CrossmeshError(replace(failure, kind=kind)) from exc
    except subprocess.CalledProcessError as exc:
        # `pulumi version` itself failed: a broken install (wrong architecture, truncated download).
        message = (
            f"the Pulumi CLI on PATH does not run (`{' '.join(map(str, exc.cmd))}` exit {exc.returncode})"
        )
        raise CrossmeshError(replace(cli_missing_failure(message), kind="pulumi_cli_broken")) from exc
    policy = (
        {"policy_packs": list(request.policy_packs), "policy_pack_configs": list(request.policy_pack_configs)}
        if request.policy_packs
        else None
    )
    return PulumiStackRunner(stack, policy)


def default_backend_description(backend_url: str | None) -> str:
    """Where the state lives, for messages: --backend, PULUMI_BACKEND_URL or the CLI's own login."""
    if backend_url:
        return backend_url
    return os.environ.get("PULUMI_BACKEND_URL") or "the Pulumi CLI's current login (`pulumi whoami -v`)"
