"""The command line: thin typer commands over the modules that do the work.

Heavy SDKs (Pulumi, boto3, kubernetes, rich) are imported inside the commands, so `--help` stays
instant: module-level imports here are typer, the standard library and the exit-code table.

Every command that changes or reads a stack runs the same steps, each able to stop the run with its
own exit code (docs/cli.md): validate ``Pulumi.ENV.yaml`` (2) -> AWS credentials with STS (5) ->
the mesh backend's availability (6) -> open the stack with the Automation API (4, 9) -> the Pulumi
operation (7, 8, 130) -> verification (3).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer

from automation.exit_codes import ExitCode

if TYPE_CHECKING:
    from rich.console import Console

    from automation.errors import EngineContext, Failure
    from automation.preflight import PreflightClients
    from automation.stack import OperationResult, StackOutput, StackRequest, StackRunner
    from automation.verify import VerifyPlan, VerifyReport
    from infra.config import StackConfig

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOG_DIR = PROJECT_DIR / "build" / "logs"
"""Where each Pulumi operation's JSON-lines event log goes (``<env>-<op>-<UTC time>.jsonl``)."""

app = typer.Typer(
    name="crossmesh",
    help="Two EKS clusters, one mesh: render, deploy, verify and destroy crossmesh environments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EnvArg = Annotated[
    str, typer.Argument(help="Environment: a stack of this project, configured by Pulumi.ENV.yaml.")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="One machine-readable result on stdout; logs go to stderr.")
]
BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        metavar="URL",
        help="Pulumi state backend (s3://bucket/prefix, file://path, https://api.pulumi.com). "
        "Default: PULUMI_BACKEND_URL, else the Pulumi CLI's current login.",
    ),
]
YesOpt = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Don't ask for confirmation; required when stdin is not a terminal."),
]
ParallelOpt = Annotated[
    int | None,
    typer.Option(
        "--parallel", min=1, metavar="N", help="Resource operations Pulumi runs at once (default: unbounded)."
    ),
]
InstallCliOpt = Annotated[
    bool,
    typer.Option(
        "--install-cli",
        help="If the Pulumi CLI is missing, download it (PulumiCommand.install, ~/.pulumi/versions/).",
    ),
]
SkipVerifyOpt = Annotated[bool, typer.Option("--skip-verify", help="Don't verify after deploying.")]
RequestsOpt = Annotated[
    int, typer.Option("--requests", min=1, metavar="N", help="GET /color requests sent through front.")
]
DeadlineOpt = Annotated[
    float | None,
    typer.Option(
        "--deadline",
        min=0,
        metavar="SECONDS",
        help="Time budget for waiting until mesh, pods and front are ready (default 600).",
    ),
]
VerifyDeadlineOpt = Annotated[
    float | None,
    typer.Option(
        "--deadline",
        min=0,
        metavar="SECONDS",
        help="Time budget for waiting until mesh, pods and front are ready (default 600); with "
        "--front-url: how long to wait for the URL to answer at all (default: no wait).",
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option("--timeout", min=0.001, metavar="SECONDS", help="Per-request timeout of the HTTP check."),
]
ConcurrencyOpt = Annotated[
    int, typer.Option("--concurrency", min=1, metavar="N", help="HTTP requests in flight at once.")
]


# --------------------------------------------------------------------------------------------------
# Seams: everything that reaches Pulumi or the cloud goes through these module-level names, and the
# tests replace them (monkeypatch) with fakes, moto-backed clients or Stubbers.


def _open_pulumi_stack(request: StackRequest) -> StackRunner:
    from automation.stack import open_stack

    return open_stack(request)


def _make_preflight_clients(region: str) -> PreflightClients:
    from automation.preflight import make_clients

    return make_clients(region)


def _verify_with_real_clients(
    plan: VerifyPlan, *, requests: int, deadline_s: float, timeout_s: float, concurrency: int
) -> VerifyReport:
    from automation.verify import verify_plan

    return verify_plan(
        plan, deadline_s=deadline_s, requests=requests, request_timeout_s=timeout_s, concurrency=concurrency
    )


def _stdin_is_a_terminal() -> bool:
    return sys.stdin.isatty()


stack_factory: Callable[[StackRequest], StackRunner] = _open_pulumi_stack
preflight_clients: Callable[[str], PreflightClients] = _make_preflight_clients
verify_deployment: Callable[..., VerifyReport] = _verify_with_real_clients
is_interactive: Callable[[], bool] = _stdin_is_a_terminal


# --------------------------------------------------------------------------------------------------
# One run of a command: where output goes, how it ends.


@dataclass
class _Run:
    env: str
    operation: str
    as_json: bool
    changed: bool = False
    """A Pulumi operation that changes resources completed (an interrupt after it changed something)."""
    log: Path | None = None
    """The event log of the last Pulumi operation."""
    current: str = ""
    """The Pulumi operation running now (a deploy runs a preview first when it has to ask)."""
    extra: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def out(self) -> Console:
        """Results: stdout, or stderr when stdout is reserved for the one JSON document."""
        from rich.console import Console

        return Console(stderr=self.as_json, soft_wrap=False)

    @property
    def err(self) -> Console:
        """Progress, logs, warnings and errors: always stderr."""
        from rich.console import Console

        return Console(stderr=True, soft_wrap=True, highlight=False, markup=False)

    def emit(self, document: Mapping[str, Any]) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps(document, default=str) + "\n")
            sys.stdout.flush()

    def result(self, ok: bool, code: ExitCode, **fields: Any) -> dict[str, Any]:
        document: dict[str, Any] = {
            "ok": ok,
            "env": self.env,
            "operation": self.operation,
            "exit_code": int(code),
        }
        if self.log is not None:
            document["log"] = str(self.log)
        return document | self.extra | fields

    def say(self, text: str, *, out: bool = False, label: str = "", style: str = "") -> None:
        """Print ``text`` as is: never as rich markup, because messages carry URLs and paths with
        brackets ("[/path]", "[secret]") that markup would swallow or reject."""
        from rich.text import Text

        line = Text.assemble((label, style or "bold"), text) if label else Text(text, style=style)
        (self.out if out else self.err).print(line)

    def fail(self, failure: Failure) -> NoReturn:
        self.say(failure.message, label="error: ", style="bold red")
        for line in failure.details:
            self.say(f"  {line}")
        if failure.hint:
            self.say(failure.hint, label="hint: ")
        if self.log is not None:
            self.say(f"log: {self.log}")
        self.emit(self.result(False, failure.code, error=failure.to_dict()))
        raise typer.Exit(int(failure.code))


