"""AppImages: an ECR repository per app, and the images built from workloads/runtime and pushed there.

Deployments reference images by digest, never by tag. Tags are immutable in ECR and derived from the
content of the files the image is built from, so the same source always gets the same tag and a
change always gets a new one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from infra.config import StackConfig, architecture_of
from infra.naming import TYPE_PREFIX, child
from infra.topology import AppKind, Topology

KEEP_IMAGES = 30


DOCKERFILE = "workloads/Dockerfile"
"""The one Dockerfile of both apps, relative to the build context (the repository root)."""


def build_args(app: AppKind) -> dict[str, str]:
    """The Dockerfile's build arguments for one app: which app's code goes in and runs."""
    return {"APP": app.value}


def build_files(repo_root: Path, app: AppKind) -> list[Path]:
    """The files an app image is made of (what the Dockerfile copies for this app), sorted."""
    runtime = repo_root / "workloads" / "runtime"
    files = [
        repo_root / DOCKERFILE,
        repo_root / "workloads" / "__init__.py",
        runtime / "__init__.py",
        runtime / "__main__.py",
        runtime / "requirements.txt",
        *sorted((runtime / "common").glob("*.py")),
        *sorted((runtime / app.value).glob("*.py")),
    ]
    return sorted(files)


def source_tag(repo_root: Path, app: AppKind) -> str:
    """A tag that changes exactly when the image's inputs change: sha256 of paths and contents."""
    digest = hashlib.sha256()
    for path in build_files(repo_root, app):
        digest.update(path.relative_to(repo_root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return f"src-{digest.hexdigest()[:16]}"


def image_platforms(config: StackConfig, topology: Topology) -> dict[AppKind, list[str]]:
    """The platforms each app image must be built for: those of the nodes of every cluster running it."""
    platforms: dict[AppKind, list[str]] = {}
    for app in topology.apps:
        arch = architecture_of(config.cluster(app.cluster).nodes.instance_types[0])
        platform = "linux/arm64" if arch == "arm64" else "linux/amd64"
        found = platforms.setdefault(app.kind, [])
        if platform not in found:
            found.append(platform)
    return {kind: sorted(found) for kind, found in platforms.items()}


def lifecycle_policy(keep: int = KEEP_IMAGES) -> dict[str, Any]:
    """Keep the newest ``keep`` images; older ones can no longer be running after that many deploys."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"keep the newest {keep} images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
                "action": {"type": "expire"},
            }
        ]
    }


@dataclass(frozen=True)
class AppImagesArgs:
    stack: str
    repo_root: Path
    """Where workloads/ is; the Docker build context is this folder (as ``.``)."""
    build: bool = True
    refs: Mapping[AppKind, str | None] = field(default_factory=dict[AppKind, str | None])
    """Digest-pinned images to use as they are when ``build`` is false."""
    platforms: Mapping[AppKind, Sequence[str]] = field(default_factory=dict[AppKind, Sequence[str]])
    """Platforms per app (from the architecture of the nodes it runs on); default linux/amd64."""
    tags: Mapping[str, str] = field(default_factory=dict[str, str])


class AppImages(pulumi.ComponentResource):
    refs: dict[AppKind, pulumi.Output[str]]
    """Image of each app, ``<repository>@sha256:<digest>``."""

    def __init__(self, name: str, args: AppImagesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:AppImages", name, None, opts)
        self.refs = {}
        for app in AppKind:
            given = args.refs.get(app)
            if not args.build:
                if given is None:
                    raise ValueError(f"no image given for {app.value} and building is off")
                self.refs[app] = pulumi.Output.from_input(given)
                continue
            self.refs[app] = self._build(name, app, args)
        self.register_outputs({app.value: ref for app, ref in self.refs.items()})

    def _build(self, name: str, app: AppKind, args: AppImagesArgs) -> pulumi.Output[str]:
        here = pulumi.ResourceOptions(parent=self)
        repository = aws.ecr.Repository(
            child(name, app.value),
            name=f"crossmesh-{args.stack}/{app.value}",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")],
            tags=dict(args.tags),
            opts=here,
        )
        aws.ecr.LifecyclePolicy(
            child(name, app.value),
            repository=repository.name,
            policy=json.dumps(lifecycle_policy()),
            opts=here,
        )
        token = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        tag = source_tag(args.repo_root, app)
        image = docker_build.Image(
            child(name, app.value),
            context=docker_build.BuildContextArgs(location="."),
            dockerfile=docker_build.DockerfileArgs(location=DOCKERFILE),
            build_args=build_args(app),
            platforms=[docker_build.Platform(p) for p in args.platforms.get(app, ("linux/amd64",))],
            tags=[pulumi.Output.concat(repository.repository_url, ":", tag)],
            labels={
                "org.opencontainers.image.title": app.value,
                "org.opencontainers.image.version": tag,
                "org.opencontainers.image.source": "crossmesh/workloads",
            },
            push=True,
            registries=[
                docker_build.RegistryArgs(
                    address=repository.repository_url,
                    username=token.user_name,
                    password=token.password,
                )
            ],
            opts=here,
        )
        return pulumi.Output.concat(repository.repository_url, "@", image.digest)
