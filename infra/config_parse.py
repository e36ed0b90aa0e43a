"""Pulumi's flat configuration map -> the validated :class:`infra.config.StackConfig`.

Pulumi hands a program its configuration as a flat map of ``namespace:key`` to string, where
structured values are JSON-encoded (``crossmesh:clusters`` -> ``'[{"name": "eksc1", ...}]'``).
:func:`parse_config` turns that map into the model or raises :class:`ConfigError` listing every
problem with the key, the value that was given and what was expected. Nothing downstream reads raw
configuration again. The model itself (fields, descriptions, cross-field rules) is :mod:`infra.config`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel, to_snake

from infra import config as config_module
from infra.config import (
    NO_VALUE,
    PROJECT,
    Expected,
    KeyedError,
    StackConfig,
    kubernetes_version_problem,
)
from infra.config_limits import name_problems
from infra.data import as_list, as_mapping
from infra.known import did_you_mean, known_regions

# --------------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class Problem:
    key: str
    """Full configuration key, e.g. ``crossmesh:clusters[1].nodes.min``."""
    value: Any
    message: str

    def __str__(self) -> str:
        shown = (
            "(missing)"
            if self.value is _MISSING
            else "a secret"
            if self.value is _SECRET
            else "(the default)"
            if self.value is _DEFAULT
            else self.value.text
            if isinstance(self.value, _Shown)
            else _show(self.value)
        )
        return f"{self.key}: got {shown}; {self.message}"


class ConfigError(Exception):
    """Bad configuration. Every problem names the key, the value given and what was expected."""

    def __init__(self, problems: Sequence[Problem], source: str = "") -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid configuration{where}:\n{lines}")


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


@dataclass(frozen=True)
class _Shown:
    """A value described in words rather than shown as data (a null key has no text to quote)."""

    text: str


_MISSING: Any = _Missing()
_DEFAULT: Any = _Missing()
_SECRET: Any = _Missing()
_NOT_REPEATED: Any = _Shown("a value, not repeated here (it may be a credential)")


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------------------------------
# Parsing

# Top-level keys of the project namespace and the model field each maps to.
_TOP_LEVEL = {
    f"{PROJECT}:kubernetesVersion": "kubernetes_version",
    f"{PROJECT}:network": "network",
    f"{PROJECT}:clusters": "clusters",
    f"{PROJECT}:mesh": "mesh",
    f"{PROJECT}:workloads": "workloads",
    f"{PROJECT}:deletionProtection": "deletion_protection",
    f"{PROJECT}:tags": "tags",
    f"{PROJECT}:policy": "policy",
    f"{PROJECT}:operators": "operators",
    f"{PROJECT}:trafficWeights": "traffic_weights",
}
_STRING_KEYS = frozenset({"kubernetes_version"})
_REGION_KEY = "aws:region"
# The aws: keys the program reads (into the model, and from there into its AWS provider). Its AWS and
# Kubernetes providers are explicit ones, which read none of the stack's aws:/kubernetes: settings
# (https://www.pulumi.com/docs/iac/concepts/providers/: stack configuration sets the default
# providers), so any other key of those namespaces would be silently ignored: it is refused instead.
_AWS_KEYS = {
    _REGION_KEY: "region",
    "aws:allowedAccountIds": "allowed_account_ids",
    "aws:forbiddenAccountIds": "forbidden_account_ids",
}
_IGNORED_BY_EXPLICIT_PROVIDERS = {
    "aws": "the program makes its own AWS provider from aws:region (an explicit provider does not read "
    "the stack's other aws: settings), so this would be ignored; expected only aws:region, "
    "aws:allowedAccountIds or aws:forbiddenAccountIds. Credentials, profiles and roles come from the "
    "environment (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...), as docs/pipeline.md shows",
    "kubernetes": "the program makes one Kubernetes provider per cluster from the cluster it creates "
    "(an explicit provider does not read the stack's kubernetes: settings), so this would be ignored; "
    "expected no kubernetes: keys",
}
# Namespaces of the providers and tools a stack file may configure besides this project's own: never
# taken for a typo of it, however close they look.
OTHER_NAMESPACES = frozenset({"aws", "aws-native", "awsx", "eks", "kubernetes", "pulumi", "random", "tls"})


def qualified_key(key: str) -> str:
    """``key`` as Pulumi passes it to the program: a key without a namespace is the project's.

    "In cases where a simple name without a colon is used, Pulumi automatically uses the current
    project name from Pulumi.yaml as the namespace" (https://www.pulumi.com/docs/iac/concepts/config/,
    Configuration Keys): ``network:`` in a stack file is ``crossmesh:network``. The old form
    ``<namespace>:config:<name>`` is ``<namespace>:<name>`` (pulumi/pulumi
    ``sdk/go/common/resource/config/key.go``, ``ParseKey``): ``aws:config:region`` is ``aws:region``.
    """
    if ":" not in key:
        return f"{PROJECT}:{key}"
    namespace, module, name = key.split(":", 2) if key.count(":") == 2 else ("", "", "")
    return f"{namespace}:{name}" if module == "config" else key


def parse_config(raw: Mapping[str, str], stack: str, *, source: str = "") -> StackConfig:
    """Validate Pulumi's flat configuration map for ``stack``.

    ``raw`` is what Pulumi gives a program: every value a string, structured ones JSON-encoded.
    Raises :class:`ConfigError` with every problem found; never returns a half-valid model.
    """
    problems: list[Problem] = []
    data: dict[str, Any] = {"stack": stack}

    problems.extend(_read_region(raw, data))

    for given, text in raw.items():
        key = qualified_key(given)
        namespace, _, name = key.partition(":")
        if namespace in _IGNORED_BY_EXPLICIT_PROVIDERS:
            problems.extend(_provider_key(key, text, data))
            continue
        if namespace != PROJECT:
            typo = _namespace_typo(namespace)
            if typo:
                problems.append(Problem(key, _decode(text), typo.format(name=name)))
            continue
        field = _TOP_LEVEL.get(key)
        if field is None:
            problems.append(Problem(key, _decode(text), _unknown_top_level_message(name)))
            continue
        if field not in _STRING_KEYS:
            problems.extend(_json_problems(key, text))
        # Scalars arrive as strings; keep string-typed keys verbatim so "1.30" stays "1.30".
        data[field] = text if field in _STRING_KEYS else _top_level_value(text)

    if "clusters" not in data:
        problems.append(
            Problem(f"{PROJECT}:clusters", _MISSING, "expected a list of clusters, each with at least a name")
        )

    problems.extend(_unknown_nested_keys(StackConfig, data, path=""))
    if problems:
        raise ConfigError(problems, source)

    try:
        config = StackConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems_from(exc, data), source) from None
    too_long = [Problem(key, value, message) for key, value, message in name_problems(config)]
    if too_long:
        raise ConfigError(too_long, source)
    return config


def parse_stack_file(document: Mapping[str, Any], stack: str, *, source: str = "") -> StackConfig:
    """Validate a parsed ``Pulumi.<stack>.yaml`` document (its ``config:`` block)."""
    config = as_mapping(document.get("config") or {})
    if config is None:
        raise ConfigError([Problem("config", document.get("config"), "expected a mapping of keys")], source)
    block = qualified_block(config, source)
    secrets = [
        Problem(
            path,
            _SECRET,
            "a secret (secure:) where a plain value is needed: nothing in this configuration is secret, "
            "and a secret here would be unreadable to the render and hidden from every report; "
            "expected the plain value",
        )
        for key, value in block.items()
        # A provider key the program ignores is refused as such by parse_config, secret or not:
        # asking for its plain value would ask for a credential in the clear.
        if not _ignored_provider_key(key)
        for path in _secure_values(value, key)
    ]
    if secrets:
        raise ConfigError(secrets, source)
    return parse_config(_as_passed(block), stack, source=source)


def qualified_block(config: Mapping[Any, Any], source: str = "") -> dict[str, Any]:
    """A stack file's ``config:`` block with every key as Pulumi reads it (see :func:`qualified_key`).

    Raises :class:`ConfigError` for a key that names nothing (null, ``~`` or empty: YAML reads them
    without complaint, Pulumi would not), for one with more than one colon, which Pulumi cannot read
    (``aws:foo:bar``; ``aws:config:region`` is the old form of ``aws:region``), and for one key given
    twice, once with and once without the namespace (or the old form).
    """
    problems: list[Problem] = []
    block: dict[str, Any] = {}
    given: dict[str, str] = {}
    for raw_key, value in config.items():
        if raw_key is None or (isinstance(raw_key, str) and not raw_key.strip()):
            shown = "a null key (~ or null)" if raw_key is None else f"an empty key {raw_key!r}"
            problems.append(
                Problem(
                    "config",
                    _Shown(shown),
                    "expected every key to have a name, like crossmesh:network or aws:region",
                )
            )
            continue
        text = str(raw_key)
        key = qualified_key(text)
        namespace, _, name = key.partition(":")
        if ":" in name:
            problems.append(
                Problem(
                    text,
                    value,
                    "expected <namespace>:<name> with one colon, like crossmesh:network or aws:region: "
                    "Pulumi cannot read a key with more (only the old form <namespace>:config:<name>)",
                )
            )
            continue
        if not namespace or not name:
            problems.append(
                Problem(
                    text,
                    value,
                    "expected <namespace>:<name> with both parts, like crossmesh:network or aws:region",
                )
            )
            continue
        if key in block:
            problems.append(
                Problem(
                    key,
                    value,
                    f"given twice, as {given[key]} and as {text} (a key without a namespace is "
                    f"{PROJECT}'s, and <namespace>:config:<name> is <namespace>:<name>); expected it once",
                )
            )
            continue
        block[key] = value
        given[key] = text
    if problems:
        raise ConfigError(problems, source)
    return block


def _secure_values(value: Any, path: str) -> Iterator[str]:
    """Paths of Pulumi secrets (``{secure: <ciphertext>}``) anywhere inside ``value``."""
    mapping = as_mapping(value)
    if mapping is not None:
        if set(mapping) == {"secure"}:
            yield path
            return
        for key, inner in mapping.items():
            yield from _secure_values(inner, f"{path}.{key}")
        return
    items = as_list(value)
    for index, inner in enumerate(items or []):
        yield from _secure_values(inner, f"{path}[{index}]")


def flatten_config(config: Mapping[Any, Any]) -> dict[str, str]:
    """A stack file's ``config:`` block as Pulumi passes it to a program: every key with its namespace,
    structured values as JSON. Raises :class:`ConfigError` as :func:`qualified_block` does."""
    return _as_passed(qualified_block(config))


def _as_passed(block: Mapping[str, Any]) -> dict[str, str]:
    """A qualified block's values as Pulumi passes them: text as it is, anything else as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in block.items()}


