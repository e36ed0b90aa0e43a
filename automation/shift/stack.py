"""The stack side of a shift: where the weights are kept, and the update limited to the routing objects.

* The weights a shift applies go into the stack's configuration as ``crossmesh:trafficWeights``
  (``Stack.set_config``), which the program reads as an override of the versions' weights
  (infra/config.py, infra/topology.py). With a LocalWorkspace, ``pulumi config set`` writes the stack
  settings file ``Pulumi.<env>.yaml`` of the directory it runs in; the backend records the
  configuration of every update with it (``pulumi config refresh`` reads it back from the latest
  deployment), and the program exports the weights it applied as the ``trafficWeights`` output, in
  the backend's state. That output is the source of truth ``deploy`` compares the stack file with.
* Each step is ``Stack.up(target=[...])``: the HTTPRoute(s) and the root stack resource (so the
  ``trafficWeights`` output is written by the same update). Their URNs come from the program's
  recorded graph (the offline recorder), so they match what the engine registers.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from automation.progress import EventSink
from automation.stack import OperationResult, StackOutput, StackRequest

if TYPE_CHECKING:
    from automation.recorder import Recording

WEIGHTS_KEY = "crossmesh:trafficWeights"
WEIGHTS_OUTPUT = "trafficWeights"
ROUTE_TYPE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
STACK_TYPE = "pulumi:pulumi:Stack"


class ShiftStack(Protocol):
    """What a shift needs from one Pulumi stack."""

    def set_weights(self, weights: Mapping[str, int]) -> None: ...

    def up_targets(self, targets: list[str], *, sink: EventSink) -> OperationResult: ...

    def outputs(self) -> dict[str, StackOutput]: ...

    def cancel(self) -> None: ...

    def get_tag(self, key: str) -> str | None: ...

    def set_tag(self, key: str, value: str) -> None: ...

    def remove_tag(self, key: str) -> None: ...


ShiftStackFactory = Callable[[StackRequest], ShiftStack]


def weights_json(weights: Mapping[str, int]) -> str:
    return json.dumps(dict(weights), separators=(",", ":"))


def applied_weights(outputs: Mapping[str, StackOutput]) -> dict[str, int] | None:
    """The ``trafficWeights`` output, or ``None`` when the stack has none (deployed before shifts)."""
    found = outputs.get(WEIGHTS_OUTPUT)
    if found is None or not isinstance(found.value, Mapping):
        return None
    return {str(k): int(v) for k, v in cast("Mapping[str, Any]", found.value).items()}


def _changes(op_map: Mapping[Any, Any] | None) -> dict[str, int]:
    return {str(getattr(op, "value", op)): int(count) for op, count in (op_map or {}).items()}


@dataclass
class PulumiShiftStack:
    """:class:`ShiftStack` over ``pulumi.automation.Stack`` (typed ``Any``: the SDK is untyped)."""

    stack: Any

    def set_weights(self, weights: Mapping[str, int]) -> None:
        from pulumi.automation import ConfigValue  # noqa: PLC0415 - the SDK is heavy

        self.stack.set_config(WEIGHTS_KEY, ConfigValue(weights_json(weights)))

    def up_targets(self, targets: list[str], *, sink: EventSink) -> OperationResult:
        result = self.stack.up(
            target=targets,
            on_event=sink.on_event,
            on_output=sink.on_output,
            on_error=sink.on_error,
            color="never",
            message="crossmesh shift",
        )
        return OperationResult(_changes(result.summary.resource_changes))

    def outputs(self) -> dict[str, StackOutput]:
        return {name: StackOutput(out.value, bool(out.secret)) for name, out in self.stack.outputs().items()}

    def cancel(self) -> None:
        self.stack.cancel()

    def get_tag(self, key: str) -> str | None:
        from pulumi.automation import CommandError  # noqa: PLC0415

        try:
            value = str(self.stack.get_tag(key)).strip()
        except CommandError:
            return None  # `pulumi stack tag get` of a tag that is not set fails
        return value or None

    def set_tag(self, key: str, value: str) -> None:
        self.stack.set_tag(key, value)

    def remove_tag(self, key: str) -> None:
        from pulumi.automation import CommandError  # noqa: PLC0415

        with contextlib.suppress(CommandError):  # already gone
            self.stack.remove_tag(key)


def open_shift_stack(request: StackRequest) -> ShiftStack:
    from automation.stack import open_stack  # noqa: PLC0415

    return PulumiShiftStack(open_stack(request).sdk_stack)


def routing_targets(project_dir: Path, env: str, flat_config: Mapping[str, str]) -> list[str]:
    """URNs of the routing objects (and the root stack) from the program's recorded graph."""
    from automation.environment import project_name  # noqa: PLC0415 - with the program below
    from automation.recorder import record_project  # noqa: PLC0415 - runs the program under mocks

    return targets_in(record_project(project_dir, env, flat_config, project=project_name(project_dir)))


def targets_in(recording: Recording) -> list[str]:
    """The routing objects' URNs (and the root stack's) in a recorded graph."""
    return [r.urn for r in recording.resources if r.type in (ROUTE_TYPE, STACK_TYPE)]
