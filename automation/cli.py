"""The command line: typer commands that parse options, hand them to a deploy session, and exit.

The work (load the environment, preflight, open the stack, operate, verify, clean up) lives in
:class:`automation.session.DeploySession`; its dependencies (stack factory, preflight clients,
verifier, terminal check) arrive as :class:`automation.session.Dependencies` in typer's context
object, so tests pass fakes with ``CliRunner().invoke(app, args, obj=deps)``.

Heavy SDKs (Pulumi, boto3, kubernetes, rich) are imported inside the session's steps, so `--help`
stays instant: module-level imports here are typer, the standard library and the session module.
"""

from __future__ import annotations

import json
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer import _click  # pyright: ignore[reportPrivateUsage] - typer vendors click; its ClickException is not re-exported
from typer.core import TyperGroup, TyperOption

from automation.errors import Failure
from automation.exit_codes import ExitCode
from automation.session import (
    Dependencies,
    DeploySession,
    Output,
    escape_what_stdout_cannot_encode,
    reopen_closed_standard_descriptors,
)
from automation.shift.plan import DEFAULT_STEPS

if TYPE_CHECKING:
    from automation.verify.settings import HttpCheckSettings


class _Commands(TyperGroup):
    """With ``--json`` on the command line, a usage error (an unknown option, a value out of range) is
    the run's one JSON document on stdout too, exit 2, as every other failure is; the usual message
    still goes to stderr."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode or "--json" not in argv:
            return super().main(args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        try:
            code = super().main(argv, prog_name, complete_var, False, windows_expand_args, **extra)
        except _click.exceptions.ClickException as exc:
            exc.show()
            sys.stdout.write(json.dumps(usage_error_document(argv, exc.format_message())) + "\n")
            sys.exit(int(ExitCode.BAD_INPUT))
        except typer.Abort:
            sys.stderr.write("Aborted!\n")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _positional(argv: Sequence[str]) -> list[str]:
    """The command line's words that are no option and no option's value (``render --out x`` names no
    environment ``x``): an option that takes a value is known by the command's own parameters."""
    command = typer.main.get_command(app)
    takes_value: set[str] = set()
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            for param in sub.params:
                if isinstance(param, TyperOption) and not param.is_flag and not param.count:
                    takes_value.update(param.opts)
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = "=" not in arg and arg in takes_value
        else:
            words.append(arg)
    return words


def usage_error_document(argv: Sequence[str], message: str) -> dict[str, Any]:
    """The JSON result of a command line that did not parse: the command and environment when the
    arguments name them, and the parser's message."""
    words = _positional(argv)
    operation = words[0] if words else None
    # The word after the command is its environment unless it is an option's value (a URL, a path).
    env = words[1] if len(words) > 1 and re.fullmatch(r"[\w.-]+", words[1]) else None
    problem = Failure(
        ExitCode.BAD_INPUT,
        "bad_input",
        message,
        "Nothing was called or changed; `python -m automation COMMAND --help` lists the options.",
    )
    return {
        "ok": False,
        "env": env,
        "operation": operation,
        "exit_code": int(problem.code),
        "error": problem.to_dict(),
    }


app = typer.Typer(
    cls=_Commands,
    name="crossmesh",
    help="Two EKS clusters, one mesh: render, deploy, verify and destroy crossmesh environments.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

EnvArg = Annotated[
    str, typer.Argument(help="Environment: a stack of this project, configured by Pulumi.ENV.yaml.")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="One machine-readable result on stdout; logs go to stderr.")
]


def _a_backend(value: str | None) -> str | None:
    # An unset variable ($BACKEND) gives "": read as no --backend, destroy or refresh would run against
    # whatever PULUMI_BACKEND_URL or the CLI's login points at, perhaps another backend's stack.
    if value is not None and not value.strip():
        raise typer.BadParameter(
            "expected a backend URL (s3://..., file://..., https://...), got an empty value; leave "
            "--backend out to use PULUMI_BACKEND_URL or the Pulumi CLI's current login"
        )
    return value


BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        callback=_a_backend,
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
# Commands: parse, build the session, exit with what it returns.


