"""How a render is shown on the terminal."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from automation.guardrails import summary_line
from automation.render import RenderResult


def render_summary(result: RenderResult, console: Console, written: Path | None = None) -> None:
    table = Table(title=f"crossmesh render {result.env}", title_justify="left")
    table.add_column("cluster")
    table.add_column("Kubernetes objects", justify="right")
    table.add_column("Helm releases")
    table.add_column("invalid", justify="right")
    for cluster, objects in result.manifests.items():
        invalid = sum(1 for p in result.problems if p.cluster == cluster)
        releases = ", ".join(str(r.inputs.get("name")) for r in result.helm_releases.get(cluster, [])) or "-"
        table.add_row(cluster, str(len(objects)), releases, f"[red]{invalid}[/red]" if invalid else "0")
    console.print(table)
    # Paths and problems are escaped: "[/x]" in a folder's or an object's name is text, not markup.
    console.print(
        f"{len(result.recording.resources)} resources registered in {result.timings.get('total', 0):.2f}s"
        + (f"; written to {escape(str(written))}" if written else ""),
        highlight=False,
    )
    report = result.guardrails
    if report is not None:
        colour = "red" if not report.ok else "yellow" if report.advisory_violations else "green"
        console.print(f"[{colour}]{escape(summary_line(report))}[/{colour}]", highlight=False)
        for violation in report.mandatory_violations:
            console.print(f"[red]policy violation[/red] {escape(str(violation))}", highlight=False)
        for violation in report.advisory_violations:
            console.print(f"[yellow]advisory[/yellow] {escape(str(violation))}", highlight=False)
    for problem in result.problems:
        console.print(f"[red]invalid[/red] {escape(str(problem))}", highlight=False)
    for note in result.notes:
        console.print(f"[yellow]note[/yellow] {escape(note)}", highlight=False)
    if result.unvalidated:
        console.print(
            f"[yellow]not validated[/yellow] {len(result.unvalidated)} custom resource(s): no CRD schemas "
            "(render --crds DIR; render --strict fails on this)",
            highlight=False,
        )
    for value in result.to_replace:
        console.print(f"[yellow]replace before deploying[/yellow] {escape(str(value))}", highlight=False)
