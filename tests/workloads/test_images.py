"""Static checks of the one Dockerfile (per app, as built with APP=<app>), the pinned requirements and
.dockerignore (no Docker here), and of what workloads/deploy/images.py hands docker-build."""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shlex
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
APPS = ["colorapp", "front"]
DOCKERFILE = REPO / "workloads" / "Dockerfile"
RUNTIME = REPO / "workloads" / "runtime"
# The image's interpreter; environment markers in dependency metadata are evaluated for it.
IMAGE_PYTHON = {
    "python_version": "3.12",
    "python_full_version": "3.12.11",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "platform_machine": "x86_64",
    "extra": "",
}


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])

    def all(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]


def parse_dockerfile(path: Path, build_args: dict[str, str] | None = None) -> list[Stage]:
    """The stages, with ``${ARG}`` references expanded as ``docker build --build-arg`` would."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        for name, value in (build_args or {}).items():
            full = full.replace("${" + name + "}", value)
        logical.append(full)
        pending = ""
    assert not pending, "dangling line continuation"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].instructions.append((keyword, args))
    return stages


def copy_sources(args: str) -> tuple[str | None, list[str], str]:
    """(--from stage, sources, destination) of a COPY instruction."""
    words = shlex.split(args)
    source_stage = None
    while words[0].startswith("--"):
        flag = words.pop(0)
        if flag.startswith("--from="):
            source_stage = flag.split("=", 1)[1]
    return source_stage, words[:-1], words[-1]


def context_files(pattern: str) -> list[Path]:
    return [p for p in REPO.glob(pattern) if p.is_file()]


def env_values(stage: Stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for args in stage.all("ENV"):
        for word in shlex.split(args):
            key, sep, value = word.partition("=")
            assert sep, f"ENV in key=value form only: {args}"
            values[key] = value
    return values


@pytest.fixture(params=APPS)
def app(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def stages(app: str) -> list[Stage]:
    return parse_dockerfile(DOCKERFILE, {"APP": app})


def test_one_dockerfile_takes_the_app_as_a_build_argument() -> None:
    assert not list((REPO / "workloads").glob("*/**/Dockerfile")), "one Dockerfile, not one per app"
    final = parse_dockerfile(DOCKERFILE)[-1]
    assert final.all("ARG") == ["APP"]
    assert env_values(final)["APP"] == "${APP}"


def test_multi_stage_on_a_pinned_slim_python(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    final = stages[-1]
    assert re.fullmatch(r"python:3\.12\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", final.image), final.image
    # The venv's interpreter link points into the base image, so build and run on the same one.
    assert {stage.image for stage in stages} == {final.image}


def test_build_stage_installs_the_pinned_requirements_from_wheels(stages: list[Stage]) -> None:
    build = stages[0]
    installs = [run for run in build.all("RUN") if " install " in run]
    assert len(installs) == 1
    install = installs[0]
    for flag in ("--no-cache-dir", "--no-deps", "--only-binary=:all:", "-r "):
        assert flag in install
    copied = [copy_sources(args)[1] for args in build.all("COPY")]
    assert ["workloads/runtime/requirements.txt"] in copied


def test_final_stage_runs_as_non_root_numeric_user(stages: list[Stage]) -> None:
    users = stages[-1].all("USER")
    assert len(users) == 1
    match = re.fullmatch(r"(\d+)(?::(\d+))?", users[0])
    assert match, f"USER must be numeric, got {users[0]!r}"
    assert int(match.group(1)) != 0
    assert match.group(2) is None or int(match.group(2)) != 0
    # Nothing may switch back to root after USER.
    keywords = [key for key, _ in stages[-1].instructions]
    assert "RUN" not in keywords[keywords.index("USER") :]


def test_final_stage_settings_and_command(app: str, stages: list[Stage]) -> None:
    final = stages[-1]
    env = env_values(final)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert final.all("EXPOSE") == ["8080"]
    # The image runs the app it was built for: APP is baked in, and the entry point dispatches on it.
    assert env["APP"] == app
    assert [json.loads(cmd) for cmd in final.all("CMD")] == [["python", "-m", "workloads.runtime"]]
    (healthcheck,) = final.all("HEALTHCHECK")
    command = json.loads(healthcheck[healthcheck.index("CMD") + 3 :])
    assert command[:2] == ["python", "-c"]
    assert "urllib.request" in command[2]
    assert "/healthz" in command[2]
    compile(command[2], "healthcheck", "exec")  # the one-liner is valid Python


def test_final_stage_carries_nothing_of_the_build(stages: list[Stage]) -> None:
    final = stages[-1]
    for run in final.all("RUN"):
        assert re.fullmatch(
            r'test -f "workloads/runtime/[a-z]+/app\.py" && python -m compileall -q workloads', run
        ), run
    for args in final.all("COPY") + final.all("ADD"):
        source_stage, sources, _ = copy_sources(args)
        if source_stage is not None:
            assert sources == ["/opt/venv"], "only the venv comes from the build stage"


def test_final_stage_copies_exactly_the_app_code(app: str, stages: list[Stage]) -> None:
    copied: set[Path] = set()
    for args in stages[-1].all("COPY"):
        source_stage, sources, _ = copy_sources(args)
        if source_stage is not None:
            continue
        for source in sources:
            files = context_files(source)
            assert files, f"COPY source {source} matches nothing in the repository"
            copied.update(files)
    allowed = {REPO / "workloads" / "__init__.py", RUNTIME / "__init__.py", RUNTIME / "__main__.py"}
    for package in ("common", app):
        allowed.update((RUNTIME / package).glob("*.py"))
    assert copied == allowed
    # The image holds only the runtime room: nothing of the Pulumi components that deploy it.
    assert not [p for p in copied if "deploy" in p.relative_to(REPO).parts]
    # Everything the copied code imports from workloads.* is in the image too.
    for path in copied:
        for module in _imports(path):
            if module.startswith("workloads."):
                target = REPO / Path(*module.split("."))
                assert target.with_suffix(".py") in copied or target / "__init__.py" in copied, module


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in (RUNTIME / "requirements.txt").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.+!-]*)", line)
        assert match, f"not pinned with ==: {line!r}"
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        assert name not in pins, f"duplicate pin {name}"
        pins[name] = match.group(2)
    return pins


def test_requirements_are_exact_pins_of_runtime_packages_only() -> None:
    pins = _pins()
    assert {"uvicorn", "uvloop", "httptools", "aiohttp"} <= set(pins)
    assert not {"pytest", "ruff", "pyright", "httpx", "starlette", "pip", "setuptools"} & set(pins)


def test_requirements_cover_every_third_party_import_of_the_apps() -> None:
    pins = _pins()
    owners = metadata.packages_distributions()
    for path in RUNTIME.glob("**/*.py"):
        for module in _imports(path):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top == "workloads":
                continue
            dists = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(top, [top])}
            assert dists & set(pins), f"{path.relative_to(REPO)} imports {top}, which is not pinned"


def test_requirements_pin_the_whole_dependency_closure() -> None:
    # --no-deps in the image build means a missing transitive pin would be missing at run time.
    pins = _pins()
    for name in pins:
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            pytest.skip(f"{name} is not installed here, cannot read its dependencies")
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate(IMAGE_PYTHON):
                continue
            dep = re.sub(r"[-_.]+", "-", requirement.name).lower()
            assert dep in pins, f"{name} needs {dep}, which is not pinned"
            assert requirement.specifier.contains(pins[dep], prereleases=True), (name, dep, pins[dep])


def _dockerignore() -> list[tuple[bool, str]]:
    rules: list[tuple[bool, str]] = []
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            rules.append((line.startswith("!"), line.lstrip("!").rstrip("/")))
    return rules


def _sent_to_docker(path: str, rules: list[tuple[bool, str]]) -> bool:
    # Docker's rule: the last pattern matching the path or one of its parent folders decides.
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    included = True
    for negated, pattern in rules:
        if any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates):
            included = negated
    return included


def test_dockerignore_sends_only_what_the_images_copy() -> None:
    rules = _dockerignore()
    assert rules[0] == (False, "*"), "start by excluding everything"
    for app in APPS:
        for stage in parse_dockerfile(DOCKERFILE, {"APP": app}):
            for args in stage.all("COPY"):
                source_stage, sources, _ = copy_sources(args)
                if source_stage is None:
                    for source in sources:
                        for file in context_files(source):
                            relative = file.relative_to(REPO).as_posix()
                            assert _sent_to_docker(relative, rules), relative
    for kept_out in (
        "pyproject.toml",
        "infra/__init__.py",
        ".git/config",
        "tests/workloads/conftest.py",
        "workloads/runtime/common/__pycache__/web.cpython-312.pyc",
        "workloads/deploy/images.py",
        "workloads/topology.py",
        ".venv/bin/python",
        "Pulumi.dev.yaml",
    ):
        assert not _sent_to_docker(kept_out, rules), kept_out


def test_image_build_inputs_name_the_one_dockerfile_and_the_app() -> None:
    from infra.topology import AppKind
    from workloads.deploy import images

    assert images.DOCKERFILE == "workloads/Dockerfile"
    assert (REPO / images.DOCKERFILE).is_file()
    for kind in AppKind:
        assert images.build_args(kind) == {"APP": kind.value}


@pytest.mark.parametrize("app", APPS)
def test_source_tag_covers_exactly_what_the_image_copies(app: str) -> None:
    from infra.topology import AppKind
    from workloads.deploy import images

    kind = AppKind(app)
    files = set(images.build_files(REPO, kind))
    copied: set[Path] = {DOCKERFILE, RUNTIME / "requirements.txt"}
    for stage in parse_dockerfile(DOCKERFILE, {"APP": app}):
        for args in stage.all("COPY"):
            source_stage, sources, _ = copy_sources(args)
            if source_stage is None:
                for source in sources:
                    copied.update(context_files(source))
    assert files == copied
    other = next(k for k in AppKind if k is not kind)
    assert images.source_tag(REPO, kind) != images.source_tag(REPO, other)
    assert re.fullmatch(r"src-[0-9a-f]{16}", images.source_tag(REPO, kind))
