"""Schema validation of every Kubernetes object the program applies.

Built-in kinds are checked against the strict schemas kubernetes-validate ships for the configured
Kubernetes version (unknown fields are errors). Custom resources are checked against the
``openAPIV3Schema`` of their CustomResourceDefinition, read from the reference folder
(``../shared/reference`` beside the project, or ``$CROSSMESH_REFERENCE_DIR``); there, too, a field the
schema does not declare is an error, as the API server's strict field validation would make it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, cast

import jsonschema
import yaml
from referencing import Registry, Resource

from automation.crds import MAX_CRD_BYTES, user_cache_dir
from infra.data import mapping_or_empty

NO_SCHEMA_CACHE_ENV = "CROSSMESH_NO_SCHEMA_CACHE"
"""Set to parse CRD files every time instead of reading their parsed schemas from the user cache."""


@dataclass(frozen=True)
class Invalid:
    """One schema violation: which object, which field, what is wrong."""

    cluster: str
    kind: str
    name: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.cluster}: {self.kind}/{self.name}: {self.field or '(root)'}: {self.message}"


def _path(error: Any) -> str:
    out = ""
    parts: list[str | int] = list(error.absolute_path)
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# Built-in kinds -------------------------------------------------------------------------------------


def _schema_dir(version: str) -> tuple[Traversable, str]:
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    available = sorted(
        (m.group(1) for p in root.iterdir() if (m := re.fullmatch(r"v(\d+\.\d+)\.\d+-local-strict", p.name))),
        key=lambda v: tuple(int(x) for x in v.split(".")),
    )
    wanted = tuple(int(x) for x in version.split("."))
    usable = [v for v in available if tuple(int(x) for x in v.split(".")) <= wanted]
    if not usable:
        raise ValueError(
            f"kubernetes-validate has no schemas for Kubernetes {version} (it has {', '.join(available)})"
        )
    chosen = usable[-1]
    return root.joinpath(f"v{chosen}.0-local-strict"), chosen


@cache
def _builtin_validator(version: str, kind: str, api_version: str) -> Any | None:
    directory, _ = _schema_dir(version)
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_file = directory.joinpath(f"{kind.lower()}-{group_version}.json")
    if not schema_file.is_file():
        return None
    schema: Any = json.loads(schema_file.read_text(encoding="utf-8"))
    resource: Any = Resource.from_contents(schema)
    registry: Any = resource @ _definitions(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


@cache
def _definitions(version: str) -> Any:
    directory, _ = _schema_dir(version)
    definitions: Any = json.loads(directory.joinpath("_definitions.json").read_text(encoding="utf-8"))
    resource: Any = Resource.from_contents(definitions)
    return resource @ Registry[Any]()


# Custom resources ----------------------------------------------------------------------------------


def _closed(schema: Any) -> Any:
    """Copy of an OpenAPI v3 CRD schema where objects reject undeclared fields (strict field validation)."""
    if isinstance(schema, dict):
        node = {k: _closed(v) for k, v in cast(dict[str, Any], schema).items()}
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        if node.get("x-kubernetes-int-or-string"):
            node.pop("type", None)
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"]
        # OpenAPI 3.0 (what CRDs are written in) makes exclusiveMinimum/-Maximum booleans that qualify
        # minimum/maximum; JSON Schema Draft 7 makes them the bounds themselves. Read as Draft 7,
        # ``exclusiveMinimum: true`` was the number 1.
        for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            flag = node.get(exclusive)
            if flag is True and bound in node:
                node[exclusive] = node.pop(bound)
            elif flag is False or flag is True:
                node.pop(exclusive)
        return node
    if isinstance(schema, list):
        return [_closed(v) for v in cast(list[Any], schema)]
    return schema


class CrdFileError(ValueError):
    """A CRD file that cannot be used; the message names the file and what is wrong."""


# What of a CustomResourceDefinition the schemas are read from; checked before it is read, so a file
# that is YAML but no CRD (``spec: 5``) is refused by name instead of failing with a KeyError.
_CRD_SHAPE: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "spec": {
            "type": "object",
            "required": ["group", "names", "scope", "versions"],
            "properties": {
                "group": {"type": "string"},
                "scope": {"type": "string"},
                "names": {
                    "type": "object",
                    "required": ["kind"],
                    "properties": {"kind": {"type": "string"}},
                },
                "versions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "schema"],
                        "properties": {
                            "name": {"type": "string"},
                            "schema": {
                                "type": "object",
                                "required": ["openAPIV3Schema"],
                                "properties": {"openAPIV3Schema": {"type": "object"}},
                            },
                        },
                    },
                },
            },
        }
    },
}
_CRD_SHAPE_VALIDATOR = jsonschema.Draft7Validator(_CRD_SHAPE)


@dataclass(frozen=True)
class CrdSchemas:
    """CRD schemas by (apiVersion, kind)."""

    schemas: Mapping[tuple[str, str], Mapping[str, Any]]
    scopes: Mapping[tuple[str, str], str]

    @classmethod
    def load(cls, paths: Iterable[Path]) -> CrdSchemas:
        """The schemas of every CustomResourceDefinition in ``paths``.

        Raises :class:`CrdFileError` naming the file and what is wrong with it: not a regular file,
        larger than :data:`automation.crds.MAX_CRD_BYTES`, unreadable, not UTF-8, not YAML, or a
        CustomResourceDefinition without the fields a schema is read from.
        """
        schemas: dict[tuple[str, str], Mapping[str, Any]] = {}
        scopes: dict[tuple[str, str], str] = {}
        for path in paths:
            try:
                info = path.stat()
            except OSError as exc:
                raise CrdFileError(f"{path}: {exc.strerror or exc}") from None
            if not stat.S_ISREG(info.st_mode):
                raise CrdFileError(f"{path}: not a regular file")
            if info.st_size > MAX_CRD_BYTES:
                raise CrdFileError(f"{path}: larger than {MAX_CRD_BYTES // (1024 * 1024)} MiB")
            try:
                found, found_scopes = _parse_crd_file(str(path.resolve()), info.st_size, info.st_mtime_ns)
            except CrdFileError as exc:
                raise CrdFileError(f"{path}: {exc}") from None
            schemas.update(found)
            scopes.update(found_scopes)
        return cls(schemas, scopes)

    @classmethod
    def from_dir(cls, directory: Path | None) -> CrdSchemas:
        if directory is None:
            return cls({}, {})
        return cls.load(sorted(directory.glob("*crds.yaml")))

    def knows(self, api_version: str, kind: str) -> bool:
        return (api_version, kind) in self.schemas


# PyYAML's C loader parses the CRD files (about 1 MB) ten times faster than its pure-Python one; the
# C extension ships in PyYAML's wheels, the fallback is for a build without libyaml.
_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Parsed schemas are kept as JSON in the user cache, keyed by the file's sha256 and this version of
# the parsing rules (bump it when _closed, the added properties or the checks change): even the C
# loader spends about half a second of a render building Python objects from YAML, JSON takes a
# hundredth of that.
_SCHEMA_CACHE_VERSION = "3"

CrdParse = tuple[dict[tuple[str, str], Mapping[str, Any]], dict[tuple[str, str], str]]


@cache
def _parse_crd_file(path: str, size: int, mtime_ns: int) -> CrdParse:
    """The closed schemas and scopes of one CRD file, parsed once per process (keyed by its size and
    modification time, so an edited file is read again). Callers must not modify the result."""
    del size, mtime_ns  # part of the in-process cache key only
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_CRD_BYTES + 1)
    except OSError as exc:
        raise CrdFileError(exc.strerror or str(exc)) from None
    if len(data) > MAX_CRD_BYTES:
        raise CrdFileError(f"larger than {MAX_CRD_BYTES // (1024 * 1024)} MiB")
    cached = _schema_cache_path(hashlib.sha256(data).hexdigest())
    if cached is not None and cached.is_file():
        try:
            rows: Any = json.loads(cached.read_text(encoding="utf-8"))
            return (
                {(str(r[0]), str(r[1])): r[3] for r in rows},
                {(str(r[0]), str(r[1])): str(r[2]) for r in rows},
            )
        except (ValueError, OSError, IndexError, TypeError):
            pass  # a damaged cache entry is parsed again and rewritten
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CrdFileError(f"not UTF-8 text (byte {exc.start}); expected YAML CRD files") from None
    parsed = _parse_crd_text(text)
    if cached is not None:
        _write_schema_cache(cached, parsed)
    return parsed


def _parse_crd_text(text: str) -> CrdParse:
    schemas: dict[tuple[str, str], Mapping[str, Any]] = {}
    scopes: dict[tuple[str, str], str] = {}
    try:
        documents: list[Any] = list(yaml.load_all(text, Loader=_YamlLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise CrdFileError(f"not valid YAML: {where}{problem}") from None
    for number, doc in enumerate(documents, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise CrdFileError(f"document {number} is a {type(doc).__name__}, not a Kubernetes object")
        crd = cast(dict[str, Any], doc)
        if crd.get("kind") != "CustomResourceDefinition":
            continue
        errors = sorted(_CRD_SHAPE_VALIDATOR.iter_errors(crd), key=lambda e: len(e.absolute_path))
        if errors:
            error = errors[0]  # the outermost: "spec: 5 is not of type 'object'"
            field = ".".join(str(part) for part in error.absolute_path) or "the document"
            raise CrdFileError(f"document {number}: CustomResourceDefinition {field}: {error.message}")
        spec = crd["spec"]
        for version in spec["versions"]:
            key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
            schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
            # apiVersion/kind/metadata are the API server's business, not the CRD's.
            properties = schema.setdefault("properties", {})
            if isinstance(properties, dict):  # anything else is refused just below
                properties["metadata"] = {"type": "object"}
                properties.setdefault("apiVersion", {"type": "string"})
                properties.setdefault("kind", {"type": "string"})
            closed = _closed(schema)
            # A schema that is not one ("type: 5") would fail in the middle of validating objects.
            problem = _schema_problem(closed)
            if problem:
                raise CrdFileError(
                    f"document {number}: CustomResourceDefinition {key[1]} {version['name']}: "
                    f"openAPIV3Schema is not a valid schema: {problem}"
                )
            schemas[key] = closed
            scopes[key] = spec["scope"]
    return schemas, scopes


_META_VALIDATOR = jsonschema.Draft7Validator(jsonschema.Draft7Validator.META_SCHEMA)


def _schema_problem(schema: Any) -> str | None:
    """Where and how ``schema`` breaks JSON Schema's own rules (Draft 7's meta-schema), or None."""
    errors = sorted(_META_VALIDATOR.iter_errors(schema), key=lambda e: len(e.absolute_path))
    if not errors:
        return None
    error = errors[0]  # the outermost
    where = ".".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else str(error.message)


def _schema_cache_path(digest: str) -> Path | None:
    if os.environ.get(NO_SCHEMA_CACHE_ENV):
        return None
    return user_cache_dir() / "crd-schemas" / f"{digest}-v{_SCHEMA_CACHE_VERSION}.json"


def _write_schema_cache(target: Path, parsed: CrdParse) -> None:
    schemas, scopes = parsed
    rows = [[key[0], key[1], scopes[key], schema] for key, schema in schemas.items()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # A temporary name and a rename: parallel renders never read half a file.
        with tempfile.NamedTemporaryFile("w", dir=target.parent, delete=False, suffix=".part") as handle:
            json.dump(rows, handle)
        Path(handle.name).replace(target)
    except OSError:
        pass  # a read-only cache only costs speed


def _left_unchecked(api_version: str, crds: CrdSchemas) -> bool:
    """No schema at all for an object, excused: a custom resource while no CRD schema was found."""
    return not crds.schemas and is_custom(api_version)


def unchecked_objects(
    objects: Iterable[tuple[str, Mapping[str, Any]]], *, kubernetes_version: str, crds: CrdSchemas
) -> list[str]:
    """``cluster: Kind/name`` of what :func:`validate_objects` leaves unchecked: custom resources with
    no CRD schema and no built-in one (NetworkPolicy's dotted group has a built-in schema: checked)."""
    found: list[str] = []
    for cluster, obj in objects:
        api_version = str(obj.get("apiVersion", ""))
        kind = str(obj.get("kind", ""))
        if (
            (api_version, kind) not in crds.schemas
            and _builtin_validator(kubernetes_version, kind, api_version) is None
            and _left_unchecked(api_version, crds)
        ):
            found.append(f"{cluster}: {kind}/{mapping_or_empty(obj.get('metadata')).get('name', '?')}")
    return found


def is_custom(api_version: str) -> bool:
    """A group with a dot that kubernetes-validate has no schema for is served by a CRD (App Mesh,
    Lattice, and the Gateway API too, whose group ends in .k8s.io but is not built in)."""
    group = api_version.rpartition("/")[0]
    return "." in group


# Entry point ---------------------------------------------------------------------------------------


def validate_objects(
    objects: Iterable[tuple[str, Mapping[str, Any]]], *, kubernetes_version: str, crds: CrdSchemas
) -> tuple[list[Invalid], list[str]]:
    """Validate ``(cluster, object)`` pairs. Returns the violations and notes (e.g. skipped kinds).

    An object whose kind has no schema at all is a violation: nothing the program applies goes unchecked.
    """
    problems: list[Invalid] = []
    notes: list[str] = []
    unchecked: list[str] = []
    for cluster, obj in objects:
        api_version = str(obj.get("apiVersion", ""))
        kind = str(obj.get("kind", ""))
        name = str(mapping_or_empty(obj.get("metadata")).get("name", "?"))
        schema = crds.schemas.get((api_version, kind))
        validator: Any
        if schema is not None:
            validator = jsonschema.Draft7Validator(schema)
        else:
            validator = _builtin_validator(kubernetes_version, kind, api_version)
        if validator is None:
            if _left_unchecked(api_version, crds):
                unchecked.append(f"{cluster}: {kind}/{name}")
            else:
                problems.append(Invalid(cluster, kind, name, "", f"no schema knows {api_version} {kind}"))
            continue
        errors: list[Any] = list(validator.iter_errors(dict(obj)))
        for error in sorted(errors, key=_path):
            problems.append(Invalid(cluster, kind, name, _path(error), str(error.message)))
    if unchecked:
        notes.append(
            f"{len(unchecked)} custom resource(s) not checked, no CRD schemas found (give them with "
            f"`render --crds DIR`, or let the render fetch the pinned ones): {', '.join(unchecked)}"
        )
    return problems, notes
