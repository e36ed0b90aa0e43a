"""Writing a render to disk: ``resources.json``, ``manifests/<cluster>.yaml`` and ``report.md``.

Kept apart from :mod:`automation.render` so that rendering is a pure step that returns a result (tests
and the deploy preflight use it without touching the disk) and the report can read the render's types
without the two importing each other.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from automation.render import RenderResult
from automation.report import report_markdown


def default_out_dir(project_dir: Path, env: str) -> Path:
    return project_dir / "build" / "render" / env


def write_render(result: RenderResult, out_dir: Path) -> Path:
    """Replace ``out_dir`` with the render's artefacts; returns ``out_dir``."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    (out_dir / "manifests").mkdir(parents=True)
    (out_dir / "resources.json").write_text(
        json.dumps(result.recording.to_json(), indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )
    for cluster, objects in result.manifests.items():
        text = yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False, explicit_start=True)
        (out_dir / "manifests" / f"{cluster}.yaml").write_text(text, encoding="utf-8")
    (out_dir / "report.md").write_text(report_markdown(result), encoding="utf-8")
    return out_dir
