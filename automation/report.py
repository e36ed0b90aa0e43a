"""report.md for a render: counts, validation result, guardrails and a Mermaid diagram of the architecture."""

from __future__ import annotations

from collections import Counter

from automation import guardrails
from automation.recorder import Recording, Registration
from automation.render import RenderResult, cluster_of_providers
from infra.config import MeshBackendKind, StackConfig

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


def _id(name: str) -> str:
    """Mermaid node ids: letters, digits and underscores only."""
    return "".join(c if c.isalnum() else "_" for c in name)


def mermaid(config: StackConfig) -> str:
    """The architecture as a Mermaid flowchart, drawn from the configuration and its mesh backend."""
    if config.mesh.backend is MeshBackendKind.LATTICE:
        return _mermaid_lattice(config)
    w = config.workloads
    front, colorapp = w.front, w.colorapp
    host = f"{colorapp.name}.{config.mesh.cloud_map_namespace}"
    router_cluster = colorapp.router_cluster_name
    lines = _header(config)
    for cluster in config.clusters:
        lines.append(f'    subgraph {_id(cluster.name)}["EKS {config.eks_name(cluster.name)}"]')
        if cluster.name == front.cluster:
            lines.append(f'      {_id(front.name)}["{front.name}<br/>VirtualNode {front.name}"]')
        if cluster.name == router_cluster:
            lines.append(f'      vs[["VirtualService<br/>{host}"]]')
            lines.append('      router{{"VirtualRouter colorapp-router<br/>route color-route"}}')
        for version in colorapp.versions:
            if version.cluster == cluster.name:
                node = f"{colorapp.name}-{version.color}"
                lines.append(f'      {_id(node)}["{node}<br/>VirtualNode, COLOR={version.color}"]')
        lines.append("    end")
    lines.append(f'    cloudmap[("Cloud Map {config.mesh.cloud_map_namespace}")]')
    lines.append("  end")
    lines.append(f"  lb --> {_id(front.name)}")
    lines.append(f'  {_id(front.name)} -->|"{host}:{w.port}"| vs')
    lines.append("  vs --> router")
    for version in colorapp.versions:
        node = _id(f"{colorapp.name}-{version.color}")
        lines.append(f'  router -->|"{version.weight}%"| {node}')
        lines.append(f"  {node} -. registers .-> cloudmap")
    lines.append(f"  {_id(front.name)} -. registers .-> cloudmap")
    return "\n".join(lines)


def _header(config: StackConfig) -> list[str]:
    return [
        "flowchart LR",
        '  internet(["Internet"]) -->|"HTTP :80"| lb["front load balancer"]',
        f'  subgraph vpc["Shared VPC {config.network.cidr}"]',
        "    direction LR",
    ]


def _mermaid_lattice(config: StackConfig) -> str:
    w = config.workloads
    front, colorapp = w.front, w.colorapp
    host = f"{colorapp.name}.{config.mesh.cloud_map_namespace}"
    lines = _header(config)
    for cluster in config.clusters:
        lines.append(f'    subgraph {_id(cluster.name)}["EKS {config.eks_name(cluster.name)}"]')
        if cluster.name == front.cluster:
            lines.append(f'      {_id(front.name)}["{front.name}"]')
            lines.append(f'      route{{{{"HTTPRoute {colorapp.name}<br/>host {host}"}}}}')
        for version in colorapp.versions:
            if version.cluster == cluster.name:
                node = f"{colorapp.name}-{version.color}"
                lines.append(f'      {_id(node)}["{node}<br/>ServiceExport, COLOR={version.color}"]')
        lines.append("    end")
    lines.append(f'    lattice[["VPC Lattice service network {config.service_network_name}"]]')
    lines.append(f'    dns[("DNS {host} CNAME")]')
    lines.append("  end")
    lines.append(f"  lb --> {_id(front.name)}")
    lines.append(f'  {_id(front.name)} -->|"{host}:{w.port}"| dns')
    lines.append("  dns --> lattice")
    lines.append("  route -. configures .-> lattice")
    for version in colorapp.versions:
        lines.append(f'  lattice -->|"{version.weight}%"| {_id(f"{colorapp.name}-{version.color}")}')
    return "\n".join(lines)


def report_markdown(result: RenderResult) -> str:
    recording = result.recording
    config = result.config
    assignment = cluster_assignment(recording, cluster_of_providers(recording))
    resources = [r for r in recording if not _is_stack(r)]
    by_type = Counter(r.type for r in resources)
    by_cluster = Counter(assignment[r.urn] for r in resources)

    out = [
        f"# crossmesh render: `{result.env}`",
        "",
        f"Region `{config.region}`, Kubernetes {config.kubernetes_version}, "
        f"mesh backend `{config.mesh.backend}` (mesh `{config.mesh.name}`), "
        f"Cloud Map namespace `{config.mesh.cloud_map_namespace}`.",
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
