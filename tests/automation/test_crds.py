"""CRDs on a user's machine: pinned upstream files fetched once into a cache (tested against a local
HTTP server on 127.0.0.1), `render --crds DIR` offline, and a render that could not validate every
custom resource says so and fails under `--strict`."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from automation import crds
from automation.cli import app
from automation.crds import PINNED, CrdFetchError, CrdFiles, fetch_pinned, locate_crd_files
from automation.render import render
from automation.render_output import write_render
from tests.support import PROJECT_DIR, REFERENCE_DIR

runner = CliRunner()
needs_reference = pytest.mark.skipif(not REFERENCE_DIR.is_dir(), reason="needs ../shared/reference")


def _upstream_files() -> dict[str, bytes]:
    """The upstream files, rebuilt from the reference copies: App Mesh's is the chart's file as is;
    the others are upstream files joined, each under a ``# source: <repo> @ <ref> : <path>`` line
    (the Lattice ones lose their leading ``---`` there)."""
    files = {"stable/appmesh-controller/crds/crds.yaml": (REFERENCE_DIR / "appmesh-crds.yaml").read_bytes()}
    for name in ("gateway-api-standard-crds.yaml", "lattice-crds.yaml"):
        parts = re.split(rb"^---\n# source: .* : (\S+)\n", (REFERENCE_DIR / name).read_bytes(), flags=re.M)
        for index in range(1, len(parts), 2):
            path, body = parts[index].decode(), parts[index + 1]
            files[path] = body if "gateway-api" in name else b"---\n" + body
    return files


@needs_reference
def test_pins_match_the_reference_copies_ci_validates_with() -> None:
    files = _upstream_files()
    assert sorted(files) == sorted(p.path for p in PINNED)
    for pin in PINNED:
        assert hashlib.sha256(files[pin.path]).hexdigest() == pin.sha256, pin.path


class _Server:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                for pin in PINNED:
                    if self.path == f"/{pin.repo}/{pin.commit}/{pin.path}" and pin.path in server.files:
                        body = server.files[pin.path]
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                        return
                self.send_error(404)

            def log_message(self, format: str, *args: object) -> None:
                del format, args

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def server() -> Iterator[_Server]:
    found = _Server(_upstream_files() if REFERENCE_DIR.is_dir() else {})
    thread = threading.Thread(target=found.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.httpd.shutdown()
        found.httpd.server_close()
        thread.join(timeout=5)


@needs_reference
def test_fetch_once_into_the_cache_then_reuse_it(server: _Server, tmp_path: Path) -> None:
    paths = fetch_pinned(tmp_path, base_url=server.url, timeout=5)
    assert len(paths) == len(PINNED) == len(server.requests)
    for path, pin in zip(paths, PINNED, strict=True):
        assert path.parent == tmp_path / "crds"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == pin.sha256
    again = fetch_pinned(tmp_path, base_url=server.url, timeout=5)
    assert again == paths
    assert len(server.requests) == len(PINNED), "a cached file was downloaded again"


@needs_reference
def test_a_file_that_does_not_match_its_pin_is_refused_and_not_kept(server: _Server, tmp_path: Path) -> None:
    tampered = PINNED[1].path
    server.files[tampered] = server.files[tampered] + b"# changed\n"
    with pytest.raises(CrdFetchError, match=r"does not match the pin"):
        fetch_pinned(tmp_path, base_url=server.url, timeout=5)
    kept = sorted(p.name for p in (tmp_path / "crds").iterdir())
    assert kept == [PINNED[0].cache_name]


def test_an_unreachable_source_names_the_url(server: _Server, tmp_path: Path) -> None:
    server.files.clear()
    with pytest.raises(CrdFetchError, match=rf"{re.escape(server.url)}/aws/eks-charts/.*404"):
        fetch_pinned(tmp_path, base_url=server.url, timeout=5)


def test_locate_uses_the_user_cache_when_no_reference_folder(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "clone"
    project.mkdir()
    monkeypatch.setenv(crds.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(crds.BASE_URL_ENV, server.url)
    monkeypatch.delenv("CROSSMESH_REFERENCE_DIR", raising=False)
    found = locate_crd_files(project)
    if REFERENCE_DIR.is_dir():
        assert found.problem is None
        assert len(found.paths) == len(PINNED)
        assert found.source.startswith("user cache")
    else:
        assert found.problem is not None


@needs_reference
def test_render_with_fetched_crds_validates_every_custom_resource(server: _Server, tmp_path: Path) -> None:
    paths = fetch_pinned(tmp_path, base_url=server.url, timeout=5)
    result = render("dev", PROJECT_DIR, crd_files=CrdFiles(paths, "user cache"))
    assert result.problems == []
    assert result.unvalidated == []
    assert result.fully_validated


def test_render_without_crds_says_which_custom_resources_went_unvalidated(tmp_path: Path) -> None:
    result = render("appmesh", PROJECT_DIR, crd_files=CrdFiles((), "nowhere", "offline"))
    assert result.ok
    assert not result.fully_validated
    assert "eksc2: VirtualRouter/colorapp-router" in result.unvalidated
    write_render(result, tmp_path)
    report = (tmp_path / "report.md").read_text()
    assert f"**{len(result.unvalidated)} custom resource(s) were not validated**" in report
    assert "- not validated: eksc2: VirtualRouter/colorapp-router" in report


def test_cli_crds_dir_and_strict(tmp_path: Path) -> None:
    empty = tmp_path / "crds"
    empty.mkdir()
    out = tmp_path / "out"
    loose = runner.invoke(app, ["render", "appmesh", "--crds", str(empty), "--out", str(out), "--json"])
    assert loose.exit_code == 0, loose.output
    payload = json.loads(loose.stdout.strip().splitlines()[-1])
    assert payload["fully_validated"] is False
    assert "eksc1: Mesh/global" in payload["unvalidated"]
    # Built-in kinds with a dotted group (NetworkPolicy) have their schemas: checked, not listed.
    assert not [u for u in payload["unvalidated"] if "NetworkPolicy/" in u or "PodDisruptionBudget/" in u]
    assert "not validated" in loose.output
    strict = runner.invoke(app, ["render", "appmesh", "--crds", str(empty), "--out", str(out), "--strict"])
    assert strict.exit_code == 1


def test_cli_strict_json_says_not_ok_and_why(tmp_path: Path) -> None:
    # exit 1 used to come with "ok": true and no problem: `ok` must agree with the exit code.
    empty = tmp_path / "crds"
    empty.mkdir()
    argv = ["render", "appmesh", "--crds", str(empty), "--out", str(tmp_path / "out"), "--strict", "--json"]
    outcome = runner.invoke(app, argv)
    assert outcome.exit_code == 1
    payload = json.loads(outcome.stdout.strip().splitlines()[-1])
    assert (payload["ok"], payload["exit_code"], payload["fully_validated"]) == (False, 1, False)
    assert "not validated (--strict): eksc1: Mesh/global" in payload["problems"]
    assert all(p.startswith("not validated (--strict): ") for p in payload["problems"])


@needs_reference
def test_cli_crds_dir_offline_validates_everything(tmp_path: Path) -> None:
    outcome = runner.invoke(
        app, ["render", "appmesh", "--crds", str(REFERENCE_DIR), "--out", str(tmp_path), "--strict", "--json"]
    )
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.stdout.strip().splitlines()[-1])["fully_validated"] is True


_NOT_A_CRD_FILE = [
    (bytes(range(128, 256)) * 4, "not UTF-8 text (byte 0); expected YAML CRD files"),
    (b"kind: [\n", "not valid YAML: line 2, column 1: did not find expected node content"),
    (
        b"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: 5\n",
        "document 1: CustomResourceDefinition spec: 5 is not of type 'object'",
    ),
    (
        b"---\nkind: CustomResourceDefinition\nspec: {group: g, names: {}, scope: x, versions: []}\n",
        "document 1: CustomResourceDefinition spec.names: 'kind' is a required property",
    ),
    (b"just words\n", "document 1 is a str, not a Kubernetes object"),
    # A schema that is no JSON Schema failed in the middle of validating objects, with a traceback.
    (
        b"kind: CustomResourceDefinition\nspec:\n  group: example.com\n  scope: Namespaced\n"
        b"  names: {kind: Thing}\n  versions:\n  - name: v1\n    schema:\n      openAPIV3Schema:\n"
        b"        type: object\n        properties: {spec: {type: 5}}\n",
        "document 1: CustomResourceDefinition Thing v1: openAPIV3Schema is not a valid schema: "
        "properties.spec.type: 5 is not valid under any of the given schemas",
    ),
]


@pytest.mark.parametrize(
    ("content", "reason"), _NOT_A_CRD_FILE, ids=["bytes", "yaml", "spec-5", "no-kind", "text", "type-5"]
)
def test_a_bad_file_in_crds_is_bad_input_naming_the_file_before_the_program_runs(
    content: bytes, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import automation.render as render_module

    folder = tmp_path / "crds"
    folder.mkdir()
    (folder / "broken.yaml").write_bytes(content)
    recorded: list[str] = []
    monkeypatch.setattr(render_module, "record_project", lambda *a, **k: recorded.append("ran"))
    out = tmp_path / "out"
    outcome = runner.invoke(app, ["render", "dev", "--out", str(out), "--crds", str(folder), "--json"])
    assert outcome.exit_code == 2
    document = json.loads(outcome.stdout)
    assert (document["ok"], document["exit_code"], document["error"]["kind"]) == (False, 2, "bad_input")
    assert document["error"]["message"] == f"--crds: {folder / 'broken.yaml'}: {reason}"
    assert recorded == []
    assert not out.exists()


def test_a_pipe_in_crds_is_refused_unread(tmp_path: Path) -> None:
    import os

    folder = tmp_path / "crds"
    folder.mkdir()
    os.mkfifo(folder / "pipe.yaml")
    outcome = runner.invoke(
        app, ["render", "dev", "--out", str(tmp_path / "out"), "--crds", str(folder), "--json"]
    )
    assert outcome.exit_code == 2
    assert (
        json.loads(outcome.stdout)["error"]["message"]
        == f"--crds: {folder / 'pipe.yaml'}: not a regular file"
    )


def test_a_reference_folder_named_by_the_variable_that_is_not_there_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A typo in CROSSMESH_REFERENCE_DIR read as "no schemas found": a weaker render with nothing said.
    monkeypatch.setenv("CROSSMESH_REFERENCE_DIR", str(tmp_path / "nowhere"))
    found = locate_crd_files(tmp_path)
    assert found.paths == ()
    assert found.problem == f"CROSSMESH_REFERENCE_DIR={tmp_path / 'nowhere'} is not a folder"


def test_openapi_exclusive_bounds_are_read_as_openapi_not_as_draft_7(tmp_path: Path) -> None:
    # CRDs are OpenAPI 3.0: exclusiveMinimum: true qualifies minimum. Read as Draft 7, exclusiveMinimum:
    # true was the bound 1 and exclusiveMaximum: false the bound 0, so no ratio at all passed; and the
    # meta-schema check refused the file, though it is a valid CRD.
    from automation.validate import CrdSchemas, validate_objects

    crd = tmp_path / "ratio-crds.yaml"
    crd.write_text(
        "kind: CustomResourceDefinition\nspec:\n  group: example.com\n  scope: Namespaced\n"
        "  names: {kind: Thing}\n  versions:\n  - name: v1\n    schema:\n      openAPIV3Schema:\n"
        "        type: object\n        properties:\n          spec:\n            type: object\n"
        "            properties:\n              ratio: {type: number, minimum: 0, exclusiveMinimum: true,"
        " maximum: 1, exclusiveMaximum: false}\n"
    )
    schemas = CrdSchemas.load([crd])

    def problems(ratio: float) -> list[str]:
        thing = {
            "apiVersion": "example.com/v1",
            "kind": "Thing",
            "metadata": {"name": "t"},
            "spec": {"ratio": ratio},
        }
        found, _ = validate_objects([("c", thing)], kubernetes_version="1.34", crds=schemas)
        return [p.message for p in found]

    assert problems(0.5) == []
    assert problems(1) == []  # maximum 1, not exclusive
    assert problems(0) != []  # exclusive minimum 0
