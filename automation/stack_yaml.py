"""Reading a stack file's YAML strictly: every refusal names the line and column.

PyYAML's safe loader accepts two things Pulumi users trip on silently: a key given twice (the last copy
wins) and aliases that expand into a huge document (a few lines of nested aliases become billions of
nodes once the program serialises the configuration). Both are refused here, before any value is
used, along with what PyYAML itself refuses (tabs, control characters, bad indentation), which it
reports with a position this module turns into a line and column.

Plain values are read the way Pulumi's CLI reads them, not by PyYAML's YAML 1.1 rules: Pulumi reads
``Pulumi.<env>.yaml`` with gopkg.in/yaml.v3 into untyped values (pulumi/pulumi
``sdk/go/common/workspace/loaders.go``, ``LoadProjectStackBytes``; ``sdk/go/common/encoding/marshal.go``),
whose resolver (yaml.v3 v3.0.1 ``resolve.go``) knows only ``true``/``false`` (three spellings each) as
booleans, ``~``/``null`` as null, no base-60 numbers ("purposefully unsupported"), integers as Go's
``strconv.ParseInt(text, 0, 64)`` and floats as its ``yamlStyleFloat``, both after dropping every ``_``
(``0x_1F`` is 31), and dates and times as Go's ``time.Parse`` reads its three layouts (``2024-1-2`` is a
date). :func:`go_resolve` is that resolver. So ``yes``, ``on``, ``n`` and ``2:14:20`` stay text here, as
they do for ``pulumi up``. Values that have no single meaning for both are refused with
what to write instead: an unquoted date (yaml.v3 makes it a ``time.Time``, which Pulumi passes on as Go
prints it, ``2024-01-01 00:00:00 +0000 UTC``: ``sdk/go/common/resource/config/object.go``,
``unmarshalObject``), a number with a leading zero (an octal number to yaml.v3), tags with no JSON
form (``!!binary``, ``!!set``, ``!!timestamp``, ``!!omap``, ``!!pairs``, ``!!python/...``, local tags),
and, anywhere in the file, an explicit tag its value does not fit (``!!int abc``), which yaml.v3 refuses.
A plain value directly under ``config:`` is then given as text, as Pulumi passes it
(``_config_values_as_written``): ``True`` is ``true``, and ``crossmesh:kubernetesVersion: 1.30``, which
Pulumi would pass as ``1.3``, is refused with what to write.
"""

from __future__ import annotations

import calendar
import math
import re
from decimal import Decimal
from typing import Any, NoReturn, cast

import yaml
from yaml.events import AliasEvent, Event, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_EXPANDED_NODES = 20_000
"""A stack file of this project is a few hundred nodes; aliases may not grow it past this bound."""

MAX_DEPTH = 64
"""Lists and mappings nest at most this deep (this project's stack files: 6), aliases expanded: PyYAML
builds nodes recursively, so a file 5000 brackets deep would otherwise end in a RecursionError."""


class StackYamlError(Exception):
    def __init__(self, line: int, column: int, found: str, expected: str) -> None:
        super().__init__(f"line {line}, column {column}: {expected}")
        self.line = line
        self.column = column
        self.found = found
        self.expected = expected


_YAML_TAG = "tag:yaml.org,2002:"
MERGE_TAG = _YAML_TAG + "merge"
_STR, _NULL, _BOOL, _INT, _FLOAT, _TIMESTAMP = (
    _YAML_TAG + t for t in ("str", "null", "bool", "int", "float", "timestamp")
)
_WORDS = {
    **dict.fromkeys(("true", "True", "TRUE", "false", "False", "FALSE"), _BOOL),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), _NULL),
    **dict.fromkeys((f"{sign}.{word}" for sign in ("", "+", "-") for word in ("inf", "Inf", "INF")), _FLOAT),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), _FLOAT),
}
"""The plain values yaml.v3 looks up by their whole text (``resolve.go``, ``resolveMapList``)."""
_GO_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
"""Go's ``strconv.ParseInt(text, 0, 64)`` syntax (a leading 0 alone is octal), range not checked."""
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
"""yaml.v3's ``yamlStyleFloat``, matched against the text with its underscores dropped."""
_GO_FLOAT_AFTER_DOT = re.compile(r"\.[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+(?:_[0-9]+)*)?")
"""What Go's ``strconv.ParseFloat`` takes of a value starting with ``.`` (one ``_`` between digits)."""
_GO_TIME = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?(?:Z|[-+]([0-9]{2}):([0-9]{2}))"
    r"| ([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?)?"
)
"""yaml.v3's dates and times (``resolve.go``, ``allowedTimestampFormats``, read by Go's ``time.Parse``):
``2006-1-2T15:4:5.999999999Z07:00`` (or ``t``), ``2006-1-2 15:4:5.999999999`` and ``2006-1-2``, where
month, day, hour, minute and second take one digit or two."""


