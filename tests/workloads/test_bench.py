"""The benchmark script's wrk parsing and upstream discovery (the benchmark itself is run by hand)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

RUN_PY = Path(__file__).resolve().parents[2] / "bench" / "apps" / "run.py"

WRK_OUTPUT = """\
Running 10s test @ http://127.0.0.1:40001/color
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.12ms    2.01ms  41.07ms   88.10%
    Req/Sec     4.10k   310.22     4.71k    71.00%
  Latency Distribution
     50%    5.80ms
     75%    6.90ms
     90%    8.10ms
     99%    1.20s
  81620 requests in 10.01s, 11.84MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   8154.03
Transfer/sec:      1.18MB
"""


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_apps_run", RUN_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up by name while the file executes.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_parse_wrk(bench: ModuleType) -> None:
    assert bench.parse_wrk(WRK_OUTPUT) == (8154.03, 5.8, 1200.0, 81620, 7)


def test_parse_wrk_rejects_output_without_latency_distribution(bench: ModuleType) -> None:
    without = "\n".join(line for line in WRK_OUTPUT.splitlines() if "%" not in line or "Stdev" in line)
    with pytest.raises(ValueError, match="50"):
        bench.parse_wrk(without)


@pytest.mark.parametrize(
    ("text", "ms"), [("250.00us", 0.25), ("3.5ms", 3.5), ("2.00s", 2000.0), ("1.00m", 60000.0)]
)
def test_parse_duration(bench: ModuleType, text: str, ms: float) -> None:
    assert bench.parse_duration_ms(text) == pytest.approx(ms)


def test_find_upstream_accepts_the_walkthrough_folder_or_the_checkout(
    bench: ModuleType, tmp_path: Path
) -> None:
    walkthrough = tmp_path / "walkthroughs" / "howto-k8s-cross-cluster"
    for app in ("colorapp", "feapp"):
        (walkthrough / app).mkdir(parents=True)
        (walkthrough / app / "app.py").write_text("")
    assert bench.find_upstream(str(walkthrough)) == walkthrough
    assert bench.find_upstream(str(tmp_path)) == walkthrough
    assert bench.find_upstream(None) is None
    with pytest.raises(SystemExit):
        bench.find_upstream(str(tmp_path / "walkthroughs"))


def test_apps_run_as_deployed_on_lattice_with_a_session_token_of_real_size(bench: ModuleType) -> None:
    color_env, front_env = bench.app_env("http://127.0.0.1:4318", {})
    assert front_env["UPSTREAM_AUTH"] == "sigv4"
    assert len(front_env["AWS_SESSION_TOKEN"]) >= 800
    assert "UPSTREAM_AUTH" not in color_env
    for env in (color_env, front_env):
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"
        assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.05"
        assert "OTEL_SDK_DISABLED" not in env
        assert "LOG_LEVEL" not in env


def test_cost_switches_each_feature_off_then_all_together(bench: ModuleType) -> None:
    variants = dict(bench.cost_variants())
    assert list(variants) == ["as deployed", "SigV4 off", "tracing off", "access log off", "all three off"]
    color_env, front_env = bench.app_env("", variants["all three off"])
    assert front_env["UPSTREAM_AUTH"] == "none"
    assert color_env["OTEL_SDK_DISABLED"] == front_env["OTEL_SDK_DISABLED"] == "true"
    assert color_env["LOG_LEVEL"] == front_env["LOG_LEVEL"] == "warning"
    _, signed_front = bench.app_env("", variants["tracing off"])
    assert signed_front["UPSTREAM_AUTH"] == "sigv4"


def test_the_tracing_switch_leaves_no_span_and_no_trace_header(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --cost's switch (the SDK's OTEL_SDK_DISABLED): the apps' provider then hands out no-op tracers.
    from opentelemetry import trace

    from workloads.runtime.common import tracing

    switch: dict[str, str] = bench.FEATURES_OFF["tracing off"]
    for name, value in switch.items():
        monkeypatch.setenv(name, value)
    span = tracing.provider("front", []).get_tracer("t").start_span("GET colorapp")
    headers: dict[str, str] = {}
    tracing.propagator().inject(headers, context=trace.set_span_in_context(span))
    assert not span.is_recording()
    assert headers == {}
    for name in switch:
        monkeypatch.delenv(name)
    span = tracing.provider("front", []).get_tracer("t").start_span("GET colorapp")
    tracing.propagator().inject(headers, context=trace.set_span_in_context(span))
    assert set(headers) == {"traceparent", "X-Amzn-Trace-Id"}
