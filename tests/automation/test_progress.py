"""Engine events (built from the engine's JSON, as the SDK parses them) -> progress and the log file."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from pulumi.automation import EngineEvent
from rich.console import Console

from automation.progress import (
    REDACTED,
    SECRET_SIGNATURE,
    EventLog,
    OperationProgress,
    ProgressTracker,
    to_jsonable,
)

STACK = "urn:pulumi:dev::crossmesh::pulumi:pulumi:Stack::crossmesh-dev"
VPC = "urn:pulumi:dev::crossmesh::crossmesh:infra:SharedVpc$aws:ec2/vpc:Vpc::network-vpc"
CLUSTER = "urn:pulumi:dev::crossmesh::crossmesh:infra:EksCluster$eks:index:Cluster::eksc1-cluster"
_sequence = iter(range(1, 1_000_000))


def event(**body: Any) -> EngineEvent:
    return EngineEvent.from_json({"sequence": next(_sequence), "timestamp": 1_764_133_200, **body})


def _metadata(op: str, urn: str) -> dict[str, Any]:
    return {"op": op, "urn": urn, "type": urn.split("::")[2].rsplit("$", 1)[-1], "provider": ""}


def pre(op: str, urn: str, *, planning: bool = False) -> EngineEvent:
    return event(resourcePreEvent={"metadata": _metadata(op, urn), "planning": planning})


def done(op: str, urn: str, *, planning: bool = False) -> EngineEvent:
    return event(resOutputsEvent={"metadata": _metadata(op, urn), "planning": planning})


def failed(op: str, urn: str) -> EngineEvent:
    return event(resOpFailedEvent={"metadata": _metadata(op, urn), "status": 1, "steps": 1})


def diagnostic(severity: str, message: str, urn: str = "") -> EngineEvent:
    return event(diagnosticEvent={"urn": urn, "message": message, "color": "never", "severity": severity})


def summary(**changes: int) -> EngineEvent:
    return event(summaryEvent={"maybeCorrupt": False, "durationSeconds": 3, "resourceChanges": changes})


def test_counts_done_of_total_and_the_current_operation() -> None:
    tracker = ProgressTracker()
    assert tracker.apply(pre("same", STACK)) is None
    assert tracker.apply(pre("create", VPC)) is None
    assert tracker.apply(pre("create", CLUSTER)) is None
    state = tracker.state()
    assert (state.done, state.total) == (0, 3)
    assert state.current == "creating eks:index:Cluster eksc1-cluster"
    assert tracker.apply(done("create", VPC)) == "created aws:ec2/vpc:Vpc network-vpc"
    assert tracker.apply(done("same", STACK)) is None  # unchanged resources are counted, not printed
    state = tracker.state()
    assert (state.done, state.total, state.failed) == (2, 3, 0)


def test_an_unchanged_resource_does_not_hide_the_operation_in_progress() -> None:
    tracker = ProgressTracker()
    tracker.apply(pre("update", CLUSTER))
    tracker.apply(pre("same", VPC))
    assert tracker.state().current == "updating eks:index:Cluster eksc1-cluster"


def test_the_expected_total_is_a_floor_not_a_ceiling() -> None:
    tracker = ProgressTracker(expected_total=2)
    assert tracker.state().total == 2
    for urn in (STACK, VPC, CLUSTER):
        tracker.apply(pre("same", urn))
    assert tracker.state().total == 3


def test_failures_and_error_diagnostics_are_kept() -> None:
    tracker = ProgressTracker()
    tracker.apply(pre("create", CLUSTER))
    assert tracker.apply(failed("create", CLUSTER)) == "FAILED create eks:index:Cluster eksc1-cluster"
    tracker.apply(diagnostic("info", "installing plugins"))
    tracker.apply(diagnostic("warning", "deprecated input", CLUSTER))
    tracker.apply(diagnostic("error", "waiting for cluster: context deadline exceeded", CLUSTER))
    state = tracker.state()
    assert (state.done, state.failed) == (1, 1)
    assert [(d.severity, d.message) for d in tracker.diagnostics] == [
        ("warning", "deprecated input"),
        ("error", "waiting for cluster: context deadline exceeded"),
    ]
    assert [d.urn for d in tracker.errors()] == [CLUSTER]


def test_summary_and_cancel() -> None:
    tracker = ProgressTracker()
    tracker.apply(summary(create=61, same=1))
    tracker.apply(event(cancelEvent={}))
    assert tracker.changes == {"create": 61, "same": 1}
    assert tracker.cancelled is True


def test_preview_steps_are_not_printed_as_done() -> None:
    tracker = ProgressTracker()
    tracker.apply(pre("create", VPC, planning=True))
    assert tracker.apply(done("create", VPC, planning=True)) is None
    assert tracker.state().done == 1


def test_to_jsonable_masks_secrets_drops_nones_and_flattens_enums() -> None:
    value = event(
        resOutputsEvent={
            "metadata": {
                **_metadata("create", CLUSTER),
                "new": {
                    "type": "eks:index:Cluster",
                    "urn": CLUSTER,
                    "outputs": {
                        "kubeconfigJson": {
                            SECRET_SIGNATURE: "1b47061264138c4ac30d75fd1eb44270",
                            "value": "token",
                        },
                        "name": "eksc1-dev",
                    },
                },
            }
        }
    )
    document = to_jsonable(value)
    text = json.dumps(document)
    assert "token" not in text
    metadata = document["res_outputs_event"]["metadata"]
    assert metadata["op"] == "create"
    assert metadata["new"]["outputs"] == {"kubeconfigJson": REDACTED, "name": "eksc1-dev"}
    assert "diagnostic_event" not in document  # None fields are dropped


def test_event_log_is_one_json_object_per_line(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "logs" / "dev-deploy.jsonl")
    log.record("start", operation="deploy dev")
    log.event(pre("create", VPC))
    log.close()
    log.record("late", note="after close is dropped, not an error")
    records = [json.loads(line) for line in (tmp_path / "logs" / "dev-deploy.jsonl").read_text().splitlines()]
    assert [r["record"] for r in records] == ["start", "event"]
    assert records[1]["event"]["resource_pre_event"]["metadata"]["urn"] == VPC
    assert records[0]["time"].endswith("+00:00")


def test_plain_progress_prints_one_line_per_changed_resource_and_logs_everything(tmp_path: Path) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=200)
    path = tmp_path / "run.jsonl"
    with OperationProgress("deploy dev", console=console, log=EventLog(path)) as progress:
        for item in (pre("same", STACK), pre("create", VPC), done("create", VPC), done("same", STACK)):
            progress.on_event(item)
        progress.on_output("Updating (dev):")
        progress.on_error("warning: something on stderr")
    text = buffer.getvalue()
    assert "deploy dev: started" in text
    assert "[1/2]" in text
    assert "created aws:ec2/vpc:Vpc network-vpc" in text
    assert "crossmesh-dev" not in text  # unchanged: counted, not printed
    records = [json.loads(line) for line in path.read_text().splitlines()]
    kinds = [r["record"] for r in records]
    assert kinds == ["start", "event", "event", "event", "event", "stdout", "stderr", "end"]
    assert records[-1]["outcome"] == "ok"
    assert (records[-1]["done"], records[-1]["total"]) == (2, 2)


def test_the_log_ends_with_the_error_when_the_operation_fails(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    console = Console(file=io.StringIO(), force_terminal=False)
    with (
        pytest.raises(RuntimeError, match="engine"),
        OperationProgress("deploy dev", console=console, log=EventLog(path)),
    ):
        raise RuntimeError("engine said no")
    end = json.loads(path.read_text().splitlines()[-1])
    assert (end["record"], end["outcome"], end["error"]) == ("end", "RuntimeError", "engine said no")


def test_terminal_progress_shows_done_of_total(tmp_path: Path) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160)
    with OperationProgress("destroy dev", console=console, log=EventLog(tmp_path / "x.jsonl")) as progress:
        progress.on_event(pre("delete", VPC))
        progress.on_event(done("delete", VPC))
        progress.on_event(pre("delete", CLUSTER))
        progress.on_event(failed("delete", CLUSTER))
    text = buffer.getvalue()
    assert "destroy dev" in text
    assert "2/2" in text
    assert "resources" in text
    assert "FAILED delete eks:index:Cluster eksc1-cluster" in text
