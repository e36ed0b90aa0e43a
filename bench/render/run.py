"""Wall time of the offline render (target: under 5 s for dev on a 2-core machine).

Measures what a user waits for: the cold CLI in a fresh process (imports included), and the warm
in-process render split into its phases. Prints figures; never fails a test suite.

    python bench/render/run.py [--env dev] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
TARGET_SECONDS = 5.0


def cold(env: str, runs: int) -> list[float]:
    times: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "automation", "render", env, "--out", out],
                cwd=PROJECT_DIR,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            times.append(time.perf_counter() - started)
    return times


def warm(env: str, runs: int) -> list[dict[str, float]]:
    sys.path.insert(0, str(PROJECT_DIR))
    from automation.render import render  # noqa: PLC0415 - measured after the path is set
    from automation.render_output import write_render  # noqa: PLC0415

    phases: list[dict[str, float]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            result = render(env, PROJECT_DIR)
            started = time.perf_counter()
            write_render(result, Path(out))
            phases.append({**result.timings, "write": time.perf_counter() - started})
    return phases


def row(label: str, values: list[float], digits: int) -> None:
    median, low, high = statistics.median(values), min(values), max(values)
    print(f"{label:<28}{median:>10.{digits}f}{low:>10.{digits}f}{high:>10.{digits}f}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", default="dev")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    cold_times = cold(args.env, args.runs)
    warm_phases = warm(args.env, args.runs)
    print(f"render {args.env}: {args.runs} runs each")
    print(f"{'measure':<28}{'median s':>10}{'min s':>10}{'max s':>10}")
    row("cold CLI (fresh process)", cold_times, 2)
    for phase in ("config", "program", "validate", "write", "total"):
        row(f"warm {phase}", [p[phase] for p in warm_phases], 3)
    verdict = "met" if statistics.median(cold_times) < TARGET_SECONDS else "NOT met"
    print(f"target: cold render under {TARGET_SECONDS:.0f} s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
