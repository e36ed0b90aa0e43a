"""One run of a command against an environment: the deploy pipeline, with its dependencies passed in.

Every command that changes or reads a stack runs the same steps, each able to stop the run with its
own exit code (docs/cli.md): validate ``Pulumi.ENV.yaml`` (2) -> AWS credentials with STS (5) ->
the mesh backend's availability (6) -> open the stack with the Automation API (4, 9) -> the Pulumi
operation (7, 8, 130) -> verification (3).

:class:`DeploySession` holds those steps as methods (``load``, ``preflight``, ``open_stack``,
``operate``, ``verify_outputs``) and the pipelines built from them (``deploy``, ``preview``,
``destroy``, ``refresh``, ``outputs``, ``verify``, ``render``). Everything that reaches Pulumi, AWS
or the terminal comes in through :class:`Dependencies`, so a test builds a session over fakes
instead of patching module globals; :meth:`Dependencies.real` wires the real ones.

:meth:`DeploySession.run` is the one place failures become a message on stderr, one JSON document
on stdout (with ``--json``) and an exit code; the pipelines return that code.

Heavy SDKs (Pulumi, boto3, kubernetes, rich) are imported inside the methods that need them: the
CLI imports this module for every command, ``--help`` and ``verify --front-url`` included.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from automation.errors import CrossmeshError, EngineContext, Failure, classify_engine_error, is_command_error
from automation.exit_codes import ExitCode
from automation.interrupt import (
    DEFAULT_TIMING,
    Interrupted,
    InterruptTiming,
    interrupted_failure,
    interrupted_outside_pulumi,
    render_interrupted,
    run_interruptible,
)

if TYPE_CHECKING:
    from rich.console import Console

    from automation.preflight import CallerIdentity, PreflightClients
    from automation.stack import OperationResult, StackOutput, StackRequest, StackRunner
    from automation.verify.model import VerifyPlan, VerifyReport
    from automation.verify.settings import HttpCheckSettings
    from infra.config import StackConfig

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOG_DIR = PROJECT_DIR / "build" / "logs"
"""Where each Pulumi operation's JSON-lines event log goes (``<env>-<op>-<UTC time>.jsonl``)."""

Operation = Literal["deploy", "preview", "destroy", "refresh"]
Verifier = Callable[["VerifyPlan", "HttpCheckSettings", float], "VerifyReport"]
"""``(plan, http settings, deadline in seconds) -> report``: the full post-deploy verification."""


# --------------------------------------------------------------------------------------------------
# What a session needs from the world


def open_pulumi_stack(request: StackRequest) -> StackRunner:
    from automation.stack import open_stack

    return open_stack(request)


def make_preflight_clients(region: str) -> PreflightClients:
    from automation.preflight import make_clients

    return make_clients(region)


def verify_with_real_clients(plan: VerifyPlan, http: HttpCheckSettings, deadline_s: float) -> VerifyReport:
    from automation.verify.runner import verify_plan

    return verify_plan(plan, deadline_s=deadline_s, http=http)


def check_leaks_with_real_clients(config: StackConfig) -> None:
    from automation.leaks import check_after_destroy

    check_after_destroy(config)


def check_this_machine(config: StackConfig, install_cli: bool) -> list[str]:
    from automation.machine import check_machine

    return check_machine(config, install_cli=install_cli)


def utc_today() -> date:
    """Today in UTC (infra.config.utc_today, looked up at each call: the one place a test pins it)."""
    from infra import config as config_module

    return config_module.utc_today()


def stdin_is_a_terminal() -> bool:
    # None: the process started with stdin closed (`<&-`), which is no terminal either.
    return sys.stdin is not None and sys.stdin.isatty()