def _failure(code: ExitCode, kind: str, message: str, hint: str = "") -> Failure:
    from automation.errors import Failure

    return Failure(code, kind, message, hint)


@contextmanager
def _failures(run: _Run, config: Callable[[], StackConfig | None] = lambda: None) -> Generator[None]:
    """Turn every known failure into its message and exit code (typer.Exit passes through)."""
    from automation.errors import CrossmeshError, classify_engine_error, is_command_error
    from automation.render import UnknownEnvironmentError
    from automation.stack import Interrupted, interrupted_failure
    from infra.config import ConfigError

    try:
        yield
    except (ConfigError, UnknownEnvironmentError) as exc:
        run.fail(_failure(ExitCode.BAD_INPUT, "bad_input", str(exc), "Nothing was called or changed."))
    except CrossmeshError as exc:
        run.fail(exc.failure)
    except Interrupted as exc:
        run.fail(interrupted_failure(run.env, exc, run.current or run.operation))
    except KeyboardInterrupt:
        message = (
            f"{run.operation} interrupted after its changes completed"
            if run.changed
            else f"{run.operation} interrupted before Pulumi changed anything; nothing was changed"
        )
        run.fail(_failure(ExitCode.INTERRUPTED, "interrupted", message))
    except Exception as exc:
        if not is_command_error(exc):
            raise
        run.fail(classify_engine_error(exc, _engine_context(run, config())))


