"""The App Mesh backend's answers to the interface, from the configuration alone."""

from __future__ import annotations

from typing import Any

from infra.config import StackConfig
from infra.config_parse import parse_stack_file
from infra.mesh import backend_for
from infra.mesh.appmesh import AppMeshBackend
from infra.topology import topology_of
from tests.support import stack_document, variant


def config(change: Any = None) -> StackConfig:
    return parse_stack_file(variant("dev", change) if change else stack_document("dev"), "dev")


def test_dev_is_app_mesh() -> None:
    assert isinstance(backend_for(config()), AppMeshBackend)


def test_tracing_env_only_with_xray() -> None:
    plain = config()
    topology = topology_of(plain)
    assert backend_for(plain).app_environment(topology.colors[0], topology) == {}
    traced = config(lambda c: c["crossmesh:mesh"].update(tracing="x-ray"))
    # The X-Ray daemon is a sidecar of the same pod: the app sends segments to localhost.
    for app in topology.apps:
        assert backend_for(traced).app_environment(app, topology) == {
            "XRAY_ENABLED": "true",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        }


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