@dataclass(frozen=True)
class Dependencies:
    """Everything a session reaches outside itself. Tests pass fakes; the CLI uses :meth:`real`."""

    stack_factory: Callable[[StackRequest], StackRunner] = open_pulumi_stack
    """Opens (or creates) the Pulumi stack a request names."""
    preflight_clients: Callable[[str], PreflightClients] = make_preflight_clients
    """boto3 clients for STS and the mesh backend's availability check, for a region."""
    verifier: Verifier = verify_with_real_clients
    """The full verification of a deployed environment."""
    leak_check: Callable[[StackConfig], None] = check_leaks_with_real_clients
    machine_check: Callable[[StackConfig, bool], list[str]] = check_this_machine
    """Before deploy and preview: the Pulumi CLI, Docker with buildx, the AWS CLI (automation/machine.py);
    the second argument is --install-cli."""
    """After destroy: what of the stack is left (automation/leaks.py); raises exit 10 listing it."""
    is_interactive: Callable[[], bool] = stdin_is_a_terminal
    """Whether a confirmation can be asked (stdin is a terminal)."""
    project_dir: Path = PROJECT_DIR
    """Where ``Pulumi.yaml`` and the ``Pulumi.<env>.yaml`` files are."""
    log_dir: Path = LOG_DIR
    """Where the event log of each Pulumi operation is written."""
    interrupt: InterruptTiming = DEFAULT_TIMING
    """How long Ctrl-C waits for the engine before `pulumi cancel`, and after it."""
    today: Callable[[], date] = utc_today
    """Today in UTC, the time zone of the EKS version calendar (extended-support warnings)."""

    @classmethod
    def real(cls) -> Dependencies:
        """Pulumi's Automation API, boto3, the real verification and the process's stdin."""
        return cls()


# --------------------------------------------------------------------------------------------------
# Where output goes


class Output:
    """Results on stdout (or stderr with ``--json``, where stdout carries exactly one JSON document);
    progress, warnings and errors on stderr."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    @property
    def out(self) -> Console:
        return _console(stderr=self.as_json, soft_wrap=False)

    @property
    def err(self) -> Console:
        return _console(stderr=True, soft_wrap=True, highlight=False, markup=False)

    def say(self, text: str, *, out: bool = False, label: str = "", style: str = "") -> None:
        """Print ``text`` as is: never as rich markup, because messages carry URLs and paths with
        brackets ("[/path]", "[secret]") that markup would swallow or reject."""
        from rich.text import Text

        line = Text.assemble((label, style or "bold"), text) if label else Text(text, style=style)
        (self.out if out else self.err).print(line)

    def emit(self, document: Mapping[str, Any]) -> None:
        """The one JSON document of this run (only with ``--json``). A stdout that is closed, full or
        whose reader went away is said on stderr; the exit status stays the command's own."""
        if not self.as_json:
            return
        try:
            if sys.stdout is None:  # started with stdout closed (`>&-`)
                raise OSError("stdout is closed")
            sys.stdout.write(json.dumps(document, default=str) + "\n")
            sys.stdout.flush()
        except (OSError, ValueError) as exc:
            _discard(sys.stdout)
            self.say(f"the JSON result could not be written to stdout: {exc}", label="warning: ")

    def confirm(self, question: str) -> bool:
        """Ask on stderr; Ctrl-C or end of input at the prompt is an interrupt before any change."""
        import typer

        try:
            return typer.confirm(question, default=False, err=True)
        except typer.Abort:
            # click turns Ctrl-C (and end of input) at a prompt into Abort, which would exit 1: this
            # is an interrupt before any change, so it ends like one (130, "nothing was changed").
            raise KeyboardInterrupt from None


def _console(*, stderr: bool, **options: Any) -> Console:
    """A rich console that survives its reader going away, a write that fails and a COLUMNS it cannot
    use."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich exits 1 here, which is INVALID_RENDER in this CLI: the rest of the output goes
            # nowhere instead, and the command ends with its own status.
            self.quiet = True
            _discard(sys.stderr if stderr else sys.stdout)

        def _check_buffer(self) -> None:
            # Any other failed write (a full disk behind `> file`, an I/O error) rich let through: a
            # traceback and exit 1. It is said once on stderr; the command keeps its own status.
            try:
                super()._check_buffer()
            except OSError as exc:
                self.on_broken_pipe()
                if not stderr:
                    _console(stderr=True, soft_wrap=True, highlight=False, markup=False).print(
                        f"warning: stdout could not be written ({exc.strerror or exc}); the rest of "
                        "the output there is dropped"
                    )

    return _Console(stderr=stderr, width=_usable_width(), **options)


def _usable_width() -> int | None:
    """None (rich reads COLUMNS or the terminal) unless COLUMNS is below 1: rich would then print
    every line, errors included, as nothing."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return None
    return 80 if columns < 1 else None