def _engine_context(run: _Run, config: StackConfig | None) -> EngineContext:
    """What the error classifier needs to make its hints concrete (cluster names, region, log)."""
    from automation.errors import EngineContext
    from infra.mesh import backend_for

    return EngineContext(
        env=run.env,
        operation=run.current or run.operation,
        clusters=[c.name for c in config.clusters] if config else [],
        eks_names={c.name: config.eks_name(c.name) for c in config.clusters} if config else {},
        region=config.region if config else "",
        log_path=str(run.log or ""),
        controller_release=backend_for(config).controller_release() if config else "",
    )


def _load(env: str) -> StackConfig:
    """Validate ``Pulumi.<env>.yaml`` with the project's model before anything else runs."""
    from automation.render import load_environment

    config, _ = load_environment(PROJECT_DIR, env)
    return config


def _require_confirmation_possible(run: _Run, yes: bool) -> None:
    if not yes and not is_interactive():
        run.fail(
            _failure(
                ExitCode.BAD_INPUT,
                "confirmation_required",
                f"{run.operation} changes infrastructure and stdin is not a terminal to confirm on",
                f"Pass --yes: `python -m automation {run.operation} {run.env} --yes`. Nothing was changed.",
            )
        )


def _preflight(run: _Run, config: StackConfig, *, mesh: Literal["require", "warn"]) -> None:
    """STS first, then the mesh backend; with ``mesh="warn"`` an unavailable mesh only warns (destroy
    and refresh must still be able to clean up what is left)."""
    from automation import preflight
    from automation.errors import CrossmeshError

    clients = preflight_clients(config.region)
    identity = preflight.check_aws_credentials(clients.sts)
    run.say(f"AWS account {identity.account} as {identity.arn}")
    try:
        preflight.check_mesh_backend(config, clients)
    except CrossmeshError as exc:
        if mesh == "require":
            raise
        run.say(exc.failure.message, label="warning: ", style="yellow")


def _open(
    run: _Run, backend: str | None, install_cli: bool, *, create: bool, guard: StackConfig | None = None
) -> StackRunner:
    """Open the stack; with ``guard`` (deploy, preview) ``up``/``preview`` also run the guardrails pack."""
    from automation.stack import StackRequest

    packs: dict[str, list[str]] = {}
    if guard is not None:
        from automation.guardrails import policy_pack_args

        packs = policy_pack_args(guard, PROJECT_DIR / "build" / "guardrails")
    return stack_factory(
        StackRequest(
            env=run.env,
            project_dir=PROJECT_DIR,
            backend_url=backend,
            install_cli=install_cli,
            create=create,
            policy_packs=tuple(packs.get("policy_packs", ())),
            policy_pack_configs=tuple(packs.get("policy_pack_configs", ())),
        )
    )


def _operate(
    run: _Run,
    runner: StackRunner,
    config: StackConfig,
    operation: Literal["deploy", "preview", "destroy", "refresh"],
    parallel: int | None,
) -> OperationResult:
    """One Pulumi operation with progress, a JSON-lines log, Ctrl-C handling and error classification."""
    from automation.errors import CrossmeshError, classify_engine_error, is_command_error
    from automation.progress import EventLog, OperationProgress, ProgressTracker
    from automation.stack import run_interruptible

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    run.current = operation
    run.log = LOG_DIR / f"{run.env}-{operation}-{stamp}.jsonl"
    tracker = ProgressTracker(expected_total=runner.resource_count())
    methods = {
        "deploy": runner.up,
        "preview": runner.preview,
        "destroy": runner.destroy,
        "refresh": runner.refresh,
    }
    method = methods[operation]
    err = run.err
    try:
        with OperationProgress(
            f"{operation} {run.env}", console=err, log=EventLog(run.log), tracker=tracker
        ) as progress:
            result = run_interruptible(
                lambda: method(sink=progress, parallel=parallel),
                cancel=runner.cancel,
                notify=lambda message: run.say(message, style="yellow"),
            )
    except Exception as exc:
        if not is_command_error(exc):
            raise
        failure = classify_engine_error(exc, _engine_context(run, config), tracker.errors())
        raise CrossmeshError(failure) from exc
    run.current = ""
    if operation != "preview":
        run.changed = True
    return result


def _changes_text(changes: Mapping[str, int]) -> str:
    shown = {op: n for op, n in changes.items() if n}
    return ", ".join(f"{op} {n}" for op, n in sorted(shown.items())) or "no changes"


