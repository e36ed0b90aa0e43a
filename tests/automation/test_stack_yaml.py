"""The strict stack-file YAML reader (automation/stack_yaml.py): what it accepts, read the way Pulumi's
CLI reads it, and what it refuses, with the line, column, what was found and what was expected."""

from __future__ import annotations

import pytest

from automation.stack_yaml import StackYamlError, load_stack_yaml


def _refusal(text: str) -> StackYamlError:
    with pytest.raises(StackYamlError) as caught:
        load_stack_yaml(text)
    return caught.value


# Keys ---------------------------------------------------------------------------------------------------


def test_one_and_true_are_two_keys() -> None:
    # Python's 1 == True must not make them one key; the program gets JSON, where keys are text.
    assert load_stack_yaml("tags: {1: a, true: b}\n") == {"tags": {"1": "a", "true": "b"}}


def test_keys_written_alike_are_one_key() -> None:
    # Pulumi's YAML reader compares keys by how they are written: 1 and "1" collide there.
    refused = _refusal('tags:\n  1: a\n  "1": b\n')
    assert (refused.line, refused.column, refused.found) == (3, 3, "1")
    assert "key '1' is given twice (first on line 2)" in refused.expected
    assert "expected each key once" in refused.expected


def test_keys_read_alike_are_one_key() -> None:
    refused = _refusal("tags:\n  1: a\n  0x1: b\n")
    assert (refused.line, refused.column, refused.found) == (3, 3, "0x1")
    assert "key '1' is given twice (first on line 2, written 1)" in refused.expected


def test_merged_keys_are_keys_as_written_too() -> None:
    text = "base: &base {1: a, y: 2}\nother: {<<: *base, true: b, y: 3}\n"
    assert load_stack_yaml(text)["other"] == {"1": "a", "y": 3, "true": "b"}


@pytest.mark.parametrize(("key", "found"), [("~", "~"), ("1.5", "1.5"), ("[1]", "a sequence")])
def test_key_without_a_json_form(key: str, found: str) -> None:
    refused = _refusal(f"tags:\n  {key}: a\n")
    assert (refused.line, refused.column, refused.found) == (2, 3, found)
    assert refused.expected == "expected a key that is text, a whole number or true/false"


# Plain values, as Pulumi's YAML reader (gopkg.in/yaml.v3) resolves them ---------------------------------


def test_yaml_1_1_booleans_and_base_60_stay_text() -> None:
    text = "a: [yes, no, on, off, y, n, Yes, OFF, 2:14:20, 1:30]\n"
    assert load_stack_yaml(text) == {
        "a": ["yes", "no", "on", "off", "y", "n", "Yes", "OFF", "2:14:20", "1:30"]
    }


def test_yaml_1_2_numbers() -> None:
    text = "a: [0o17, 0x1F, 0b101, 1_000, 1e3, .5, -2, true, FALSE, ~, null, =]\n"
    assert load_stack_yaml(text) == {"a": [15, 31, 5, 1000, 1000.0, 0.5, -2, True, False, None, None, "="]}


def test_a_float_without_a_fraction_is_the_whole_number_the_program_is_given() -> None:
    # Pulumi writes 50.0 out as 50 and reads it back as a whole number, and passes 1e6 as the JSON
    # 1000000: a weight of 50.0 is 50 at deploy time, which the model takes, not a float it refuses.
    values = load_stack_yaml("a: [50.0, 1e3, -0.0, 1.5e20, !!float 5, 2.5, 1e21]\n")["a"]
    assert values == [50, 1000, 0, 150000000000000000000, 5, 2.5, 1e21]
    assert [type(v) for v in values] == [int, int, int, int, int, float, float]


