"""The trace collector: one per cluster when tracing is on, on either backend, with its own IRSA role."""

from __future__ import annotations

import json

import pytest
import yaml

from automation.validate import CrdSchemas, validate_objects
from tests.support import env_values, inputs, record_document, stack_document, variant
from workloads.deploy import collector

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


@pytest.mark.parametrize("env", ["dev", "appmesh"])
def test_tracing_on_adds_a_collector_per_cluster_with_xray_write_only(env: str) -> None:
    recording = record_document(variant(env, lambda c: c["crossmesh:mesh"].update(tracing="x-ray")), env)
    for cluster in ("eksc1", "eksc2"):
        deployment = inputs(recording, DEPLOYMENT, f"{cluster}-trace-collector-deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == collector.IMAGE
        assert "@sha256:" in container["image"]
        policy = json.loads(
            inputs(recording, "aws:iam/rolePolicy:RolePolicy", f"{cluster}-trace-collector-irsa-policy")[
                "policy"
            ]
        )
        assert policy["Statement"] == [
            {
                "Sid": "SendTraces",
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            }
        ]
        role = inputs(recording, "aws:iam/role:Role", f"{cluster}-trace-collector-irsa-role")
        trust = json.loads(role["assumeRolePolicy"])
        (statement,) = trust["Statement"]
        assert any(
            v == "system:serviceaccount:appmesh-demo:otel-collector"
            for v in statement["Condition"]["StringEquals"].values()
        )
    # The apps point at it.
    front = inputs(recording, DEPLOYMENT, "eksc1-apps-front")
    env_vars = env_values(front["spec"]["template"]["spec"]["containers"][0]["env"])
    assert (
        env_vars["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.appmesh-demo.svc.cluster.local:4318"
    )
    # Each app's spans name the EKS cluster it runs in (workloads/deploy/manifests.py, trace_resource_env).
    for cluster, app in (("eksc1", "front"), ("eksc2", "colorapp-blue"), ("eksc2", "colorapp-red")):
        deployment = inputs(recording, DEPLOYMENT, f"{cluster}-apps-{app}")
        attributes = env_values(deployment["spec"]["template"]["spec"]["containers"][0]["env"])[
            "OTEL_RESOURCE_ATTRIBUTES"
        ]
        assert f"k8s.cluster.name={cluster}-{env}," in attributes
        assert f"k8s.deployment.name={app}," in attributes


@pytest.mark.parametrize(
    ("env", "app_annotations", "collector_annotations"),
    [
        # App Mesh's injector denies a pod of an injected namespace that no virtual node selects, and
        # the apps' Envoy (egress filter DROP_ALL) drops calls to the collector, which is no mesh
        # destination: the collector opts out of injection, the apps leave its port to the kernel.
        (
            "appmesh",
            {"appmesh.k8s.aws/egressIgnoredPorts": "22,4318"},
            {"appmesh.k8s.aws/sidecarInjectorWebhook": "disabled"},
        ),
        ("dev", None, {}),  # Lattice injects nothing
    ],
)
def test_with_tracing_the_mesh_lets_the_apps_reach_a_collector_it_does_not_hold(
    env: str, app_annotations: dict[str, str] | None, collector_annotations: dict[str, str]
) -> None:
    recording = record_document(variant(env, lambda c: c["crossmesh:mesh"].update(tracing="x-ray")), env)
    for cluster, apps in (("eksc1", ["front"]), ("eksc2", ["colorapp-blue", "colorapp-red"])):
        template = inputs(recording, DEPLOYMENT, f"{cluster}-trace-collector-deployment")["spec"]["template"]
        annotations = dict(template["metadata"]["annotations"])
        assert annotations.pop("crossmesh/config-hash")
        assert annotations == collector_annotations
        for app in apps:
            metadata = inputs(recording, DEPLOYMENT, f"{cluster}-apps-{app}")["spec"]["template"]["metadata"]
            assert metadata.get("annotations") == app_annotations


def test_without_tracing_app_mesh_apps_keep_the_injectors_default_egress() -> None:
    recording = record_document(stack_document("appmesh"), "appmesh")
    front = inputs(recording, DEPLOYMENT, "eksc1-apps-front")
    assert "annotations" not in front["spec"]["template"]["metadata"]


def test_no_collector_and_no_export_without_tracing() -> None:
    recording = record_document(variant("dev", lambda c: c["crossmesh:mesh"].update(tracing="none")), "dev")
    assert not [r for r in recording.resources if "trace-collector" in r.name]
    front = inputs(recording, DEPLOYMENT, "eksc1-apps-front")
    env_vars = {e["name"] for e in front["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env_vars


def test_collector_config_receives_otlp_http_and_exports_to_xray() -> None:
    config = yaml.safe_load(collector.config_map("appmesh-demo", "us-east-1")["data"]["config.yaml"])
    assert config["receivers"] == {"otlp": {"protocols": {"http": {"endpoint": "0.0.0.0:4318"}}}}
    assert config["exporters"] == {"awsxray": {"region": "us-east-1"}}
    assert config["service"]["pipelines"]["traces"] == {
        "receivers": ["otlp"],
        "processors": ["memory_limiter", "batch"],
        "exporters": ["awsxray"],
    }


def test_collector_objects_validate_strictly() -> None:
    objects = [
        collector.config_map("appmesh-demo", "us-east-1"),
        collector.service_account("appmesh-demo", "arn:aws:iam::123456789012:role/r"),
        collector.deployment("appmesh-demo", "us-east-1"),
        collector.service("appmesh-demo"),
        *collector.network_policies("appmesh-demo"),
    ]
    problems, _ = validate_objects(
        [("eksc1", o) for o in objects], kubernetes_version="1.34", crds=CrdSchemas({}, {})
    )
    assert problems == []
