"""The command line with hostile standard streams: closed at start (`<&-`, `>&-`), or a terminal whose
encoding cannot show what the run prints. Each runs the real entry point in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from itertools import cycle
from pathlib import Path
from typing import Any

from automation.exit_codes import ExitCode
from tests.support import PROJECT_DIR, serve


def _front(colors: list[str]) -> type[BaseHTTPRequestHandler]:
    """A front answering GET /color with each of ``colors`` in turn (plain text, UTF-8)."""
    answers = cycle(colors)

    class Front(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = next(answers).encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Front


def _run(
    args: list[str],
    home: Path,
    *,
    redirect: str = "",
    extra_env: dict[str, str] | None = None,
    **options: Any,
) -> subprocess.CompletedProcess[str]:
    """``python -m automation ARGS`` started by a shell with ``redirect`` (`<&-` closes stdin, `>&-`
    stdout), as a job runner or a user's command line would start it."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(PROJECT_DIR),
        "HOME": str(home),
    } | (extra_env or {})
    return subprocess.run(
        ["sh", "-c", f'exec "$0" "$@" {redirect}', sys.executable, "-m", "automation", *args],
        cwd=PROJECT_DIR,
        env=env,
        text=True,
        timeout=60,
        check=False,
        **options,
    )


def test_a_closed_stdin_is_no_terminal_to_confirm_on(tmp_path: Path) -> None:
    # `deploy dev <&-` (a job runner that closes stdin): asking whether stdin is a terminal raised
    # AttributeError on the missing stream, a traceback and exit 1 before anything was checked.
    done = _run(
        ["deploy", "dev", "--json"],
        tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        redirect="<&-",
    )
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr
    assert "Traceback" not in done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["kind"] == "confirmation_required"


def test_the_http_check_with_stdout_closed_keeps_its_exit_status(tmp_path: Path) -> None:
    # `verify dev --front-url URL >&-`: the check's first socket took descriptor 1, and uvloop aborted
    # the process when it closed it (libuv's uv__close asserts `fd > STDERR_FILENO`): SIGABRT, no word.
    with serve(_front(["blue", "red"])) as port:
        done = _run(
            ["verify", "dev", "--front-url", f"http://127.0.0.1:{port}", "--requests", "20"],
            tmp_path,
            stderr=subprocess.PIPE,
            redirect=">&-",
        )
    assert done.returncode == ExitCode.OK, (done.returncode, done.stderr)
    assert "HTTP check of" in done.stderr


def test_a_color_the_terminal_cannot_show_is_escaped_not_a_crash(tmp_path: Path) -> None:
    # A terminal (or a redirect) in an encoding without the character: a version front reports as
    # "grün" ended the report with UnicodeEncodeError, a traceback and exit 1 (INVALID_RENDER)
    # instead of the failed verification (3) the stray color is.
    with serve(_front(["blue", "red", "grün"])) as port:
        done = _run(
            ["verify", "dev", "--front-url", f"http://127.0.0.1:{port}", "--requests", "30"],
            tmp_path,
            extra_env={"PYTHONIOENCODING": "ascii"},
            capture_output=True,
        )
    assert done.returncode == ExitCode.VERIFY_FAILED, done.stderr
    assert "Traceback" not in done.stderr
    assert "gr\\xfcn" in done.stdout
    assert "verification failed" in done.stdout


def test_a_plain_report_stdout_cannot_take_is_said_on_stderr_and_the_status_stays(tmp_path: Path) -> None:
    # `verify ... > report.txt` on a full disk: rich let the write error through, a traceback and
    # exit 1 (INVALID_RENDER) for a verification that passed. A reader gone (`| head`) was handled.
    with serve(_front(["blue", "red"])) as port, open("/dev/full", "w") as full:
        done = _run(
            ["verify", "dev", "--front-url", f"http://127.0.0.1:{port}", "--requests", "20"],
            tmp_path,
            stdout=full,
            stderr=subprocess.PIPE,
        )
    assert done.returncode == ExitCode.OK, done.stderr
    assert "Traceback" not in done.stderr
    assert "stdout could not be written" in done.stderr
    assert "No space left on device" in done.stderr
