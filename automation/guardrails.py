"""Guardrails for the render and the deploy: the policy pack's rules, one source of truth.

The render runs the rules of ``policy/crossmesh_policy`` over the recorded resource graph: a
registration's ``type`` is the Pulumi type token and its ``inputs`` the camelCase properties, exactly
what CrossGuard passes to the same rules at ``pulumi preview``/``up``. A deploy passes the pack itself
to ``up`` (:func:`policy_pack_args`).

An environment may relax an advisory rule in ``crossmesh:policy.relax`` with a reason; the render
report shows both. Whether a relaxation names an advisory rule of the pack is checked here, where the
rules live (:func:`check_relaxations`, run when an environment is loaded), so the configuration model
does not import the pack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from infra.config import StackConfig
from infra.config_parse import ConfigError, Problem
from infra.known import did_you_mean
from infra.topology import topology_of
from policy import POLICY_PACK_DIR
from policy.crossmesh_policy import (
    ADVISORY_IDS,
    BY_ID,
    RULES,
    Level,
    PolicyReport,
    Resource,
    Settings,
    Status,
    evaluate,
)
from policy.crossmesh_policy.pack_config import pack_config

if TYPE_CHECKING:
    from automation.recorder import Recording

__all__ = [
    "POLICY_PACK_DIR",
    "check_relaxations",
    "evaluate_recording",
    "markdown",
    "policy_pack_args",
    "resources_of",
    "settings_of",
    "summary_line",
]


def resources_of(recording: Recording) -> list[Resource]:
    """Every registration as the rules see a resource (the stack itself carries nothing to check)."""
    # Imported here: loading an environment checks relaxations and should not load the Pulumi SDK.
    from automation.recorder import STACK_TYPE  # noqa: PLC0415

    return [
        Resource(
            type=r.type,
            name=r.name,
            props=r.inputs,
            urn=r.urn,
            parent=r.parent,
            provider=r.provider,
            property_dependencies=dict(r.property_dependencies),
        )
        for r in recording
        if r.type != STACK_TYPE
    ]


def relaxation_problems(config: StackConfig) -> list[Problem]:
    """Relaxations that name no rule of the pack, or a rule that is not advisory."""
    advisory = ", ".join(ADVISORY_IDS)
    problems: list[Problem] = []
    for index, item in enumerate(config.policy.relax):
        key = f"crossmesh:policy.relax[{index}].policy"
        expected = f"expected an advisory policy: {advisory}"
        rule = BY_ID.get(item.policy)
        if rule is None:
            close = did_you_mean(item.policy, BY_ID)
            hint = f"did you mean {close!r}? " if close else ""
            problems.append(Problem(key, item.policy, f"unknown policy; {hint}{expected}"))
        elif rule.level is not Level.ADVISORY:
            problems.append(
                Problem(
                    key,
                    item.policy,
                    f"{item.policy} is {rule.level} and cannot be relaxed; {expected}",
                )
            )
    return problems


def check_relaxations(config: StackConfig, source: str = "") -> None:
    """Raise :class:`ConfigError` when a relaxation names an unknown or a mandatory policy."""
    problems = relaxation_problems(config)
    if problems:
        raise ConfigError(problems, source)


def settings_of(config: StackConfig) -> Settings:
    # Imported here: the backends load the Pulumi SDKs, which check_relaxations' callers may not need.
    from infra.mesh import backend_for  # noqa: PLC0415

    exceptions = backend_for(config).pod_security_exceptions(topology_of(config))
    return Settings(
        app_port=config.workloads.port,
        pod_security_exceptions={
            namespace: {"level": allowed.level, "reason": allowed.reason}
            for namespace, allowed in exceptions.items()
        },
    )


def evaluate_recording(recording: Recording, config: StackConfig) -> PolicyReport:
    """Every rule over the recording, with the environment's relaxations applied."""
    relaxations = {item.policy: item.reason for item in config.policy.relax}
    return evaluate(RULES, resources_of(recording), settings_of(config), relaxations)


def summary_line(report: PolicyReport) -> str:
    """One line: counts by result, the relaxed policies, and the verdict."""
    relaxed = [r.rule.id for r in report.results if r.status is Status.RELAXED]
    mandatory = len(report.mandatory_violations)
    verdict = f"{mandatory} mandatory violation(s)" if mandatory else "no mandatory violations"
    which = f" ({', '.join(relaxed)})" if relaxed else ""
    return f"guardrails: {report.summary()}{which}; {verdict}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _result_cell(status: Status, violations: int, relaxation: str | None) -> str:
    if status is Status.VIOLATED:
        return f"**violated** ({violations})"
    if status is Status.RELAXED:
        return f"relaxed ({violations}): {_cell(relaxation or '')}"
    return str(status)


def markdown(report: PolicyReport) -> str:
    """The report's "Guardrails" section: each policy with its result, then what is wrong and the fix."""
    lines = [
        "## Guardrails",
        "",
        f"{summary_line(report)}. The same rules run at deploy time as the CrossGuard pack in `policy/` "
        "(docs/security.md).",
        "",
        "| policy | CIS | level | result |",
        "|---|---|---|---|",
    ]
    for result in report.results:
        rule = result.rule
        lines.append(
            f"| `{rule.id}` | {rule.cis or '-'} | {rule.level} | "
            f"{_result_cell(result.status, len(result.violations), result.relaxation)} |"
        )
    shown = [r for r in report.results if r.violations]
    if shown:
        lines += ["", "### Findings", ""]
        for result in shown:
            label = "relaxed" if result.status is Status.RELAXED else str(result.rule.level)
            lines.append(f"- `{result.rule.id}` ({label}):")
            lines += [
                f"  - {v.resource_type} `{v.resource_name}`: {v.message}; fix: {v.fix}"
                for v in result.violations
            ]
    if report.notes:
        lines.append("")
        lines += [f"- note: {note}" for note in report.notes]
    lines.append("")
    return "\n".join(lines)


def policy_pack_args(config: StackConfig, directory: Path) -> dict[str, list[str]]:
    """Keyword arguments for ``Stack.up``/``preview`` that run the guardrails pack for this environment.

    Writes ``<directory>/guardrails-<stack>.json``, the pack's policy config (the app port the
    cross-cluster rule expects), and returns ``{"policy_packs": [...], "policy_pack_configs": [...]}``.
    Relaxed advisory rules stay advisory at deploy time: they warn, they do not block.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"guardrails-{config.stack}.json"
    path.write_text(json.dumps(pack_config(RULES, settings_of(config)), indent=2) + "\n", encoding="utf-8")
    return {"policy_packs": [str(POLICY_PACK_DIR)], "policy_pack_configs": [str(path)]}
