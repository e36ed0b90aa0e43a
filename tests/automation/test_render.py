"""The offline render: artefacts for every environment, validation, and the CLI's exit codes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import automation.render as render_module
from automation.cli import app
from automation.guardrails import evaluate_recording
from automation.session import Dependencies
from tests.support import PROJECT_DIR, REFERENCE_DIR, render_written, three_clusters, variant

runner = CliRunner()


@pytest.mark.parametrize("env", ["dev", "staging", "prod", "appmesh"])
def test_every_environment_renders_three_valid_artefacts(env: str, tmp_path: Path) -> None:
    result = render_written(env, tmp_path)
    assert result.problems == []
    # the three artefacts, and the marker that lets the next render replace exactly them
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".crossmesh-render.json",
        "manifests",
        "report.md",
        "resources.json",
    ]
    assert sorted(p.name for p in (tmp_path / "manifests").iterdir()) == ["eksc1.yaml", "eksc2.yaml"]
    document = json.loads((tmp_path / "resources.json").read_text())
    assert (document["project"], document["stack"]) == ("crossmesh", env)
    assert set(document["resources"][0]) == {
        "urn",
        "type",
        "name",
        "parent",
        "provider",
        "dependencies",
        "inputs",
    }
    types = {r["type"] for r in document["resources"]}
    # components are recorded too, not only cloud resources
    assert {"crossmesh:infra:SharedVpc", "crossmesh:infra:EksCluster", "eks:index:Cluster"} <= types
    for manifest in (tmp_path / "manifests").iterdir():
        objects = list(yaml.safe_load_all(manifest.read_text()))
        assert objects
        assert all({"apiVersion", "kind", "metadata"} <= set(o) for o in objects)
    report = (tmp_path / "report.md").read_text()
    assert "```mermaid" in report
    assert "| cluster | resources | Kubernetes objects | Helm releases |" in report
    if REFERENCE_DIR.is_dir():
        assert result.notes == []


def test_three_cluster_variant_renders_a_manifest_per_cluster(tmp_path: Path) -> None:
    result = render_written("appmesh", tmp_path, document=variant("appmesh", three_clusters))
    assert result.problems == []
    assert sorted(p.name for p in (tmp_path / "manifests").iterdir()) == [
        "eksc1.yaml",
        "eksc2.yaml",
        "eksc3.yaml",
    ]
    kinds = {cluster: sorted({o["kind"] for o in objects}) for cluster, objects in result.manifests.items()}
    assert kinds["eksc3"] == [
        "Deployment",
        "Mesh",
        "Namespace",
        "NetworkPolicy",
        "Service",
        "ServiceAccount",
        "VirtualNode",
    ]
    assert "VirtualRouter" in kinds["eksc2"]
    assert "VirtualRouter" not in kinds["eksc3"]
    report = (tmp_path / "report.md").read_text()
    assert 'subgraph eksc3["EKS eksc3-appmesh"]' in report


def test_report_diagram_shows_the_app_mesh_path_across_clusters(tmp_path: Path) -> None:
    render_written("appmesh", tmp_path)
    report = (tmp_path / "report.md").read_text()
    diagram = report.split("```mermaid", 1)[1].split("```", 1)[0]
    # front (eksc1) -> the stable name -> router -> blue and red (eksc2)
    assert 'front -->|"colorapp.appmesh-demo.pvt.aws.local:8080"| vs' in diagram
    assert "vs --> router" in diagram
    assert 'router -->|"50%"| colorapp_blue' in diagram
    assert 'router -->|"50%"| colorapp_red' in diagram
    eksc1 = diagram.split('subgraph eksc1["EKS eksc1-appmesh"]', 1)[1].split("end", 1)[0]
    eksc2 = diagram.split('subgraph eksc2["EKS eksc2-appmesh"]', 1)[1].split("end", 1)[0]
    assert "front[" in eksc1
    assert "colorapp_blue[" in eksc2
    assert "router{{" in eksc2


def test_helm_releases_are_listed_not_expanded(tmp_path: Path) -> None:
    result = render_written("appmesh", tmp_path)
    assert [r.inputs["chart"] for r in result.helm_releases["eksc1"]] == ["appmesh-controller"]
    # what the chart contains (the controller Deployment, its CRDs, the webhook) is not in the manifests
    objects = [o for items in result.manifests.values() for o in items]
    assert not [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    assert not [o for o in objects if o["kind"] == "MutatingWebhookConfiguration"]
    assert not [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "appmesh-controller"
    ]


def test_report_diagram_shows_the_lattice_path_and_says_tracing_is_off(tmp_path: Path) -> None:
    render_written("dev", tmp_path)
    report = (tmp_path / "report.md").read_text()
    diagram = report.split("```mermaid", 1)[1].split("```", 1)[0]
    assert 'front -->|"colorapp.appmesh-demo.pvt.aws.local:8080"| dns' in diagram
    assert 'lattice -->|"50%"| colorapp_blue' in diagram
    assert "VirtualRouter" not in diagram
    assert "tracing: none" in report


def test_cli_render_prints_a_table_and_exits_zero(tmp_path: Path) -> None:
    outcome = runner.invoke(app, ["render", "dev", "--out", str(tmp_path)])
    assert outcome.exit_code == 0, outcome.output
    assert "crossmesh render dev" in outcome.output
    assert "eksc1" in outcome.output
    assert (tmp_path / "report.md").is_file()


def test_cli_render_json(tmp_path: Path) -> None:
    outcome = runner.invoke(app, ["render", "dev", "--out", str(tmp_path), "--json"])
    assert outcome.exit_code == 0
    payload = json.loads(outcome.stdout.strip().splitlines()[-1])
    assert payload["ok"] is True
    assert payload["env"] == "dev"
    assert set(payload["objects"]) == {"eksc1", "eksc2"}


def test_cli_unknown_environment_exits_2() -> None:
    outcome = runner.invoke(app, ["render", "qa"])
    assert outcome.exit_code == 2
    assert "unknown environment 'qa': no Pulumi.qa.yaml" in outcome.output
    assert "expected one of appmesh, dev, prod, staging" in outcome.output


def test_cli_bad_config_exits_2_before_anything_is_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: crossmesh\nruntime: python\n")
    document = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    document["config"]["crossmesh:workloads"]["colorapp"]["versions"][0]["weight"] = 150
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    recorded: list[str] = []
    monkeypatch.setattr(render_module, "record_project", lambda *a, **k: recorded.append("ran"))
    outcome = runner.invoke(app, ["render", "dev"], obj=Dependencies(project_dir=project))
    assert outcome.exit_code == 2
    assert (
        "crossmesh:workloads.colorapp.versions[0].weight: got 150; expected a number <= 100" in outcome.output
    )
    assert recorded == []


def _add_an_invalid_service(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The render's objects gain, in eksc1, a Service ``name`` whose spec.type is not a string."""
    real = render_module.kubernetes_objects

    def with_a_broken_object(recording: Any) -> Any:
        objects, releases = real(recording)
        objects["eksc1"].append(
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"type": 7}}
        )
        return objects, releases

    monkeypatch.setattr(render_module, "kubernetes_objects", with_a_broken_object)


def test_cli_invalid_object_exits_1_naming_object_and_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _add_an_invalid_service(monkeypatch, "broken")
    outcome = runner.invoke(app, ["render", "dev", "--out", str(tmp_path)])
    assert outcome.exit_code == 1
    assert "eksc1: Service/broken: spec.type: 7 is not of type 'string'" in outcome.output
    assert "problem(s)" in (tmp_path / "report.md").read_text()


def test_program_refuses_bad_config_itself(tmp_path: Path) -> None:
    # `pulumi up` runs __main__.py directly: the program must stop before registering anything too.
    import pulumi

    from tests.support import flat, record_document, stack_document

    document = stack_document("dev")
    document["config"]["crossmesh:workloads"]["port"] = 0
    with pytest.raises(pulumi.RunError, match=r"crossmesh:workloads\.port: got 0"):
        record_document(document)
    assert flat(document)["crossmesh:workloads"].startswith("{")


def test_program_refuses_what_the_backend_cannot_honour_as_a_run_error() -> None:
    # The backend's own refusals (composed names, weighted-target limits) stop `pulumi up` as cleanly
    # as the model's: a pulumi.RunError listing them, before any registration, no traceback.
    import pulumi

    from tests.support import record_document, stack_document

    document = stack_document("dev")
    document["config"]["crossmesh:workloads"]["colorapp"]["name"] = "c" * 37
    with pytest.raises(pulumi.RunError, match=r"VPC Lattice service name 'c{37}-dev' \(41 characters\)"):
        record_document(document)


def test_out_folder_holding_other_files_is_refused_before_the_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A render replaces its folder whole: `--out .` or `--out ~` must never delete what else is there.
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    recorded: list[str] = []
    monkeypatch.setattr(render_module, "record_project", lambda *a, **k: recorded.append("ran"))
    outcome = runner.invoke(app, ["render", "dev", "--out", str(tmp_path), "--json"])
    assert outcome.exit_code == 2
    error = json.loads(outcome.stdout)["error"]
    assert error["message"].startswith(f"--out: {tmp_path} holds files a render did not write (notes.txt)")
    assert recorded == []
    assert keep.read_text() == "mine"


def test_a_failed_write_leaves_the_earlier_render_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import automation.render_output as output_module

    out = tmp_path / "render"
    assert runner.invoke(app, ["render", "dev", "--out", str(out)]).exit_code == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def disk_full(*_: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output_module, "report_markdown", disk_full)
    outcome = runner.invoke(app, ["render", "staging", "--out", str(out), "--json"])
    assert outcome.exit_code == 2
    assert json.loads(outcome.stdout)["error"]["message"] == (
        f"--out: cannot write the render to {out}: No space left on device"
    )
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # dev's render, untouched, not half of staging's
    assert sorted(p.name for p in tmp_path.iterdir()) == ["render"]  # no staging folder left behind


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("b" * 300, "{out} cannot be used: File name too long"),
        ("a-file/sub", "{base}/a-file is a file, not a folder, so {out} cannot be made inside it"),
        ("a-file/sub/deeper", "{base}/a-file is a file, not a folder, so {out} cannot be made inside it"),
        (
            "dangling/sub",
            "{base}/dangling is a link that leads nowhere, not a folder, so {out} cannot be made inside it",
        ),
        ("dangling", "{out} exists and is not a folder"),
    ],
    ids=["name-too-long", "under-a-file", "deeper-under-a-file", "under-a-dangling-link", "a-dangling-link"],
)
def test_an_out_folder_that_cannot_be_made_is_refused_before_the_render(
    out: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("mine")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    recorded: list[str] = []
    monkeypatch.setattr(render_module, "record_project", lambda *a, **k: recorded.append("ran"))
    target = tmp_path / out
    outcome = runner.invoke(app, ["render", "dev", "--out", str(target), "--json"])
    assert outcome.exit_code == 2
    document = json.loads(outcome.stdout)
    assert (document["ok"], document["exit_code"]) == (False, 2)
    assert document["error"]["message"] == "--out: " + message.format(out=target, base=tmp_path)
    assert recorded == []
    assert (tmp_path / "a-file").read_text() == "mine"


def _earlier_render(folder: Path) -> Path:
    """What a render leaves: its artefacts and the marker listing them."""
    from automation.render_output import MARKER

    (folder / "manifests").mkdir(parents=True)
    (folder / "manifests" / "eksc1.yaml").write_text("---\nkind: Namespace\n")
    (folder / "resources.json").write_text("{}\n")
    (folder / "report.md").write_text("# crossmesh render: `dev`\n")
    files = ["manifests/eksc1.yaml", "report.md", "resources.json"]
    (folder / MARKER).write_text(json.dumps({"files": files}))
    return folder


def test_an_earlier_render_may_be_replaced(tmp_path: Path) -> None:
    from automation.render_output import out_dir_problem

    assert out_dir_problem(_earlier_render(tmp_path / "r")) is None
    assert out_dir_problem(tmp_path / "new") is None
    (tmp_path / "empty").mkdir()
    assert out_dir_problem(tmp_path / "empty") is None


@pytest.mark.parametrize(
    ("add", "shown"),
    [
        ("manifests/my-own-app.yaml", "manifests/my-own-app.yaml"),  # one's own file among the manifests
        ("manifests/nested/x.yaml", "manifests/nested, manifests/nested/x.yaml"),
        ("notes.txt", "notes.txt"),
    ],
)
def test_anything_a_render_did_not_write_keeps_its_folder_from_being_replaced(
    tmp_path: Path, add: str, shown: str
) -> None:
    from automation.render_output import out_dir_problem

    out = _earlier_render(tmp_path / "r")
    (out / add).parent.mkdir(parents=True, exist_ok=True)
    (out / add).write_text("precious: true\n")
    problem = out_dir_problem(out)
    assert problem is not None
    assert f"holds files a render did not write ({shown})" in problem


def test_a_render_shaped_folder_without_a_render_in_it_is_refused(tmp_path: Path) -> None:
    # The artefacts' names alone do not make a folder a render's: here report.md is someone's notes.
    from automation.render_output import out_dir_problem

    out = tmp_path / "k8s"
    (out / "manifests").mkdir(parents=True)
    (out / "manifests" / "my-own-app.yaml").write_text("precious: true\n")
    (out / "report.md").write_text("# notes\n")
    assert "holds files a render did not write" in (out_dir_problem(out) or "")
    # a render from before the marker: its report's heading and YAML manifests only
    (out / "report.md").write_text("# crossmesh render: `dev`\n")
    assert out_dir_problem(out) is None


def test_a_link_to_a_folder_is_refused_naming_the_folder(tmp_path: Path) -> None:
    # Replacing the link would have left the render it leads to as it was, and a stray link beside it.
    from automation.render_output import out_dir_problem

    real = _earlier_render(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real)
    assert out_dir_problem(link) == f"{link} is a link; give the folder itself ({real}) or a new one"


def test_a_render_marks_what_it_wrote_so_the_next_may_replace_it_and_nothing_else(tmp_path: Path) -> None:
    from automation.render_output import MARKER

    out = tmp_path / "render"
    assert runner.invoke(app, ["render", "dev", "--out", str(out)]).exit_code == 0
    listed = json.loads((out / MARKER).read_text())["files"]
    assert sorted(listed) == sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != MARKER
    )
    assert runner.invoke(app, ["render", "dev", "--out", str(out)]).exit_code == 0
    (out / "manifests" / "mine.yaml").write_text("precious: true\n")
    outcome = runner.invoke(app, ["render", "dev", "--out", str(out), "--json"])
    assert outcome.exit_code == 2
    assert "mine.yaml" in json.loads(outcome.stdout)["error"]["message"]
    assert (out / "manifests" / "mine.yaml").read_text() == "precious: true\n"


