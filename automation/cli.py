"""The command line: thin typer commands over the modules that do the work.

Heavy SDKs (Pulumi, boto3, kubernetes) are imported inside the commands, so `--help` stays instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from automation.exit_codes import ExitCode

PROJECT_DIR = Path(__file__).resolve().parent.parent

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


@app.callback()
def _root() -> None:
    """crossmesh: two EKS clusters joined into one service mesh. Exit codes are listed in the README."""


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


def main() -> None:
    app()
