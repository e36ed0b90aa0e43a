"""Schema validation: built-in kinds against kubernetes-validate (strict), custom resources against CRDs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from automation.validate import CrdSchemas, unchecked_objects, validate_objects
from tests.support import REFERENCE_DIR

needs_reference = pytest.mark.skipif(
    not REFERENCE_DIR.is_dir(), reason=f"CRD schemas not found at {REFERENCE_DIR}"
)


def check(obj: dict[str, Any], crds: CrdSchemas | None = None) -> tuple[list[str], list[str]]:
    problems, notes = validate_objects(
        [("eksc1", obj)], kubernetes_version="1.34", crds=crds or CrdSchemas({}, {})
    )
    return [str(p) for p in problems], notes


def test_valid_namespace_passes() -> None:
    assert check({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}) == ([], [])


def test_unknown_field_in_builtin_is_rejected_by_strict_schemas() -> None:
    problems, _ = check(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80, "prot": "TCP"}]},
        }
    )
    assert len(problems) == 1
    assert problems[0].startswith(
        "eksc1: Service/s: spec.ports[0]: Additional properties are not allowed ('prot'"
    )


def test_wrong_type_names_the_field() -> None:
    problems, _ = check(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {"replicas": "two"},
        }
    )
    assert any(
        p.startswith("eksc1: Deployment/d: spec.replicas: 'two' is not of type 'integer'") for p in problems
    ), problems


def test_unknown_builtin_kind_is_a_problem_not_a_pass() -> None:
    problems, _ = check({"apiVersion": "v1", "kind": "Nonsense", "metadata": {"name": "n"}})
    assert problems == ["eksc1: Nonsense/n: (root): no schema knows v1 Nonsense"]


def test_custom_resource_without_schemas_is_noted_not_passed_silently() -> None:
    problems, notes = check(
        {"apiVersion": "appmesh.k8s.aws/v1beta2", "kind": "Mesh", "metadata": {"name": "global"}}
    )
    assert problems == []
    assert notes == [
        "1 custom resource(s) not checked, no CRD schemas found "
        "(give them with `render --crds DIR`, or let the render fetch the pinned ones): eksc1: Mesh/global"
    ]


CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions:
    - name: v1
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: {type: integer, minimum: 0, maximum: 100}
                port: {x-kubernetes-int-or-string: true}
                free: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


@pytest.fixture
def widgets(tmp_path: Path) -> CrdSchemas:
    (tmp_path / "widget-crds.yaml").write_text(CRD, encoding="utf-8")
    return CrdSchemas.from_dir(tmp_path)


def widget(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}


def test_custom_resource_valid(widgets: CrdSchemas) -> None:
    assert check(widget({"size": 3, "port": "http", "free": {"anything": 1}}), widgets) == ([], [])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"size": 101}, "spec.size: 101 is greater than the maximum of 100"),
        ({}, "spec: 'size' is a required property"),
        (
            {"size": 1, "colour": "red"},
            "spec: Additional properties are not allowed ('colour' was unexpected)",
        ),
        ({"size": 1, "port": 1.5}, "spec.port: 1.5 is not valid under any of the given schemas"),
    ],
)
def test_custom_resource_violations(widgets: CrdSchemas, spec: dict[str, Any], expected: str) -> None:
    problems, _ = check(widget(spec), widgets)
    assert problems == [f"eksc1: Widget/w: {expected}"]


def test_custom_resource_of_unknown_kind_when_crds_are_loaded(widgets: CrdSchemas) -> None:
    problems, _ = check(
        {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}, widgets
    )
    assert problems == ["eksc1: Gadget/g: (root): no schema knows example.com/v1 Gadget"]


@needs_reference
def test_reference_crds_load_app_mesh_kinds() -> None:
    crds = CrdSchemas.from_dir(REFERENCE_DIR)
    for kind in ("Mesh", "VirtualNode", "VirtualService", "VirtualRouter"):
        assert crds.knows("appmesh.k8s.aws/v1beta2", kind)
    assert crds.scopes[("appmesh.k8s.aws/v1beta2", "Mesh")] == "Cluster"


def test_gateway_api_objects_are_custom_resources_even_in_a_k8s_io_group() -> None:
    problems, notes = check(
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "g"}}
    )
    assert problems == []
    assert notes[0].endswith("eksc1: Gateway/g")


def test_parsed_crd_schemas_are_cached_as_json_and_rebuilt_when_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from automation import validate

    monkeypatch.setenv("CROSSMESH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(validate.NO_SCHEMA_CACHE_ENV, raising=False)
    crd_file = tmp_path / "mesh-crds.yaml"
    crd_file.write_text(CRD)
    validate._parse_crd_file.cache_clear()  # pyright: ignore[reportPrivateUsage]
    parsed = CrdSchemas.load([crd_file])
    cached = list((tmp_path / "cache" / "crd-schemas").iterdir())
    assert len(cached) == 1
    validate._parse_crd_file.cache_clear()  # pyright: ignore[reportPrivateUsage]
    assert CrdSchemas.load([crd_file]) == parsed
    cached[0].write_text("{damaged")
    validate._parse_crd_file.cache_clear()  # pyright: ignore[reportPrivateUsage]
    assert CrdSchemas.load([crd_file]) == parsed
    assert json.loads(cached[0].read_text())[0][:3] == [*next(iter(parsed.schemas)), "Namespaced"]


def test_without_crd_schemas_only_custom_resources_are_listed_as_unchecked() -> None:
    # NetworkPolicy's group has a dot too, but kubernetes-validate has its schema: it was checked,
    # so --strict must not report it as unvalidated.
    pairs: list[tuple[str, dict[str, Any]]] = [
        (
            "eksc1",
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np"}},
        ),
        (
            "eksc2",
            {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r"}},
        ),
    ]
    empty = CrdSchemas({}, {})
    assert unchecked_objects(pairs, kubernetes_version="1.34", crds=empty) == ["eksc2: HTTPRoute/r"]
    _, notes = validate_objects(pairs, kubernetes_version="1.34", crds=empty)
    assert notes[0].startswith("1 custom resource(s) not checked")
    assert notes[0].endswith("eksc2: HTTPRoute/r")
