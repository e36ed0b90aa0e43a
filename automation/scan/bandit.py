"""bandit over the project's Python.

Scanned: the program and its libraries (``__main__.py``, ``infra``, ``workloads``, ``automation``,
``policy``) and the benchmark scripts (``bench``). Not scanned: ``tests``, where ``assert`` is how pytest
works. Findings are accepted in two ways only: an entry in ``security/allowlist.yaml``, or a
``# nosec Bnnn - reason`` on the line; a bare ``# nosec`` (no test id, no reason) fails the scan.
"""

from __future__ import annotations

import json
import re
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.scan.allowlist import Finding
from automation.scan.tools import ScanError, require_tool, run
from infra.data import as_mapping, list_or_empty, mapping_or_empty

SCANNED = ("__main__.py", "infra", "workloads", "automation", "policy", "bench")
EXCLUDED = ("tests", "build", ".venv", "policy/venv")
_NOSEC = re.compile(r"^#.*?\bnosec\b(?P<rest>.*)$")
_REASONED = re.compile(r"^\s*(B\d{3})(\s*,\s*B\d{3})*\s+-\s+\S.{9,}")


@dataclass
class BanditResult:
    findings: list[Finding] = field(default_factory=list[Finding])
    files: int = 0
    lines: int = 0
    nosec: int = 0
    """Lines whose finding a ``# nosec Bnnn - reason`` comment accepted."""
    version: str = ""


def _flagged_line(result: dict[str, Any]) -> str:
    number = result.get("line_number")
    for line in str(result.get("code", "")).splitlines():
        head, _, rest = line.partition(" ")
        if head == str(number):
            return rest
    return ""


def parse_report(text: str, root: Path) -> BanditResult:
    try:
        document: Any = json.loads(text)
    except ValueError as exc:
        raise ScanError(f"bandit printed no JSON report: {text[:400]!r}") from exc
    report = mapping_or_empty(document)
    errors = list_or_empty(report.get("errors"))
    if errors:
        raise ScanError(f"bandit could not read files: {errors}")
    result = BanditResult()
    metrics = mapping_or_empty(report.get("metrics"))
    totals = mapping_or_empty(metrics.get("_totals"))
    result.files = sum(1 for name in metrics if name != "_totals")
    result.lines = int(totals.get("loc", 0))
    result.nosec = int(totals.get("nosec", 0)) + int(totals.get("skipped_tests", 0))
    for item in list_or_empty(report.get("results")):
        found = as_mapping(item)
        if found is None:
            continue
        path = Path(str(found.get("filename")))
        relative = path.relative_to(root) if path.is_absolute() else path
        result.findings.append(
            Finding(
                tool="bandit",
                check=str(found.get("test_id")),
                object=relative.as_posix(),
                title=(
                    f"{found.get('issue_text')} "
                    f"({found.get('issue_severity')}/{found.get('issue_confidence')})"
                ),
                location=f"{relative.as_posix()}:{found.get('line_number')}",
                line=_flagged_line(dict(found)),
            )
        )
    return result


def python_files(root: Path, targets: Sequence[str] = SCANNED) -> Iterator[Path]:
    for target in targets:
        path = root / target
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for file in files:
            relative = file.relative_to(root).as_posix()
            if not any(relative == e or relative.startswith(f"{e}/") for e in EXCLUDED):
                yield file


def _comments(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("rb") as handle:
        for token in tokenize.tokenize(handle.readline):
            if token.type == tokenize.COMMENT:
                yield token.start[0], token.string


def unexplained_nosec(root: Path, targets: Sequence[str] = SCANNED) -> list[Finding]:
    """Every ``# nosec`` comment that does not name its test id(s) and give a reason."""
    out: list[Finding] = []
    for file in python_files(root, targets):
        for number, comment in _comments(file):
            match = _NOSEC.search(comment)
            if match and not _REASONED.match(match.group("rest")):
                relative = file.relative_to(root).as_posix()
                out.append(
                    Finding(
                        tool="bandit",
                        check="nosec",
                        object=relative,
                        title="a nosec comment without a test id and a reason (write: nosec B603 - why)",
                        location=f"{relative}:{number}",
                        line=comment,
                    )
                )
    return out


def scan(root: Path, targets: Sequence[str] = SCANNED) -> BanditResult:
    bandit = require_tool("bandit")
    present = [t for t in targets if (root / t).exists()]
    excluded = ",".join(str(root / e) for e in EXCLUDED)
    done = run(
        [str(bandit), "--recursive", *present, "--exclude", excluded, "--format", "json", "--quiet"],
        cwd=root,
        offline=False,
    )
    result = parse_report(done.stdout, root)
    result.findings += unexplained_nosec(root, present)
    version = run([str(bandit), "--version"], cwd=root, offline=False).stdout.split()
    result.version = version[1] if len(version) > 1 else ""
    return result
