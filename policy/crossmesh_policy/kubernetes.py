"""Kubernetes objects: namespaces, workloads and their containers.

Known constraint of App Mesh pods: the controller injects ``proxyinit`` (an init container that needs
NET_ADMIN and runs as root to program iptables) and ``envoy`` (UID 1337) at admission. Neither is in
the manifests these rules read; they inherit *pod-level* ``runAsNonRoot``/``runAsUser``, which would
stop proxyinit. So the rules demand the restricted settings per container, and accept a pod-level
security context that only sets the seccomp profile.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from .graph import Graph, namespace_of, provider_key
from .model import Level, Resource, Rule, Settings
from .props import as_int, as_map, get, is_false, is_true, kind_of, labels_of, maps, strings
from .types import (
    CLUSTER_SCOPED_KINDS,
    HELM_CHARTS,
    K8S_CRON_JOB,
    K8S_NAMESPACE,
    K8S_NETWORK_POLICY,
    K8S_POD,
    K8S_SERVICE_ACCOUNT,
    K8S_WORKLOADS,
    is_kubernetes_object,
)

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
API_ACCESS_ANNOTATION = "crossmesh.dev/kubernetes-api-access"
"""Pod-template annotation that states why a pod needs its service-account token (CIS EKS 4.1.6)."""

PSA_LEVELS = ("privileged", "baseline", "restricted")


# --- helpers ----------------------------------------------------------------------------------------


def pod_template(resource: Resource) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """(pod metadata, pod spec) of a workload object, or None."""
    props = resource.props
    if resource.type == K8S_POD:
        return as_map(props.get("metadata")) or {}, as_map(props.get("spec")) or {}
    template = get(props, "spec", "template")
    if resource.type == K8S_CRON_JOB:
        template = get(props, "spec", "jobTemplate", "spec", "template")
    mapping = as_map(template)
    if mapping is None:
        return None
    return as_map(mapping.get("metadata")) or {}, as_map(mapping.get("spec")) or {}


def containers(spec: Mapping[str, Any], *, init: bool = True) -> list[Mapping[str, Any]]:
    found = maps(spec.get("containers"))
    if init:
        found += maps(spec.get("initContainers"))
    return found


ContainerCheck = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], str | None]
"""(container, its securityContext, the pod spec) -> what is wrong, or None."""


def _container_checks(resource: Resource, check: ContainerCheck, *, init: bool = True) -> Iterator[str]:
    found = pod_template(resource)
    if found is None:
        return
    _metadata, spec = found
    for container in containers(spec, init=init):
        context = as_map(container.get("securityContext")) or {}
        problem = check(container, context, spec)
        if problem:
            yield f"container {container.get('name')!s}: {problem}"


WORKLOAD_TYPES = frozenset(K8S_WORKLOADS)


# --- 4.5.2 no workload in default ------------------------------------------------------------------


def not_in_default_namespace(resource: Resource, _settings: Settings) -> Iterator[str]:
    if resource.type in HELM_CHARTS:
        namespace = resource.props.get("namespace")
    else:
        if "metadata" not in resource.props or kind_of(resource.type) in CLUSTER_SCOPED_KINDS:
            return
        namespace = namespace_of(resource.props)
    if namespace in (None, "", "default"):
        yield "lands in the default namespace" + ("" if namespace else " (no namespace given)")


def _namespaced_candidate(resource_type: str) -> bool:
    return is_kubernetes_object(resource_type) or resource_type in HELM_CHARTS


NO_DEFAULT_NAMESPACE = Rule(
    id="k8s-no-default-namespace",
    cis="4.5.2",
    level=Level.MANDATORY,
    title="No object or Helm release goes into the default namespace.",
    remediation="set metadata.namespace (or the release's namespace) to the app's own namespace",
    types=frozenset(HELM_CHARTS),
    type_filter=_namespaced_candidate,
    resource_check=not_in_default_namespace,
)


# --- container hardening (4.2.x) ------------------------------------------------------------------


def no_privileged(resource: Resource, _settings: Settings) -> Iterator[str]:
    found = pod_template(resource)
    if found is None:
        return
    _metadata, spec = found
    for field in ("hostPID", "hostIPC", "hostNetwork"):
        if is_true(spec.get(field)):
            yield f"the pod shares the node's {field[4:]} namespace ({field})"
    yield from _container_checks(
        resource, lambda _c, ctx, _s: "runs privileged" if is_true(ctx.get("privileged")) else None
    )


NO_PRIVILEGED = Rule(
    id="k8s-no-privileged-or-host-namespaces",
    cis="4.2.1-4.2.4",
    level=Level.MANDATORY,
    title="No privileged container; no pod shares the node's PID, IPC or network namespace.",
    remediation="remove privileged/hostPID/hostIPC/hostNetwork from the pod template",
    types=WORKLOAD_TYPES,
    resource_check=no_privileged,
)


def no_privilege_escalation(resource: Resource, _settings: Settings) -> Iterator[str]:
    yield from _container_checks(
        resource,
        lambda _c, ctx, _s: (
            None if is_false(ctx.get("allowPrivilegeEscalation")) else "allowPrivilegeEscalation is not false"
        ),
    )


NO_PRIVILEGE_ESCALATION = Rule(
    id="k8s-no-privilege-escalation",
    cis="4.2.5",
    level=Level.MANDATORY,
    title="Every container sets allowPrivilegeEscalation: false.",
    remediation="set securityContext.allowPrivilegeEscalation: false on each container "
    "(workloads/deploy/manifests.py container_security_context)",
    types=WORKLOAD_TYPES,
    resource_check=no_privilege_escalation,
)


def _root_problem(
    _container: Mapping[str, Any], ctx: Mapping[str, Any], _spec: Mapping[str, Any]
) -> str | None:
    if not is_true(ctx.get("runAsNonRoot")):
        return "runAsNonRoot is not set on the container (pod level does not count: it would reach proxyinit)"
    if as_int(ctx.get("runAsUser")) == 0:
        return "runs as UID 0"
    return None


def non_root(resource: Resource, _settings: Settings) -> Iterator[str]:
    yield from _container_checks(resource, _root_problem)


NON_ROOT = Rule(
    id="k8s-run-as-non-root",
    cis="4.2.6",
    level=Level.MANDATORY,
    title="Every container sets runAsNonRoot: true (per container, because App Mesh's proxyinit "
    "inherits pod-level settings) and never runs as UID 0.",
    remediation="set securityContext.runAsNonRoot: true and a non-zero runAsUser on each container",
    types=WORKLOAD_TYPES,
    resource_check=non_root,
)


def _capabilities_problem(
    _container: Mapping[str, Any], ctx: Mapping[str, Any], _spec: Mapping[str, Any]
) -> str | None:
    capabilities = as_map(ctx.get("capabilities")) or {}
    if "ALL" not in strings(capabilities.get("drop")):
        return "does not drop ALL capabilities"
    added = strings(capabilities.get("add"))
    if added:
        return f"adds capabilities {', '.join(added)}"
    return None


def drop_all_capabilities(resource: Resource, _settings: Settings) -> Iterator[str]:
    yield from _container_checks(resource, _capabilities_problem)


DROP_ALL_CAPABILITIES = Rule(
    id="k8s-drop-all-capabilities",
    cis="4.2.7-4.2.9",
    level=Level.MANDATORY,
    title="Every container drops ALL Linux capabilities and adds none.",
    remediation="set securityContext.capabilities: {drop: [ALL]} on each container",
    types=WORKLOAD_TYPES,
    resource_check=drop_all_capabilities,
)


def read_only_root_filesystem(resource: Resource, _settings: Settings) -> Iterator[str]:
    yield from _container_checks(
        resource,
        lambda _c, ctx, _s: (
            None if is_true(ctx.get("readOnlyRootFilesystem")) else "root filesystem is writable"
        ),
    )


READ_ONLY_ROOT_FILESYSTEM = Rule(
    id="k8s-read-only-root-filesystem",
    cis=None,
    level=Level.MANDATORY,
    title="Every container has a read-only root filesystem.",
    remediation="set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where the app "
    "must write",
    types=WORKLOAD_TYPES,
    resource_check=read_only_root_filesystem,
)


def _seccomp_problem(
    _container: Mapping[str, Any], ctx: Mapping[str, Any], spec: Mapping[str, Any]
) -> str | None:
    profile = get(ctx, "seccompProfile", "type") or get(spec, "securityContext", "seccompProfile", "type")
    if profile not in ("RuntimeDefault", "Localhost"):
        return f"seccomp profile is {profile or 'unset (Unconfined)'}, not RuntimeDefault"
    return None


def seccomp_runtime_default(resource: Resource, _settings: Settings) -> Iterator[str]:
    yield from _container_checks(resource, _seccomp_problem)


SECCOMP_RUNTIME_DEFAULT = Rule(
    id="k8s-seccomp-runtime-default",
    cis=None,
    level=Level.MANDATORY,
    title="Every container runs under the RuntimeDefault seccomp profile (pod or container level).",
    remediation="set securityContext.seccompProfile.type: RuntimeDefault on the pod (the injected "
    "sidecars accept it) or on each container",
    types=WORKLOAD_TYPES,
    resource_check=seccomp_runtime_default,
)


def _resources_problem(
    container: Mapping[str, Any], _ctx: Mapping[str, Any], _spec: Mapping[str, Any]
) -> str | None:
    missing = [
        f"{kind}.{name}"
        for kind in ("requests", "limits")
        for name in ("cpu", "memory")
        if get(container, "resources", kind, name) in (None, "")
    ]
    return f"missing resources {', '.join(missing)}" if missing else None


def requests_and_limits(resource: Resource, _settings: Settings) -> Iterator[str]:
    yield from _container_checks(resource, _resources_problem)


REQUESTS_AND_LIMITS = Rule(
    id="k8s-requests-and-limits",
    cis=None,
    level=Level.MANDATORY,
    title="Every container declares CPU and memory requests and limits.",
    remediation="set resources.requests and resources.limits (cpu and memory) on each container",
    types=WORKLOAD_TYPES,
    resource_check=requests_and_limits,
)


def _probes_problem(
    container: Mapping[str, Any], _ctx: Mapping[str, Any], _spec: Mapping[str, Any]
) -> str | None:
    missing = [p for p in ("readinessProbe", "livenessProbe") if as_map(container.get(p)) is None]
    return f"no {' and no '.join(missing)}" if missing else None


def probes(resource: Resource, _settings: Settings) -> Iterator[str]:
    # Init containers run to completion and take no probes.
    yield from _container_checks(resource, _probes_problem, init=False)


PROBES = Rule(
    id="k8s-probes",
    cis=None,
    level=Level.MANDATORY,
    title="Every app container has a readiness and a liveness probe.",
    remediation="add readinessProbe and livenessProbe (workloads/deploy/manifests.py deployment)",
    types=WORKLOAD_TYPES,
    resource_check=probes,
)


def _image_problem(
    container: Mapping[str, Any], _ctx: Mapping[str, Any], _spec: Mapping[str, Any]
) -> str | None:
    image = container.get("image")
    if not isinstance(image, str) or not _DIGEST.search(image):
        return f"image {image!s} is not pinned by digest (@sha256:...)"
    return None


def images_by_digest(resource: Resource, _settings: Settings) -> Iterator[str]:
    yield from _container_checks(resource, _image_problem)


IMAGES_BY_DIGEST = Rule(
    id="k8s-images-by-digest",
    cis=None,
    level=Level.MANDATORY,
    title="Every container image is referenced by digest, so what runs is exactly what was scanned.",
    remediation="use <repository>@sha256:<digest> (workloads/deploy/images.py builds and pins them)",
    types=WORKLOAD_TYPES,
    resource_check=images_by_digest,
)


# --- 4.1.6 service-account tokens ----------------------------------------------------------------


def service_account_tokens(resource: Resource, _settings: Settings) -> Iterator[str]:
    if resource.type == K8S_SERVICE_ACCOUNT:
        if not is_false(resource.props.get("automountServiceAccountToken")):
            yield "the service account mounts its token into every pod by default"
        return
    found = pod_template(resource)
    if found is None:
        return
    metadata, spec = found
    mount = spec.get("automountServiceAccountToken")
    if is_false(mount):
        return
    reason = (as_map(metadata.get("annotations")) or {}).get(API_ACCESS_ANNOTATION)
    if is_true(mount) and isinstance(reason, str) and reason.strip():
        return
    yield (
        "the pod mounts a Kubernetes API token without saying why "
        f"(automountServiceAccountToken is {mount!s}; annotate {API_ACCESS_ANNOTATION} to opt in)"
    )


SERVICE_ACCOUNT_TOKENS = Rule(
    id="k8s-service-account-tokens",
    cis="4.1.6",
    level=Level.MANDATORY,
    title="Service-account tokens are mounted only where needed: service accounts and pod templates set "
    f"automountServiceAccountToken: false unless the pod is annotated {API_ACCESS_ANNOTATION}.",
    remediation="set automountServiceAccountToken: false on the ServiceAccount and the pod template",
    types=frozenset({K8S_SERVICE_ACCOUNT, *WORKLOAD_TYPES}),
    resource_check=service_account_tokens,
)


# --- 4.3.2 a NetworkPolicy in every namespace ------------------------------------------------------


def _isolates_every_pod(props: Mapping[str, Any]) -> bool:
    """A policy that selects every pod of its namespace for both ingress and egress: what it does not
    allow, and no other policy allows, is denied. ``policyTypes`` left out means Ingress, plus Egress
    when the policy has egress rules (NetworkPolicySpec)."""
    selector = as_map(get(props, "spec", "podSelector")) or {}
    if selector.get("matchLabels") or selector.get("matchExpressions"):
        return False
    types = set(strings(get(props, "spec", "policyTypes")))
    if not types:
        types = {"Ingress", *(["Egress"] if get(props, "spec", "egress") is not None else [])}
    return {"Ingress", "Egress"} <= types


def network_policy_per_namespace(
    resources: Sequence[Resource], _settings: Settings
) -> Iterator[tuple[Resource, str]]:
    graph = Graph(resources)
    policies = graph.of_type(K8S_NETWORK_POLICY)
    covered = {(provider_key(p), namespace_of(p.props) or "default") for p in policies}
    isolated = {
        (provider_key(p), namespace_of(p.props) or "default")
        for p in policies
        if _isolates_every_pod(p.props)
    }
    for namespace in graph.of_type(K8S_NAMESPACE):
        name = get(namespace.props, "metadata", "name")
        key = (provider_key(namespace), name)
        if key not in covered:
            yield namespace, f"namespace {name!s} has no NetworkPolicy: every pod in it accepts any traffic"
        elif key not in isolated:
            yield (
                namespace,
                f"namespace {name!s} has no NetworkPolicy selecting every pod for both Ingress and Egress: "
                "a pod no other policy names accepts any traffic or sends anywhere",
            )


NETWORK_POLICY_PER_NAMESPACE = Rule(
    id="k8s-network-policy-per-namespace",
    cis="4.3.2",
    level=Level.MANDATORY,
    title="Every namespace the program creates has NetworkPolicies, one of which selects every pod for "
    "both Ingress and Egress (default deny, then the flows the pods need).",
    remediation="add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] to the namespace "
    "(workloads/deploy/manifests.py network_policies, infra/mesh/common.py controller_network_policy)",
    types=frozenset({K8S_NAMESPACE}),
    stack_check=network_policy_per_namespace,
)


# --- 4.2 Pod Security Admission labels --------------------------------------------------------------


def allowed_enforce_level(props: Mapping[str, Any], settings: Settings) -> tuple[str, str | None]:
    """The laxest level this namespace may enforce, and the documented reason when not restricted.

    Every namespace enforces restricted unless the environment's settings name it: the mesh backend
    says which of its namespaces need less (e.g. an injected proxy that needs NET_ADMIN) and why.
    """
    name = get(props, "metadata", "name")
    exception = settings.pod_security_exceptions.get(name) if isinstance(name, str) else None
    if exception is not None:
        return exception["level"], exception["reason"]
    return "restricted", None


def pod_security_labels(resource: Resource, settings: Settings) -> Iterator[str]:
    found = labels_of(resource.props)
    for mode in ("enforce", "audit", "warn"):
        if found.get(f"pod-security.kubernetes.io/{mode}") not in PSA_LEVELS:
            yield f"no pod-security.kubernetes.io/{mode} label"
    for mode in ("audit", "warn"):
        value = found.get(f"pod-security.kubernetes.io/{mode}")
        if value in PSA_LEVELS and value != "restricted":
            yield f"{mode}s at {value}; audit and warn at restricted so every deviation shows"
    enforce = found.get("pod-security.kubernetes.io/enforce")
    allowed, _why = allowed_enforce_level(resource.props, settings)
    if enforce in PSA_LEVELS and PSA_LEVELS.index(str(enforce)) < PSA_LEVELS.index(allowed):
        yield f"enforces {enforce}; the strictest level its pods allow is {allowed}"


POD_SECURITY_LABELS = Rule(
    id="k8s-pod-security-labels",
    cis="4.2",
    level=Level.MANDATORY,
    title="Every namespace carries Pod Security Admission enforce/audit/warn labels: enforce at the "
    "strictest level its pods allow (restricted, unless the mesh backend names the namespace with its "
    "reason), audit and warn at restricted.",
    remediation="label the namespace pod-security.kubernetes.io/{enforce,audit,warn} (the mesh "
    "backend's namespace_labels in infra/mesh/<backend>/)",
    types=frozenset({K8S_NAMESPACE}),
    resource_check=pod_security_labels,
    settings=frozenset({"pod_security_exceptions"}),
)

RULES = (
    NO_DEFAULT_NAMESPACE,
    SERVICE_ACCOUNT_TOKENS,
    NETWORK_POLICY_PER_NAMESPACE,
    POD_SECURITY_LABELS,
    NO_PRIVILEGED,
    NO_PRIVILEGE_ESCALATION,
    NON_ROOT,
    DROP_ALL_CAPABILITIES,
    READ_ONLY_ROOT_FILESYSTEM,
    SECCOMP_RUNTIME_DEFAULT,
    REQUESTS_AND_LIMITS,
    PROBES,
    IMAGES_BY_DIGEST,
)