def _session(ctx: typer.Context, env: str, operation: str, as_json: bool) -> DeploySession:
    """A session over the dependencies in the context object (tests), else the real ones."""
    deps = ctx.obj if isinstance(ctx.obj, Dependencies) else Dependencies.real()
    return DeploySession(env, operation, deps=deps, output=Output(as_json))


def _http(requests: int, timeout: float, concurrency: int) -> HttpCheckSettings:
    from automation.verify.settings import HttpCheckSettings

    return HttpCheckSettings(requests=requests, timeout_s=timeout, concurrency=concurrency)


def _exit(code: int) -> NoReturn:
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"crossmesh {version('crossmesh')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("crossmesh (not installed; version unknown)")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """crossmesh: two EKS clusters joined into one service mesh (commands and exit codes: docs/cli.md)."""


@app.command()
def render(
    ctx: typer.Context,
    env: EnvArg,
    *,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default build/render/ENV).", file_okay=False)
    ] = None,
    as_json: JsonOpt = False,
    crds: Annotated[
        Path | None,
        typer.Option(
            "--crds",
            help="Folder of CRD files to validate custom resources with (offline); default: the reference "
            "folder, else the pinned upstream CRDs fetched once into the user cache.",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 1) when a custom resource could not be validated.")
    ] = False,
) -> None:
    """Render ENV offline: resources.json, manifests per cluster and report.md, all validated."""
    _exit(_session(ctx, env, "render", as_json).render(out_dir=out, crds_dir=crds, strict=strict))


@app.command()
def deploy(
    ctx: typer.Context,
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
    session = _session(ctx, env, "deploy", as_json)
    code = session.deploy(
        backend=backend,
        yes=yes,
        parallel=parallel,
        install_cli=install_cli,
        http=None if skip_verify else _http(requests, timeout, concurrency),
        deadline_s=deadline,
    )
    _exit(code)


@app.command()
def preview(
    ctx: typer.Context,
    env: EnvArg,
    *,
    backend: BackendOpt = None,
    as_json: JsonOpt = False,
    parallel: ParallelOpt = None,
    install_cli: InstallCliOpt = False,
) -> None:
    """Show what a deploy of ENV would change (`pulumi preview`); changes nothing."""
    session = _session(ctx, env, "preview", as_json)
    _exit(session.preview(backend=backend, parallel=parallel, install_cli=install_cli))


@app.command()
def destroy(
    ctx: typer.Context,
    env: EnvArg,
    *,
    backend: BackendOpt = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
    parallel: ParallelOpt = None,
    install_cli: InstallCliOpt = False,
) -> None:
    """Delete every resource of ENV (`pulumi destroy`); the stack and its history stay."""
    session = _session(ctx, env, "destroy", as_json)
    _exit(session.destroy(backend=backend, yes=yes, parallel=parallel, install_cli=install_cli))


@app.command()
def refresh(
    ctx: typer.Context,
    env: EnvArg,
    *,
    backend: BackendOpt = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
    parallel: ParallelOpt = None,
    install_cli: InstallCliOpt = False,
) -> None:
    """Read the real state of ENV's resources into the stack (`pulumi refresh`)."""
    session = _session(ctx, env, "refresh", as_json)
    _exit(session.refresh(backend=backend, yes=yes, parallel=parallel, install_cli=install_cli))