def test_a_value_directly_under_config_is_the_text_pulumi_passes() -> None:
    # Pulumi reads the file into Go values, writes them out as YAML again and reads that into its
    # configuration (workspace/loaders.go, LoadProjectStackBytes), where a number or true/false becomes
    # its JSON text (config/object.go, MarshalString) and a null nothing. Values inside a mapping or
    # list stay typed: Pulumi passes those as JSON.
    text = (
        "config:\n"
        "  crossmesh:kubernetesVersion: 1.35\n"
        "  a:int: 8080\n"
        "  a:float: 0.5\n"
        "  a:capital: True\n"
        "  a:tilde: ~\n"
        "  a:empty:\n"
        "  a:quoted: '1.30'\n"
        "  a:tagged: !!float 5\n"
        "  a:nested: {v: 1.30, w: ~, x: True}\n"
        "  a:listed: [1.30]\n"
        "  a:too-big: 0x10000000000000000\n"
        "other: 1.30\n"
    )
    assert load_stack_yaml(text) == {
        "config": {
            "crossmesh:kubernetesVersion": "1.35",
            "a:int": "8080",
            "a:float": "0.5",
            "a:capital": "true",
            "a:tilde": "",
            "a:empty": "",
            "a:quoted": "1.30",
            "a:tagged": "5",
            "a:nested": {"v": 1.3, "w": None, "x": True},
            "a:listed": [1.3],
            "a:too-big": "0x10000000000000000",  # past Go's integers: yaml.v3 keeps it as text
        },
        "other": 1.3,
    }


@pytest.mark.parametrize(
    ("value", "passed"),
    [
        ("1.30", "1.3"),
        ("0x1F", "31"),
        ("1e3", "1000"),
        ("0755", "493"),
        ("1_000", "1000"),
        ("+1", "1"),
        ("-0.0", "0"),
        ("1.5e-07", "1.5e-7"),
        ("123456789012345678901234567890", "1.2345678901234568e+29"),
        ("!!int 0x_1F", "31"),
    ],
)
def test_a_number_directly_under_config_that_pulumi_passes_otherwise_is_refused(
    value: str, passed: str
) -> None:
    # Pulumi would give the program `passed`, not the text written: kubernetesVersion: 1.30 is 1.3 to
    # `pulumi up`, which the offline checks must not read as 1.30.
    refused = _refusal(f"config:\n  crossmesh:kubernetesVersion: {value}\n")
    assert (refused.line, refused.column) == (2, 32)
    assert refused.expected.startswith(
        f"expected crossmesh:kubernetesVersion written as Pulumi passes it to the program, {passed}, or in "
        "quotes if the text "
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-01", 'in quotes ("2024-01-01"): unquoted, Pulumi\'s YAML reader makes it a time'),
        (".nan", ".nan has no JSON form"),
        ("-.inf", "-.inf has no JSON form"),
        ("!!binary aGk=", "the tag !!binary has no JSON form"),
    ],
)
def test_what_pulumi_cannot_pass_on_is_refused_directly_under_config_too(value: str, expected: str) -> None:
    # A date reaches the program as Go prints a time; NaN and infinity stop Pulumi's JSON encoder.
    assert expected in _refusal(f"config:\n  a:x: {value}\n").expected
    assert expected in _refusal(f"config:\n  a:x: {{created: {value}}}\n").expected


def test_merge_keys_apply_as_pulumis_yaml_reader_applies_them() -> None:
    # yaml.v3 (decode.go, decoder.merge): the mapping's own keys win wherever << stands, then the
    # merged mappings in the order listed, the first to name a key winning. PyYAML 6.0.4 compares
    # merged keys by the identity of their text, so 'a:y' took the last mapping's value and 'x' the
    # first's.
    assert load_stack_yaml("t:\n  <<: [{a:y: 1}, {a:y: 2}]\n") == {"t": {"a:y": 1}}
    assert load_stack_yaml("t:\n  <<: [{x: 1}, {x: 2}]\n") == {"t": {"x": 1}}
    assert load_stack_yaml("t:\n  a:y: 3\n  <<: {a:y: 1, a:z: 1}\n") == {"t": {"a:z": 1, "a:y": 3}}
    nested = "b: &b {p: 1, q: 1}\nc: &c {<<: *b, q: 2}\nt: {<<: [*c, {q: 3, r: 3}]}\n"
    assert load_stack_yaml(nested)["t"] == {"p": 1, "q": 2, "r": 3}


@pytest.mark.parametrize("merged", ["5", "[{a: 1}, 5]"])
def test_a_merge_of_anything_but_mappings_is_refused(merged: str) -> None:
    refused = _refusal(f"t:\n  <<: {merged}\n")
    assert refused.line == 2
    assert refused.expected == "expected a mapping, or a list of mappings, to merge after <<"


def test_a_mapping_aliased_as_config_stays_typed_where_else_it_is_used() -> None:
    text = "environment: &shared {a:x: 1.25}\nconfig: *shared\n"
    assert load_stack_yaml(text) == {"environment": {"a:x": 1.25}, "config": {"a:x": "1.25"}}


def test_a_value_merged_or_aliased_into_config_is_its_text_too() -> None:
    text = "a: &v 2.5\nconfig:\n  <<: {a:x: 1.25, a:y: 1}\n  a:y: 2\n  a:z: *v\n"
    assert load_stack_yaml(text) == {"a": 2.5, "config": {"a:x": "1.25", "a:y": "2", "a:z": "2.5"}}
    assert _refusal("a: &v 2.50\nconfig:\n  a:z: *v\n").found == "2.50"


@pytest.mark.parametrize(
    ("value", "read"),
    [
        # yaml.v3 drops every underscore after the first character before Go's ParseInt (base 0) and
        # its yamlStyleFloat see the text (resolve.go), so these are numbers to Pulumi, not text.
        ("0x_1F", 31),
        ("0_x1F", 31),
        ("-_1", -1),
        ("0b_101", 5),
        ("0o_17", 15),
        ("1__000", 1000),
        ("1.5e_3", 1500.0),
        ("1_0.5", 10.5),
        # A value starting with "." is a float only as Go's ParseFloat takes it: "_" between digits.
        (".5_5", 0.55),
        (".5_", ".5_"),
        ("._5", "._5"),
        # Past the first character only: a leading "_" is text.
        ("_1", "_1"),
    ],
)
def test_numbers_are_read_as_pulumis_yaml_reader_reads_them(value: str, read: object) -> None:
    assert load_stack_yaml(f"tags:\n  team: {value}\n") == {"tags": {"team": read}}


@pytest.mark.parametrize(
    "value", ["2024-1-2", "2024-1-2 3:4:5", "2024-01-02T3:04:05Z", "2024-1-2t3:4:5.5+01:00"]
)
def test_dates_with_one_digit_fields_are_dates(value: str) -> None:
    # yaml.v3 parses dates with Go's time.Parse and the layouts 2006-1-2T15:4:5.999999999Z07:00,
    # 2006-1-2 15:4:5.999999999 and 2006-1-2, where a month, day, hour, minute or second may have one
    # digit: Pulumi passes a time there, not this text.
    refused = _refusal(f"tags:\n  created: {value}\n")
    assert (refused.line, refused.column, refused.found) == (2, 12, value)
    assert refused.expected.startswith('expected a date or time in quotes ("2024-01-01")')


@pytest.mark.parametrize(
    "value", ["2024-02-30", "2023-02-29", "2024-13-01", "2024-1-2T3:4:5+25:00", "2024-01-01  10:00:00"]
)
def test_what_go_cannot_parse_as_a_time_is_text(value: str) -> None:
    assert load_stack_yaml(f"tags:\n  created: {value}\n") == {"tags": {"created": value}}


