"""CLI start-up (issue 15): wall time of the read commands, each in a fresh process, as a user
types them, on a database as the demo leaves it (the bundled samples, tiny GRU champions for
both strategies with their forecasts stored by the forecast flow's function).

    .venv/bin/python bench/cli.py               # 7 runs of each command
    .venv/bin/python bench/cli.py --runs 15

Prints min / median / max seconds per command (target: under 1.5 s on 2 cores), whether the
command imported torch or Prefect (it must not), the same for obvious argument errors that must
be refused before any model loads (exit 2, target under 1 s), and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from forecaster.app.training import precompute_forecasts  # noqa: E402
from forecaster.db.session import make_session_factory, upgrade  # noqa: E402
from tests.browser.conftest import _store_samples, _train_tiny  # noqa: E402

COMMANDS = [
    ["series"],
    ["models"],
    ["runs"],
    ["forecast", "AAPL"],
    ["forecast", "AAPL", "--strategy", "direct", "--json"],
]
# Obvious argument errors: refused before any model loads (exit 2), target under 1 s.
REFUSALS = [
    ["forecast", "AAPL", "--level", "95"],
    ["forecast", "AAPL", "--strategy", "direct", "--horizon", "50"],
    ["forecast", "nope"],
]
TARGET_S = 1.5
REFUSAL_TARGET_S = 1.0
FORECASTER = Path(sys.executable).with_name("forecaster")
PROBE = (
    "import sys; from forecaster.cli.main import main; main(sys.argv[1:]); "
    "print(sorted(m for m in ('torch', 'prefect') if m in sys.modules), file=sys.stderr)"
)


def build(tmp: Path) -> str:
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    factory = make_session_factory(url)
    _store_samples(factory)
    _train_tiny(factory)
    for key in ("AAPL", "seattle-weather"):
        with factory.begin() as session:
            precompute_forecasts(session=session, series_key=key)
    factory.kw["bind"].dispose()
    return url


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = build(Path(tmp))
        env = {**os.environ, "FORECASTER_DATABASE_URL": url}
        print(f"load average before: {loadavg()}")
        print(f"{'command':<48} {'min':>6} {'median':>7} {'max':>6}  heavy imports")
        worst = max(time_commands(COMMANDS, env, runs=args.runs, code=0), default=0.0)
        slowest_refusal = max(time_commands(REFUSALS, env, runs=args.runs, code=2), default=0.0)
        print(f"load average after: {loadavg()}")
        verdict = "under" if worst < TARGET_S else "OVER"
        print(f"slowest median {worst:.2f} s: {verdict} the {TARGET_S} s target")
        verdict = "under" if slowest_refusal < REFUSAL_TARGET_S else "OVER"
        print(
            f"slowest refusal median {slowest_refusal:.2f} s: "
            f"{verdict} the {REFUSAL_TARGET_S} s target"
        )


def time_commands(
    commands: list[list[str]], env: dict[str, str], *, runs: int, code: int
) -> list[float]:
    """Print min / median / max wall seconds of each command (which must exit with `code`) and
    the heavy modules it imported; return the medians."""
    medians = []
    for command in commands:
        probe = subprocess.run(
            [sys.executable, "-c", PROBE, *command], env=env, capture_output=True, text=True
        )
        # the probe's last line starting "[" lists the heavy modules the command imported
        heavy = next((ln for ln in reversed(probe.stderr.splitlines()) if ln.startswith("[")), "[]")
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            done = subprocess.run([str(FORECASTER), *command], env=env, capture_output=True)
            times.append(time.perf_counter() - start)
            if done.returncode != code:
                raise SystemExit(f"{command}: exit {done.returncode}, expected {code}")
        medians.append(statistics.median(times))
        name = "forecaster " + " ".join(command)
        print(
            f"{name:<48} {min(times):6.2f} {statistics.median(times):7.2f} "
            f"{max(times):6.2f}  {json.loads(heavy.replace(chr(39), chr(34))) or 'none'}"
        )
    return medians


if __name__ == "__main__":
    main()
