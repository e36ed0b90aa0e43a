"""One shift of colorapp's traffic: the steps, each applied, observed, held, checked, and undone on failure.

:class:`ShiftRun` is built like :class:`automation.session.DeploySession` (whose steps it reuses:
load and validate the stack file, confirmation, STS and mesh preflight, the failure boundary that
turns errors into exit codes). Everything it reaches outside itself arrives in :class:`ShiftDeps`:
the stack (configuration, tags, targeted update), the routing URNs, what AWS reports the weights to
be, the HTTP burst and the clock. docs/canary.md describes the behaviour; exit codes: 0 done (or
nothing to do), 2 bad input, 3 a step failed and the last good weights are back, 5 AWS credentials,
7 another shift holds the stack, 130 interrupted (last good weights back).
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

from automation.errors import CrossmeshError, Failure
from automation.exit_codes import ExitCode
from automation.interrupt import Interrupted, run_interruptible
from automation.session import Dependencies, DeploySession, Output
from automation.shift.judge import Answer, Limits, StepVerdict, judge_step
from automation.shift.observe import WeightsObserver, wait_for_weights
from automation.shift.plan import (
    DEFAULT_STEPS,
    PlanError,
    Step,
    format_weights,
    parse_duration,
    parse_steps,
    parse_target,
    plan_steps,
)
from automation.shift.state import (
    LEASE_TAG,
    STATE_TAG,
    FileLock,
    Lease,
    LockHeld,
    ShiftState,
    lease_is_live,
    new_lease,
    read_state_file,
    write_state_file,
)
from automation.verify.settings import HttpCheckSettings

if TYPE_CHECKING:
    from automation.shift.stack import ShiftStack
    from automation.stack import StackOutput, StackRequest
    from infra.config import StackConfig

Sampler = Callable[[str, HttpCheckSettings], "list[Answer]"]
ObserverFactory = Callable[["StackConfig", "Mapping[str, StackOutput]"], WeightsObserver]
TargetsFinder = Callable[[Path, str, "Mapping[str, str]"], "list[str]"]


def _open_shift_stack(request: StackRequest) -> ShiftStack:
    from automation.shift.stack import open_shift_stack  # noqa: PLC0415 - the Pulumi SDK is heavy

    return open_shift_stack(request)


def _routing_targets(project_dir: Path, env: str, flat: Mapping[str, str]) -> list[str]:
    from automation.shift.stack import routing_targets  # noqa: PLC0415

    return routing_targets(project_dir, env, flat)


def _lattice_observer(config: StackConfig, outputs: Mapping[str, StackOutput]) -> WeightsObserver:
    from automation.preflight import make_clients  # noqa: PLC0415
    from automation.shift.observe import LatticeRules, LatticeWeights  # noqa: PLC0415
    from infra.mesh import backend_for  # noqa: PLC0415
    from infra.topology import topology_of  # noqa: PLC0415

    topology = topology_of(config)
    client = make_clients(config.region).lattice
    # By name too: another stack's Lattice service may carry the same custom domain.
    name = backend_for(config).verify_targets(topology).lattice_service
    return LatticeWeights(cast("LatticeRules", client), topology.service_host, f"{topology.service}-", name)


def _sample(front_url: str, http: HttpCheckSettings) -> list[Answer]:
    from automation.shift.sample import sample  # noqa: PLC0415

    return sample(front_url, http)


@dataclass(frozen=True)
class ShiftDeps:
    """Everything a shift reaches outside itself. Tests pass fakes; the CLI uses the defaults."""

    session: Dependencies = field(default_factory=Dependencies.real)
    """The deploy session's dependencies: preflight clients, terminal check, project and log dirs."""
    stack_factory: Callable[[StackRequest], ShiftStack] = _open_shift_stack
    targets: TargetsFinder = _routing_targets
    """URNs of the routing objects from the recorded graph of the program."""
    observer_factory: ObserverFactory = _lattice_observer
    """What the data plane reports the weights to be (VPC Lattice's listener rule)."""
    sampler: Sampler = _sample
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    state_dir: Path | None = None
    """Where the state copy and the OS lock live (default ``<project>/build/shift``)."""


@dataclass(frozen=True)
class ShiftOptions:
    to: str
    steps: str = DEFAULT_STEPS
    hold_s: float = 60.0
    http: HttpCheckSettings = field(default_factory=HttpCheckSettings)
    limits: Limits = field(default_factory=Limits)
    resume: bool = False
    yes: bool = False
    backend: str | None = None
    install_cli: bool = False
    weights_deadline_s: float = 300.0
    """How long to wait for AWS to report a step's weights."""
    observe_interval_s: float = 2.0


def _own_arguments(opts: ShiftOptions) -> str:
    """What a rerun with --yes repeats: the target (and steps when not the default), or --resume."""
    own = ["--resume"] if opts.resume else ["--to", opts.to]
    if not opts.resume and opts.steps != DEFAULT_STEPS:
        own += ["--steps", opts.steps]
    return shlex.join(own)


def _unusable(saved: ShiftState, versions: set[str]) -> str | None:
    """Why a saved shift (a stack tag anyone can edit) cannot be resumed as it is; None when it can."""
    try:
        steps = parse_steps(",".join(str(s) for s in saved.steps))
    except PlanError as exc:
        return str(exc).replace("--steps", "its steps", 1)
    saved_weights = (("start", saved.start), ("target", saved.target), ("last good", saved.last_good))
    for what, weights in saved_weights:
        if set(weights) != versions:
            named, has = ", ".join(sorted(weights)), ", ".join(sorted(versions))
            return f"its {what} weights name {named}; the stack has {has}"
        if sum(weights.values()) != 100 or min(weights.values(), default=0) < 0:
            return f"its {what} weights {format_weights(weights)} are not percentages summing to 100"
    if not 0 <= saved.next_step < len(steps):
        return f"its next step ({saved.next_step + 1}) is not one of its {len(steps)} steps"
    return None


def _cause(exc: Exception) -> str:
    """What went wrong, for a failed step or rollback: our own message, else the exception's."""
    return exc.failure.message if isinstance(exc, CrossmeshError) else f"{type(exc).__name__}: {exc}"