@app.command()
def outputs(
    ctx: typer.Context,
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
    session = _session(ctx, env, "outputs", as_json)
    _exit(session.outputs(backend=backend, install_cli=install_cli, show_secrets=show_secrets))


@app.command()
def verify(
    ctx: typer.Context,
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
    """Verify the deployed ENV: the mesh's AWS objects, the pods, and the color split through front."""
    session = _session(ctx, env, "verify", as_json)
    http = _http(requests, timeout, concurrency)
    if front_url is not None:
        _exit(session.verify_front_url(front_url, http, deadline_s=deadline))
    _exit(session.verify(backend=backend, install_cli=install_cli, http=http, deadline_s=deadline))


@app.command()
def shift(
    ctx: typer.Context,
    env: EnvArg,
    *,
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to",
            metavar="VERSION=PERCENT",
            help="Target weights, e.g. red=100 (others share the rest); repeat it or join with commas.",
        ),
    ] = None,
    steps: Annotated[
        str | None,
        typer.Option(
            "--steps",
            metavar="P,P,...",
            help=f"Percent of the way at each step, ending at 100 (default {DEFAULT_STEPS}).",
        ),
    ] = None,
    hold: Annotated[
        str,
        typer.Option(
            "--hold", metavar="DURATION", help="How long each step holds before its check (60s, 2m)."
        ),
    ] = "60s",
    requests: RequestsOpt = 200,
    max_error_rate: Annotated[
        float, typer.Option("--max-error-rate", min=0, max=1, metavar="R", help="Errors allowed per version.")
    ] = 0.01,
    max_p99_ms: Annotated[
        float | None, typer.Option("--max-p99-ms", min=0, metavar="MS", help="p99 latency limit per version.")
    ] = None,
    max_attempts: Annotated[
        float, typer.Option("--max-attempts", min=1, metavar="N", help="Mean upstream attempts per request.")
    ] = 1.1,
    max_p99_growth: Annotated[
        float,
        typer.Option(
            "--max-p99-growth", min=1, metavar="FACTOR", help="p99 may grow at most this factor per step."
        ),
    ] = 2.0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted shift.")] = False,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
    backend: BackendOpt = None,
    timeout: TimeoutOpt = 5.0,
    concurrency: ConcurrencyOpt = 20,
    install_cli: InstallCliOpt = False,
) -> None:
    """Shift colorapp's traffic in steps (lattice), checking every version at each; roll back on failure."""
    from automation.shift.judge import Limits
    from automation.shift.run import shift_command
    from automation.verify.settings import HttpCheckSettings

    if not to and not resume:
        raise typer.BadParameter("give the target weights with --to (e.g. --to red=100), or --resume")
    if to and resume:
        raise typer.BadParameter("--resume continues the interrupted shift's own target; drop --to")
    if steps is not None and resume:
        raise typer.BadParameter("--resume continues the interrupted shift's own steps; drop --steps")
    http = HttpCheckSettings(
        requests=requests, timeout_s=timeout, concurrency=concurrency, max_error_rate=max_error_rate
    )
    limits = Limits(
        max_error_rate=max_error_rate,
        max_attempts=max_attempts,
        max_p99_ms=max_p99_ms,
        p99_factor=max_p99_growth,
    )
    _exit(
        shift_command(
            ctx.obj,
            env,
            as_json,
            hold=hold,
            http=http,
            limits=limits,
            to=",".join(to or []),
            steps=steps if steps is not None else DEFAULT_STEPS,
            resume=resume,
            yes=yes,
            backend=backend,
            install_cli=install_cli,
        )
    )


def main(deps: Dependencies | None = None) -> None:
    """The console entry point; ``deps`` replaces the real dependencies (tests in a subprocess).

    SIGTERM (a CI job cancelled, a container stopped) ends a command the way Ctrl-C does: a Pulumi
    operation stops cleanly and the command says so, with exit 130 and, under ``--json``, its document.
    Without this, SIGTERM ended the process on the spot, with no message and an operation cut short.
    Standard descriptors the process started without are reopened on /dev/null first, and what
    stdout's encoding cannot hold is written escaped."""
    reopen_closed_standard_descriptors()
    escape_what_stdout_cannot_encode()
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate_as_ctrl_c)
    try:
        app(obj=deps)
    finally:
        # The command has ended and said how: a Ctrl-C or SIGTERM from here on has nothing left to
        # stop, and would otherwise land in the interpreter's shutdown (the program's threads, atexit
        # hooks), which then ends the process by the signal itself, without the exit code given.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _terminate_as_ctrl_c(signum: int, frame: FrameType | None) -> None:
    """SIGTERM handled by whatever handles Ctrl-C at that moment: inside ``asyncio.run`` (the HTTP
    check) that is the runner's own handler, which cancels the running task; raising KeyboardInterrupt
    there instead could land in a finalizer, where Python drops it and the command ran on."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt
