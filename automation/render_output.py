"""Writing a render to disk: ``resources.json``, ``manifests/<cluster>.yaml`` and ``report.md``.

Kept apart from :mod:`automation.render` so that rendering is a pure step that returns a result (tests
and the deploy preflight use it without touching the disk) and the report can read the render's types
without the two importing each other.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from automation.render import RenderResult
from automation.report import REPORT_HEADING, report_markdown

# libyaml's emitter when PyYAML has it (it ships in the wheels): a third of the pure-Python one's time.
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def default_out_dir(project_dir: Path, env: str) -> Path:
    return project_dir / "build" / "render" / env


ARTEFACTS = frozenset({"resources.json", "manifests", "report.md"})
"""What a render writes at the top of its folder."""
MARKER = ".crossmesh-render.json"
"""Written last into every render: the files the render wrote. A folder holding exactly those (or
fewer) is one the next render may replace; anything else in it is someone else's."""


class OutDirError(ValueError):
    """``--out`` names a folder a render must not replace, or one it cannot write."""


def out_dir_problem(out_dir: Path) -> str | None:
    """Why a render must not write to ``out_dir`` (None when it may).

    A render replaces its folder as a whole, so the folder must be new, empty or an earlier render's:
    ``--out .`` or ``--out ~`` must never delete what else is there. A path the system refuses to
    look at (a name too long, a loop of links, no permission) is a reason too, not an exception.
    """
    try:
        return _problem(out_dir)
    except OSError as exc:
        return f"{out_dir} cannot be used: {exc.strerror or exc}"


def _problem(out_dir: Path) -> str | None:
    if out_dir.is_symlink() and out_dir.is_dir():
        # Replacing it would replace the link and leave the folder it leads to as it was.
        return f"{out_dir} is a link; give the folder itself ({out_dir.resolve()}) or a new one"
    if os.path.lexists(out_dir) and not out_dir.is_dir():  # lexists: a dangling link is there too
        return f"{out_dir} exists and is not a folder"
    if out_dir.is_dir():
        extra = _not_rendered(out_dir)
        if extra:
            shown = ", ".join(extra[:3]) + (", ..." if len(extra) > 3 else "")
            return (
                f"{out_dir} holds files a render did not write ({shown}); a render replaces its folder "
                "whole, so give a new or empty folder, or an earlier render's"
            )
    parent = out_dir.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        what = (
            "a file"
            if parent.is_file()
            else "a link that leads nowhere"
            if parent.is_symlink()
            else "no folder"
        )
        return f"{parent} is {what}, not a folder, so {out_dir} cannot be made inside it"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{parent} is not writable"
    return None


def _entries(folder: Path) -> list[str]:
    """Every file and folder under ``folder``, as paths relative to it (links are not followed)."""
    found: list[str] = []
    for root, dirs, files in os.walk(folder):
        base = Path(root).relative_to(folder)
        found.extend(str(base / name) for name in [*dirs, *files])
    return sorted(found)


def _not_rendered(out_dir: Path) -> list[str]:
    """What in ``out_dir`` an earlier render did not write (by its marker, or for a render from before
    the marker by the render's own shape); empty for an empty folder or an earlier render's."""
    entries = _entries(out_dir)
    marker = out_dir / MARKER
    if marker.is_file() and not marker.is_symlink():
        allowed: set[str] = set()
        try:
            written: list[object] = json.loads(marker.read_text(encoding="utf-8"))["files"]
            allowed = {str(name) for name in written} | {"manifests", MARKER}
        except (ValueError, KeyError, TypeError):
            pass  # not a marker a render wrote: nothing in the folder counts as rendered
        return [e for e in entries if e not in allowed]
    extra = [e for e in entries if e.split("/", 1)[0] not in ARTEFACTS]
    if extra or not entries:
        return extra
    # No marker: an earlier version's render is its report, and YAML files in manifests/, nothing else.
    report = out_dir / "report.md"
    looks_rendered = report.is_file() and _starts_with(report, REPORT_HEADING)
    return [
        e
        for e in entries
        if not looks_rendered
        or (e.startswith("manifests/") and not (e.endswith(".yaml") and (out_dir / e).is_file()))
        or "/" in e.removeprefix("manifests/")
    ]


def _starts_with(path: Path, text: str) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(text.encode())) == text.encode()


def canonical(document: dict[str, Any]) -> dict[str, Any]:
    """The recording with its resources by URN and each one's dependencies sorted: the program registers
    from several threads, so the order of registration differs from run to run, and two renders of the
    same configuration must be the same file for a diff to show what changed."""
    resources: list[dict[str, Any]] = [
        {**r, "dependencies": sorted(r.get("dependencies", []))} for r in document.get("resources", [])
    ]
    return {**document, "resources": sorted(resources, key=lambda r: str(r.get("urn", "")))}


def write_render(result: RenderResult, out_dir: Path) -> Path:
    """Replace ``out_dir`` with the render's artefacts; returns ``out_dir``.

    Written into a fresh folder beside it and moved into place when complete, so a failure (a full
    disk, Ctrl-C) leaves the earlier render or nothing, never half of each.
    """
    problem = out_dir_problem(out_dir)
    if problem:
        raise OutDirError(problem)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        (staging / "manifests").mkdir()
        (staging / "resources.json").write_text(
            json.dumps(canonical(result.recording.to_json()), indent=2, sort_keys=True, default=str) + "\n",
            encoding="utf-8",
        )
        for cluster, objects in result.manifests.items():
            text = yaml.dump_all(
                objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False, explicit_start=True
            )
            (staging / "manifests" / f"{cluster}.yaml").write_text(text, encoding="utf-8")
        (staging / "report.md").write_text(report_markdown(result), encoding="utf-8")
        (staging / MARKER).write_text(
            json.dumps({"files": [e for e in _entries(staging) if e != "manifests"]}, indent=1) + "\n",
            encoding="utf-8",
        )
        staging.chmod(0o755)  # mkdtemp makes it private; the render is meant to be read
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            out_dir.rename(old)
            staging.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir
