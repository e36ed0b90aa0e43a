"""``deploy`` refuses to put back other weights than the ones a shift applied (exit 2, nothing changed).

The stack's ``trafficWeights`` output (the backend's state) holds the weights the last update applied,
by ``shift`` or by ``deploy``. A stack file whose weights differ from them is stale: deploying it would
silently undo a shift (e.g. put 50/50 back after red reached 100). docs/canary.md says how a pipeline
commits a shift's result into ``Pulumi.<env>.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping

from automation.errors import Failure
from automation.exit_codes import ExitCode
from automation.shift.plan import format_weights
from automation.shift.stack import WEIGHTS_KEY, applied_weights, weights_json
from automation.stack import StackOutput


def stale_weights_failure(
    env: str, configured: Mapping[str, int], outputs: Mapping[str, StackOutput]
) -> Failure | None:
    """The refusal when the stack file's weights are not the applied ones; ``None`` when they agree."""
    applied = applied_weights(outputs)
    if applied is None or dict(applied) == dict(configured):
        return None
    return Failure(
        ExitCode.BAD_INPUT,
        "stale_weights",
        f"Pulumi.{env}.yaml holds colorapp weights {format_weights(configured)}, but the stack runs "
        f"{format_weights(applied)} (applied by a shift); deploying would put the old weights back",
        f"Commit the applied weights into Pulumi.{env}.yaml: "
        f"`pulumi config set {WEIGHTS_KEY} '{weights_json(applied)}' "
        f"--stack {env}` (docs/canary.md), or change them with `python -m automation shift {env}`. "
        "Nothing was changed.",
    )
