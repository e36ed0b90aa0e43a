"""The allow-list: every entry names check, object and reason; unused entries fail; the repo's file is valid."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from automation.scan import allowlist
from automation.scan.allowlist import AllowListError, Entry, Finding
from automation.scan.run import ALLOWLIST, environments

REASON = "accepted because the environment chooses so"


def entry(**fields: Any) -> dict[str, Any]:
    return {"check": "CKV_AWS_338", "object": "aws_cloudwatch_log_group.x", "reason": REASON, **fields}


def finding(
    env: str | None = "dev", check: str = "CKV_AWS_338", obj: str = "aws_cloudwatch_log_group.x"
) -> Finding:
    return Finding(
        "checkov", check, obj, "Ensure CloudWatch log groups retains logs for at least 1 year", env
    )


def test_an_entry_without_a_reason_is_refused() -> None:
    item = entry()
    del item["reason"]
    with pytest.raises(AllowListError) as raised:
        allowlist.parse({"checkov": [item]}, "security/allowlist.yaml")
    assert raised.value.problems == (
        "checkov[0].reason: missing; every entry names the check, the object and the reason",
    )
    assert "invalid allow-list security/allowlist.yaml" in str(raised.value)


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        (entry(reason="ok"), "checkov[0].reason: 'ok' is not a reason; say why the finding is accepted"),
        (entry(object=""), "checkov[0].object: missing"),
        (entry(why="x"), "checkov[0].why: unknown key"),
        (entry(environments=["qa"]), "checkov[0].environments: unknown qa; expected dev, prod, staging"),
        (entry(environments=[]), "checkov[0].environments: expected a non-empty list"),
    ],
)
def test_bad_entries_are_refused_naming_the_entry_and_key(item: dict[str, Any], problem: str) -> None:
    with pytest.raises(AllowListError) as raised:
        allowlist.parse({"checkov": [item]}, "allowlist.yaml", ["dev", "staging", "prod"])
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems


def test_duplicates_and_unknown_tools_are_refused() -> None:
    with pytest.raises(AllowListError) as raised:
        allowlist.parse({"checkov": [entry(), entry()], "trivy": []}, "allowlist.yaml")
    assert raised.value.problems == (
        "trivy: unknown tool; expected one of checkov, bandit",
        "checkov CKV_AWS_338 aws_cloudwatch_log_group.x: listed twice",
    )


def test_accepted_failing_and_unused() -> None:
    entries = allowlist.parse({"checkov": [entry(), entry(check="CKV_AWS_158")]}, "allowlist.yaml")
    other = finding(check="CKV_AWS_51", obj="aws_ecr_repository.r")
    outcome = allowlist.apply(entries, [finding(), other], {"checkov": ["dev"]})
    assert [(f.check, e.reason) for f, e in outcome.accepted] == [("CKV_AWS_338", REASON)]
    assert outcome.failures == [other]
    # CKV_AWS_158 matched nothing: the entry must go, so the scan fails.
    assert [(e.check, env) for e, env in outcome.unused] == [("CKV_AWS_158", "dev")]
    assert not outcome.ok


def test_an_environment_scoped_entry_must_be_needed_in_each_of_its_environments() -> None:
    entries = allowlist.parse({"checkov": [entry(environments=["dev", "staging"])]}, "allowlist.yaml")
    outcome = allowlist.apply(entries, [finding("dev")], {"checkov": ["dev", "staging", "prod"]})
    assert outcome.failures == []
    assert [env for _, env in outcome.unused] == ["staging"]
    # ... and it does not accept the same finding elsewhere.
    outcome = allowlist.apply(entries, [finding("prod")], {"checkov": ["prod"]})
    assert [f.environment for f in outcome.failures] == ["prod"]
    assert outcome.unused == []  # not judged where it does not apply, nor where nothing was scanned


def test_bandit_entries_match_on_the_flagged_line() -> None:
    entries = [Entry("bandit", "B104", "workloads/runtime/common/config.py", REASON, match='"0.0.0.0"')]
    hit = Finding(
        "bandit",
        "B104",
        "workloads/runtime/common/config.py",
        "binds",
        line='host=env_str(env, "HOST", "0.0.0.0"),',
    )
    miss = Finding("bandit", "B104", "workloads/runtime/common/config.py", "binds", line="host=ANY,")
    outcome = allowlist.apply(entries, [hit, miss], {"bandit": [None]})
    assert [f.line for f, _ in outcome.accepted] == [hit.line]
    assert outcome.failures == [miss]


def test_load_reads_yaml(tmp_path: Path) -> None:
    path = tmp_path / "allowlist.yaml"
    path.write_text("checkov:\n  - check: CKV_AWS_7\n    object: aws_kms_key.k\n    reason: " + REASON + "\n")
    assert allowlist.load(path) == [Entry("checkov", "CKV_AWS_7", "aws_kms_key.k", REASON)]
    path.write_text("checkov: [unclosed\n")
    with pytest.raises(AllowListError, match="not valid YAML"):
        allowlist.load(path)


def test_the_repository_allow_list_is_valid_and_every_entry_has_a_reason() -> None:
    entries = allowlist.load(ALLOWLIST, environments())
    assert entries
    assert all(len(e.reason) >= allowlist.MIN_REASON_LENGTH for e in entries)


def _security_page() -> str:
    return (ALLOWLIST.parents[1] / "docs" / "security.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("env", environments(ALLOWLIST.parents[1]))
def test_the_results_table_of_docs_security_shows_each_environments_checkov_entries(env: str) -> None:
    entries = allowlist.load(ALLOWLIST, environments(ALLOWLIST.parents[1]))
    applied = Counter(
        e.check for e in entries if e.tool == "checkov" and (e.environments is None or env in e.environments)
    )
    row = next(
        line
        for line in _security_page().splitlines()
        if line.startswith(f"| checkov terraform_plan (AWS), {env} |")
    )
    shown = row.strip("|").split("|")[-1].strip()
    counted = {check: int(n) for n, check in re.findall(r"(\d+) \u00d7 (\S+)", shown)}
    assert counted == dict(applied), row


def test_docs_security_names_every_bandit_check_the_allow_list_accepts() -> None:
    page = _security_page()
    section = page[page.index("### The allow-list") :]
    checks = {
        e.check for e in allowlist.load(ALLOWLIST, environments(ALLOWLIST.parents[1])) if e.tool == "bandit"
    }
    assert checks, "no bandit entries read"
    assert sorted(c for c in checks if c not in section) == []
