"""``python -m automation.scan [ENV ...]``: checkov and bandit over the render, with the allow-list."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from automation.environment import EnvironmentInputError
from automation.scan.allowlist import AllowListError
from automation.scan.run import DEFAULT_OUT, TOOLS, ScanExit, environments, scan
from automation.scan.tools import ScanError
from infra.config_parse import ConfigError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def main(
    envs: Annotated[
        list[str] | None,
        typer.Argument(help="Environments to render and scan (default: every Pulumi.ENV.yaml)."),
    ] = None,
    tool: Annotated[
        list[str] | None, typer.Option("--tool", help="checkov and/or bandit (default: both).")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Where the scanned renders go.", file_okay=False)
    ] = DEFAULT_OUT,
    as_json: Annotated[bool, typer.Option("--json", help="One machine-readable result on stdout.")] = False,
) -> None:
    """Scan the rendered environments with checkov and the project's Python with bandit."""
    tools = tool or list(TOOLS)
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown:
        typer.secho(
            f"error: unknown tool {', '.join(unknown)}; expected {', '.join(TOOLS)}", err=True, fg="red"
        )
        raise typer.Exit(int(ScanExit.BAD_INPUT))
    try:
        report = scan(envs or environments(), tools, out=out)
    except (ConfigError, AllowListError, EnvironmentInputError) as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(int(ScanExit.BAD_INPUT)) from None
    except ScanError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(int(ScanExit.SCANNER_FAILED)) from None
    stream = sys.stderr if as_json else sys.stdout
    for line in report.lines():
        print(line, file=stream)
    if as_json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
    raise typer.Exit(int(ScanExit.CLEAN if report.ok else ScanExit.FINDINGS))


if __name__ == "__main__":
    app()
