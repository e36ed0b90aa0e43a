"""The shared models sit below everything that uses them, and the render path has no circle.

Read from the source (every import statement, at any depth, including those inside functions), so
a lazy import cannot hide an arrow back up.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import PROJECT_DIR


def _imports(relative: str) -> set[str]:
    tree = ast.parse((PROJECT_DIR / relative).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("module", ["infra/config.py", "infra/config_parse.py", "infra/topology.py"])
def test_models_import_no_room_above_them(module: str) -> None:
    above = sorted(m for m in _imports(module) if m.split(".")[0] in {"workloads", "automation", "policy"})
    assert above == [], f"{module} imports {above}"


def test_the_model_does_not_parse_and_the_parser_does_not_define_the_model() -> None:
    assert "infra.config_parse" not in _imports("infra/config.py")
    assert "infra.config" in _imports("infra/config_parse.py")


def test_render_and_report_do_not_import_each_other() -> None:
    assert "automation.report" not in _imports("automation/render.py")
    # the report reads the render's result; writing both to disk is a third module
    assert "automation.render" not in _imports("automation/environment.py")
    assert {"automation.render", "automation.report"} <= _imports("automation/render_output.py")


def test_topology_moved_below_workloads() -> None:
    assert not (PROJECT_DIR / "workloads" / "topology.py").exists()
    users = [
        str(p.relative_to(PROJECT_DIR))
        for p in PROJECT_DIR.rglob("*.py")
        if ".venv" not in p.parts and "build" not in p.parts and "workloads.topology" in _imports_of(p)
    ]
    assert users == []


def _imports_of(path: Path) -> set[str]:
    return _imports(str(path.relative_to(PROJECT_DIR)))


# The rooms from the ground up; a room may import its own and any room below it, never one above.
ROOM_FLOORS = {"infra": 1, "policy": 1, "workloads": 2, "automation": 3}


@pytest.mark.parametrize("room", ["infra", "policy", "workloads"])
def test_no_module_of_a_lower_room_imports_a_higher_one(room: str) -> None:
    up: list[str] = []
    for path in sorted((PROJECT_DIR / room).rglob("*.py")):
        relative = str(path.relative_to(PROJECT_DIR))
        for module in _imports(relative):
            target = ROOM_FLOORS.get(module.split(".")[0])
            if target is not None and target > ROOM_FLOORS[room]:
                up.append(f"{relative} -> {module}")
    assert up == []


def test_the_verify_model_does_not_import_the_backends_that_use_it() -> None:
    # backends/__init__ names the model's types; the model choosing backends closed a circle.
    assert not {
        m for m in _imports("automation/verify/model.py") if m.startswith("automation.verify.backends")
    }
    assert "automation.validate" not in _imports("automation/crds.py")
