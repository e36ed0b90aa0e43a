"""The App Mesh backend's answers to the interface, from the configuration alone."""

from __future__ import annotations

import runpy
import sys
from typing import Any

import pytest
from pulumi.runtime.mocks import MockResourceArgs

import infra.mesh
from automation.cloud_mocks import CloudMocks
from automation.errors import CrossmeshError
from automation.exit_codes import ExitCode
from automation.preflight import check_deployable
from automation.recorder import record
from infra.config import StackConfig
from infra.config_parse import parse_stack_file
from infra.mesh import BackendUnavailable, backend_for
from infra.mesh.appmesh import AppMeshBackend
from infra.topology import topology_of
from tests.support import PROJECT_DIR, env_values, flat, stack_document, variant
from workloads.deploy.manifests import app_env, collector_endpoint


def config(change: Any = None) -> StackConfig:
    return parse_stack_file(variant("appmesh", change) if change else stack_document("appmesh"), "appmesh")


def test_dev_is_app_mesh() -> None:
    assert isinstance(backend_for(config()), AppMeshBackend)


def test_app_mesh_adds_no_environment_traced_or_not() -> None:
    """Envoy enforces the route's deadline and retries, which the apps' common environment already
    assumes, and traced apps export OTLP to the cluster's collector on either backend: App Mesh adds
    nothing, in particular not the X-Ray daemon address the apps no longer read."""
    for tracing in ("none", "x-ray"):
        configured = config(lambda c, t=tracing: c["crossmesh:mesh"].update(tracing=t))
        topology = topology_of(configured)
        backend = backend_for(configured)
        for app in topology.apps:
            assert backend.app_environment(app, topology) == {}
            env = env_values(
                app_env(
                    app,
                    topology,
                    route_timeout_ms=configured.mesh.route.timeout_ms,
                    tracing=backend.tracing,
                    eks_name=configured.eks_name(app.cluster),
                    backend_env=backend.app_environment(app, topology),
                )
            )
            assert [name for name in env if "XRAY" in name] == []
            assert env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == (
                collector_endpoint(topology.namespace) if tracing == "x-ray" else None
            )
            if app is topology.front:
                assert env["UPSTREAM_MAX_RETRIES"] == "0"  # Envoy retries; front must not multiply them
                assert "UPSTREAM_AUTH" not in env  # front's default, none: Envoy does not sign


def test_pod_security_exceptions_name_the_controller_and_the_injected_namespace() -> None:
    plain = config()
    exceptions = backend_for(plain).pod_security_exceptions(topology_of(plain))
    assert {name: e.level for name, e in exceptions.items()} == {
        "appmesh-system": "baseline",
        "appmesh-demo": "privileged",
    }
    assert "NET_ADMIN" in exceptions["appmesh-demo"].reason


def test_controller_release_and_verify_targets() -> None:
    plain = config()
    backend = backend_for(plain)
    assert backend.controller_release() == "appmesh-system/appmesh-controller"
    targets = backend.verify_targets(topology_of(plain))
    assert targets.router_name == "colorapp-router_appmesh-demo"
    assert targets.service_network is None


class _CountingMocks(CloudMocks):
    def __init__(self) -> None:
        super().__init__(region="us-east-1")
        self.registered: list[str] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        self.registered.append(args.typ)
        return super().new_resource(args)


def _run_program(env: str, mocks: CloudMocks) -> None:
    def program() -> None:
        sys.path.insert(0, str(PROJECT_DIR))
        try:
            runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")
        finally:
            sys.path.remove(str(PROJECT_DIR))

    record(program, project="crossmesh", stack=env, config=flat(stack_document(env)), mocks=mocks)


def test_pulumi_up_of_app_mesh_stops_before_any_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    # As under a real engine (`pulumi up`/`preview`): the program is not running against mocks.
    monkeypatch.setattr(infra.mesh, "running_offline", lambda: False)
    mocks = _CountingMocks()
    with pytest.raises(BackendUnavailable) as refused:
        _run_program("appmesh", mocks)
    assert mocks.registered == []  # not a VPC, not a key: nothing
    assert "AWS App Mesh ended on 2026-09-30" in str(refused.value)
    assert "docs/migration.md" in str(refused.value)
    # the same program deploys a Lattice environment
    mocks = _CountingMocks()
    _run_program("dev", mocks)
    assert "aws:vpclattice/serviceNetwork:ServiceNetwork" in mocks.registered


def test_offline_render_of_app_mesh_still_works() -> None:
    mocks = _CountingMocks()
    _run_program("appmesh", mocks)  # running_offline() is True under the recorder's mock monitor
    assert "kubernetes:appmesh.k8s.aws/v1beta2:Mesh" in mocks.registered


def test_the_session_refuses_app_mesh_with_the_same_words() -> None:
    with pytest.raises(CrossmeshError) as refused:
        check_deployable(config())
    assert refused.value.failure.code is ExitCode.MESH_UNAVAILABLE
    assert "AWS App Mesh ended on 2026-09-30" in refused.value.failure.message
    assert "docs/migration.md" in refused.value.failure.hint
