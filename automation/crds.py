"""The CRD schemas a render validates custom resources against, on any machine.

Where they come from, first match wins:

1. ``render --crds DIR``: every ``*.yaml`` in DIR (offline use; a copy of the files below);
2. ``$CROSSMESH_REFERENCE_DIR``, or ``../shared/reference`` beside the project (CI and development);
3. the user cache (``$CROSSMESH_CACHE_DIR``, else ``$XDG_CACHE_HOME/crossmesh``, else
   ``~/.cache/crossmesh``), filled once from the upstream releases below, each file pinned by its
   release commit and sha256 and checked after download.

When none of these yields every pinned file, the render says which custom resources it could not
validate (summary, JSON and report) and ``render --strict`` fails.

The pins: each file is the upstream file at the commit of its release tag, byte for byte. The
sha256 values were computed from those upstream files and compared with the reference copies the
project's CI uses (the reference copies of the Gateway API and Lattice CRDs are those files joined,
each under a ``# source:`` line; the App Mesh file is the chart's ``crds.yaml`` unchanged).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = "CROSSMESH_CACHE_DIR"
BASE_URL_ENV = "CROSSMESH_CRD_BASE_URL"
DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
FETCH_TIMEOUT_SECONDS = 20.0
MAX_CRD_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class PinnedCrd:
    release: str
    """The upstream release the file belongs to."""
    repo: str
    commit: str
    """The commit of the release tag."""
    path: str
    sha256: str

    def url(self, base_url: str = DEFAULT_BASE_URL) -> str:
        return f"{base_url.rstrip('/')}/{self.repo}/{self.commit}/{self.path}"

    @property
    def cache_name(self) -> str:
        return f"{self.sha256}-{self.path.rsplit('/', 1)[-1]}"


_APPMESH = ("App Mesh controller chart 1.13.3 (eks-charts)", "aws/eks-charts")
_APPMESH_COMMIT = "f8c200d795220a5b1a7b0593bc8dc076095406fa"
_GATEWAY = ("Gateway API v1.5.0 (standard channel)", "kubernetes-sigs/gateway-api")
_GATEWAY_COMMIT = "3797b631d20f9ff4e2b4571f62d91d84a1fbdf5a"
_LATTICE = ("AWS Gateway API controller chart v2.1.3", "aws/aws-application-networking-k8s")
_LATTICE_COMMIT = "03d6abecad555845b9a78988f7bfedf9085e0bc4"

PINNED: tuple[PinnedCrd, ...] = (
    PinnedCrd(
        *_APPMESH,
        _APPMESH_COMMIT,
        "stable/appmesh-controller/crds/crds.yaml",
        "bcb167262656ac1b16a25d854350521597a4f53ec89503c93a95413745b9da39",
    ),
    *(
        PinnedCrd(
            *_GATEWAY, _GATEWAY_COMMIT, f"config/crd/standard/gateway.networking.k8s.io_{name}.yaml", sha
        )
        for name, sha in (
            ("gatewayclasses", "7b84226d27349bf2a15101242197aa7071962d4721714c1c7aabba57c57f81d1"),
            ("gateways", "2377a440b259c47d0fe5c052b5cc0fb7d2a497718392b1043a985b4bdb5a3d9f"),
            ("httproutes", "b53571cb0ebec76f61e42ef634f10dd53988982ecbc23f137f61ae560978fb60"),
            ("grpcroutes", "62c22830b25e30ef5fd725f95d04d1f38e037a947d557115df83fa41dac20a79"),
            ("referencegrants", "b777920af820b1a61e0cf9f141f14c09f61338d848abfed177ade3629481c4fe"),
        )
    ),
    *(
        PinnedCrd(*_LATTICE, _LATTICE_COMMIT, f"helm/crds/application-networking.k8s.aws_{name}.yaml", sha)
        for name, sha in (
            ("serviceexports", "219d1c29057eeeafd4321be4e347d8daf678db81101aefa75dedf3591f46bbd2"),
            ("serviceimports", "88245297e2d1a425896b98d9051904deae3cafbcaf40d129cbc8b9869884779b"),
            ("targetgrouppolicies", "bf8d9a779758a559596ef783351e398098d4af2a158f095692c1fc5ddfc6efc6"),
            ("iamauthpolicies", "cbd2ae363c101b7de222f9624151356e4cda33ee813b85abd02dfa33bfc5efbc"),
            ("accesslogpolicies", "1b5475cd2311fa01669544b4d527677b8290f366ecbf5a3992998dd6a2661bf1"),
            ("vpcassociationpolicies", "fa8856c889bc10a59ac9c9f4f568b3ea6acb7837ec759cb3b50ff04db123f0f0"),
            ("servicenetworks", "89d3247af0403163f11b7ce23052bda9a922d3adddd90bf1643a5c3436dabeff"),
        )
    ),
)


class CrdFetchError(Exception):
    """A pinned CRD file could not be fetched or did not match its pin."""


@dataclass(frozen=True)
class CrdFiles:
    """The CRD files to load, where they came from, and why some may be missing."""

    paths: tuple[Path, ...]
    source: str
    """Shown in the report: ``--crds DIR``, the reference folder, or the user cache."""
    problem: str | None = None
    """Why no CRD files could be used (the render then validates no custom resource)."""


REFERENCE_ENV = "CROSSMESH_REFERENCE_DIR"


def default_reference_dir(project_dir: Path) -> Path | None:
    """Where the CRD schemas are: ``$CROSSMESH_REFERENCE_DIR``, else ``../shared/reference``, else None."""
    explicit = os.environ.get(REFERENCE_ENV)
    if explicit:
        return Path(explicit)
    candidate = project_dir.parent / "shared" / "reference"
    return candidate if candidate.is_dir() else None


def user_cache_dir() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "crossmesh"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download(url: str, timeout: float) -> bytes:
    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise CrdFetchError(f"{url}: only https (or a local mirror on 127.0.0.1) is allowed")
    request = urllib.request.Request(url, headers={"User-Agent": "crossmesh-render"})  # noqa: S310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            data: bytes = response.read(MAX_CRD_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise CrdFetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CrdFetchError(f"{url}: {getattr(exc, 'reason', exc)}") from None
    if len(data) > MAX_CRD_BYTES:
        raise CrdFetchError(f"{url}: larger than {MAX_CRD_BYTES} bytes")
    return data


def fetch_pinned(
    cache_dir: Path,
    *,
    base_url: str | None = None,
    pinned: Sequence[PinnedCrd] = PINNED,
    timeout: float = FETCH_TIMEOUT_SECONDS,
) -> tuple[Path, ...]:
    """Every pinned file in ``cache_dir/crds``, downloading those not there yet (once per machine).

    Raises :class:`CrdFetchError` naming the file and the reason when one cannot be had; a file whose
    bytes do not match its pin is never kept.
    """
    base = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    folder = cache_dir / "crds"
    paths: list[Path] = []
    for crd in pinned:
        target = folder / crd.cache_name
        if target.is_file() and _sha256(target.read_bytes()) == crd.sha256:
            paths.append(target)
            continue
        url = crd.url(base)
        data = _download(url, timeout)
        digest = _sha256(data)
        if digest != crd.sha256:
            raise CrdFetchError(f"{url}: sha256 {digest} does not match the pin {crd.sha256} ({crd.release})")
        folder.mkdir(parents=True, exist_ok=True)
        # Written under a temporary name and renamed, so parallel renders never read half a file.
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as handle:
            handle.write(data)
        Path(handle.name).replace(target)
        paths.append(target)
    return tuple(paths)


def locate_crd_files(project_dir: Path, explicit_dir: Path | None = None, *, fetch: bool = True) -> CrdFiles:
    """The CRD files a render of ``project_dir`` validates with (see the module's docstring)."""
    if explicit_dir is not None:
        paths = tuple(sorted(explicit_dir.glob("*.yaml")))
        problem = None if paths else f"no *.yaml files in {explicit_dir}"
        return CrdFiles(paths, f"--crds {explicit_dir}", problem)
    reference = default_reference_dir(project_dir)
    if reference is not None:
        if os.environ.get(REFERENCE_ENV) and not reference.is_dir():
            # Named on purpose: a typo must not pass as "no schemas found" and a weaker render.
            named = f"{REFERENCE_ENV}={reference}"
            return CrdFiles((), named, f"{named} is not a folder")
        return CrdFiles(tuple(sorted(reference.glob("*crds.yaml"))), f"reference folder {reference}")
    cache = user_cache_dir()
    if not fetch:
        return CrdFiles((), f"user cache {cache}", "fetching the pinned CRDs is turned off")
    try:
        return CrdFiles(fetch_pinned(cache), f"user cache {cache / 'crds'}")
    except (CrdFetchError, OSError) as exc:
        return CrdFiles((), f"user cache {cache}", f"could not fetch the pinned CRDs ({exc})")
