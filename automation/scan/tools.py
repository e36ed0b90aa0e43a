"""Where the scanners live and how they are run: their own virtualenv, offline, no account.

checkov pins dozens of libraries (an older boto3 and botocore among them) that would downgrade the
project's own, so the scanners get a virtualenv of their own, ``build/.venv-scan``, which ``./run scan``
creates from ``security/requirements-scan.txt``. ``CROSSMESH_SCAN_BIN`` points elsewhere if needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess  # nosec B404 - runs the two scanners, by absolute path, with fixed arguments
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.paths import PROJECT_DIR

SCAN_VENV = PROJECT_DIR / "build" / ".venv-scan"
BIN_ENV = "CROSSMESH_SCAN_BIN"
TIMEOUT_SECONDS = 600

# checkov without the Prisma Cloud platform: no API key, no policy download, no guideline mapping
# fetch (BC_SKIP_MAPPING), so a scan needs no network at all.
OFFLINE_ENV = {"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
_PLATFORM_ENV = ("BC_API_KEY", "PRISMA_API_URL", "BC_REPO_ID")


class ScanError(Exception):
    """A scanner is missing, crashed, or printed something that is not its report."""


def find_tool(name: str) -> Path | None:
    """``name``'s executable: in ``$CROSSMESH_SCAN_BIN``, the scan virtualenv, or on PATH."""
    explicit = os.environ.get(BIN_ENV)
    candidates = [Path(explicit) / name] if explicit else []
    candidates.append(SCAN_VENV / "bin" / name)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            # Absolute, not resolved: a virtualenv's scripts must keep their own path.
            return candidate.absolute()
    found = shutil.which(name)
    return Path(found).absolute() if found else None


def require_tool(name: str) -> Path:
    found = find_tool(name)
    if found is None:
        raise ScanError(
            f"{name} is not installed: run `./run scan` (it creates {SCAN_VENV.relative_to(PROJECT_DIR)} "
            f"with security/requirements-scan.txt), or set {BIN_ENV} to a folder holding {name}"
        )
    return found


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


def run(argv: Sequence[str], *, cwd: Path, offline: bool = True) -> Completed:
    env = {k: v for k, v in os.environ.items() if k not in _PLATFORM_ENV}
    if offline:
        env.update(OFFLINE_ENV)
    try:
        # argv is built by the callers from fixed flags and paths of this project, never a shell.
        done = subprocess.run(  # noqa: S603  # nosec B603 - fixed flags and our own paths
            list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ScanError(f"{Path(argv[0]).name} did not finish within {TIMEOUT_SECONDS}s") from exc
    except OSError as exc:
        raise ScanError(f"cannot run {argv[0]}: {exc}") from exc
    return Completed(done.returncode, done.stdout, done.stderr)