def _go_int(text: str) -> int | None:
    """``text`` (underscores dropped) as yaml.v3 reads a whole number: Go's ``strconv.ParseInt(text, 0,
    64)``, else ``strconv.ParseUint`` (no sign); None when neither takes it, a number too large included."""
    match = _GO_INT.fullmatch(text)
    if match is None:
        return None
    sign, body = match.groups()
    base = {"0x": 16, "0o": 8, "0b": 2}.get(body[:2].lower())
    if base is not None:
        digits = body[2:]
    else:
        base, digits = (8 if body.startswith("0") else 10), body
    digits = digits.lstrip("0") or "0"
    if len(digits) > 64:  # 64 binary digits at most; also keeps int() from its 4300-digit limit
        return None
    value = int(digits, base) * (-1 if sign == "-" else 1)
    fits = -(2**63) <= value < 2**63 or (not sign and 0 <= value < 2**64)
    return value if fits else None


def _go_timestamp(text: str) -> bool:
    """Whether yaml.v3 reads ``text`` as a time (``parseTimestamp``): one of ``_GO_TIME``'s shapes whose
    fields Go's ``time.Parse`` accepts (a day that exists, a zone offset of at most 24:60)."""
    match = _GO_TIME.fullmatch(text)
    if match is None:
        return False
    year, month, day, *clock = (int(part) if part is not None else 0 for part in match.groups())
    if not 1 <= month <= 12:
        return False
    days = (31, 29 if calendar.isleap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    hour, minute, second, zone_hours, zone_minutes = clock[:5] if match.group(4) else (*clock[5:], 0, 0)
    return (
        1 <= day <= days
        and hour < 24
        and minute < 60
        and second < 60
        and zone_hours <= 24
        and zone_minutes <= 60
    )


def go_resolve(text: str, tag: str = "") -> str:
    """The tag yaml.v3 gives a scalar's ``text`` (``resolve.go``, ``resolve``): for a plain value
    (``tag`` empty), or the tag it resolves to under an explicit ``!!int``/``!!float``/... ``tag``, which
    yaml.v3 then refuses unless they agree. Only the first character decides what is tried: a value
    starting with a sign or a digit may be a time, a whole number (underscores anywhere after the first
    character dropped, Go's 0x/0o/0b prefixes, a leading 0 for octal) or a yamlStyleFloat; one starting
    with ``.`` is a float if Go's ParseFloat takes it as written; the rest is looked up whole or is text.
    A number that overflows Go's types is text here, as it is to yaml.v3."""
    first = text[:1]
    if tag in (_STR, _YAML_TAG + "binary") or first not in "+-.0123456789yYnNtTfFoO~":
        return _STR
    if text in _WORDS:
        return _WORDS[text]
    if first == ".":
        return _FLOAT if _GO_FLOAT_AFTER_DOT.fullmatch(text) and _finite(text) else _STR
    if first not in "+-0123456789":
        return _STR
    if tag in ("", _TIMESTAMP) and _go_timestamp(text):
        return _TIMESTAMP
    plain = text.replace("_", "")
    if _go_int(plain) is not None:
        return _INT
    if _YAML_STYLE_FLOAT.fullmatch(plain) and _finite(plain):
        return _FLOAT
    return _STR


def _finite(text: str) -> bool:
    return math.isfinite(float(text.replace("_", "")))


def _plain_tag(text: str) -> str:
    """The tag of a plain (unquoted, untagged) value: yaml.v3's (:func:`go_resolve`), except that a
    value shaped like a number which yaml.v3 keeps as text because it overflows (a whole number past 64
    bits, 1e999) is tagged as the number meant, for its constructor to refuse with what to write."""
    if text == "<<":
        return MERGE_TAG
    tag = go_resolve(text)
    if tag != _STR or text[:1] not in "+-.0123456789":
        return tag
    if text[:1] == ".":
        return _FLOAT if _GO_FLOAT_AFTER_DOT.fullmatch(text) else _STR
    plain = text.replace("_", "")
    if _GO_INT.fullmatch(plain):
        return _INT
    return _FLOAT if _YAML_STYLE_FLOAT.fullmatch(plain) else _STR


_NO_JSON_FORM = "binary", "set", "omap", "pairs"
_NO_JSON = "has no JSON form (Pulumi passes each value to the program as text or JSON)"


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys (the pure-Python one: its errors carry positions)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._written = 0
        """Values written out in the file so far (an alias not counted)."""
        self._heights: dict[int, int] = {}
        """How deep each finished node nests, aliases expanded (a node absent is still being read)."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        # The bound is checked on the parser's events before PyYAML recurses into the next level, so it
        # does not depend on the interpreter's recursion limit.
        event = cast(Event, self.peek_event())  # pyright: ignore[reportUnknownMemberType] - untyped stub
        line, column = cast(int, event.start_mark.line) + 1, cast(int, event.start_mark.column) + 1
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)
            if node is not None and id(node) not in self._heights:
                raise StackYamlError(
                    line,
                    column,
                    f"*{event.anchor}",
                    "an alias inside the value it names (it would contain itself); expected an alias to "
                    "a value given before it",
                )
            return node
        if self._depth >= MAX_DEPTH:
            found = (
                "a list"
                if isinstance(event, SequenceStartEvent)
                else "a mapping"
                if isinstance(event, MappingStartEvent)
                else str(event.value)
                if isinstance(event, ScalarEvent)
                else "a value"
            )
            raise StackYamlError(
                line, column, found, f"expected lists and mappings nested at most {MAX_DEPTH} deep"
            )
        self._written += 1
        if self._written > MAX_EXPANDED_NODES:
            raise StackYamlError(
                line,
                column,
                f"value {self._written}",
                f"the file has more than {MAX_EXPANDED_NODES} values (keys, values and list items); "
                "expected a stack file of at most that many",
            )
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        children: list[Node] = (
            [n for pair in cast(list[tuple[Node, Node]], node.value) for n in pair]
            if isinstance(node, MappingNode)
            else cast(list[Node], node.value)
            if isinstance(node, SequenceNode)
            else []
        )
        height = 1 + max((self._heights[id(child)] for child in children), default=0)
        if height > MAX_DEPTH:
            raise StackYamlError(
                line,
                column,
                "aliases",
                f"expected lists and mappings nested at most {MAX_DEPTH} deep, counting what its aliases "
                "(*name) stand for",
            )
        self._heights[id(node)] = height
        return node

    def resolve(self, kind: type[Node], value: str, implicit: tuple[bool, bool]) -> str:
        """A plain value's tag by yaml.v3's rules (:func:`_plain_tag`), not PyYAML's YAML 1.1 ones."""
        if kind is ScalarNode and implicit[0]:
            return _plain_tag(value)
        return cast(str, super().resolve(kind, value, implicit))  # pyright: ignore[reportUnknownMemberType] - untyped stub

    def compose_scalar_node(self, anchor: dict[Any, Node]) -> ScalarNode:
        event = cast(ScalarEvent, self.peek_event())  # pyright: ignore[reportUnknownMemberType] - untyped stub
        if event.tag == "!" and event.style:
            # ``! "8080"``: the non-specific tag on a quoted (or block) value is text to yaml.v3
            # (parser.go: such a value's default tag is !!str); PyYAML resolves it as if plain.
            event.tag = _STR
        node = super().compose_scalar_node(anchor)
        if event.tag not in (None, "!"):
            _check_explicit_tag(node)
        return node

    def _key_name(self, key_node: Node) -> str:
        """The key as the program sees it: Pulumi passes a mapping on as JSON, whose keys are text, so a
        whole-number or true/false key becomes its JSON text (``1`` -> ``"1"``, ``true`` -> ``"true"``)
        and ``1`` and ``true`` stay two keys (Python's ``1 == True`` would merge them in a dict)."""
        key = cast(object, self.construct_object(key_node, deep=True))  # pyright: ignore[reportUnknownMemberType] - untyped stub
        if isinstance(key, str):
            return key
        if isinstance(key, bool):
            return "true" if key else "false"
        if isinstance(key, int):
            return str(key)
        line, column = _mark(key_node)
        found = (
            str(key_node.value)
            if isinstance(key_node, ScalarNode)
            else "a sequence"
            if isinstance(key_node, SequenceNode)
            else "a mapping"
        )
        raise StackYamlError(line, column, found, "expected a key that is text, a whole number or true/false")

    def flatten_mapping(self, node: MappingNode) -> None:
        """Merge keys (``<<: *base``) as yaml.v3 applies them (``decode.go``, ``decoder.merge``): the
        mapping's own keys win wherever ``<<`` stands, then the merged mappings in the order given,
        the first to name a key winning. Keys compare as the program sees them; PyYAML compares them by
        the identity of their text, so a repeated key in a list of merges went either way."""
        own: list[tuple[Node, Node]] = []
        sources: list[MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag != MERGE_TAG:
                own.append((key_node, value_node))
                continue
            given = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in given:
                if not isinstance(source, MappingNode):
                    expected = "expected a mapping, or a list of mappings, to merge after <<"
                    raise _refuse(source, "<<", expected)
                sources.append(source)
        seen = {self._key_name(key_node) for key_node, _ in own}
        merged: list[tuple[Node, Node]] = []
        for source in sources:
            self.flatten_mapping(source)
            for key_node, value_node in source.value:
                name = self._key_name(key_node)
                if name not in seen:
                    seen.add(name)
                    merged.append((key_node, value_node))
        node.value = merged + own

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Two keys are the same if they are written the same (gopkg.in/yaml.v3, which Pulumi reads stack
        # files with, refuses "mapping key ... already defined" by comparing the keys' kind and text:
        # decode.go, decoder.mapping, v3.0.1), or if they name the same key once read (``1`` and
        # ``0x1``), where the last copy would silently win.
        by_name: dict[str, Node] = {}
        by_text: dict[str, Node] = {}
        for key_node, _value in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            name = self._key_name(key_node)
            text = key_node.value if isinstance(key_node, ScalarNode) else None
            first = by_name.get(name) or (by_text.get(text) if text is not None else None)
            if first is not None:
                line, column = _mark(key_node)
                first_text = first.value if isinstance(first, ScalarNode) else name
                spelled = "" if first_text == text else f", written {first_text}"
                raise StackYamlError(
                    line,
                    column,
                    str(text if text is not None else name),
                    f"key {name!r} is given twice (first on line {first.start_mark.line + 1}{spelled}); "
                    "YAML keeps only the last copy: expected each key once",
                )
            by_name[name] = key_node
            if text is not None:
                by_text[text] = key_node
        self.flatten_mapping(node)  # the merge keys (<<: *base); a key of the mapping's own wins
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            mapping[self._key_name(key_node)] = self.construct_object(value_node, deep=deep)  # pyright: ignore[reportUnknownMemberType] - untyped stub
        return mapping


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag


def _refuse(node: Node, found: str, expected: str) -> StackYamlError:
    line, column = _mark(node)
    return StackYamlError(line, column, found, expected)


def _shortened(text: str) -> str:
    """A long number's text as an error shows it: its start and its length."""
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


_TAG_WORDS = {_NULL: "~ or null", _BOOL: "true or false", _INT: "a whole number", _FLOAT: "a number"}
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]+")
_WHOLE = re.compile(r"[-+]?[0-9]+")


def _check_explicit_tag(node: ScalarNode) -> None:
    """Refuse ``!!int x`` and the like as yaml.v3 does ("cannot decode !!str `x` as a !!int"): the tag
    must be the one the text resolves to (a whole number also fits ``!!float``)."""
    if node.tag not in (*_TAG_WORDS, _TIMESTAMP):
        return
    resolved = go_resolve(str(node.value), node.tag)
    if resolved == node.tag or (node.tag == _FLOAT and resolved == _INT):
        return
    if node.tag == _TIMESTAMP:
        _construct_no_json_form(None, node)
    tag = _short_tag(node.tag)
    raise _refuse(node, f"{tag} {node.value}".strip(), f"expected {_TAG_WORDS[node.tag]} after {tag}")


def _refuse_leading_zero(node: Node) -> StackYamlError:
    return _refuse(
        node,
        str(node.value),
        "expected no leading zero: Pulumi's YAML reader takes 0777 for the octal number 511 (and "
        "09 for 9.0); write it without the zero, as 0o777 if octal is meant, or in quotes if it is text",
    )


def _refuse_beyond_64_bits(node: Node, text: str) -> StackYamlError:
    return _refuse(
        node,
        _shortened(text),
        "expected a whole number of at most 64 bits (-9223372036854775808 to 18446744073709551615): "
        "Pulumi's YAML reader turns a longer one into a rounded float or text; put it in quotes if it "
        "is text",
    )


def _refuse_no_json_number(node: Node) -> StackYamlError:
    text = str(node.value)
    return _refuse(node, text, f"{text} {_NO_JSON}; expected a finite number, or quotes if it is text")


def _construct_null(loader: _StrictLoader, node: Node) -> None:
    return None


def _construct_bool(loader: _StrictLoader, node: Node) -> bool:
    return str(node.value).lower() == "true"


def _construct_int(loader: _StrictLoader, node: Node) -> int:
    text = str(node.value).replace("_", "")
    if _LEADING_ZERO.fullmatch(text):
        raise _refuse_leading_zero(node)
    # yaml.v3 reads whole numbers as Go's int64 or uint64 and anything longer as a float or as text
    # (resolve.go), so only those are taken.
    value = _go_int(text)
    if value is None:
        raise _refuse_beyond_64_bits(node, text)
    return value


def _construct_float(loader: _StrictLoader, node: Node) -> float | int:
    """The number as the program is given it: Pulumi writes a float out as YAML and reads it back
    (``_config_values_as_written``), then passes it as JSON, so 50.0 (written out as 50) and 1e6
    (JSON 1000000) reach the program as whole numbers, as any float without a fraction below 1e21."""
    value = _float_value(node)
    return int(value) if value.is_integer() and abs(value) < 1e21 else value


def _float_value(node: Node) -> float:
    text = str(node.value)
    if text in _WORDS:  # .inf, .nan
        raise _refuse_no_json_number(node)
    text = text.replace("_", "")
    if _LEADING_ZERO.fullmatch(text):  # 09: not octal, so yaml.v3 reads it as the float 9.0
        raise _refuse_leading_zero(node)
    whole = _go_int(text)
    if whole is not None:  # !!float 5, !!float 0x1F: yaml.v3 reads the whole number, then as a float
        return float(whole)
    if _WHOLE.fullmatch(text):  # past 64 bits: yaml.v3 rounds it to a float
        raise _refuse_beyond_64_bits(node, text)
    value = float(text)
    if not math.isfinite(value):
        raise _refuse(
            node,
            _shortened(text),
            "expected a number within a 64-bit float's range (about 1.8e308): Pulumi's YAML reader keeps a "
            "larger one as text; put it in quotes if it is text",
        )
    return value


def _construct_timestamp(loader: _StrictLoader, node: Node) -> NoReturn:
    if not isinstance(node, ScalarNode) or not _go_timestamp(str(node.value)):
        _construct_no_json_form(loader, node)
    raise _refuse(
        node,
        str(node.value),
        'expected a date or time in quotes ("2024-01-01"): unquoted, Pulumi\'s YAML reader makes it a '
        "time and passes it on as Go prints one (2024-01-01 00:00:00 +0000 UTC)",
    )


def _construct_no_json_form(loader: _StrictLoader | None, node: Node) -> NoReturn:
    value = str(node.value) if isinstance(node, ScalarNode) else ""
    tag = _short_tag(node.tag)
    raise _refuse(
        node,
        f"{tag} {value}".strip(),
        f"the tag {tag} {_NO_JSON}; expected a plain string, number, true/false, null, list or mapping",
    )


def _construct_other_tag(loader: _StrictLoader, suffix: str, node: Node) -> object:
    _construct_no_json_form(loader, node)


# How values are resolved and built: yaml.v3's rules (see the module's docstring), through PyYAML's own
# resolver and constructor tables.
_StrictLoader.yaml_implicit_resolvers = {}  # plain values: _StrictLoader.resolve
_StrictLoader.add_constructor(_YAML_TAG + "null", _construct_null)
_StrictLoader.add_constructor(_YAML_TAG + "bool", _construct_bool)
_StrictLoader.add_constructor(_YAML_TAG + "int", _construct_int)
_StrictLoader.add_constructor(_YAML_TAG + "float", _construct_float)
_StrictLoader.add_constructor(_YAML_TAG + "timestamp", _construct_timestamp)
for _name in _NO_JSON_FORM:
    _StrictLoader.add_constructor(_YAML_TAG + _name, _construct_no_json_form)
_StrictLoader.add_multi_constructor("", _construct_other_tag)  # every tag not named above


def _expanded_size(node: Node, memo: dict[int, int], bound: int) -> int:
    """How many nodes ``node`` stands for once every alias is expanded (shared nodes counted each time)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = bound + 1  # a node reached again while being counted is a recursive alias
    total = 1
    if isinstance(node, SequenceNode):
        for item in node.value:
            total += _expanded_size(item, memo, bound)
            if total > bound:
                break
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            total += _expanded_size(key, memo, bound) + _expanded_size(value, memo, bound)
            if total > bound:
                break
    elif not isinstance(node, ScalarNode):
        total = bound + 1
    memo[id(node)] = total
    return total


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


_AS_TEXT_TAGS = frozenset((_STR, _NULL, _BOOL, _INT, _FLOAT, _TIMESTAMP))
"""The tags a value directly under ``config:`` may carry to be passed on as text."""


def _config_values_as_written(root: Node) -> None:
    """Read each plain value directly under ``config:`` as Pulumi passes it: as text.

    Pulumi reads the stack file with yaml.v3 into Go values, writes them out again as YAML
    (pulumi/pulumi ``sdk/go/common/workspace/loaders.go``, ``LoadProjectStackBytes``: the project
    namespace is added to bare keys in between) and reads that into its configuration, where a
    number or true/false becomes its JSON text (``sdk/go/common/resource/config/object.go``,
    ``MarshalString``) and a null the empty string. So the program is given the value as Go prints
    it, not as written: ``True`` reaches it as ``true``, and ``crossmesh:kubernetesVersion: 1.30``
    would reach it as ``1.3`` and ``0x1F`` as ``31``, which :func:`_as_pulumi_passes` refuses. Values
    inside a mapping or list are read as typed YAML and passed as JSON. The ``config:`` mapping is
    replaced by a copy, as are the mappings merged into it (``<<``), so a node an alias shares
    elsewhere in the file keeps its typed reading there.
    """
    if not isinstance(root, MappingNode):
        return
    for index, (key_node, value_node) in enumerate(root.value):
        if (
            isinstance(key_node, ScalarNode)
            and key_node.value == "config"
            and isinstance(value_node, MappingNode)
        ):
            root.value[index] = (key_node, _mapping_as_written(value_node))


def _go_json_float(value: float) -> str:
    """A finite float as Go's ``encoding/json`` writes a float64: the shortest digits that read back
    the same, positional unless below 1e-6 or from 1e21 on (``1e-07`` then written ``1e-7``)."""
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        text = repr(value)  # Python's shortest digits and exponent form match Go's 'e' format
        return re.sub(r"e-0([0-9])$", r"e-\1", text)
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _as_pulumi_passes(key: str, node: ScalarNode) -> str:
    """The text Pulumi gives the program for ``key``'s scalar directly under ``config:`` (see
    :func:`_config_values_as_written`). What Pulumi cannot pass on (a date, .nan) is refused, and so
    is a number Pulumi would pass in another form than written (1.30 as 1.3, 0755 as 493)."""
    text = str(node.value)
    if node.tag in (_STR, _NULL, _BOOL):
        return "" if node.tag == _NULL else text.lower() if node.tag == _BOOL else text
    resolved = go_resolve(text, node.tag)
    if resolved == _TIMESTAMP:
        raise _refuse(
            node,
            text,
            f'expected {key} in quotes ("{text}"): unquoted, Pulumi\'s YAML reader makes it a time and '
            "passes it on as Go prints one (2024-01-01 00:00:00 +0000 UTC)",
        )
    if resolved == _INT:
        whole = _go_int(text.replace("_", ""))
        if whole is None:  # go_resolve said it is an int, so this is a bug here, not in the file
            raise RuntimeError(f"go_resolve and _go_int disagree on {text!r}")
        # Written out and read back, a float with no fraction (!!float 5) reads as a whole number.
        passed = str(whole) if node.tag == _INT else _as_float_text(float(whole))
    elif resolved == _FLOAT:
        if text in _WORDS:  # .inf, .nan: Go's JSON encoder refuses them, and with them the file
            raise _refuse(node, text, f"{text} {_NO_JSON}; expected {key} as a finite number, or in quotes")
        passed = _as_float_text(float(text.replace("_", "")))
    else:
        return text  # a number too large for Go's types stays text
    if passed != text:
        raise _refuse(
            node,
            _shortened(text),
            f"expected {key} written as Pulumi passes it to the program, {_shortened(passed)}, or in quotes "
            f"if the text {_shortened(text)} is meant: directly under config:, Pulumi's YAML reader turns "
            "an unquoted number into its own form of it",
        )
    return passed


def _as_float_text(value: float) -> str:
    # Written out by yaml.v3 as -0, a negative zero reads back as the whole number 0.
    return "0" if value == 0 else _go_json_float(value)


def _mapping_as_written(node: MappingNode) -> MappingNode:
    pairs: list[tuple[Node, Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag == MERGE_TAG:
            pairs.append((key_node, _merged_as_written(value_node)))
        elif isinstance(value_node, ScalarNode) and value_node.tag in _AS_TEXT_TAGS:
            text = _as_pulumi_passes(str(key_node.value), value_node)
            as_text = ScalarNode(_STR, text, value_node.start_mark, value_node.end_mark)
            pairs.append((key_node, as_text))
        else:
            pairs.append((key_node, value_node))
    return MappingNode(node.tag, pairs, node.start_mark, node.end_mark, flow_style=node.flow_style)


def _merged_as_written(node: Node) -> Node:
    if isinstance(node, MappingNode):
        return _mapping_as_written(node)
    if isinstance(node, SequenceNode):
        merged = [_mapping_as_written(n) if isinstance(n, MappingNode) else n for n in node.value]
        return SequenceNode(node.tag, merged, node.start_mark, node.end_mark, flow_style=node.flow_style)
    return node


def load_stack_yaml(text: str, *, config_as_passed: bool = True) -> Any:
    """Parse one YAML document strictly; raises :class:`StackYamlError`. ``config_as_passed`` gives the
    values directly under ``config:`` as Pulumi passes a stack file's to the program (off for
    ``Pulumi.yaml``, whose ``config:`` declares types and defaults)."""
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {}, MAX_EXPANDED_NODES)
        if size > MAX_EXPANDED_NODES:
            mark = node.start_mark
            raise StackYamlError(
                mark.line + 1,
                mark.column + 1,
                "aliases",
                f"the document expands to more than {MAX_EXPANDED_NODES} values through its aliases "
                "(*name); expected a stack file without alias bombs",
            )
        if config_as_passed:
            _config_values_as_written(node)
        return cast(object, loader.construct_document(node))  # pyright: ignore[reportUnknownMemberType] - untyped stub
    except yaml.reader.ReaderError as exc:
        line, column = _position(text, exc.position)
        found = f"character #x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise StackYamlError(
            line,
            column,
            found,
            "expected printable text: YAML allows no control characters (write it as an escape in a "
            "double-quoted string if it is really meant)",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        lines = text.splitlines()
        found = lines[line - 1].strip() if 0 < line <= len(lines) else "(the end of the file)"
        tab = "\\t" in (exc.problem or "") or "\t" in (exc.problem or "")
        hint = "; indent with spaces, YAML does not allow tabs" if tab else ""
        raise StackYamlError(line, column, found, f"expected valid YAML: {exc.problem}{hint}") from None
    finally:
        if loader is not None:
            loader.dispose()
