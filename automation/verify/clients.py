"""Client factories, kept apart from the checks so tests can inject moto-backed or fake clients."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import boto3
import yaml
from botocore.config import Config
from kubernetes import config as kube_config
from kubernetes.client import CoreV1Api


@dataclass(frozen=True)
class AwsClients:
    """The two boto3 clients verification uses (typed ``Any``: boto3 ships no types)."""

    appmesh: Any
    servicediscovery: Any
    lattice: Any = None
    """The vpc-lattice client, for the lattice backend."""
    route53: Any = None
    """The route53 client: the lattice backend's CNAME in the private hosted zone."""


def make_aws_clients(
    region: str,
    *,
    endpoint_url: str | None = None,
    session: boto3.Session | None = None,
) -> AwsClients:
    """Build App Mesh and Cloud Map clients for ``region``.

    ``endpoint_url`` points both at a single emulator (moto server). Cloud Map's DiscoverInstances
    normally goes to the ``data-servicediscovery`` host; botocore adds that ``data-`` host prefix,
    which an emulator on 127.0.0.1 cannot serve, so the prefix is turned off when an endpoint is given.
    Retries use botocore's "standard" mode with a few attempts; the deadline polling above it
    handles longer waits.
    """
    session = session or boto3.Session(region_name=region)
    config = Config(
        region_name=region,
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=15,
        user_agent_extra="crossmesh-verify",
        inject_host_prefix=endpoint_url is None,
    )
    return AwsClients(
        appmesh=session.client("appmesh", config=config, endpoint_url=endpoint_url),
        servicediscovery=session.client("servicediscovery", config=config, endpoint_url=endpoint_url),
        lattice=session.client("vpc-lattice", config=config, endpoint_url=endpoint_url),
        route53=session.client("route53", config=config, endpoint_url=endpoint_url),
    )


def parse_kubeconfig(text: str) -> dict[str, Any]:
    """A kubeconfig given as JSON (Pulumi EKS output) or YAML (``aws eks update-kubeconfig``)."""
    try:
        loaded: object = json.loads(text)
    except ValueError:
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"kubeconfig is neither JSON nor YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ValueError("kubeconfig must be a JSON or YAML mapping")
    return cast("dict[str, Any]", loaded)


def make_kube_client(kubeconfig: str | Mapping[str, Any]) -> CoreV1Api:
    """A CoreV1Api for exactly this kubeconfig; the ambient ~/.kube/config is never read.

    ``persist_config=False`` because there is no file to write refreshed credentials back to.
    """
    config = parse_kubeconfig(kubeconfig) if isinstance(kubeconfig, str) else dict(kubeconfig)
    api_client = kube_config.new_client_from_config_dict(config_dict=config, persist_config=False)
    return CoreV1Api(api_client)


def make_kube_clients(kubeconfigs: Mapping[str, str]) -> dict[str, CoreV1Api]:
    """cluster name -> CoreV1Api, one per kubeconfig."""
    return {cluster: make_kube_client(text) for cluster, text in kubeconfigs.items()}
