"""The README shows what the program builds, as the program draws it."""

from __future__ import annotations

import re

from automation.environment import load_environment
from automation.report import mermaid
from tests.support import PROJECT_DIR


def test_the_readme_diagram_is_the_one_the_dev_render_draws() -> None:
    text = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"```mermaid\n(.*?)```", text, re.DOTALL)
    assert shown is not None, "README.md has no Mermaid diagram"
    config, _ = load_environment(PROJECT_DIR, "dev")
    assert shown.group(1).rstrip("\n") == mermaid(config).rstrip("\n")
