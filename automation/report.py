"""report.md for a render: counts, validation result, guardrails and a Mermaid diagram of the architecture."""

from __future__ import annotations

from collections import Counter

from automation import guardrails
from automation.recorder import Recording, Registration
from automation.render import RenderResult, cluster_of_providers
from infra.config import StackConfig, Tracing
from infra.mesh import backend_for
from infra.topology import topology_of

SHARED = "(shared)"


def cluster_assignment(recording: Recording, provider_clusters: dict[str, str]) -> dict[str, str]:
    """URN -> cluster key for every registration; resources serving several clusters are ``(shared)``.

    A resource belongs to a cluster when it uses that cluster's Kubernetes provider or sits inside that
    cluster's EksCluster component; a component belongs to the one cluster its contents belong to; what
    is left (e.g. the IRSA role inside a controller component) takes its nearest component's cluster.
    """
    direct: dict[str, str] = {}
    for reg in recording:
        if reg.provider in provider_clusters:
            direct[reg.urn] = provider_clusters[reg.provider or ""]
            continue
        for ancestor in recording.ancestors(reg):
            if ancestor.type == "crossmesh:infra:EksCluster":
                direct[reg.urn] = ancestor.name
                break
        if reg.type == "crossmesh:infra:EksCluster":
            direct[reg.urn] = reg.name
    for reg in recording:
        if reg.is_component and reg.urn not in direct:
            found = {direct[d.urn] for d in recording.descendants(reg) if d.urn in direct}
            if len(found) == 1:
                direct[reg.urn] = found.pop()
    out: dict[str, str] = {}
    for reg in recording:
        cluster = direct.get(reg.urn)
        if cluster is None:
            cluster = next((direct[a.urn] for a in recording.ancestors(reg) if a.urn in direct), SHARED)
        out[reg.urn] = cluster
    return out


def _is_stack(reg: Registration) -> bool:
    return reg.type == "pulumi:pulumi:Stack"


def tracing_note(config: StackConfig) -> str:
    """Whether this environment traces requests, and why not when it does not."""
    if config.mesh.tracing is Tracing.NONE:
        return "none (`crossmesh:mesh.tracing: x-ray` sends spans to X-Ray via a collector per cluster)"
    return f"{config.mesh.tracing.value}"


def mermaid(config: StackConfig) -> str:
    """The architecture as a Mermaid flowchart, drawn by the configured mesh backend."""
    return backend_for(config).diagram(topology_of(config))


REPORT_HEADING = "# crossmesh render: "
"""How every report begins (an earlier render's folder is known by it)."""


def report_markdown(result: RenderResult) -> str:
    recording = result.recording
    config = result.config
    assignment = cluster_assignment(recording, cluster_of_providers(recording))
    resources = [r for r in recording if not _is_stack(r)]
    by_type = Counter(r.type for r in resources)
    by_cluster = Counter(assignment[r.urn] for r in resources)

    out = [
        f"{REPORT_HEADING}`{result.env}`",
        "",
        f"Region `{config.region}`, Kubernetes {config.kubernetes_version}, "
        f"mesh backend `{config.mesh.backend}` (mesh `{config.mesh.name}`), "
        f"Cloud Map namespace `{config.mesh.cloud_map_namespace}`, tracing: {tracing_note(config)}.",
        "Values the cloud assigns at deploy time are placeholders "
        "(`<name.attribute>`, account `123456789012`).",
        "",
        "## Architecture",
        "",
        "```mermaid",
        mermaid(config),
        "```",
        "",
        f"## Resources by cluster ({len(resources)} registrations)",
        "",
        "| cluster | resources | Kubernetes objects | Helm releases |",
        "|---|---:|---:|---:|",
    ]
    for cluster in sorted(by_cluster, key=lambda c: (c == SHARED, c)):
        objects = len(result.manifests.get(cluster, []))
        releases = (
            ", ".join(f"`{r.inputs.get('name')}`" for r in result.helm_releases.get(cluster, [])) or "-"
        )
        out.append(f"| {cluster} | {by_cluster[cluster]} | {objects} | {releases} |")
    out += ["", "## Resources by type", "", "| type | count |", "|---|---:|"]
    for type_, count in sorted(by_type.items()):
        out.append(f"| `{type_}` | {count} |")
    out += ["", "## Validation", ""]
    checked = sum(len(v) for v in result.manifests.values())
    if result.problems:
        out.append(f"**{len(result.problems)} problem(s)** in {checked} Kubernetes objects:")
        out.append("")
        out += [f"- {p}" for p in result.problems]
    elif result.unvalidated:
        out.append(
            f"No invalid object among {checked} Kubernetes objects (kubernetes-validate strict, Kubernetes "
            f"{config.kubernetes_version}), but **{len(result.unvalidated)} custom resource(s) were not "
            "validated**: no CRD schemas were available (`render --crds DIR`, or let the render fetch "
            "the pinned ones; `render --strict` fails on this):"
        )
        out.append("")
        out += [f"- not validated: {name}" for name in result.unvalidated]
    else:
        out.append(
            f"All {checked} Kubernetes objects are valid (kubernetes-validate strict, Kubernetes "
            f"{config.kubernetes_version}; custom resources against their CRD schemas"
            + (f" from the {result.crd_source}" if result.crd_source else "")
            + ")."
        )
    if result.notes:
        out.append("")
        out += [f"- note: {n}" for n in result.notes]
    out.append("")
    if result.to_replace:
        out += [
            "## Values to replace before deploying",
            "",
            "These are documentation values (example ranges and accounts); `deploy` and `preview` refuse "
            "them until they are replaced with your own:",
            "",
        ]
        out += [f"- `{v.key}`: `{v.value}` ({v.why})" for v in result.to_replace]
        out.append("")
    if result.guardrails is not None:
        out.append(guardrails.markdown(result.guardrails))
    return "\n".join(out)
