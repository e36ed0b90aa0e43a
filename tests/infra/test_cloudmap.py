"""CloudMapNamespace: a private DNS namespace on the shared VPC, before any controller registers in it."""

from __future__ import annotations

from tests.support import inputs, record_env


def test_private_dns_namespace_on_the_shared_vpc() -> None:
    namespace = inputs(
        record_env("appmesh"),
        "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace",
        "discovery-namespace",
    )
    assert namespace["name"] == "appmesh-demo.pvt.aws.local"
    assert namespace["vpc"] == "<network-vpc.id>"


def test_staging_uses_its_own_namespace() -> None:
    namespace = inputs(
        record_env("staging"),
        "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace",
        "discovery-namespace",
    )
    assert namespace["name"] == "appmesh-staging.pvt.aws.local"


def test_controllers_wait_for_the_namespace() -> None:
    recording = record_env("appmesh")
    namespace = recording.named(
        "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace", "discovery-namespace"
    )
    for key in ("eksc1", "eksc2"):
        release = recording.named("kubernetes:helm.sh/v3:Release", f"{key}-mesh-controller-release")
        assert recording.depends_on(release, namespace)