def test_the_written_render_does_not_depend_on_the_order_resources_were_registered_in(tmp_path: Path) -> None:
    # The program registers from several threads, so two renders of one configuration registered in
    # different orders; resources.json and the report's findings differed between identical runs.
    import dataclasses
    import random

    from automation.render import render
    from automation.render_output import write_render

    result = render("dev", PROJECT_DIR)
    first = write_render(result, tmp_path / "first")
    shuffled = [
        dataclasses.replace(r, dependencies=tuple(reversed(r.dependencies)))
        for r in result.recording.resources
    ]
    random.Random(7).shuffle(shuffled)
    result.recording.resources[:] = shuffled
    result.guardrails = evaluate_recording(result.recording, result.config)
    second = write_render(result, tmp_path / "second")
    for name in ("resources.json", "report.md"):
        assert (first / name).read_text() == (second / name).read_text(), name


def test_cli_render_shows_paths_and_problems_as_written_not_as_markup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The summary printed the output folder and each problem as rich markup: "[/x]" in an --out path
    # or an object's name raised MarkupError (a traceback after the render was written), and a tag-like
    # "[bold]" or a CRD pattern's "[a-z0-9]" vanished from what the user was told.
    _add_an_invalid_service(monkeypatch, "[/broken]")
    out = tmp_path / "render-[/x]-[bold]"
    outcome = runner.invoke(app, ["render", "dev", "--out", str(out)], env={"COLUMNS": "500"})
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.exception
    assert outcome.exit_code == 1
    assert f"written to {out}" in outcome.output
    assert "eksc1: Service/[/broken]: spec.type: 7 is not of type 'string'" in outcome.output


def test_render_refuses_a_version_that_has_left_eks_naming_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `pulumi up` would refuse (infra/config_parse.py, from_pulumi): dev's 1.35 leaves EKS on 2028-03-27.
    import infra.config

    monkeypatch.setattr(infra.config, "utc_today", lambda: date(2028, 3, 27))
    outcome = CliRunner().invoke(app, ["render", "dev", "--out", str(tmp_path / "out"), "--json"])
    assert outcome.exit_code == 2, outcome.output
    error = json.loads(outcome.stdout.strip().splitlines()[-1])["error"]
    assert error["kind"] == "bad_input"
    assert (
        "crossmesh:kubernetesVersion: got '1.35'; Kubernetes 1.35 left Amazon EKS on 2028-03-27"
        in error["message"]
    )