def test_the_non_specific_tag_keeps_a_quoted_value_text() -> None:
    # ``!`` on a quoted or block value is !!str to yaml.v3 (parser.go: the default tag of a value that
    # is not plain); PyYAML resolved ``! "8080"`` as if it were plain, the number 8080, so a port
    # written so passed offline and reached the program as the text "8080".
    text = 'a: ! "8080"\nb: ! 8080\nc: ! |\n  8080\n'
    assert load_stack_yaml(text) == {"a": "8080", "b": 8080, "c": "8080\n"}


@pytest.mark.parametrize(
    ("value", "read"),
    [("!!int 31", "31"), ("!!float 5", "5"), ("!!bool TRUE", "true"), ("!!str 0x1F", "0x1F")],
)
def test_an_explicit_tag_that_fits_is_text_directly_under_config(value: str, read: str) -> None:
    assert load_stack_yaml(f"config:\n  a:x: {value}\n") == {"config": {"a:x": read}}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('!!bool "1.34"', "expected true or false after !!bool"),
        ("!!int abc", "expected a whole number after !!int"),
        ("!!float 1e999", "expected a number after !!float"),
        ("!!null 0", "expected ~ or null after !!null"),
    ],
)
def test_an_explicit_tag_that_does_not_fit_is_refused_directly_under_config_too(
    value: str, expected: str
) -> None:
    # Pulumi passes such a value on as its text, but yaml.v3 refuses the file first ("cannot decode
    # !!float `1.34` as a !!bool"): the offline checks must not accept what `pulumi up` cannot read.
    refused = _refusal(f"config:\n  a:x: {value}\n")
    assert (refused.line, refused.column, refused.expected) == (2, 8, expected)


@pytest.mark.parametrize("value", ["2024-01-01", "2001-12-14t21:59:43.10-05:00", "!!timestamp 2024-01-01"])
def test_unquoted_date_is_refused(value: str) -> None:
    refused = _refusal(f"tags:\n  created: {value}\n")
    assert (refused.line, refused.column, refused.found) == (2, 12, value.removeprefix("!!timestamp "))
    assert refused.expected.startswith('expected a date or time in quotes ("2024-01-01")')
    assert "2024-01-01 00:00:00 +0000 UTC" in refused.expected


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("!!binary aGVsbG8=", "!!binary aGVsbG8="),
        ("!!set {a, b}", "!!set"),
        ("!!omap [a: 1]", "!!omap"),
        ("!!pairs [a: 1]", "!!pairs"),
        ("!!timestamp soon", "!!timestamp soon"),
        ("!!python/object/apply:os.getcwd []", "!!python/object/apply:os.getcwd"),
        ("!Ref other", "!Ref other"),
    ],
)
def test_tag_without_a_json_form_is_refused(value: str, found: str) -> None:
    refused = _refusal(f"tags:\n  a: {value}\n")
    assert (refused.line, refused.column, refused.found) == (2, 6, found)
    tag = found.split(maxsplit=1)[0]
    assert refused.expected == (
        f"the tag {tag} has no JSON form (Pulumi passes each value to the program as text or JSON); "
        "expected a plain string, number, true/false, null, list or mapping"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("!!int x", "expected a whole number after !!int"),
        ("!!bool yes", "expected true or false after !!bool"),
        ("!!null 0", "expected ~ or null after !!null"),
        ("!!float one", "expected a number after !!float"),
    ],
)
def test_explicit_tag_on_a_value_it_does_not_fit(value: str, expected: str) -> None:
    refused = _refusal(f"a: {value}\n")
    assert (refused.line, refused.column, refused.found, refused.expected) == (1, 4, value, expected)


@pytest.mark.parametrize("value", [".inf", "-.Inf", ".nan"])
def test_infinity_and_nan_are_refused(value: str) -> None:
    refused = _refusal(f"a: {value}\n")
    assert (refused.line, refused.column, refused.found) == (1, 4, value)
    assert refused.expected == (
        f"{value} has no JSON form (Pulumi passes each value to the program as text or JSON); "
        "expected a finite number, or quotes if it is text"
    )


