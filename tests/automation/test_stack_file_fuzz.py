"""Property-based fuzzing of the stack files (hypothesis): mutated copies of the committed
``Pulumi.<env>.yaml`` go through :func:`automation.environment.environment`, the function every command
loads and validates an environment with, and must either load or be refused as bad input (exit 2)
with every problem naming where it is and what was expected; never another exception (a traceback,
exit 1), never a hang on an alias bomb or a file nested thousands deep.

A file that loads must also be read the same way by the program at deploy time: the flat map the
render hands the program, read again as ``infra.config_parse.from_pulumi`` reads what Pulumi passes
(every value a string), gives the same model.

The examples are derandomized and no example database is kept, so every run tries the same few
hundred files and the suite stays fast and repeatable; the budget is in ``_SETTINGS``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automation.environment import EnvironmentInputError, environment
from infra.config_parse import ConfigError, parse_config
from infra.naming import NameTooLongError
from tests.support import PROJECT_DIR, stack_document

ENVS = ("dev", "staging", "prod", "appmesh")
_TEXTS = {env: (PROJECT_DIR / f"Pulumi.{env}.yaml").read_text(encoding="utf-8") for env in ENVS}
_DOCUMENTS = {env: stack_document(env) for env in ENVS}

_SETTINGS = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# Values put in place of the committed ones: other types, odd and long text, huge numbers, NaN.
_ODD_TEXT = [
    "",
    " ",
    "~",
    "yes",
    "1.30",
    "0777",
    "2024-01-01",
    "0x1F",
    "1e400",
    "-",
    "*",
    "&a",
    "!!binary",
    "secure",
    "default",
    "kube-system",
    "0.0.0.0/0",
    "172.16.0.0/33",
    "EKSC1",
    "eksc1 ",
    "é",
    "\u2028",
    "\ufeff",
    "\x85",
    "a" * 64,
    "x" * 5000,
    "us-east-1",
    "t3.medium",
    "lattice",
    "appmesh",
    "none",
    "iam",
]
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(_ODD_TEXT),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)

# Plain scalars written into the text as they are (unquoted): where PyYAML and Pulumi's reader differ.
_RAW_SCALARS = [
    "yes",
    "No",
    "on",
    "~",
    "null",
    "",
    "1.30",
    "0777",
    "09",
    "0x_1F",
    "0b_1",
    "-_1",
    "1_",
    "1__0",
    "2024-01-01",
    "2024-1-2",
    "2024-1-2 3:4:5",
    "2024-02-30",
    "2024-01-01T10:00:00Z",
    "1e400",
    ".inf",
    "-.inf",
    ".nan",
    "1_0.5",
    ".5_",
    "1.5e_3",
    "+18446744073709551615",
    "18446744073709551616",
    "9" * 5000,
    "!!binary aGVsbG8=",
    "!!str 8080",
    "!!int '8080'",
    "!!float 1",
    "!!bool yes",
    "!!null ''",
    "!!set {a, b}",
    "!foo bar",
    "!!python/object:os.system",
    "! '8080'",
    "&a x",
    "*a",
    "*undefined",
    "[1, [2, [3]]]",
    "{a: 1, a: 2}",
    "{? [1]: 2}",
    "|\n    text",
    ">-\n    folded",
    "'single ''q'''",
    '"\\x00 \\u0085"',
    '"\\ud800"',
    "- x",
    "a: b: c",
    "@x",
    "`x`",
    "%x",
    "? x",
    "<<",
    "0o777",
    "0X1f",
    "+0x1",
    "-0",
    "-0.0",
    "1:30",
    "=",
    "Infinity",
    "True",
    "1e3",
    ".e3",
    "1.",
    "00",
]
# Alias bombs: each line doubles (or decuples) what the one before stands for.
_BOMBS = [
    "".join(f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)),
    "".join(f"  b{i}: &b{i} {{x: *b{i - 1}, y: *b{i - 1}}}\n" for i in range(1, 40)),
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def _mutated_documents(draw: st.DrawFn) -> tuple[str, bytes]:
    """A committed stack file with values replaced, dropped, added, wrapped or repeated."""
    env = draw(st.sampled_from(ENVS))
    document = copy.deepcopy(_DOCUMENTS[env])
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(document) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _at(document, path[:-1])
        operation = draw(st.sampled_from(["replace", "replace", "drop", "add", "wrap", "repeat"]))
        if operation == "replace":
            parent[path[-1]] = draw(_VALUES)
        elif operation == "drop":
            del parent[path[-1]]
        elif operation == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(_VALUES)
        elif operation == "wrap":
            parent[path[-1]] = draw(st.sampled_from([[parent[path[-1]]], {"x": parent[path[-1]]}]))
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
    text = yaml.safe_dump(
        document,
        allow_unicode=draw(st.booleans()),
        sort_keys=False,
        default_flow_style=draw(st.sampled_from([None, True, False])),
    )
    return env, text.encode("utf-8")


_ENTRY = re.compile(r"^(\s*(?:- )?[\w:.-]+:)( .*)?$|^(\s*-)( .*)?$")


@st.composite
def _mutated_texts(draw: st.DrawFn) -> tuple[str, bytes]:
    """A committed stack file edited as text: raw scalars, repeated lines, anchors and aliases, alias
    bombs, odd encodings, a NUL byte, a file cut short."""
    env = draw(st.sampled_from(ENVS))
    lines = _TEXTS[env].split("\n")
    for _ in range(draw(st.integers(1, 3))):
        entries = [i for i, line in enumerate(lines) if _ENTRY.match(line)]
        index = draw(st.sampled_from(entries))
        match = _ENTRY.match(lines[index])
        assert match is not None
        head = match.group(1) or match.group(3)
        rest = match.group(2) or match.group(4) or ""
        operation = draw(
            st.sampled_from(["value", "value", "repeat", "anchor", "alias", "bomb", "deep", "long", "space"])
        )
        if operation == "value":
            lines[index] = f"{head} {draw(st.sampled_from(_RAW_SCALARS))}"
        elif operation == "deep":
            depth = draw(st.integers(50, 5000))
            opening, closing = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
            lines[index] = f"{head} {opening * depth}x{closing * depth}"
        elif operation == "long":
            lines[index] = f"{head} {draw(st.sampled_from('x9 ')) * draw(st.integers(100, 300_000))}x"
        elif operation == "repeat":
            lines.insert(index, lines[index])
        elif operation == "anchor" and rest:
            lines[index] = f"{head} &a{rest}"
        elif operation == "alias":
            lines[index] = f"{head} *a"
        elif operation == "bomb" and "config:" in lines:
            lines.insert(lines.index("config:") + 1, draw(st.sampled_from(_BOMBS)).rstrip("\n"))
        else:
            lines[index] = lines[index].replace(":", " :", 1)
    text = "\n".join(lines)
    encoding = draw(
        st.sampled_from(["utf-8", "utf-8", "bom", "utf-16", "crlf", "cr", "nul", "latin-1", "cut"])
    )
    if encoding == "bom":
        return env, b"\xef\xbb\xbf" + text.encode()
    if encoding in ("utf-16", "latin-1"):
        return env, (text + "\n# café\n").encode(encoding)
    if encoding in ("crlf", "cr"):
        return env, text.replace("\n", "\r\n" if encoding == "crlf" else "\r").encode()
    raw = text.encode()
    at = draw(st.integers(0, len(raw)))
    return env, raw[:at] + b"\x00" + raw[at:] if encoding == "nul" else raw[:at] if encoding == "cut" else raw


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("project")
    (folder / "Pulumi.yaml").write_bytes((PROJECT_DIR / "Pulumi.yaml").read_bytes())
    return folder


def _check(project: Path, env: str, raw: bytes) -> None:
    """The contract for one stack file: loaded and read alike at deploy time, or refused as bad input."""
    (project / f"Pulumi.{env}.yaml").write_bytes(raw)
    refusal: Exception | None = None
    try:
        loaded = environment(project, env)
    except (ConfigError, EnvironmentInputError, NameTooLongError) as exc:
        refusal = exc
    if isinstance(refusal, ConfigError):
        assert refusal.problems, "a ConfigError must list its problems"
        for problem in refusal.problems:
            # Each names where (a key, or file:line:column) and what was wrong or expected.
            assert problem.key.strip(), refusal
            assert problem.message.strip(), refusal
        return
    if refusal is not None:
        assert str(refusal).strip()
        return
    # What `pulumi up` hands the program: every value a string, structured ones JSON.
    assert all(isinstance(value, str) for value in loaded.flat.values())
    assert parse_config(dict(loaded.flat), env, source=loaded.source) == loaded.config


@_SETTINGS
@given(case=_mutated_documents())
def test_a_stack_file_with_mutated_values_loads_or_is_refused_as_bad_input(
    project: Path, case: tuple[str, bytes]
) -> None:
    _check(project, *case)


@_SETTINGS
@given(case=_mutated_texts())
def test_a_stack_file_edited_as_text_loads_or_is_refused_as_bad_input(
    project: Path, case: tuple[str, bytes]
) -> None:
    _check(project, *case)


@pytest.mark.parametrize("env", ENVS)
def test_the_committed_stack_files_load(project: Path, env: str) -> None:
    # The seeds of the fuzzing: each committed file loads as it is.
    (project / f"Pulumi.{env}.yaml").write_text(_TEXTS[env], encoding="utf-8")
    assert environment(project, env).config.stack == env
