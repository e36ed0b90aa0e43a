"""workloads/ has two rooms: runtime (the code in the containers) and deploy (the Pulumi components).

The image carries only runtime, so runtime may import nothing from deploy, infra, automation, policy
or Pulumi; and deploy builds the pods' objects without importing the apps' code, so neither room
depends on the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WORKLOADS = Path(__file__).resolve().parents[2] / "workloads"
DEPLOY_TIME = ("workloads.deploy", "infra", "automation", "policy", "pulumi")


def imports(source: str, path: Path) -> set[str]:
    """Absolute module names ``source`` (as the file at ``path``) imports; relative ones resolved."""
    package = path.relative_to(WORKLOADS.parent).with_suffix("").parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            found.add(".".join([*base, *([node.module] if node.module else [])]))
    return found


def _within(module: str, roots: tuple[str, ...]) -> bool:
    return any(module == root or module.startswith(root + ".") for root in roots)


def _files(room: str) -> list[Path]:
    return sorted((WORKLOADS / room).rglob("*.py"))


def _id(path: Path) -> str:
    return path.relative_to(WORKLOADS).as_posix()


def test_both_rooms_exist() -> None:
    assert _files("runtime")
    assert _files("deploy")


@pytest.mark.parametrize("path", _files("runtime"), ids=_id)
def test_runtime_imports_nothing_deploy_time(path: Path) -> None:
    found = imports(path.read_text(), path)
    bad = sorted(m for m in found if _within(m, DEPLOY_TIME))
    assert not bad, f"{_id(path)} imports {bad}; the image does not carry them"
    assert all(_within(m, ("workloads.runtime",)) for m in found if _within(m, ("workloads",))), found


@pytest.mark.parametrize("path", _files("deploy"), ids=_id)
def test_deploy_imports_nothing_from_runtime(path: Path) -> None:
    bad = sorted(m for m in imports(path.read_text(), path) if _within(m, ("workloads.runtime",)))
    assert not bad, f"{_id(path)} imports {bad} from the runtime room"


@pytest.mark.parametrize(
    "source",
    ["from workloads.deploy import manifests\n", "from ...deploy import images\n", "import pulumi\n"],
)
def test_the_check_sees_a_forbidden_import(source: str) -> None:
    # Without this, the tests above could pass by seeing nothing.
    path = WORKLOADS / "runtime" / "common" / "example.py"
    assert any(_within(m, DEPLOY_TIME) for m in imports(source, path))
