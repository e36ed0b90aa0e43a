"""A scan: render the environments, convert, run checkov and bandit, apply the allow-list, report.

Exit codes of ``python -m automation.scan`` (``./run scan``):

- 0: every finding is fixed or allow-listed, and every allow-list entry is still needed;
- 1: a finding not in the allow-list, an allow-list entry nothing needs, or a pulumi-aws type the
  plan converter does not know;
- 2: bad input (the allow-list file, an unknown environment, a configuration error);
- 3: a scanner is missing or failed to run.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import yaml

from automation.scan import allowlist, bandit, checkov
from automation.scan.allowlist import Entry, Finding, Outcome
from automation.scan.terraform_plan import to_plan
from infra.paths import PROJECT_DIR

ALLOWLIST = PROJECT_DIR / "security" / "allowlist.yaml"
DEFAULT_OUT = PROJECT_DIR / "build" / "scan"
TOOLS = ("checkov", "bandit")


class ScanExit(IntEnum):
    CLEAN = 0
    FINDINGS = 1
    BAD_INPUT = 2
    SCANNER_FAILED = 3


_ORDER = ("dev", "staging", "prod")


def environments(project_dir: Path = PROJECT_DIR) -> list[str]:
    """Every environment of the project (``Pulumi.<env>.yaml``): dev, staging, prod first."""
    names = (p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
    return sorted(names, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n))


@dataclass
class ScanReport:
    envs: list[str]
    tools: list[str]
    outcome: Outcome
    checkov: checkov.CheckovResult | None = None
    bandit: bandit.BanditResult | None = None
    unmapped: dict[str, list[str]] = field(default_factory=dict[str, list[str]])
    """Environment -> pulumi-aws types the Terraform-plan converter does not know."""

    @property
    def ok(self) -> bool:
        return self.outcome.ok and not any(self.unmapped.values())

    def lines(self) -> list[str]:
        out: list[str] = []
        if self.checkov is not None:
            out.append(
                f"checkov {self.checkov.version} (offline: --skip-download, BC_SKIP_MAPPING=TRUE, no API key)"
            )
            for env in self.envs:
                for framework in checkov.FRAMEWORKS:
                    key = (env, framework)
                    failed = self.checkov.failed[key]
                    accepted = sum(
                        1
                        for f, _ in self.outcome.accepted
                        if f.environment == env and framework in f.location
                    )
                    out.append(
                        f"  {env:<8} {framework:<15} {self.checkov.resources[key]:>4} resources "
                        f"{self.checkov.passed[key] + failed:>5} checks {self.checkov.passed[key]:>5} passed "
                        f"{failed:>3} failed ({accepted} allow-listed)"
                    )
        if self.bandit is not None:
            accepted = sum(1 for f, _ in self.outcome.accepted if f.tool == "bandit")
            out.append(
                f"bandit {self.bandit.version}: {self.bandit.files} files, {self.bandit.lines} lines; "
                f"{accepted} finding(s) allow-listed, {self.bandit.nosec} accepted inline "
                "(# nosec Bnnn - reason)"
            )
        if self.outcome.accepted:
            out.append("allow-listed:")
            for finding, entry in self.outcome.accepted:
                out.append(f"  - {finding}\n      reason: {entry.reason}")
        for env, types in self.unmapped.items():
            for type_ in types:
                out.append(
                    f"FAIL {env}: pulumi-aws type {type_} is not converted for checkov; add it to "
                    "automation/scan/terraform_plan.py TYPE_MAP"
                )
        for finding in self.outcome.failures:
            out.append(f"FAIL {finding}")
        for entry, env in self.outcome.unused:
            where = f" in {env}" if env else ""
            out.append(
                f"FAIL unused allow-list entry{where}: {entry.key} (remove it from security/allowlist.yaml)"
            )
        out.append("scan: clean" if self.ok else "scan: FAILED")
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "environments": self.envs,
            "tools": self.tools,
            "failures": [str(f) for f in self.outcome.failures],
            "unused": [entry.key + (f" ({env})" if env else "") for entry, env in self.outcome.unused],
            "accepted": [{"finding": str(f), "reason": e.reason} for f, e in self.outcome.accepted],
            "unmapped": self.unmapped,
        }


def render_for_scan(env: str, out: Path) -> list[str]:
    """Render ``env`` into ``out/<env>/``: manifests per cluster and the AWS resources as a plan.

    Returns the pulumi-aws types the plan converter could not convert.
    """
    from automation.render import render  # noqa: PLC0415 - heavy (Pulumi SDK); only needed here

    result = render(env, PROJECT_DIR)
    folder = out / env
    (folder / "manifests").mkdir(parents=True, exist_ok=True)
    for cluster, objects in result.manifests.items():
        text = yaml.safe_dump_all(objects, sort_keys=False, explicit_start=True)
        (folder / "manifests" / f"{cluster}.yaml").write_text(text, encoding="utf-8")
    plan = to_plan(result.recording)
    (folder / "plan.json").write_text(json.dumps(plan.to_json(), indent=1) + "\n", encoding="utf-8")
    return sorted({r.type for r in plan.unmapped})


def scan(
    envs: Sequence[str],
    tools: Sequence[str] = TOOLS,
    *,
    out: Path = DEFAULT_OUT,
    entries: Sequence[Entry] | None = None,
) -> ScanReport:
    """Run the scan. Raises ConfigError, AllowListError, UnknownEnvironmentError or ScanError."""
    if entries is None:
        entries = allowlist.load(ALLOWLIST, environments())
    findings: list[Finding] = []
    report = ScanReport(list(envs), list(tools), Outcome())
    scanned: dict[str, list[str | None]] = {}
    if "checkov" in tools:
        # checkov reads every folder under ``out``: drop earlier scan renders (only those).
        for stale in out.glob("*/plan.json"):
            shutil.rmtree(stale.parent)
        for env in envs:
            report.unmapped[env] = render_for_scan(env, out)
        report.checkov = checkov.scan(out)
        findings += report.checkov.findings
        scanned["checkov"] = list(envs)
    if "bandit" in tools:
        report.bandit = bandit.scan(PROJECT_DIR)
        findings += report.bandit.findings
        scanned["bandit"] = [None]
    report.outcome = allowlist.apply(entries, findings, scanned)
    return report