def reopen_closed_standard_descriptors() -> None:
    """Point descriptors 0, 1 and 2 the process started without (`<&-`, `>&-`, `2>&-`) at /dev/null.

    Left closed, the first files and sockets the run opens take those numbers: uvloop, the HTTP
    check's event loop, then aborts the process when it closes such a socket (libuv's ``uv__close``
    asserts ``fd > STDERR_FILENO``), and a child process would inherit a socket as its output.
    ``sys.stdin``/``sys.stdout`` stay ``None``, so a closed stdout is still reported as one."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            devnull = os.open(os.devnull, os.O_RDWR)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)


def escape_what_stdout_cannot_encode() -> None:
    """Write characters stdout's encoding lacks (an ASCII or Latin-1 terminal, ``PYTHONIOENCODING``)
    as escapes (``\\xfc``) instead of failing: a path, a color front answered or an AWS message
    with such a character ended the run with UnicodeEncodeError, exit 1. stderr escapes by default."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if callable(reconfigure) and getattr(sys.stdout, "errors", "") == "strict":
        reconfigure(errors="backslashreplace")


def _discard(stream: Any) -> None:
    """Point a broken or full stream's descriptor at /dev/null, so nothing more (not even the flush
    at exit) fails on it."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass  # no descriptor to redirect (closed at start, or not a file): nothing will be written


# --------------------------------------------------------------------------------------------------
# The session


class _Declined(Exception):
    """The user answered no: nothing was changed, exit 0."""


def failure(code: ExitCode, kind: str, message: str, hint: str = "") -> Failure:
    return Failure(code, kind, message, hint)


def changes_text(changes: Mapping[str, int]) -> str:
    shown = {op: n for op, n in changes.items() if n}
    return ", ".join(f"{op} {n}" for op, n in sorted(shown.items())) or "no changes"


def masked(outputs: Mapping[str, StackOutput], show_secrets: bool = False) -> dict[str, Any]:
    return {
        name: out.value if show_secrets or not out.secret else "[secret]" for name, out in outputs.items()
    }


def plain(outputs: Mapping[str, StackOutput]) -> dict[str, Any]:
    return {name: out.value for name, out in outputs.items()}


def unwritable(folder: Path) -> str | None:
    """Why ``folder`` cannot be made or take a new file here (None when it can): made if missing,
    then a file created in it and removed, which is what the run will do."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


