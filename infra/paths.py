"""Where the project's files are, wherever the program runs from (pulumi up, the recorder, tests)."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
