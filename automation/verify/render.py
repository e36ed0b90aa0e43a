"""Rich rendering of a :class:`~automation.verify.model.VerifyReport` for the CLI."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from automation.verify.model import HttpStats, VerifyReport


def _verdict(ok: bool) -> Text:
    return Text("PASS", style="bold green") if ok else Text("FAIL", style="bold red")


def checks_table(report: VerifyReport) -> Table:
    """One row per check: verdict, name, detail."""
    table = Table(title="crossmesh verification", show_lines=False, expand=False)
    # On a narrow terminal the names and details wrap: unwrappable columns were cut to "…", every
    # verdict included, and left the detail no room at all.
    table.add_column("", no_wrap=True, min_width=4)
    table.add_column("check", style="cyan", overflow="fold", min_width=8)
    table.add_column("detail", overflow="fold", min_width=8)
    for check in report.checks:
        # Text, never markup: names and details quote what front and AWS answered ("[/bold]" included).
        table.add_row(_verdict(check.ok), Text(check.name), Text(check.detail))
    return table


def http_table(stats: HttpStats) -> Table:
    """Request count, errors, latency percentiles and the observed share of each color."""
    table = Table(title="HTTP /color", expand=False)
    table.add_column("requests", justify="right")
    table.add_column("errors", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p99 ms", justify="right")
    for color in stats.shares:
        table.add_column(Text(color), justify="right")
    row = [
        str(stats.requests),
        str(stats.errors),
        "-" if stats.p50_ms is None else f"{stats.p50_ms:.1f}",
        "-" if stats.p99_ms is None else f"{stats.p99_ms:.1f}",
    ]
    row += [f"{share:.1%}" for share in stats.shares.values()]
    table.add_row(*row)
    return table


def report_renderable(report: VerifyReport) -> Group:
    """The checks table, the HTTP table when an HTTP check ran, and an overall verdict line."""
    parts: list[Table | Text] = [checks_table(report)]
    if report.http is not None:
        parts.append(http_table(report.http))
    failed = len(report.failed)
    summary = (
        Text("verification passed", style="bold green")
        if report.ok
        else Text(f"verification failed ({failed} of {len(report.checks)} checks)", style="bold red")
    )
    parts.append(summary)
    return Group(*parts)


def render_report(report: VerifyReport, console: Console | None = None) -> None:
    """Print the report to ``console`` (a fresh stdout console by default)."""
    (console or Console()).print(report_renderable(report))
