"""A fresh clone: what `pulumi install` / `pulumi up` install must be enough to run the program, and
the program's runtime dependencies must not carry test tools or the apps' server stack."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import yaml

from tests.support import PROJECT_DIR

OWN = {"infra", "workloads", "automation", "policy", "crossmesh_policy"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def _pyproject() -> dict[str, object]:
    return tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))


def _base() -> set[str]:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    return {_name(r) for r in project["dependencies"]}


def _module_file(dotted: str, root: Path) -> Path | None:
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def third_party_imports(entry: Path, root: Path) -> dict[str, str]:
    """Top-level third-party modules reachable from ``entry`` through the project's own modules,
    each with the first file that imports it."""
    found: dict[str, str] = {}
    seen: set[Path] = set()
    frontier = [entry]
    while frontier:
        path = frontier.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                top = name.split(".")[0]
                if top in OWN:
                    module = _module_file(name, root)
                    if module is not None:
                        frontier.append(module)
                elif top not in sys.stdlib_module_names and top != "__future__":
                    found.setdefault(top, str(path.relative_to(root)))
    return found


def test_pulumi_installs_the_project_into_the_virtualenv_it_runs() -> None:
    runtime = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text(encoding="utf-8"))["runtime"]
    assert runtime["name"] == "python"
    assert runtime["options"] == {"virtualenv": ".venv", "toolchain": "pip"}
    lines = [
        line.strip()
        for line in (PROJECT_DIR / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["-e ."]  # the project, with exactly its base dependencies


def test_the_base_install_covers_everything_the_program_imports() -> None:
    imported = third_party_imports(PROJECT_DIR / "__main__.py", PROJECT_DIR)
    assert {"pulumi", "pulumi_aws", "pulumi_eks", "pulumi_kubernetes", "pydantic"} <= set(imported)
    distributions = importlib.metadata.packages_distributions()
    base = _base()
    missing = {
        module: (where, distributions.get(module))
        for module, where in imported.items()
        if not {_name(d) for d in distributions.get(module, [module])} & base
    }
    assert missing == {}, "imported by the program but not a base dependency in pyproject.toml"


def test_the_policy_pack_installs_what_it_imports_into_its_own_virtualenv() -> None:
    pack = yaml.safe_load((PROJECT_DIR / "policy" / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert pack["runtime"]["options"] == {"virtualenv": "venv", "toolchain": "pip"}
    wanted = {
        _name(line)
        for line in (PROJECT_DIR / "policy" / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    imported = third_party_imports(PROJECT_DIR / "policy" / "__main__.py", PROJECT_DIR / "policy")
    distributions = importlib.metadata.packages_distributions()
    for module, where in imported.items():
        assert {_name(d) for d in distributions.get(module, [module])} & wanted, (module, where)


def test_test_tools_and_the_apps_server_stack_are_not_runtime_dependencies() -> None:
    base = _base()
    extras = _pyproject()["project"]["optional-dependencies"]  # type: ignore[index]  # tomllib's dict
    assert not base & {"httpx", "pytest", "moto", "ruff", "pyright", "pulumi-policy"}
    assert not base & {"granian", "uvicorn", "uvloop", "starlette", "aiohttp", "httptools"}
    assert "httpx" in {_name(r) for r in extras["dev"]}
    assert {"granian", "starlette", "aiohttp"} <= {_name(r) for r in extras["apps"]}