@dataclass
class DeploySession:
    """One command against one environment: its steps, its state, and how it ends."""

    env: str
    operation: str
    """The command (``deploy``, ``verify``, ...): named in messages and the JSON result."""
    deps: Dependencies = field(default_factory=Dependencies.real)
    output: Output = field(default_factory=lambda: Output(as_json=False))
    config: StackConfig | None = None
    """The validated configuration, once :meth:`load` ran."""
    changed: bool = False
    """A Pulumi operation that changes resources completed (an interrupt after it changed something)."""
    log: Path | None = None
    """The event log of the last Pulumi operation."""
    current: str = ""
    """The Pulumi operation running now (a deploy runs a preview first when it has to ask)."""
    extra: dict[str, Any] = field(default_factory=dict[str, Any])
    """Fields the final JSON result carries whatever the outcome (changes, outputs)."""

    # ---- the result document and the failure boundary -------------------------------------------

    def result(self, ok: bool, code: ExitCode, **fields: Any) -> dict[str, Any]:
        document: dict[str, Any] = {
            "ok": ok,
            "env": self.env,
            "operation": self.operation,
            "exit_code": int(code),
        }
        if self.log is not None:
            document["log"] = str(self.log)
        # Every result document has ``error``: null unless a failure fills it (docs/cli.md).
        return document | self.extra | {"error": None} | fields

    def fail(self, problem: Failure) -> int:
        """Print ``problem``, emit its JSON result; returns its exit code."""
        say = self.output.say
        say(problem.message, label="error: ", style="bold red")
        for line in problem.details:
            say(f"  {line}")
        if problem.hint:
            say(problem.hint, label="hint: ")
        if self.log is not None:
            say(f"log: {self.log}")
        self.output.emit(self.result(False, problem.code, error=problem.to_dict()))
        return int(problem.code)

    def run(self, body: Callable[[], int]) -> int:
        """Run ``body`` (a pipeline) and turn every known failure into its message and exit code."""
        from automation.environment import EnvironmentInputError, check_environment_name
        from infra.config_parse import ConfigError
        from infra.naming import NameTooLongError

        try:
            # First: the name goes into paths (build/render/ENV, logs, locks) before the stack file.
            check_environment_name(self.env, self.deps.project_dir)
            return body()
        except _Declined:
            self.output.say("declined: nothing was changed")
            self.output.emit(self.result(True, ExitCode.OK, changes={}, declined=True))
            return int(ExitCode.OK)
        except (ConfigError, EnvironmentInputError) as exc:
            return self.fail(
                failure(ExitCode.BAD_INPUT, "bad_input", str(exc), "Nothing was called or changed.")
            )
        except NameTooLongError as exc:
            # The config model checks every composed name it knows of (infra/config_limits.py); a
            # name it missed still stops here as bad input, not as a traceback.
            return self.fail(
                failure(
                    ExitCode.BAD_INPUT,
                    "bad_input",
                    str(exc),
                    "Shorten the stack name or the configured names.",
                )
            )
        except CrossmeshError as exc:
            return self.fail(exc.failure)
        except Interrupted as exc:
            return self.fail(interrupted_failure(self.env, exc, self.current or self.operation))
        except KeyboardInterrupt:
            return self.fail(interrupted_outside_pulumi(self.operation, changed=self.changed))
        except Exception as exc:
            if not is_command_error(exc):
                raise
            return self.fail(classify_engine_error(exc, self.engine_context()))

    def engine_context(self) -> EngineContext:
        """What the error classifier needs to make its hints concrete (cluster names, region, log)."""
        from infra.mesh import backend_for

        config = self.config
        return EngineContext(
            env=self.env,
            operation=self.current or self.operation,
            clusters=[c.name for c in config.clusters] if config else [],
            eks_names={c.name: config.eks_name(c.name) for c in config.clusters} if config else {},
            region=config.region if config else "",
            log_path=str(self.log or ""),
            controller_release=backend_for(config).controller_release() if config else "",
        )

    # ---- the steps ---------------------------------------------------------------------------------

    def load(self, *, deploying: bool = False, backend: bool = True) -> StackConfig:
        """Validate ``Pulumi.<env>.yaml`` with the project's model before anything else runs;
        ``deploying`` (deploy, preview) also refuses documentation values still in it, before any
        credential is looked at."""
        from automation.environment import load_environment, load_for_deploy

        if deploying:
            self.config = load_for_deploy(self.deps.project_dir, self.env)
        else:
            self.config, _ = load_environment(self.deps.project_dir, self.env, backend=backend)
        return self.config

    def require_confirmation_possible(self, yes: bool, *, arguments: str = "") -> None:
        """Without --yes off a terminal, refuse; ``arguments``: the command's own, for the hint
        (``--to blue=0,red=100`` for shift)."""
        if not yes and not self.deps.is_interactive():
            command = " ".join(part for part in (self.operation, self.env, arguments) if part)
            raise CrossmeshError(
                failure(
                    ExitCode.BAD_INPUT,
                    "confirmation_required",
                    f"{self.operation} changes infrastructure and stdin is not a terminal to confirm on",
                    f"Pass --yes: `python -m automation {command} --yes`. Nothing was changed.",
                )
            )

    def require_local_folders(self, *folders: Path, guardrails: bool = False) -> None:
        """The folders this run writes on this machine: the event log's, with ``guardrails`` (deploy,
        preview) the policy pack's config, and ``folders`` (a shift's state). Checked before any
        cloud call: a checkout this user may not write failed half-way, after the AWS checks, with a
        traceback and exit 1."""
        wanted = [self.deps.log_dir, *folders]
        if guardrails:
            wanted.append(self.deps.project_dir / "build" / "guardrails")
        for folder in wanted:
            reason = unwritable(folder)
            if reason is not None:
                raise CrossmeshError(
                    failure(
                        ExitCode.BAD_INPUT,
                        "bad_input",
                        f"{self.operation} writes to {folder} on this machine, which cannot be made or "
                        f"written: {reason}",
                        "Run from a checkout this user can write (the CLI keeps its event logs, the "
                        "guardrails' policy config and a shift's state under build/). Nothing was called "
                        "or changed.",
                    )
                )

    def confirm(self, question: str) -> None:
        """Ask; a no ends the run with "declined" (exit 0, nothing changed)."""
        if not self.output.confirm(question):
            raise _Declined

    def preflight(
        self,
        config: StackConfig,
        *,
        mesh: Literal["require", "warn"],
        deploying: bool = False,
        install_cli: bool = False,
        cleaning_up: bool = False,
    ) -> CallerIdentity:
        """STS first, then the mesh backend; with ``mesh="warn"`` an unavailable mesh only warns (destroy
        and refresh must still be able to clean up what is left). ``cleaning_up`` (destroy, refresh):
        every existing cluster of the stack must answer from here, or its objects would be dropped from
        the state undeleted (preflight.check_endpoints_for_cleanup)."""
        from automation import preflight
        from infra.config import extended_support_notes

        if deploying:
            self.refuse_expired_versions(config)
            # What a deploy would cost on top of the usual: a Kubernetes version past its end of
            # standard support is billed extended support per cluster hour.
            for note in extended_support_notes(config, self.deps.today()):
                self.output.say(note, label="warning: ", style="yellow")
        clients = self.deps.preflight_clients(config.region)
        identity = preflight.check_aws_credentials(clients.sts)
        self.output.say(f"AWS account {identity.account} as {identity.arn}")
        preflight.check_account(config, identity)
        try:
            preflight.check_mesh_backend(config, clients)
        except CrossmeshError as exc:
            if mesh == "require":
                raise
            self.output.say(exc.failure.message, label="warning: ", style="yellow")
        if deploying:
            # deploy and preview: the tools they run must be here; no name may belong to another
            # stack, the creator must not be listed as an operator, and on updates each cluster's
            # version must be one EKS can move it to and its API endpoint must answer from here.
            self.output.say("machine: " + ", ".join(self.deps.machine_check(config, install_cli)))
            for note in preflight.check_for_deploy(config, identity, clients):
                self.output.say(note, label="note: ")
        if cleaning_up:
            preflight.check_endpoints_for_cleanup(config, clients, operation=self.operation)
        return identity

    def refuse_expired_versions(self, config: StackConfig) -> None:
        """A version EKS no longer creates or updates to stops every command that runs the program (deploy,
        preview, shift's targeted updates: config_parse.from_pulumi refuses it there) before any cloud
        call. The model only checks that the version is known, so destroy, refresh and verify still run."""
        from infra.config_parse import refuse_expired_versions

        refuse_expired_versions(config, self.deps.today(), f"Pulumi.{self.env}.yaml")

    def refuse_undeployable(self, config: StackConfig) -> None:
        """A backend that cannot be deployed (App Mesh) stops deploy and preview before anything runs."""
        from automation import preflight

        preflight.check_deployable(config)

    def refuse_what_the_state_forbids(self, config: StackConfig, runner: StackRunner) -> None:
        """A stack deployed with another mesh backend is not converted in place, and a setting it was built
        with and cannot change in place stays as it is. The state is read once (each read is a
        ``pulumi stack export``)."""
        from automation import preflight

        state = runner.state_resources()
        types = None if state is None else [str(r.get("type", "")) for r in state]
        preflight.check_no_backend_switch(config, types)
        preflight.check_no_fixed_setting_change(config, state)

    def open_stack(
        self, *, backend: str | None, install_cli: bool, create: bool, guard: StackConfig | None = None
    ) -> StackRunner:
        """Open the stack; with ``guard`` (deploy, preview), ``up`` and ``preview`` run the guardrails too."""
        from automation.stack import StackRequest

        packs: dict[str, list[str]] = {}
        if guard is not None:
            from automation.guardrails import policy_pack_args

            packs = policy_pack_args(guard, self.deps.project_dir / "build" / "guardrails")
        return self.deps.stack_factory(
            StackRequest(
                env=self.env,
                project_dir=self.deps.project_dir,
                backend_url=backend,
                install_cli=install_cli,
                create=create,
                policy_packs=tuple(packs.get("policy_packs", ())),
                policy_pack_configs=tuple(packs.get("policy_pack_configs", ())),
            )
        )

    def operate(
        self, runner: StackRunner, config: StackConfig, operation: Operation, parallel: int | None
    ) -> OperationResult:
        """One Pulumi operation with progress, a JSON-lines log, Ctrl-C handling and error classification."""
        from automation.progress import EventLog, OperationProgress, ProgressTracker

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.current = operation
        self.log = self.deps.log_dir / f"{self.env}-{operation}-{stamp}.jsonl"
        tracker = ProgressTracker(expected_total=runner.resource_count())
        methods = {
            "deploy": runner.up,
            "preview": runner.preview,
            "destroy": runner.destroy,
            "refresh": runner.refresh,
        }
        method = methods[operation]
        try:
            with OperationProgress(
                f"{operation} {self.env}", console=self.output.err, log=EventLog(self.log), tracker=tracker
            ) as progress:
                result = run_interruptible(
                    lambda: method(sink=progress, parallel=parallel),
                    cancel=runner.cancel,
                    notify=lambda message: self.output.say(message, style="yellow"),
                    timing=self.deps.interrupt,
                )
        except Exception as exc:
            if not is_command_error(exc):
                raise
            problem = classify_engine_error(exc, self.engine_context(), tracker.errors())
            raise CrossmeshError(problem) from exc
        self.current = ""
        if operation != "preview":
            self.changed = True
        return result

    def refuse_stale_weights(self, config: StackConfig, runner: StackRunner) -> None:
        """A stack file with other weights than a shift applied would undo it: exit 2 (docs/canary.md)."""
        from automation.shift.guard import stale_weights_failure
        from infra.topology import topology_of

        problem = stale_weights_failure(self.env, topology_of(config).weights, runner.outputs())
        if problem is not None:
            raise CrossmeshError(problem)

    def verify_outputs(
        self,
        config: StackConfig,
        outputs: Mapping[str, StackOutput],
        http: HttpCheckSettings,
        *,
        deadline_s: float | None,
        after_deploy: bool,
    ) -> VerifyReport:
        """Build the verification plan from the configuration and the stack outputs, and verify."""
        from automation.verify.settings import DEFAULT_DEADLINE_S
        from automation.verify_plan import PlanError, build_verify_plan

        try:
            if not outputs:
                raise PlanError(f"stack {self.env!r} has no outputs")
            plan = build_verify_plan(config, plain(outputs))
        except PlanError as exc:
            code = ExitCode.VERIFY_FAILED if after_deploy else ExitCode.NOT_DEPLOYED
            raise CrossmeshError(
                failure(
                    code,
                    "verify_failed" if after_deploy else "not_deployed",
                    f"cannot verify {self.env}: {exc}",
                    f"Deploy it first: `python -m automation deploy {self.env}`."
                    if not after_deploy
                    else "The deploy finished but its outputs are incomplete; see the log.",
                )
            ) from exc
        self.output.say(f"verifying {self.env} (front {plan.front_url or 'unknown'})")
        return self.deps.verifier(plan, http, DEFAULT_DEADLINE_S if deadline_s is None else deadline_s)

    def finish_verification(self, report: VerifyReport, *, embed: bool) -> int:
        """Print the report; 3 when it failed. ``embed``: inside a deploy result, else the report itself."""
        from automation.verify.render import render_report

        render_report(report, console=self.output.out)
        code = ExitCode.OK if report.ok else ExitCode.VERIFY_FAILED
        if embed:
            error: dict[str, Any] | None = None
            if not report.ok:
                failed = ", ".join(check.name for check in report.failed)
                error = {
                    "kind": "verify_failed",
                    "exit_code": int(code),
                    "message": f"verification failed: {failed}",
                    "hint": "",
                    "details": [],
                }
            self.output.emit(self.result(report.ok, code, verification=report.to_dict(), error=error))
        else:
            self.output.emit(report.to_dict())
        return int(code)

    # ---- the pipelines -------------------------------------------------------------------------------

    def deploy(
        self,
        *,
        backend: str | None,
        yes: bool,
        parallel: int | None,
        install_cli: bool,
        http: HttpCheckSettings | None,
        deadline_s: float | None = None,
    ) -> int:
        """``pulumi up`` (after a preview and a question unless ``yes``); verify unless ``http`` is None."""

        def body() -> int:
            config = self.load(deploying=True)
            self.refuse_undeployable(config)
            self.require_confirmation_possible(yes)
            self.require_local_folders(guardrails=True)
            self.preflight(config, mesh="require", deploying=True, install_cli=install_cli)
            runner = self.open_stack(backend=backend, install_cli=install_cli, create=True, guard=config)
            self.refuse_stale_weights(config, runner)
            self.refuse_what_the_state_forbids(config, runner)
            if not yes:
                planned = self.operate(runner, config, "preview", parallel)
                self.output.say(f"preview of {self.env}: {changes_text(planned.changes)}")
                self.confirm(f"Deploy these changes to {self.env}?")
            result = self.operate(runner, config, "deploy", parallel)
            outputs = runner.outputs()
            self.output.say(f"deploy of {self.env} done: {changes_text(result.changes)}")
            front = outputs.get("frontUrl")
            if front is not None and not front.secret:
                self.output.say(f"front: {front.value}", out=True)
            self.extra = {"changes": dict(result.changes), "outputs": masked(outputs)}
            if http is None:
                self.output.emit(self.result(True, ExitCode.OK, verification=None))
                return int(ExitCode.OK)
            report = self.verify_outputs(config, outputs, http, deadline_s=deadline_s, after_deploy=True)
            return self.finish_verification(report, embed=True)

        return self.run(body)

    def preview(self, *, backend: str | None, parallel: int | None, install_cli: bool) -> int:
        """``pulumi preview``: what a deploy would change; changes nothing."""

        def body() -> int:
            config = self.load(deploying=True)
            self.refuse_undeployable(config)
            self.require_local_folders(guardrails=True)
            self.preflight(config, mesh="require", deploying=True, install_cli=install_cli)
            runner = self.open_stack(backend=backend, install_cli=install_cli, create=True, guard=config)
            self.refuse_what_the_state_forbids(config, runner)
            result = self.operate(runner, config, "preview", parallel)
            self.output.say(f"preview of {self.env}: {changes_text(result.changes)}", out=True)
            self.output.emit(self.result(True, ExitCode.OK, changes=dict(result.changes)))
            return int(ExitCode.OK)

        return self.run(body)

    def destroy(self, *, backend: str | None, yes: bool, parallel: int | None, install_cli: bool) -> int:
        """``pulumi destroy`` of every resource; the stack and its history stay."""

        def refuse_protected(config: StackConfig, runner: StackRunner) -> None:
            from automation import preflight

            state = runner.state_resources()
            if state is not None:
                preflight.check_nothing_protected(self.env, state)
            elif config.deletion_protection:
                self.output.say(
                    f"crossmesh:deletionProtection is true for {self.env}: Pulumi will refuse to delete the "
                    "protected clusters, keys and VPC",
                    label="warning: ",
                    style="yellow",
                )

        return self.clean_up(
            "destroy",
            f"Destroy every resource of {self.env}? This cannot be undone.",
            backend=backend,
            yes=yes,
            parallel=parallel,
            install_cli=install_cli,
            before_confirm=refuse_protected,
        )

    def refresh(self, *, backend: str | None, yes: bool, parallel: int | None, install_cli: bool) -> int:
        """``pulumi refresh``: read the real state of the resources into the stack."""
        return self.clean_up(
            "refresh",
            f"Refresh the state of {self.env} from the cloud?",
            backend=backend,
            yes=yes,
            parallel=parallel,
            install_cli=install_cli,
        )

    def clean_up(
        self,
        operation: Literal["destroy", "refresh"],
        question: str,
        *,
        backend: str | None,
        yes: bool,
        parallel: int | None,
        install_cli: bool,
        before_confirm: Callable[[StackConfig, StackRunner], None] | None = None,
    ) -> int:
        """destroy and refresh: an existing stack, confirmation, and an unavailable mesh only warns
        (cleaning up must stay possible)."""

        def body() -> int:
            config = self.load()
            self.require_confirmation_possible(yes)
            self.require_local_folders()
            self.preflight(config, mesh="warn", cleaning_up=True)
            runner = self.open_stack(backend=backend, install_cli=install_cli, create=False)
            if before_confirm is not None:
                before_confirm(config, runner)
            if not yes:
                self.confirm(question)
            result = self.operate(runner, config, operation, parallel)
            self.output.say(f"{operation} of {self.env} done: {changes_text(result.changes)}", out=True)
            if operation == "destroy":
                self.deps.leak_check(config)  # raises (exit 10) listing what is left
                self.output.say(f"leak check: nothing of {self.env} is left")
            self.output.emit(self.result(True, ExitCode.OK, changes=dict(result.changes)))
            return int(ExitCode.OK)

        return self.run(body)

    def outputs(self, *, backend: str | None, install_cli: bool, show_secrets: bool) -> int:
        """The stack outputs as a table (secrets masked unless ``show_secrets``); needs no AWS."""
        from rich.table import Table
        from rich.text import Text

        def body() -> int:
            self.load()
            runner = self.open_stack(backend=backend, install_cli=install_cli, create=False)
            values = masked(runner.outputs(), show_secrets)
            table = Table(title=f"outputs of {self.env}")
            table.add_column("name", style="cyan", no_wrap=True)
            table.add_column("value", overflow="fold")
            for name, value in sorted(values.items()):
                # Text, not a markup string: "[secret]" would otherwise be read as a style tag and vanish.
                table.add_row(name, Text(value if isinstance(value, str) else json.dumps(value)))
            self.output.out.print(table)
            self.output.emit(self.result(True, ExitCode.OK, outputs=values))
            return int(ExitCode.OK)

        return self.run(body)

    def verify(
        self, *, backend: str | None, install_cli: bool, http: HttpCheckSettings, deadline_s: float | None
    ) -> int:
        """The full verification of the deployed environment (mesh, Cloud Map, pods, HTTP)."""

        def body() -> int:
            config = self.load()
            self.preflight(config, mesh="require")
            runner = self.open_stack(backend=backend, install_cli=install_cli, create=False)
            report = self.verify_outputs(
                config, runner.outputs(), http, deadline_s=deadline_s, after_deploy=False
            )
            return self.finish_verification(report, embed=False)

        return self.run(body)

    def verify_front_url(self, front_url: str, http: HttpCheckSettings, *, deadline_s: float | None) -> int:
        """Only the HTTP check, against ``front_url``, with the environment's weights: no Pulumi, no AWS."""

        def body() -> int:
            # Loaded inside the failure boundary (run), as render's: Ctrl-C while they load is the
            # interrupted result like any other, not typer's silent exit 130.
            from automation.verify.httpcheck import color_url, run_http_only
            from infra.topology import topology_of

            config = self.load(backend=False)  # the weights only: no Pulumi SDK on this path
            try:
                url = color_url(front_url)
            except ValueError as exc:
                raise CrossmeshError(
                    failure(ExitCode.BAD_INPUT, "bad_input", f"--front-url: {exc}", "Nothing was called.")
                ) from exc
            weights = topology_of(config).weights
            self.output.say(f"HTTP check of {url}: {http.requests} requests, weights {weights}")
            report = run_http_only(front_url, weights, http, reachable_deadline_s=deadline_s)
            return self.finish_verification(report, embed=False)

        return self.run(body)

    def render(self, *, out_dir: Path | None, crds_dir: Path | None = None, strict: bool = False) -> int:
        """The offline render: no cloud, no Pulumi CLI. 1 when an object is invalid or a guardrail fails,
        or with ``strict`` when a custom resource could not be validated."""

        def body() -> int:
            # The renderer takes more than half a second to load: inside the failure boundary (run),
            # Ctrl-C meanwhile is the interrupted result, not typer's silent exit 130.
            from automation.render import render as do_render
            from automation.render_output import OutDirError, default_out_dir, out_dir_problem, write_render
            from automation.render_view import render_summary
            from automation.validate import CrdFileError

            target = out_dir or default_out_dir(self.deps.project_dir, self.env)
            problem = out_dir_problem(target)
            if problem:  # before the render: seconds of work must not end in a refusal
                raise CrossmeshError(
                    failure(
                        ExitCode.BAD_INPUT, "bad_input", f"--out: {problem}", "Nothing was called or changed."
                    )
                )
            try:
                # On stderr, so a user (and a pipeline log) sees the run start; it takes seconds.
                self.output.say(f"rendering {self.env} offline into {target}")
                result = do_render(self.env, self.deps.project_dir, crds_dir=crds_dir)
                written = write_render(result, target)
            except KeyboardInterrupt:
                raise CrossmeshError(render_interrupted(self.env, str(target))) from None
            except CrdFileError as exc:
                where = "--crds: " if crds_dir is not None else "CRD schemas: "
                raise CrossmeshError(
                    failure(
                        ExitCode.BAD_INPUT,
                        "bad_input",
                        f"{where}{exc}",
                        "Give a folder of CustomResourceDefinition YAML files (the pinned upstream ones "
                        "are listed in automation/crds.py). Nothing was written.",
                    )
                ) from None
            except (OutDirError, OSError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise CrossmeshError(
                    failure(
                        ExitCode.BAD_INPUT,
                        "bad_input",
                        f"--out: cannot write the render to {target}: {reason}",
                        "Nothing was called; an earlier render in that folder is left as it was.",
                    )
                ) from exc
            render_summary(result, self.output.out, written)
            # Every reason the render fails, so `ok` and `problems` agree with the exit code.
            problems = [str(p) for p in result.problems]
            if result.guardrails is not None:
                problems += [f"policy violation: {v}" for v in result.guardrails.mandatory_violations]
            if strict:
                problems += [f"not validated (--strict): {name}" for name in result.unvalidated]
            code = ExitCode.INVALID_RENDER if problems else ExitCode.OK
            self.output.emit(
                {
                    "ok": code == ExitCode.OK,
                    "env": self.env,
                    "exit_code": int(code),
                    "out": str(written),
                    "resources": len(result.recording.resources),
                    "objects": {k: len(v) for k, v in result.manifests.items()},
                    "problems": problems,
                    "fully_validated": result.fully_validated,
                    "unvalidated": result.unvalidated,
                    "to_replace": [{"key": v.key, "value": v.value, "why": v.why} for v in result.to_replace],
                    "seconds": round(result.timings["total"], 3),
                }
            )
            return int(code)

        return self.run(body)
