"""`verify ENV --front-url URL` with a URL no request should be sent to: exit 2 before any request,
naming --front-url and what is wrong, without echoing a password; never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import automation.verify.httpcheck as httpcheck
from automation.cli import app
from automation.session import Dependencies

EXPECTED = "--front-url: front URL must be http(s)://host[:port][/path], got "


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:99999", "'http://127.0.0.1:99999': Port out of range 0-65535"),
        ("http://127.0.0.1:0", "'http://127.0.0.1:0': port 0 (expected 1-65535)"),
        (
            "not a url",
            "'not a url': it holds blanks, control or non-ASCII characters (give an IDN host in punycode)",
        ),
        ("http://front\n.example", "'http://front\\n.example': it holds blanks, control or non-ASCII"),
        (
            "http://" + "a" * 300 + ".example",
            "'http://" + "a" * 70 + "...': the host is not a valid DNS name",
        ),
        ("http://[::1", "'http://[::1': Invalid IPv6 URL"),
        ("ftp://front.example", "'ftp://front.example': the scheme is 'ftp'"),
    ],
    ids=["port-99999", "port-0", "blanks", "newline", "300-char-label", "bad-ipv6", "ftp"],
)
def test_a_malformed_front_url_is_refused_before_any_request(
    url: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[object] = []

    def no_request(*args: object, **kwargs: object) -> None:
        sent.append(args)

    monkeypatch.setattr(httpcheck, "check_http", no_request)
    outcome = CliRunner().invoke(
        app,
        ["verify", "dev", "--front-url", url, "--requests", "2", "--json"],
        obj=Dependencies(log_dir=tmp_path),
    )
    assert outcome.exit_code == 2
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.exception
    document = json.loads(outcome.stdout)
    assert (document["ok"], document["exit_code"], document["error"]["kind"]) == (False, 2, "bad_input")
    assert document["error"]["message"].startswith(EXPECTED + message)
    assert EXPECTED in outcome.stderr
    assert sent == []


def test_a_front_url_with_credentials_is_refused_without_echoing_them(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(
        app,
        ["verify", "dev", "--front-url", "http://user:s3cret@front.example", "--json"],
        obj=Dependencies(log_dir=tmp_path),
    )
    assert outcome.exit_code == 2
    document = json.loads(outcome.stdout)
    assert document["error"]["message"] == (
        EXPECTED + "'http://***@front.example': it holds a user or password "
        "(front needs none; they would be printed in reports and logs)"
    )
    assert "s3cret" not in outcome.stdout
    assert "s3cret" not in outcome.stderr
