"""No module outside a backend's own folder asks which mesh backend is configured.

Backend decisions live in ``infra/mesh/<kind>/`` (and the automation half in
``automation/verify/backends/<kind>.py``); everything else goes through the ``MeshBackend``
interface. This walks the source tree's syntax and fails on any comparison with a backend kind
(``MeshBackendKind.LATTICE``, ``== "lattice"``, ``backend is ...``, ``case "appmesh":``) or any
mention of a particular kind's enum member, outside those places.
"""

from __future__ import annotations

import ast
from pathlib import Path

from infra.config import MeshBackendKind
from tests.support import PROJECT_DIR

KINDS = {kind.value for kind in MeshBackendKind}
MEMBERS = {kind.name for kind in MeshBackendKind}
SOURCE_ROOTS = ("infra", "automation", "workloads", "policy", "bench")
SKIPPED_DIRS = {".venv", "build", "node_modules", "__pycache__"}


def backend_owned(path: Path) -> bool:
    """A backend's own files may decide by their own kind."""
    relative = path.relative_to(PROJECT_DIR).as_posix()
    return any(
        relative.startswith(f"infra/mesh/{kind}/") or relative == f"automation/verify/backends/{kind}.py"
        for kind in KINDS
    )


def sources() -> list[Path]:
    found = [PROJECT_DIR / "__main__.py"]
    for root in SOURCE_ROOTS:
        for path in sorted((PROJECT_DIR / root).rglob("*.py")):
            if not SKIPPED_DIRS.intersection(path.parts) and not backend_owned(path):
                found.append(path)
    return found


def _is_kind_member(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr in MEMBERS
        and isinstance(node.value, ast.Name)
        and node.value.id == "MeshBackendKind"
    )


def _is_kind_string(node: ast.AST) -> bool:
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_is_kind_string(element) for element in node.elts)
    return isinstance(node, ast.Constant) and node.value in KINDS


def _mentions_backend(node: ast.AST) -> bool:
    text = ast.unparse(node).lower()
    return "backend" in text or "kind" in text or "mesh" in text


def backend_decisions(source: str, *, defines_the_enum: bool = False) -> list[str]:
    """Every place in ``source`` that decides by backend kind, as ``line: code``."""
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    # The enum's own module may name a member as the field's default: that chooses, not compares.
    defaults = (
        {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.AnnAssign) and n.value is not None}
        | {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.keyword) and n.arg == "default"}
        if defines_the_enum
        else set[int]()
    )
    for node in ast.walk(tree):
        if _is_kind_member(node) and id(node) not in defaults:
            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_is_kind_string(o) for o in operands) and any(_mentions_backend(o) for o in operands):
                found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.match_case) and any(_is_kind_string(n) for n in ast.walk(node.pattern)):
            found.append((node.pattern.lineno, ast.unparse(node.pattern)))
    return [f"{line}: {code}" for line, code in sorted(found)]


def test_the_detector_catches_each_form_of_backend_comparison() -> None:
    snippet = "\n".join(
        [
            "if config.mesh.backend is MeshBackendKind.LATTICE: pass",
            'lattice = plan.backend == "lattice"',
            'if kind in ("appmesh", "other"): pass',
            'match config.mesh.backend:\n    case "appmesh":\n        pass',
            "TABLE = {MeshBackendKind.APPMESH: 1}",
        ]
    )
    assert len(backend_decisions(snippet)) == 5
    # ... and leaves alone what is not a decision by kind
    assert backend_decisions('color = "lattice-blue"\nif name == "front": pass') == []
    assert (
        backend_decisions("backend: MeshBackendKind = MeshBackendKind.LATTICE", defines_the_enum=True) == []
    )


def test_no_backend_comparison_outside_the_backend_folders() -> None:
    offenders: dict[str, list[str]] = {}
    checked = sources()
    assert len(checked) > 50  # the walk really covers the tree
    for path in checked:
        relative = path.relative_to(PROJECT_DIR).as_posix()
        found = backend_decisions(
            path.read_text(encoding="utf-8"), defines_the_enum=relative == "infra/config.py"
        )
        if found:
            offenders[relative] = found
    assert offenders == {}, "decide through infra/mesh/backend.py's MeshBackend instead"


def test_every_backend_kind_has_both_halves() -> None:
    # One enum value, one folder under infra/mesh/, one checks module under automation/verify/backends/.
    from automation.verify.backends import checks_for
    from infra.mesh import backend_class

    for kind in MeshBackendKind:
        assert (PROJECT_DIR / "infra" / "mesh" / kind.value / "backend.py").is_file()
        assert backend_class(kind.value).kind is kind
        assert checks_for(kind.value) is not None