class _StepFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass
class ShiftRun:
    env: str
    options: ShiftOptions
    deps: ShiftDeps = field(default_factory=ShiftDeps)
    output: Output = field(default_factory=lambda: Output(as_json=False))
    report: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])

    def __post_init__(self) -> None:
        self.session = DeploySession(self.env, "shift", deps=self.deps.session, output=self.output)
        project = self.deps.session.project_dir
        self.state_dir = self.deps.state_dir or project / "build" / "shift"
        self.lease: Lease | None = None

    # ---- entry ----------------------------------------------------------------------------------

    def run(self) -> int:
        lock = FileLock(self.state_dir / f"{self.env}.lock")
        stack_holder: list[ShiftStack] = []

        def body() -> int:
            try:
                return self._body(lock, stack_holder)
            finally:
                if stack_holder and self.lease is not None:
                    self._release_lease(stack_holder[0])
                lock.release()

        return self.session.run(body)

    def _bad(self, message: str, hint: str = "Nothing was changed.") -> CrossmeshError:
        return CrossmeshError(Failure(ExitCode.BAD_INPUT, "bad_input", message, hint))

    def _body(self, lock: FileLock, holder: list[ShiftStack]) -> int:
        from automation.environment import load_environment  # noqa: PLC0415
        from automation.verify.backends import checks_for  # noqa: PLC0415
        from infra.topology import topology_of  # noqa: PLC0415

        opts = self.options
        config, flat = load_environment(self.deps.session.project_dir, self.env)
        self.session.config = config
        checks = checks_for(config.mesh.backend)
        if checks is None or not checks.traffic_shift:
            raise self._bad(
                f"shift cannot move traffic on crossmesh:mesh.backend {config.mesh.backend.value} "
                f"({self.env}); it works on lattice",
                "App Mesh environments are out of scope: their route weights change with a deploy.",
            )
        configured = topology_of(config).weights
        try:
            steps = parse_steps(opts.steps)
            if not opts.resume:
                parse_target(opts.to, configured)
        except PlanError as exc:
            raise self._bad(str(exc)) from exc
        self.session.require_confirmation_possible(opts.yes, arguments=_own_arguments(opts))
        self.session.require_local_folders(self.state_dir)
        # The routing targets are found by running the program, and each step is a targeted `pulumi up`,
        # which runs it too: it refuses a version that has left EKS (config_parse.from_pulumi), so the
        # shift would stop there, after the lease and the question, instead of here with the key.
        self.session.refuse_expired_versions(config)
        self.session.preflight(config, mesh="require")
        self._acquire(lock)
        from automation.stack import StackRequest  # noqa: PLC0415

        stack = self.deps.stack_factory(
            StackRequest(
                env=self.env,
                project_dir=self.deps.session.project_dir,
                backend_url=opts.backend,
                install_cli=opts.install_cli,
            )
        )
        holder.append(stack)
        self._take_lease(stack)

        outputs = stack.outputs()
        front = outputs.get("frontUrl")
        if front is None or not front.value:
            raise CrossmeshError(
                Failure(ExitCode.NOT_DEPLOYED, "not_deployed", f"stack {self.env!r} has no frontUrl output")
            )
        from automation.shift.stack import applied_weights  # noqa: PLC0415

        applied = applied_weights(outputs) or configured
        if set(applied) != set(configured):
            # The steps would write weights for the deployed versions into a stack file that lists
            # others, which the program then refuses: the file half-changed, every later command refused.
            raise self._bad(
                f"{self.env}'s stack file has the versions {', '.join(sorted(configured))}, the deployed "
                f"stack {', '.join(sorted(applied))}",
                f"Deploy first (`python -m automation deploy {self.env}`), so the two agree. Nothing was "
                "changed.",
            )
        state = self._initial_state(stack, applied, steps)
        planned = plan_steps(state.start, state.target, state.steps)
        remaining = [s for s in planned if s.number > state.next_step]
        if not remaining:
            self._finish(stack, state)
            self.output.say(f"{self.env} already has weights {format_weights(state.last_good)}", out=True)
            self.output.emit(self._document(True, ExitCode.OK, state))
            return int(ExitCode.OK)
        self.output.say(
            f"shift {self.env}: {format_weights(state.last_good)} -> {format_weights(state.target)} in "
            f"{len(remaining)} step(s): " + " | ".join(format_weights(s.weights) for s in remaining)
        )
        if not opts.yes:
            self.session.confirm(f"Shift {self.env}'s traffic in these steps?")
        targets = self.deps.targets(self.deps.session.project_dir, self.env, flat)
        observer = self.deps.observer_factory(config, outputs)
        for step in remaining:
            self._step(stack, state, step, targets, observer, str(front.value))
        self.output.say(f"shift of {self.env} done: {format_weights(state.last_good)}", out=True)
        self.output.emit(self._document(True, ExitCode.OK, state))
        return int(ExitCode.OK)

    # ---- state, lease ----------------------------------------------------------------------------

    def _acquire(self, lock: FileLock) -> None:
        try:
            lock.acquire()
        except LockHeld:
            raise CrossmeshError(
                Failure(
                    ExitCode.STACK_LOCKED,
                    "shift_locked",
                    f"another shift of {self.env} is running on this machine (lock {lock.path})",
                    "Wait for it to finish; nothing was changed by this run.",
                )
            ) from None

    @property
    def _state_file(self) -> Path:
        return self.state_dir / f"{self.env}.json"

    def _initial_state(
        self, stack: ShiftStack, applied: dict[str, int], steps: tuple[int, ...]
    ) -> ShiftState:
        saved = ShiftState.from_tag(stack.get_tag(STATE_TAG)) or read_state_file(self._state_file)
        in_progress = saved is not None and saved.status in ("running", "interrupted")
        if self.options.resume:
            if saved is None or not in_progress:
                raise self._bad(f"--resume: {self.env} has no interrupted shift to continue")
            problem = _unusable(saved, set(applied))
            if problem:
                raise self._bad(
                    f"--resume: the saved shift of {self.env} cannot be continued: {problem}",
                    f"Drop it with `pulumi stack tag rm {STATE_TAG} --stack {self.env}` and start a new "
                    "shift. Nothing was changed.",
                )
            local = read_state_file(self._state_file)
            if local is not None and local.start == saved.start and local.target == saved.target:
                saved.previous_p99 = local.previous_p99
            saved.status = "running"
            # The last weights that passed their check, as saved: what is applied now may be an
            # interrupted step's, never checked.
            return saved
        if saved is not None and in_progress:
            raise self._bad(
                f"{self.env} has an interrupted shift to {format_weights(saved.target)} (next step "
                f"{saved.next_step + 1})",
                f"Continue it with `python -m automation shift {self.env} --resume`, or drop it with "
                f"`pulumi stack tag rm {STATE_TAG} --stack {self.env}`.",
            )
        target = parse_target(self.options.to, applied)
        return ShiftState(start=applied, target=target, steps=list(steps), last_good=applied, next_step=0)

    def _save(self, stack: ShiftStack, state: ShiftState) -> None:
        write_state_file(self._state_file, state)
        stack.set_tag(STATE_TAG, state.to_tag())

    def _finish(self, stack: ShiftStack, state: ShiftState) -> None:
        state.status = "done"
        write_state_file(self._state_file, state)
        stack.remove_tag(STATE_TAG)

    def _lease_ttl(self) -> float:
        o = self.options
        per_request = o.http.timeout_s * (o.http.requests / o.http.concurrency + 1)
        return o.hold_s + o.weights_deadline_s + per_request + 600.0

    def _take_lease(self, stack: ShiftStack) -> None:
        import socket  # noqa: PLC0415

        held = Lease.from_tag(stack.get_tag(LEASE_TAG))
        now = self.deps.wall_clock()
        if held is not None and lease_is_live(held, now=now, host=socket.gethostname()):
            raise CrossmeshError(
                Failure(
                    ExitCode.STACK_LOCKED,
                    "shift_locked",
                    f"another shift holds {self.env}: {held.describe()}",
                    "Wait for it to finish (its lease ends by itself if it dies); nothing was changed.",
                )
            )
        lease = new_lease(self._lease_ttl(), self.deps.wall_clock)
        stack.set_tag(LEASE_TAG, lease.to_tag())
        back = Lease.from_tag(stack.get_tag(LEASE_TAG))
        if back is None or back.run_id != lease.run_id:
            raise CrossmeshError(
                Failure(
                    ExitCode.STACK_LOCKED,
                    "shift_locked",
                    f"another shift took {self.env} at the same moment"
                    + (f": {back.describe()}" if back else ""),
                    "Nothing was changed by this run.",
                )
            )
        self.lease = lease

    def _renew_lease(self, stack: ShiftStack) -> None:
        if self.lease is not None:
            self.lease = replace(self.lease, until=self.deps.wall_clock() + self._lease_ttl())
            stack.set_tag(LEASE_TAG, self.lease.to_tag())

    def _release_lease(self, stack: ShiftStack) -> None:
        try:
            held = Lease.from_tag(stack.get_tag(LEASE_TAG))
            if held is not None and self.lease is not None and held.run_id == self.lease.run_id:
                stack.remove_tag(LEASE_TAG)
        except Exception as exc:  # the run's own outcome matters more than the lease's clean-up
            self.output.say(f"could not release the shift lease: {exc}", label="warning: ", style="yellow")
        self.lease = None

    # ---- one step ----------------------------------------------------------------------------------

    def _apply(self, stack: ShiftStack, weights: Mapping[str, int], targets: list[str], what: str) -> None:
        """Set the weights in the stack's configuration and run the update limited to ``targets``."""
        from automation.progress import EventLog, OperationProgress, ProgressTracker  # noqa: PLC0415

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        log = self.deps.session.log_dir / f"{self.env}-shift-{stamp}.jsonl"
        self.session.log = log
        stack.set_weights(weights)
        with OperationProgress(
            f"{what} {self.env}: {format_weights(weights)}",
            console=self.output.err,
            log=EventLog(log),
            tracker=ProgressTracker(expected_total=len(targets)),
        ) as progress:
            run_interruptible(
                lambda: stack.up_targets(targets, sink=progress),
                cancel=stack.cancel,
                notify=lambda message: self.output.say(message, style="yellow"),
                timing=self.deps.session.interrupt,
            )

    def _observe(
        self, observer: WeightsObserver, weights: Mapping[str, int]
    ) -> tuple[bool, dict[str, int] | None, float]:
        result = wait_for_weights(
            observer,
            weights,
            deadline_s=self.options.weights_deadline_s,
            interval_s=self.options.observe_interval_s,
            clock=self.deps.clock,
            sleep=self.deps.sleep,
        )
        return result.ok, result.observed, result.seconds

    def _step(  # noqa: PLR0917 - one step needs all of these; a holder object would only rename them
        self,
        stack: ShiftStack,
        state: ShiftState,
        step: Step,
        targets: list[str],
        observer: WeightsObserver,
        front_url: str,
    ) -> None:
        entry: dict[str, Any] = {"step": step.number, "percent": step.percent, "weights": dict(step.weights)}
        self.report.append(entry)
        try:
            self._renew_lease(stack)
            self._apply(stack, step.weights, targets, f"step {step.number}")
            seen, observed, seconds = self._observe(observer, step.weights)
            entry["observed_weights"] = observed
            entry["observed_after_s"] = round(seconds, 2)
            if not seen:
                entry["verdict"] = "failed"
                raise _StepFailed(
                    Failure(
                        ExitCode.VERIFY_FAILED,
                        "shift_failed",
                        f"step {step.number} ({format_weights(step.weights)}) failed: AWS did not report the "
                        f"weights within {self.options.weights_deadline_s:g}s (last seen: {observed})",
                    )
                )
            if self.options.hold_s > 0:
                self.output.say(f"step {step.number}: holding {self.options.hold_s:g}s")
                self.deps.sleep(self.options.hold_s)
            answers = self.deps.sampler(front_url, self.options.http)
            verdict = judge_step(answers, step.weights, self.options.limits, state.previous_p99)
            entry.update(verdict.to_dict())
            entry["verdict"] = "passed" if verdict.ok else "failed"
            self._say_verdict(step, verdict)
            if not verdict.ok:
                raise _StepFailed(self._step_failure(step, verdict))
        except _StepFailed as failed:
            self._failed(stack, state, targets, observer, failed.failure)
        except (Interrupted, KeyboardInterrupt) as exc:
            entry["verdict"] = "interrupted"
            state.status = "interrupted"
            self._save(stack, state)
            problem = Failure(
                ExitCode.INTERRUPTED,
                "interrupted",
                f"shift of {self.env} interrupted at step {step.number} ({format_weights(step.weights)})",
                f"Continue it with `python -m automation shift {self.env} --resume`.",
            )
            lines = self._rollback(stack, state, targets, observer, problem)
            self.session.extra = {"steps": self.report, "weights": state.last_good, "target": state.target}
            raise CrossmeshError(replace(problem, details=lines)) from (
                exc if isinstance(exc, Interrupted) else None
            )
        except Exception as exc:  # the update, the observation or the sampling failed outright
            # A failed step puts the last good weights back whatever failed (docs/canary.md): an update
            # that stopped half-way, AWS's answer, the state file; not only a failed check.
            entry["verdict"] = "failed"
            cause = _cause(exc)
            failure = Failure(
                ExitCode.VERIFY_FAILED,
                "shift_failed",
                f"step {step.number} ({format_weights(step.weights)}) failed: {cause}",
            )
            self._failed(stack, state, targets, observer, failure, exc)
        state.last_good = dict(step.weights)
        state.previous_p99 = verdict.p99_of()
        state.next_step = step.number
        self._keep(stack, state, step)

    def _keep(self, stack: ShiftStack, state: ShiftState, step: Step) -> None:
        """Save a passed step (the shift done after its last one). Ctrl-C meanwhile is between steps,
        where nothing is restored: the step's weights passed their check and stay, the state is saved
        as interrupted (or done), and the run ends with exit 130 saying so. It used to end as an
        interrupt "before Pulumi changed anything; nothing was changed", with no weights named."""
        # The plan, not the --steps list: plan_steps drops a step that would not change the weights,
        # so a shift can have fewer steps than percentages.
        done = state.next_step >= len(plan_steps(state.start, state.target, state.steps))
        write = self._finish if done else self._save
        try:
            write(stack, state)
        except KeyboardInterrupt:
            state.status = "done" if done else "interrupted"
            details: list[str] = []
            try:
                write(stack, state)
            except (KeyboardInterrupt, Exception) as exc:  # a second Ctrl-C, or the backend refused
                why = _cause(exc) if isinstance(exc, Exception) else "interrupted again"
                details.append(f"its state could not be saved ({why})")
            self.session.extra = {"steps": self.report, "weights": state.last_good, "target": state.target}
            passed = f"after step {step.number} ({format_weights(step.weights)}) passed"
            raise CrossmeshError(
                Failure(
                    ExitCode.INTERRUPTED,
                    "interrupted",
                    f"shift of {self.env} interrupted {passed}: "
                    + ("every step is done" if done else "its weights stay"),
                    "Nothing is left to shift."
                    if done
                    else f"Continue it with `python -m automation shift {self.env} --resume`.",
                    details,
                )
            ) from None

    def _failed(  # noqa: PLR0917 - the step's context, as _step has it
        self,
        stack: ShiftStack,
        state: ShiftState,
        targets: list[str],
        observer: WeightsObserver,
        failure: Failure,
        cause: BaseException | None = None,
    ) -> NoReturn:
        """Roll back to the last good weights, keep the failed state, and end with ``failure`` (exit 3)."""
        state.status = "failed"
        lines = self._rollback(stack, state, targets, observer, failure)
        self._save_failed(stack, state)
        self.session.extra = {"steps": self.report, "weights": state.last_good, "target": state.target}
        raise CrossmeshError(replace(failure, details=[*failure.details, *lines])) from cause

    def _save_failed(self, stack: ShiftStack, state: ShiftState) -> None:
        write_state_file(self._state_file, state)
        stack.remove_tag(STATE_TAG)  # a failed shift is not resumed: it starts again, deliberately

    def _rollback(
        self,
        stack: ShiftStack,
        state: ShiftState,
        targets: list[str],
        observer: WeightsObserver,
        problem: Failure,
    ) -> list[str]:
        """Put the last good weights back the same way (targeted update, then wait for AWS)."""
        good = state.last_good
        self.output.say(f"{problem.message}; restoring {format_weights(good)}", style="yellow")
        try:
            self._apply(stack, good, targets, "rollback")
            seen, observed, _ = self._observe(observer, good)
        except (Interrupted, KeyboardInterrupt):
            self.report.append({"rollback": dict(good), "restored": False, "reason": "interrupted"})
            return [
                f"the rollback to {format_weights(good)} was interrupted: run "
                f"`python -m automation shift {self.env} --to {format_weights(good)} --steps 100 --yes`"
            ]
        except Exception as exc:  # the rollback's own update or observation failed too
            cause = _cause(exc)
            self.report.append({"rollback": dict(good), "restored": False, "reason": cause})
            return [
                f"the rollback to {format_weights(good)} failed ({cause}): run "
                f"`python -m automation shift {self.env} --to {format_weights(good)} --steps 100 --yes`"
            ]
        self.report.append({"rollback": dict(good), "restored": seen, "observed_weights": observed})
        return [
            f"restored {format_weights(good)}"
            + ("" if seen else f", but AWS did not report them in time (last seen: {observed})")
        ]

    def _step_failure(self, step: Step, verdict: StepVerdict) -> Failure:
        first = verdict.failed[0]
        message = (
            f"step {step.number} ({format_weights(step.weights)}) failed for version {first.version}: "
            + "; ".join(first.reasons)
        )
        details = [f"{v.version}: {'; '.join(v.reasons)}" for v in verdict.failed[1:]]
        return Failure(ExitCode.VERIFY_FAILED, "shift_failed", message, "", details)

    def _say_verdict(self, step: Step, verdict: StepVerdict) -> None:
        for v in verdict.versions:
            line = (
                f"step {step.number} {v.version}: weight {v.weight}, {v.successes}/{v.answers} ok, share "
                f"{v.share:.1%}, errors {v.error_rate:.1%}, attempts {v.attempts_per_request:.2f}, "
                f"p99 {v.p99_ms if v.p99_ms is not None else 'n/a'} ms: {'ok' if v.ok else 'FAILED'}"
            )
            self.output.say(line)

    def _document(self, ok: bool, code: ExitCode, state: ShiftState) -> dict[str, Any]:
        return self.session.result(ok, code, steps=self.report, weights=state.last_good, target=state.target)


def report_json(run: ShiftRun) -> str:
    return json.dumps(run.report, indent=2)


def shift_command(
    obj: object,
    env: str,
    as_json: bool,
    *,
    hold: str,
    http: HttpCheckSettings,
    limits: Limits,
    **options: Any,
) -> int:
    """The ``shift`` command: typer's context object (tests' fakes) and the parsed options -> exit code."""
    deps = (
        obj
        if isinstance(obj, ShiftDeps)
        else ShiftDeps(session=obj)
        if isinstance(obj, Dependencies)
        else ShiftDeps()
    )
    output = Output(as_json)
    try:
        hold_s = parse_duration(hold)
    except PlanError as exc:
        session = DeploySession(env, "shift", deps=deps.session, output=output)
        return session.fail(Failure(ExitCode.BAD_INPUT, "bad_input", str(exc), "Nothing was changed."))
    run = ShiftRun(env, ShiftOptions(hold_s=hold_s, http=http, limits=limits, **options), deps, output)
    return run.run()