@pytest.mark.parametrize("value", ["0777", "09", "-012"])
def test_leading_zero_is_refused(value: str) -> None:
    refused = _refusal(f"a: {value}\n")
    assert (refused.line, refused.column, refused.found) == (1, 4, value)
    assert refused.expected.startswith(
        "expected no leading zero: Pulumi's YAML reader takes 0777 for the octal"
    )


# Numbers beyond what Pulumi's reader keeps ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("9" * 5000, "9" * 20 + "...(5000 characters)"),  # past int()'s 4300-digit limit
        ("18446744073709551616", "18446744073709551616"),  # 2**64
        ("-9223372036854775809", "-9223372036854775809"),  # -(2**63) - 1
        ("0x1" + "0" * 16, "0x1" + "0" * 16),
    ],
)
def test_whole_number_beyond_64_bits_is_refused(value: str, found: str) -> None:
    # Inside a list: directly under config: it would be passed on as its text (the tests below).
    refused = _refusal(f"config:\n  a: [{value}]\n")
    assert (refused.line, refused.column, refused.found) == (2, 7, found)
    assert refused.expected.startswith(
        "expected a whole number of at most 64 bits (-9223372036854775808 to 18446744073709551615)"
    )


@pytest.mark.parametrize(
    ("value", "found"), [("1e999", "1e999"), ("1" * 400 + ".5", "1" * 20 + "...(402 characters)")]
)
def test_float_beyond_64_bits_is_refused(value: str, found: str) -> None:
    refused = _refusal(f"a: {value}\n")
    assert (refused.line, refused.column, refused.found) == (1, 4, found)
    assert refused.expected.startswith("expected a number within a 64-bit float's range")


# Depth ---------------------------------------------------------------------------------------------------


def test_lists_5000_deep_are_refused_at_the_65th_level() -> None:
    prefix = "config:\n  tags: "
    refused = _refusal(prefix + "[" * 5000 + "]" * 5000 + "\n")
    # config's mapping, tags' value and 62 brackets make 64 levels; the next bracket is one too many.
    assert (refused.line, refused.column, refused.found) == (2, len("  tags: ") + 63, "a list")
    assert refused.expected == "expected lists and mappings nested at most 64 deep"


def test_mappings_3000_deep_are_refused() -> None:
    refused = _refusal("t: " + "{a: " * 3000 + "x" + "}" * 3000 + "\n")
    assert (refused.line, refused.column, refused.found) == (1, 4 + 4 * 62 + 1, "a")
    assert refused.expected == "expected lists and mappings nested at most 64 deep"


def test_depth_through_aliases_is_refused() -> None:
    text = "a0: &a0 " + "[" * 40 + "x" + "]" * 40 + "\na1: " + "[" * 30 + "*a0" + "]" * 30 + "\n"
    refused = _refusal(text)
    assert (refused.line, refused.column, refused.found) == (2, 5 + 6, "aliases")
    assert refused.expected == (
        "expected lists and mappings nested at most 64 deep, counting what its aliases (*name) stand for"
    )


def test_alias_inside_its_own_value_is_refused() -> None:
    refused = _refusal("a: &a [1, *a]\n")
    assert (refused.line, refused.column, refused.found) == (1, 11, "*a")
    assert refused.expected.startswith("an alias inside the value it names")


# Size ----------------------------------------------------------------------------------------------------


def test_large_file_without_aliases_is_not_blamed_on_aliases() -> None:
    text = "tags:\n" + "".join(f"  k{i}: v\n" for i in range(19_000))
    refused = _refusal(text)
    # The file's mapping, tags, its mapping and 9998 key/value pairs make 19999 values; the 9999th pair
    # (line 10000, k9998) takes the 20000th and 20001st.
    assert (refused.line, refused.column, refused.found) == (10_000, len("  k9998: ") + 1, "value 20001")
    assert refused.expected == (
        "the file has more than 20000 values (keys, values and list items); expected a stack file of at most "
        "that many"
    )