_YAML_BOOLEAN_SPELLINGS = {"True": True, "TRUE": True, "False": False, "FALSE": False}
"""The spellings of true and false that yaml.v3 reads as booleans besides the JSON ones (``resolve.go``).
Pulumi passes an unquoted ``True`` directly under ``config:`` as ``true`` (see ``automation/stack_yaml.py``),
but the text ``True`` (quoted, or set with ``pulumi config set``) as it is, which JSON does not read."""


def _top_level_value(text: str) -> Any:
    """A value written directly under ``config:``: JSON, or one of YAML's boolean spellings, or text."""
    if text in _YAML_BOOLEAN_SPELLINGS:
        return _YAML_BOOLEAN_SPELLINGS[text]
    return _decode(text)


def _decode(text: str) -> Any:
    """Pulumi passes structured values as JSON and plain ones as strings; accept both."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _json_problems(key: str, text: str) -> list[Problem]:
    """Why ``text``, meant as a JSON object or array (it starts with ``{`` or ``[``), is not one.

    Pulumi passes a structured value as JSON text and :func:`_decode` reads it; text that fails to parse
    would otherwise reach the model as a plain string and be reported as the wrong kind of value.
    """
    if not text.lstrip().startswith(("{", "[")):
        return []
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        near = text[max(exc.pos - 15, 0) : exc.pos + 15]
        message = (
            f"not valid JSON: {exc.msg[0].lower()}{exc.msg[1:]} at line {exc.lineno} column {exc.colno} "
            f"(near {near!r}); expected a JSON object {{...}} or array [...], which is how Pulumi passes a "
            "mapping or a list"
        )
        return [Problem(key, text, message)]
    return []


def _check_region(region: str) -> str | None:
    if region in known_regions():
        return None
    close = did_you_mean(region, known_regions())
    hint = f" (did you mean {close!r}?)" if close else ""
    return f"expected an AWS region where EKS is available, as botocore knows them{hint}"


def _read_region(raw: Mapping[str, str], data: dict[str, Any]) -> list[Problem]:
    region = raw.get(_REGION_KEY)
    if region is None:
        return [Problem(_REGION_KEY, _MISSING, "expected the AWS region, e.g. us-east-1")]
    data["region"] = region
    region_problem = _check_region(region)
    return [Problem(_REGION_KEY, region, region_problem)] if region_problem else []


def _ignored_provider_key(key: str) -> bool:
    """An ``aws:``/``kubernetes:`` key (qualified) that the program's explicit providers would ignore."""
    return key.partition(":")[0] in _IGNORED_BY_EXPLICIT_PROVIDERS and key not in _AWS_KEYS


def _provider_key(key: str, text: str, data: dict[str, Any]) -> list[Problem]:
    """An ``aws:``/``kubernetes:`` key: into ``data`` when the program reads it (aws:region is read
    first, on its own), else refused (an explicit provider would ignore it)."""
    if _ignored_provider_key(key):
        # Credentials live in these namespaces (aws:secretKey, aws:token, kubernetes:kubeconfig), and
        # the refusal goes to the terminal, the --json document and CI logs: never quote the value.
        namespace = key.partition(":")[0]
        return [Problem(key, _NOT_REPEATED, _IGNORED_BY_EXPLICIT_PROVIDERS[namespace])]
    if key == _REGION_KEY:
        return []
    data[_AWS_KEYS[key]] = _top_level_value(text)
    return _json_problems(key, text)


def _namespace_typo(namespace: str) -> str | None:
    """A message template (``{name}``) when ``namespace`` looks like a typo of the project's, else None.

    Keys of other namespaces belong to Pulumi and its plugins (``pulumi:...``; ``aws:`` and
    ``kubernetes:`` keys are checked by :func:`parse_config`) and are passed over; one that differs
    from ``crossmesh`` by a slip would be silently ignored with them.
    """
    if namespace in OTHER_NAMESPACES or did_you_mean(namespace, [PROJECT]) is None:
        return None
    return (
        f"unknown namespace {namespace!r}; did you mean '{PROJECT}:{{name}}'? expected {PROJECT}: for this "
        f"program's keys (keys of other namespaces go to their providers, e.g. aws:region)"
    )


def _unknown_top_level_message(name: str) -> str:
    """An unknown ``crossmesh:`` key, with a did-you-mean among the project's keys and aws:region."""
    names = {key.partition(":")[2]: key for key in _TOP_LEVEL}
    names["region"] = _REGION_KEY
    # ``crossmesh.network`` (a dot for the colon) is crossmesh:crossmesh.network to Pulumi.
    head, dot, rest = name.partition(".")
    if dot and rest in names and did_you_mean(head, [PROJECT]):
        close: str | None = rest
    else:
        close = did_you_mean(name, names)
    return _unknown_key_words(names[close] if close else None, _TOP_LEVEL)


def _unknown_key_message(key: str, allowed: Iterable[str]) -> str:
    return _unknown_key_words(did_you_mean(key, allowed), allowed)


def _unknown_key_words(meant: str | None, allowed: Iterable[str]) -> str:
    hint = f"did you mean {meant!r}? " if meant else ""
    return f"unknown key; {hint}expected one of {', '.join(sorted(allowed))}"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation like ``Foo``, ``Foo | None`` or ``tuple[Foo, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin is Annotated:
        return _model_of(get_args(annotation)[0])
    if origin in (Union, UnionType, tuple, list):
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _unknown_nested_keys(model: type[BaseModel], data: Any, path: str) -> list[Problem]:
    """Unknown keys anywhere in ``data``, each with a did-you-mean from the model's own keys."""
    mapping = as_mapping(data)
    if mapping is None:
        return []
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    accepted = {**fields, **model.model_fields}
    problems: list[Problem] = []
    for key, value in mapping.items():
        full = _join(path, key)
        info = accepted.get(key)
        if info is None:
            problems.append(Problem(_full_key(full), value, _unknown_key_message(key, fields)))
            continue
        inner = _model_of(info.annotation)
        if inner is None:
            continue
        items = as_list(value)
        if items is not None:
            for index, item in enumerate(items):
                problems.extend(_unknown_nested_keys(inner, item, f"{full}[{index}]"))
        else:
            problems.extend(_unknown_nested_keys(inner, value, full))
    return problems


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _full_key(path: str) -> str:
    """``clusters[0].name`` -> ``crossmesh:clusters[0].name``; ``region`` -> ``aws:region``."""
    match = re.match(r"[^.\[]*", path)
    head = match.group(0) if match else path
    rest = path[len(head) :]
    for key, field in _AWS_KEYS.items():
        if head in (field, to_camel(field)):
            return key + rest
    for key, field in _TOP_LEVEL.items():
        if head in (field, to_camel(field)):
            return key + rest
    return f"{PROJECT}:{path}"


def _loc_to_path(loc: Sequence[int | str], data: Any) -> tuple[str, Any]:
    """Turn a pydantic error location into a config path and pick the offending value out of ``data``."""
    path = ""
    value: Any = data
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            items = as_list(value)
            value = items[part] if items is not None and part < len(items) else _MISSING
            continue
        if part.startswith("function-") or part in {"tagged-union", "literal"}:
            continue
        key = to_camel(part) if "_" in part else part
        path = _join(path, key)
        found = as_mapping(value)
        # Nested values are keyed as written (camelCase); the top level by model field (snake_case).
        names = (key, part, to_snake(part))
        value = next((found[n] for n in names if n in found), _MISSING) if found is not None else _MISSING
    return path, value


def _problems_from(exc: ValidationError, data: Mapping[str, Any]) -> list[Problem]:
    errors = exc.errors(include_url=False)
    failed = [tuple(e["loc"]) for e in errors if e["type"] != "too_short"]
    problems: list[Problem] = []
    for error in errors:
        # A list whose items failed is also reported as too short by pydantic: say it once.
        if error["type"] == "too_short" and any(f[: len(error["loc"])] == error["loc"] for f in failed):
            continue
        loc: tuple[int | str, ...] = tuple(error["loc"])
        context: dict[str, Any] = dict(error.get("ctx") or {})
        cause = context.get("error")
        if isinstance(cause, KeyedError):
            base, _ = _loc_to_path(loc, data)
            path = _join(base, cause.key)
            _, value = (
                _loc_to_path(_path_to_loc(path), data) if cause.value is NO_VALUE else ("", cause.value)
            )
            # A cross-field check can fail on a key the user never set: its default is what was "given".
            problems.append(Problem(_full_key(path), _DEFAULT if value is _MISSING else value, cause.message))
            continue
        path, value = _loc_to_path(loc, data)
        if value is _MISSING and error["type"] != "missing":
            value = error.get("input", _MISSING)
        expected = _type_at(loc)
        message = (
            str(cause)
            if isinstance(cause, ValueError)
            else _expected(error["type"], error["msg"], context, expected)
        )
        if _wants_text(error["type"], expected):
            value = _yaml_scalar(value, path)
        problems.append(Problem(_full_key(path) if path else PROJECT, value, message))
    return problems


def _wants_text(kind: str, expected: _Type | None) -> bool:
    """Whether the error is about a value that had to be text: a string, or one of a set of words."""
    if kind == "string_type":
        return True
    if kind not in {"literal_error", "enum"} or expected is None:
        return False
    annotation = _bare(expected.annotation)
    if get_origin(annotation) is Literal:
        return all(isinstance(a, str) for a in get_args(annotation))
    return isinstance(annotation, type) and issubclass(annotation, str)


def _yaml_scalar(value: Any, path: str) -> Any:
    """``value`` with a word on how YAML made it, when it is a boolean or a number where text belongs.

    Pulumi's YAML reader, and ``automation/stack_yaml.py`` with it, reads unquoted ``true`` and
    ``false`` as booleans (``on`` and ``yes`` stay text there) and ``1e3`` or ``1.30`` as numbers, so
    ``color: true`` reaches the model as a boolean.
    """
    leaf = re.sub(r"\[\d+\]$", "", path).rpartition(".")[2] or path
    if isinstance(value, bool):
        word = "true" if value else "false"
        return _Shown(
            f"{_show(value)}, a YAML boolean (unquoted true and false are booleans: quote it, "
            f"e.g. {leaf}: '{word}')"
        )
    if isinstance(value, int):
        return _Shown(f"{_show(value)}, a YAML number (quote it: {leaf}: '{value}')")
    if isinstance(value, float):
        return _Shown(
            f"{_show(value)}, a YAML number (quote it as written: unquoted, 1e3 reads as 1000 and "
            "1.30 as 1.3)"
        )
    return value


def _path_to_loc(path: str) -> tuple[int | str, ...]:
    loc: list[int | str] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        loc.append(int(index) if index else name)
    return tuple(loc)


# What each kind of value is called when the model's type at the key cannot say more.
_KIND_WORDS = {
    "string_type": "a string",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
}


_FIXED_WORDS = {
    "missing": "required key is missing",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}
"""Pydantic's errors that need no more than their kind to be said as what to write."""
_BOUND_WORDS = {
    "greater_than_equal": ("expected a number >= {}", "ge"),
    "less_than_equal": ("expected a number <= {}", "le"),
    "literal_error": ("expected {}", "expected"),
    "enum": ("expected {}", "expected"),
    "too_short": ("expected at least {} item(s)", "min_length"),
    "too_long": ("expected at most {} item(s)", "max_length"),
    "string_too_short": ("expected at least {} character(s)", "min_length"),
    "string_too_long": ("expected at most {} character(s)", "max_length"),
}
"""Pydantic's errors said with one value of the error's context: (words, the context's key)."""


def _expected(kind: str, msg: str, context: Mapping[str, Any], expected: _Type | None = None) -> str:
    """Pydantic's error, said as what to write instead; ``expected`` is the model's type at the key."""
    if kind in _FIXED_WORDS:
        return _FIXED_WORDS[kind]
    if kind in _BOUND_WORDS:
        words, name = _BOUND_WORDS[kind]
        return words.format(context.get(name))
    described = _describe(expected) if expected is not None else None
    if kind in _KIND_WORDS or kind == "string_pattern_mismatch":
        # The pattern itself is no answer to "what should I write": the type's words are.
        return f"expected {described or _KIND_WORDS.get(kind, 'text of another form')}"
    return msg[0].lower() + msg[1:] if msg else kind


# --------------------------------------------------------------------------------------------------
# The model's type at a key, in words


@dataclass(frozen=True)
class _Type:
    """A type of the model and the ``Annotated`` metadata it was declared with."""

    annotation: Any
    metadata: tuple[Any, ...] = ()


def _type_at(loc: Sequence[int | str]) -> _Type | None:
    """The type :class:`StackConfig` expects at a pydantic error location, or None where the location
    leads somewhere the walk does not know."""
    current = _Type(StackConfig)
    for part in loc:
        if isinstance(part, str) and (part.startswith("function-") or part in {"tagged-union", "literal"}):
            continue
        annotation = _bare(current.annotation)
        args = get_args(annotation)
        origin = get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(part, str):
            info = annotation.model_fields.get(part) or next(
                (i for i in annotation.model_fields.values() if i.alias == part), None
            )
            if info is None:
                return None
            current = _Type(info.annotation, tuple(info.metadata))
        elif origin in (tuple, list) and args and isinstance(part, int):
            current = _Type(args[0])
        elif origin in (Mapping, dict) and len(args) == 2 and isinstance(part, str):
            current = _Type(args[1])
        else:
            return None
    return current


def _bare(annotation: Any) -> Any:
    """``annotation`` without ``Annotated`` and without ``| None``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _bare(get_args(annotation)[0])
    if origin in (Union, UnionType):
        present = [a for a in get_args(annotation) if a is not NoneType]
        if len(present) == 1:
            return _bare(present[0])
    return annotation


def _describe(expected: _Type) -> str | None:
    """What to write for a value of ``expected``, in words; None for a type it has no words for."""
    annotation, metadata = expected.annotation, list(expected.metadata)
    while get_origin(annotation) is Annotated:
        annotation, *inner = get_args(annotation)
        metadata.extend(inner)
    # The outermost words win: a zone is a DNS label, but said as a zone.
    words = next((m.text for m in reversed(metadata) if isinstance(m, Expected)), None)
    if words is not None:
        return words
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (Union, UnionType):
        present = [a for a in args if a is not NoneType]
        parts = [_describe(_Type(a)) for a in present]
        return " or ".join(p for p in parts if p) or None
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (tuple, list):
        item = _describe(_Type(args[0])) if args else None
        return f"a list, each item {item}" if item else "a list"
    if origin in (Mapping, dict):
        value = _describe(_Type(args[1])) if len(args) == 2 else None
        return f"a mapping of names to values, each value {value}" if value else "a mapping"
    if not isinstance(annotation, type):
        return None
    if issubclass(annotation, BaseModel):
        return _keys_in_words(annotation)
    if issubclass(annotation, Enum):
        return "one of " + ", ".join(repr(m.value) for m in annotation)
    if issubclass(annotation, bool):
        return "true or false"
    if issubclass(annotation, int):
        return "a whole number"
    if issubclass(annotation, str):
        return "a string"
    return None


def _keys_in_words(model: type[BaseModel]) -> str:
    keys = [(info.alias or name, info.is_required()) for name, info in model.model_fields.items()]
    required = [key for key, needed in keys if needed]
    text = f"a mapping with keys {', '.join(key for key, _ in keys)}"
    return f"{text} ({' and '.join(required)} required)" if required else text


def calendar_problems(config: StackConfig, today: date) -> list[Problem]:
    """The clusters' versions that EKS no longer creates or updates to on ``today``, each on the key that
    sets it: checked by ``pulumi up`` and ``preview`` (config_parse.from_pulumi) and by the CLI's
    deploy, preview and render, not by destroy, refresh or verify."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, cluster in enumerate(config.clusters):
        key = config.kubernetes_version_key(index)
        version = config.kubernetes_version_of(cluster)
        problem = kubernetes_version_problem(version, today)
        if problem and key not in seen:
            seen.add(key)
            problems.append(Problem(key, version, problem))
    return problems


def refuse_expired_versions(config: StackConfig, today: date, source: str) -> None:
    """Raise :class:`ConfigError` (``source``: the stack file) for every version of
    :func:`calendar_problems`; the one refusal up, preview, render, deploy and shift share."""
    problems = calendar_problems(config, today)
    if problems:
        raise ConfigError(problems, source)


def from_pulumi() -> StackConfig:
    """Read and validate the running program's configuration (inside ``pulumi up`` or the recorder).

    A bad configuration stops the program before any resource is registered, with every problem
    listed and no Python traceback (``pulumi.RunError``).
    """
    import pulumi  # noqa: PLC0415 - the CLI validates config without loading the Pulumi SDK
    from pulumi.runtime.config import CONFIG, get_config_env  # noqa: PLC0415

    raw = {**get_config_env(), **CONFIG.get()}
    stack = pulumi.get_stack()
    source = f"Pulumi.{stack}.yaml"
    try:
        config = parse_config({k: str(v) for k, v in raw.items()}, stack, source=source)
        # The program runs for up and preview (and the offline render), never for destroy or refresh.
        refuse_expired_versions(config, config_module.utc_today(), source)
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from exc
    return config
