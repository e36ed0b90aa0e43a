"""Offline render: what an environment would create, proven without a cloud account or the Pulumi CLI.

``python -m automation render ENV`` runs the real program through the recording engine.
:func:`render` returns the result; :func:`automation.render_output.write_render` writes it to
``build/render/ENV/``:

- ``resources.json``: every registration (components included) with type, name, parent, provider,
  dependencies and inputs;
- ``manifests/<cluster>.yaml``: every Kubernetes object the program applies to that cluster (Helm
  releases are listed in resources.json, not expanded);
- ``report.md``: resources by type and by cluster, the validation result, the guardrails (every
  policy of the pack in ``policy/`` run over the recorded graph) and a Mermaid diagram.

A render fails (exit 1) when a Kubernetes object is invalid or a mandatory guardrail is violated.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.crds import CrdFiles, locate_crd_files
from automation.environment import (
    UnknownEnvironmentError,
    environment,
    load_environment,
    project_name,
    stack_file,
)
from automation.guardrails import evaluate_recording
from automation.placeholders import DocumentationValue, documentation_values
from automation.recorder import Recording, Registration, record_project
from automation.validate import CrdSchemas, Invalid, unchecked_objects, validate_objects
from infra import config as config_module
from infra.config import StackConfig
from infra.config_parse import refuse_expired_versions
from infra.data import as_list, as_mapping, mapping_or_empty
from policy.crossmesh_policy import PolicyReport

# Kept importable from here for callers written before the loader had its own module.
__all__ = [
    "RenderResult",
    "UnknownEnvironmentError",
    "cluster_of_providers",
    "kubernetes_objects",
    "load_environment",
    "render",
    "stack_file",
]

K8S_PROVIDER = "pulumi:providers:kubernetes"
CLUSTER_COMPONENT = "crossmesh:infra:EksCluster"
HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")

# Apply order a human would expect when reading a manifest file.
_KIND_ORDER = (
    "Namespace",
    "ServiceAccount",
    "ConfigMap",
    "Secret",
    "Role",
    "RoleBinding",
    "NetworkPolicy",
    "Service",
    "Deployment",
    "PodDisruptionBudget",
)


@dataclass
class RenderResult:
    env: str
    config: StackConfig
    recording: Recording
    manifests: dict[str, list[dict[str, Any]]]
    helm_releases: dict[str, list[Registration]]
    problems: list[Invalid]
    notes: list[str]
    guardrails: PolicyReport | None = None
    """Every guardrail policy over the recorded graph (None only for results built by hand)."""
    unvalidated: list[str] = field(default_factory=list[str])
    """Custom resources no CRD schema was available for (``cluster: Kind/name``)."""
    crd_source: str = ""
    """Where the CRD schemas came from (``--crds DIR``, the reference folder or the user cache)."""
    to_replace: list[DocumentationValue] = field(default_factory=list[DocumentationValue])
    """Documentation values (example CIDRs and accounts) a deploy refuses until they are replaced."""
    timings: dict[str, float] = field(default_factory=dict[str, float])

    @property
    def ok(self) -> bool:
        """Every object valid and no mandatory guardrail violated."""
        return not self.problems and (self.guardrails is None or self.guardrails.ok)

    @property
    def fully_validated(self) -> bool:
        """Every custom resource was checked against its CRD (``render --strict`` requires it)."""
        return not self.unvalidated


def cluster_of_providers(recording: Recording) -> dict[str, str]:
    """Kubernetes provider URN -> cluster key (the EksCluster component that owns the provider)."""
    out: dict[str, str] = {}
    for provider in recording.of_type(K8S_PROVIDER):
        for ancestor in recording.ancestors(provider):
            if ancestor.type == CLUSTER_COMPONENT:
                out[provider.urn] = ancestor.name
                break
    return out


_HEAD = ("apiVersion", "kind", "metadata")


def _sorted(value: Any) -> Any:
    mapping = as_mapping(value)
    if mapping is not None:
        return {k: _sorted(mapping[k]) for k in sorted(mapping)}
    items = as_list(value)
    if items is not None:
        return [_sorted(v) for v in items]
    return value


def _manifest(registration: Registration) -> dict[str, Any]:
    """The object as kubectl would show it: apiVersion, kind, metadata first, then the rest sorted."""
    fields = {k: v for k, v in registration.inputs.items() if not k.startswith("__")}
    head = {k: _sorted(fields[k]) for k in _HEAD if k in fields}
    return head | {k: _sorted(fields[k]) for k in sorted(fields) if k not in _HEAD}


def _sort_key(obj: Mapping[str, Any]) -> tuple[int, str, str, str]:
    kind = str(obj.get("kind", ""))
    rank = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
    metadata = mapping_or_empty(obj.get("metadata"))
    return rank, kind, str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def kubernetes_objects(
    recording: Recording,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[Registration]]]:
    """Every Kubernetes object and Helm release the program applies, by cluster."""
    clusters = cluster_of_providers(recording)
    objects: dict[str, list[dict[str, Any]]] = {name: [] for name in sorted(set(clusters.values()))}
    releases: dict[str, list[Registration]] = {name: [] for name in objects}
    for registration in recording:
        if not registration.type.startswith("kubernetes:") or not registration.custom:
            continue
        cluster = clusters.get(registration.provider or "")
        if cluster is None:
            raise ValueError(
                f"{registration.type} {registration.name} has no cluster provider: every Kubernetes object "
                "must be given its cluster's provider explicitly"
            )
        if registration.type in HELM_TYPES:
            releases[cluster].append(registration)
        else:
            objects[cluster].append(_manifest(registration))
    for items in objects.values():
        items.sort(key=_sort_key)
    return objects, releases


def render(
    env: str,
    project_dir: Path,
    *,
    crds_dir: Path | None = None,
    document: Mapping[str, Any] | None = None,
    crd_files: CrdFiles | None = None,
) -> RenderResult:
    """Render ``env`` (from its stack file, or from ``document`` in its place); writes nothing.

    Custom resources are validated against the CRDs in ``crds_dir`` (``render --crds``), else those
    :func:`automation.crds.locate_crd_files` finds (or ``crd_files`` when given).

    Raises ConfigError / EnvironmentInputError / :class:`automation.validate.CrdFileError` before
    running anything.
    """
    started = time.perf_counter()
    loaded_env = environment(project_dir, env, document)
    config = loaded_env.config
    # What `pulumi up` would refuse (config_parse.from_pulumi): a version EKS no longer creates.
    refuse_expired_versions(config, config_module.utc_today(), f"Pulumi.{env}.yaml")
    loaded = time.perf_counter()
    # Before the program runs: a bad --crds file is bad input, refused without seconds of work first.
    located = crd_files if crd_files is not None else locate_crd_files(project_dir, crds_dir)
    crds = CrdSchemas.load(located.paths)
    crds_loaded = time.perf_counter()
    recording = record_project(project_dir, env, loaded_env.flat, project=project_name(project_dir))
    recorded = time.perf_counter()
    manifests, releases = kubernetes_objects(recording)
    pairs = [(cluster, obj) for cluster, items in manifests.items() for obj in items]
    problems, notes = validate_objects(pairs, kubernetes_version=config.kubernetes_version, crds=crds)
    unvalidated = unchecked_objects(pairs, kubernetes_version=config.kubernetes_version, crds=crds)
    if located.problem:
        notes.append(f"CRD schemas from {located.source}: {located.problem}")
    validated = time.perf_counter()
    guardrails = evaluate_recording(recording, config)
    checked = time.perf_counter()
    result = RenderResult(env, config, recording, manifests, releases, problems, notes, guardrails)
    result.unvalidated = unvalidated
    result.crd_source = located.source
    result.to_replace = documentation_values(loaded_env.block)
    imported = loaded_env.imports
    if imported:
        result.notes.append(
            f"{loaded_env.source} imports Pulumi ESC environments ({imported}); `pulumi up` adds the "
            "values they set, which this offline render (and the CLI's checks) do not read"
        )
    result.timings = {
        "config": loaded - started,
        "program": recorded - crds_loaded,
        "validate": validated - recorded + (crds_loaded - loaded),
        "guardrails": checked - validated,
        "total": checked - started,
    }
    return result
