"""The scanners' allow-list: accepted findings, each naming the check, the object and the reason.

``security/allowlist.yaml`` has one list per tool::

    checkov:
      - check: CKV_AWS_338
        object: aws_cloudwatch_log_group.network-flow-logs
        environments: [dev, staging]      # optional: only these renders (default: every one)
        reason: why this is accepted rather than fixed
    bandit:
      - check: B104
        object: workloads/runtime/common/config.py
        match: '"0.0.0.0"'                # optional: the flagged line must contain this
        reason: ...

An entry without a check, an object or a reason is refused, and so is an unused one (an accepted
finding that no longer occurs): the list can only hold what is true today.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.data import as_list, as_mapping

TOOLS = ("checkov", "bandit")
MIN_REASON_LENGTH = 20
_KEYS = {
    "checkov": {"check", "object", "reason", "environments"},
    "bandit": {"check", "object", "reason", "match"},
}


class AllowListError(Exception):
    """The allow-list file itself is wrong; every problem names the entry and the key."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid allow-list {source}:\n{lines}")


@dataclass(frozen=True)
class Entry:
    tool: str
    check: str
    object: str
    reason: str
    environments: tuple[str, ...] | None = None
    """checkov: the renders this entry applies to (None: all)."""
    match: str | None = None
    """bandit: a substring of the flagged line, to tell two findings of one check in one file apart."""

    @property
    def key(self) -> str:
        where = f" [{', '.join(self.environments)}]" if self.environments else ""
        return f"{self.tool} {self.check} {self.object}{where}"


@dataclass(frozen=True)
class Finding:
    tool: str
    check: str
    object: str
    """checkov: the resource id it reports (``aws_kms_key.x``, ``Deployment.ns.name``); bandit: the file."""
    title: str
    environment: str | None = None
    location: str = ""
    line: str = ""
    """bandit: the flagged source line."""

    def __str__(self) -> str:
        where = f"{self.environment}: " if self.environment else ""
        return f"{where}{self.check} {self.object}: {self.title}" + (
            f" ({self.location})" if self.location else ""
        )


@dataclass
class Outcome:
    accepted: list[tuple[Finding, Entry]] = field(default_factory=list[tuple[Finding, Entry]])
    failures: list[Finding] = field(default_factory=list[Finding])
    unused: list[tuple[Entry, str | None]] = field(default_factory=list[tuple[Entry, str | None]])
    """Entries that matched nothing, with the environment they matched nothing in (bandit: None)."""

    @property
    def ok(self) -> bool:
        return not self.failures and not self.unused


def parse(document: object, source: str, environments: Iterable[str] = ()) -> list[Entry]:
    """Entries of a parsed allow-list document; raises :class:`AllowListError` listing every problem."""
    known_envs = set(environments)
    problems: list[str] = []
    entries: list[Entry] = []
    root: Mapping[str, Any] | None = as_mapping(document) if document is not None else {}
    if root is None:
        raise AllowListError(source, ["expected a mapping with the keys " + ", ".join(TOOLS)])
    for key in root:
        if key not in TOOLS:
            problems.append(f"{key}: unknown tool; expected one of {', '.join(TOOLS)}")
    for tool in TOOLS:
        listed = as_list(root.get(tool) or [])
        if listed is None:
            problems.append(f"{tool}: expected a list of entries")
            continue
        for index, item in enumerate(listed):
            entry = _entry(tool, index, item, known_envs, problems)
            if entry is not None:
                entries.append(entry)
    seen: set[tuple[str, str, str, str | None]] = set()
    for entry in entries:
        identity = (entry.tool, entry.check, entry.object, entry.match)
        if identity in seen:
            problems.append(f"{entry.key}: listed twice")
        seen.add(identity)
    if problems:
        raise AllowListError(source, problems)
    return entries


def _entry(tool: str, index: int, item: object, envs: set[str], problems: list[str]) -> Entry | None:
    where = f"{tool}[{index}]"
    mapping = as_mapping(item)
    if mapping is None:
        problems.append(f"{where}: expected a mapping with check, object and reason")
        return None
    before = len(problems)
    for key in sorted(set(mapping) - _KEYS[tool]):
        problems.append(f"{where}.{key}: unknown key; expected {', '.join(sorted(_KEYS[tool]))}")
    values: dict[str, str] = {}
    for key in ("check", "object", "reason"):
        value = mapping.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}.{key}: missing; every entry names the check, the object and the reason")
        else:
            values[key] = value.strip()
    reason = values.get("reason", "")
    if reason and len(reason) < MIN_REASON_LENGTH:
        problems.append(f"{where}.reason: {reason!r} is not a reason; say why the finding is accepted")
    environments = _environments(where, mapping.get("environments"), envs, problems)
    match = mapping.get("match")
    if match is not None and (not isinstance(match, str) or not match):
        problems.append(f"{where}.match: expected a non-empty piece of the flagged line")
    if len(problems) > before:
        return None
    return Entry(
        tool,
        values["check"],
        values["object"],
        reason,
        environments,
        match if isinstance(match, str) else None,
    )


def _environments(where: str, value: Any, known: set[str], problems: list[str]) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = as_list(value)
    if not items or not all(isinstance(v, str) for v in items):
        problems.append(f"{where}.environments: expected a non-empty list of environment names")
        return None
    unknown = sorted(str(v) for v in items if known and v not in known)
    if unknown:
        problems.append(
            f"{where}.environments: unknown {', '.join(unknown)}; expected {', '.join(sorted(known))}"
        )
    return tuple(str(v) for v in items)


def load(path: Path, environments: Iterable[str] = ()) -> list[Entry]:
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    try:
        document: object = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AllowListError(str(path), [f"not valid YAML: {exc}"]) from None
    return parse(document, str(path), environments)


def _matches(entry: Entry, finding: Finding) -> bool:
    if (entry.tool, entry.check, entry.object) != (finding.tool, finding.check, finding.object):
        return False
    if entry.environments is not None and finding.environment not in entry.environments:
        return False
    return entry.match is None or entry.match in finding.line


def apply(
    entries: Sequence[Entry], findings: Sequence[Finding], scanned: Mapping[str, Sequence[str | None]]
) -> Outcome:
    """Split ``findings`` into accepted and failing, and find the entries nothing needed.

    ``scanned`` says what each tool looked at in this run: environments for checkov, ``[None]`` for
    bandit. An entry is unused when, in an environment it applies to and that was scanned, it matched
    no finding; entries for tools or environments not scanned this run are not judged.
    """
    outcome = Outcome()
    used: set[tuple[int, str | None]] = set()
    for finding in findings:
        for index, entry in enumerate(entries):
            if _matches(entry, finding):
                outcome.accepted.append((finding, entry))
                used.add((index, finding.environment))
                break
        else:
            outcome.failures.append(finding)
    for index, entry in enumerate(entries):
        runs = scanned.get(entry.tool, ())
        applicable = [e for e in runs if entry.environments is None or e in entry.environments]
        for environment in applicable:
            if (index, environment) not in used:
                outcome.unused.append((entry, environment))
    return outcome