def _confirm(run: _Run, question: str) -> bool:
    try:
        return typer.confirm(question, default=False, err=True)
    except typer.Abort:
        # click turns Ctrl-C (and end of input) at a prompt into Abort, which would exit 1: this is an
        # interrupt before any change, so it ends like one (130, "nothing was changed").
        raise KeyboardInterrupt from None


def _masked(outputs: Mapping[str, StackOutput], show_secrets: bool = False) -> dict[str, Any]:
    return {
        name: out.value if show_secrets or not out.secret else "[secret]" for name, out in outputs.items()
    }


def _plain(outputs: Mapping[str, StackOutput]) -> dict[str, Any]:
    return {name: out.value for name, out in outputs.items()}


def _declined(run: _Run) -> NoReturn:
    run.say("declined: nothing was changed")
    run.emit(run.result(True, ExitCode.OK, changes={}, declined=True))
    raise typer.Exit(int(ExitCode.OK))


# --------------------------------------------------------------------------------------------------
# Commands


@app.callback()
def _root() -> None:
    """crossmesh: two EKS clusters joined into one service mesh (commands and exit codes: docs/cli.md)."""


def _fail(code: ExitCode, message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(int(code))


@app.command()
def render(
    env: EnvArg,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default build/render/ENV).", file_okay=False)
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Render ENV offline: resources.json, manifests per cluster and report.md, all validated."""
    from rich.console import Console

    from automation.render import UnknownEnvironmentError
    from automation.render import render as do_render
    from automation.render_view import render_summary
    from infra.config import ConfigError

    console = Console(stderr=as_json)
    try:
        result = do_render(env, PROJECT_DIR, out_dir=out)
    except (ConfigError, UnknownEnvironmentError) as exc:
        _fail(ExitCode.BAD_INPUT, str(exc))
    render_summary(result, console)
    if as_json:
        sys.stdout.write(
            json.dumps(
                {
                    "ok": result.ok,
                    "env": env,
                    "out": str(result.out_dir),
                    "resources": len(result.recording.resources),
                    "objects": {k: len(v) for k, v in result.manifests.items()},
                    "problems": [str(p) for p in result.problems],
                    "seconds": round(result.timings["total"], 3),
                }
            )
            + "\n"
        )
    if not result.ok:
        raise typer.Exit(int(ExitCode.INVALID_RENDER))


@app.command()
def deploy(
    env: EnvArg,
    *,
    backend: BackendOpt = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
    skip_verify: SkipVerifyOpt = False,
    parallel: ParallelOpt = None,
    install_cli: InstallCliOpt = False,
    requests: RequestsOpt = 200,
    deadline: DeadlineOpt = None,
    timeout: TimeoutOpt = 5.0,
    concurrency: ConcurrencyOpt = 20,
) -> None:
    """Deploy ENV (`pulumi up` on this project's stack ENV), then verify it."""
    run = _Run(env, "deploy", as_json)
    config: StackConfig | None = None
    with _failures(run, lambda: config):
        config = _load(env)
        _require_confirmation_possible(run, yes)
        _preflight(run, config, mesh="require")
        runner = _open(run, backend, install_cli, create=True, guard=config)
        if not yes:
            planned = _operate(run, runner, config, "preview", parallel)
            run.say(f"preview of {env}: {_changes_text(planned.changes)}")
            if not _confirm(run, f"Deploy these changes to {env}?"):
                _declined(run)
        result = _operate(run, runner, config, "deploy", parallel)
        outputs = runner.outputs()
        run.say(f"deploy of {env} done: {_changes_text(result.changes)}")
        front = outputs.get("frontUrl")
        if front is not None and not front.secret:
            run.say(f"front: {front.value}", out=True)
        run.extra = {"changes": dict(result.changes), "outputs": _masked(outputs)}
        if skip_verify:
            run.emit(run.result(True, ExitCode.OK, verification=None))
            return
        report = _verify_outputs(
            run,
            config,
            outputs,
            requests=requests,
            deadline=deadline,
            timeout=timeout,
            concurrency=concurrency,
            after_deploy=True,
        )
        _finish_verification(run, report, embed=True)


def _verify_outputs(
    run: _Run,
    config: StackConfig,
    outputs: Mapping[str, StackOutput],
    *,
    requests: int,
    deadline: float | None,
    timeout: float,
    concurrency: int,
    after_deploy: bool,
) -> VerifyReport:
    from automation.errors import CrossmeshError, Failure
    from automation.verify.runner import DEFAULT_DEADLINE_S
    from automation.verify_plan import PlanError, build_verify_plan

    try:
        if not outputs:
            raise PlanError(f"stack {run.env!r} has no outputs")
        plan = build_verify_plan(config, _plain(outputs))
    except PlanError as exc:
        code = ExitCode.VERIFY_FAILED if after_deploy else ExitCode.NOT_DEPLOYED
        raise CrossmeshError(
            Failure(
                code,
                "verify_failed" if after_deploy else "not_deployed",
                f"cannot verify {run.env}: {exc}",
                f"Deploy it first: `python -m automation deploy {run.env}`."
                if not after_deploy
                else "The deploy finished but its outputs are incomplete; see the log.",
            )
        ) from exc
    run.say(f"verifying {run.env} (front {plan.front_url or 'unknown'})")
    return verify_deployment(
        plan,
        requests=requests,
        deadline_s=DEFAULT_DEADLINE_S if deadline is None else deadline,
        timeout_s=timeout,
        concurrency=concurrency,
    )


def _finish_verification(run: _Run, report: VerifyReport, *, embed: bool) -> None:
    """Print the report; exit 3 when it failed. ``embed``: inside a deploy result, else the report itself."""
    from automation.verify import render_report

    render_report(report, console=run.out)
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
        run.emit(run.result(report.ok, code, verification=report.to_dict(), error=error))
    else:
        run.emit(report.to_dict())
    if not report.ok:
        raise typer.Exit(int(code))


@app.command()
def preview(
    env: EnvArg,
    *,
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
    parallel: ParallelOpt = None,
    install_cli: InstallCliOpt = False,
) -> None:
    """Show what a deploy of ENV would change (`pulumi preview`); changes nothing."""
    run = _Run(env, "preview", as_json)
    config: StackConfig | None = None
    with _failures(run, lambda: config):
        config = _load(env)
        _preflight(run, config, mesh="require")
        runner = _open(run, backend, install_cli, create=True, guard=config)
        result = _operate(run, runner, config, "preview", parallel)
        run.say(f"preview of {env}: {_changes_text(result.changes)}", out=True)
        run.emit(run.result(True, ExitCode.OK, changes=dict(result.changes)))


@app.command()
def destroy(
    env: EnvArg,
    *,
    backend: BackendOpt = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
    parallel: ParallelOpt = None,
    install_cli: InstallCliOpt = False,
) -> None:
    """Delete every resource of ENV (`pulumi destroy`); the stack and its history stay."""

    def warn(run: _Run, config: StackConfig) -> None:
        if config.deletion_protection:
            run.say(
                f"crossmesh:deletionProtection is true for {env}: Pulumi will refuse to delete the "
                "protected clusters, keys and VPC",
                label="warning: ",
                style="yellow",
            )

    _cleanup(
        _Run(env, "destroy", as_json),
        "destroy",
        f"Destroy every resource of {env}? This cannot be undone.",
        backend=backend,
        yes=yes,
        parallel=parallel,
        install_cli=install_cli,
        before_confirm=warn,
    )


@app.command()
def refresh(
    env: EnvArg,
    *,
    backend: BackendOpt = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
    parallel: ParallelOpt = None,
    install_cli: InstallCliOpt = False,
) -> None:
    """Read the real state of ENV's resources into the stack (`pulumi refresh`)."""
    _cleanup(
        _Run(env, "refresh", as_json),
        "refresh",
        f"Refresh the state of {env} from the cloud?",
        backend=backend,
        yes=yes,
        parallel=parallel,
        install_cli=install_cli,
    )


def _cleanup(
    run: _Run,
    operation: Literal["destroy", "refresh"],
    question: str,
    *,
    backend: str | None,
    yes: bool,
    parallel: int | None,
    install_cli: bool,
    before_confirm: Callable[[_Run, StackConfig], None] | None = None,
) -> None:
    """destroy and refresh: an existing stack, confirmation, and an unavailable mesh only warns
    (cleaning up must stay possible)."""
    config: StackConfig | None = None
    with _failures(run, lambda: config):
        config = _load(run.env)
        _require_confirmation_possible(run, yes)
        _preflight(run, config, mesh="warn")
        runner = _open(run, backend, install_cli, create=False)
        if before_confirm is not None:
            before_confirm(run, config)
        if not yes and not _confirm(run, question):
            _declined(run)
        result = _operate(run, runner, config, operation, parallel)
        run.say(f"{operation} of {run.env} done: {_changes_text(result.changes)}", out=True)
        run.emit(run.result(True, ExitCode.OK, changes=dict(result.changes)))


@app.command()
def outputs(
    env: EnvArg,
    *,
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Print secret outputs (kubeconfigs) in plain text.")
    ] = False,
    install_cli: InstallCliOpt = False,
) -> None:
    """Print ENV's stack outputs (secrets masked unless --show-secrets). Needs no AWS credentials."""
    from rich.table import Table
    from rich.text import Text

    run = _Run(env, "outputs", as_json)
    config: StackConfig | None = None
    with _failures(run, lambda: config):
        config = _load(env)
        runner = _open(run, backend, install_cli, create=False)
        values = _masked(runner.outputs(), show_secrets)
        table = Table(title=f"outputs of {env}")
        table.add_column("name", style="cyan", no_wrap=True)
        table.add_column("value", overflow="fold")
        for name, value in sorted(values.items()):
            # Text, not a markup string: "[secret]" would otherwise be read as a style tag and vanish.
            table.add_row(name, Text(value if isinstance(value, str) else json.dumps(value)))
        run.out.print(table)
        run.emit(run.result(True, ExitCode.OK, outputs=values))


@app.command()
def verify(
    env: EnvArg,
    *,
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
    requests: RequestsOpt = 200,
    deadline: VerifyDeadlineOpt = None,
    front_url: Annotated[
        str | None,
        typer.Option(
            "--front-url",
            metavar="URL",
            help="Only the HTTP check, against this URL, with ENV's configured weights: no Pulumi, no AWS.",
        ),
    ] = None,
    timeout: TimeoutOpt = 5.0,
    concurrency: ConcurrencyOpt = 20,
    install_cli: InstallCliOpt = False,
) -> None:
    """Verify the deployed ENV: App Mesh, Cloud Map, pods, and the color split through front."""
    run = _Run(env, "verify", as_json)
    config: StackConfig | None = None
    with _failures(run, lambda: config):
        config = _load(env)
        if front_url is not None:
            report = _verify_front_url(
                run,
                config,
                front_url,
                requests=requests,
                deadline=deadline,
                timeout=timeout,
                concurrency=concurrency,
            )
        else:
            _preflight(run, config, mesh="require")
            runner = _open(run, backend, install_cli, create=False)
            report = _verify_outputs(
                run,
                config,
                runner.outputs(),
                requests=requests,
                deadline=deadline,
                timeout=timeout,
                concurrency=concurrency,
                after_deploy=False,
            )
        _finish_verification(run, report, embed=False)


def _verify_front_url(
    run: _Run,
    config: StackConfig,
    front_url: str,
    *,
    requests: int,
    deadline: float | None,
    timeout: float,
    concurrency: int,
) -> VerifyReport:
    from automation.verify import run_http_only
    from automation.verify.httpcheck import color_url
    from workloads.topology import topology_of

    try:
        url = color_url(front_url)
    except ValueError as exc:
        run.fail(_failure(ExitCode.BAD_INPUT, "bad_input", f"--front-url: {exc}", "Nothing was called."))
    weights = topology_of(config).weights
    run.say(f"HTTP check of {url}: {requests} requests, weights {weights}")
    return run_http_only(
        front_url,
        weights,
        requests,
        concurrency=concurrency,
        timeout_s=timeout,
        reachable_deadline_s=deadline,
    )


def main() -> None:
    app()
