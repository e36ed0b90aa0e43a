"""checkov over rendered environments: the Kubernetes manifests, and the AWS resources as a plan.

Layout it scans, one folder per environment (written by :mod:`automation.scan.run`)::

    <root>/<env>/manifests/<cluster>.yaml     -> framework kubernetes
    <root>/<env>/plan.json                    -> framework terraform_plan

One checkov process reads every environment (startup dominates its run time); each result's file path
says which environment it belongs to.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.scan.allowlist import Finding
from automation.scan.tools import ScanError, require_tool, run
from infra.data import as_list, as_mapping, list_or_empty, mapping_or_empty

FRAMEWORKS = ("kubernetes", "terraform_plan")


@dataclass
class CheckovResult:
    findings: list[Finding] = field(default_factory=list[Finding])
    passed: Counter[tuple[str, str]] = field(default_factory=Counter[tuple[str, str]])
    """(environment, framework) -> passed checks."""
    failed: Counter[tuple[str, str]] = field(default_factory=Counter[tuple[str, str]])
    resources: Counter[tuple[str, str]] = field(default_factory=Counter[tuple[str, str]])
    version: str = ""


def _environment(file_path: str) -> str:
    """``/dev/manifests/eksc1.yaml`` -> ``dev``."""
    return file_path.strip("/").split("/", 1)[0]


def parse_report(text: str) -> CheckovResult:
    try:
        document: Any = json.loads(text)
    except ValueError as exc:
        raise ScanError(f"checkov printed no JSON report: {text[:400]!r}") from exc
    reports = as_list(document)
    if reports is None:
        single = as_mapping(document)
        reports = [single] if single is not None else []
    result = CheckovResult()
    for report in reports:
        body = mapping_or_empty(report)
        framework = str(body.get("check_type", ""))
        result.version = str(mapping_or_empty(body.get("summary")).get("checkov_version", result.version))
        checks = mapping_or_empty(body.get("results"))
        seen: set[tuple[str, str]] = set()
        for status in ("passed_checks", "failed_checks"):
            for check in list_or_empty(checks.get(status)):
                item = mapping_or_empty(check)
                env = _environment(str(item.get("file_path", "")))
                seen.add((env, f"{item.get('file_path')}:{item.get('resource')}"))
                if status == "passed_checks":
                    result.passed[(env, framework)] += 1
                    continue
                result.failed[(env, framework)] += 1
                result.findings.append(
                    Finding(
                        tool="checkov",
                        check=str(item.get("check_id")),
                        object=str(item.get("resource")),
                        title=str(item.get("check_name")),
                        environment=env,
                        location=f"{framework}:{item.get('file_path')}",
                    )
                )
        for env, _resource in seen:
            result.resources[(env, framework)] += 1
    return result


def scan(root: Path, *, frameworks: Sequence[str] = FRAMEWORKS) -> CheckovResult:
    """Run checkov over ``root`` offline (no API key, no downloads) and collect every result."""
    checkov = require_tool("checkov")
    argv = [
        str(checkov),
        "--directory",
        str(root),
        "--framework",
        *frameworks,
        "--skip-download",
        "--compact",
        "--output",
        "json",
    ]
    done = run(argv, cwd=root)
    # checkov exits 1 when a check fails; anything it could not run shows as missing JSON instead.
    result = parse_report(done.stdout)
    if not result.version:
        raise ScanError(f"checkov ran nothing (exit {done.returncode}): {done.stderr[-800:]}")
    return result
