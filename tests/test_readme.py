"""The README shows what the program builds, as the program draws it."""

from __future__ import annotations

import re
import subprocess

import pytest

from automation.environment import load_environment
from automation.report import mermaid
from tests.support import PROJECT_DIR


def test_the_readme_diagram_is_the_one_the_dev_render_draws() -> None:
    text = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"```mermaid\n(.*?)```", text, re.DOTALL)
    assert shown is not None, "README.md has no Mermaid diagram"
    config, _ = load_environment(PROJECT_DIR, "dev")
    assert shown.group(1).rstrip("\n") == mermaid(config).rstrip("\n")


def _layout_table() -> str:
    text = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    return text[text.index("## Repository layout") :].split("\n\n", 2)[1]


def test_the_layout_table_names_every_folder_of_the_repository() -> None:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False, timeout=30
    )
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.strip()}")
    folders = {line.split("/", 1)[0] for line in listed.stdout.splitlines() if "/" in line}
    assert {"automation", "docs", ".github"} <= folders, "the listing is broken"
    table = _layout_table()
    assert sorted(name for name in folders if f"`{name}/" not in table) == []


def test_the_layout_table_links_every_page_of_docs() -> None:
    table = _layout_table()
    pages = sorted(p.name for p in (PROJECT_DIR / "docs").glob("*.md"))
    assert [name for name in pages if f"(docs/{name})" not in table] == []
