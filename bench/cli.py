"""CLI start-up (issue 15): wall time of the read commands, each in a fresh process, as a user
types them, on a database as the demo leaves it (the bundled samples, tiny GRU champions for
both strategies with their forecasts stored by the forecast flow's function).

    .venv/bin/python bench/cli.py               # 7 runs of each command
    .venv/bin/python bench/cli.py --runs 15

Prints min / median / max seconds per command (target: under 1.5 s on 2 cores), whether the
command imported torch or Prefect (it must not), and the load average before and after.
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
TARGET_S = 1.5
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
        worst = 0.0
        for command in COMMANDS:
            heavy = subprocess.run(
                [sys.executable, "-c", PROBE, *command],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stderr.splitlines()[-1]
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                subprocess.run(
                    [str(FORECASTER), *command], env=env, capture_output=True, check=True
                )
                times.append(time.perf_counter() - start)
            worst = max(worst, statistics.median(times))
            name = "forecaster " + " ".join(command)
            print(
                f"{name:<48} {min(times):6.2f} {statistics.median(times):7.2f} "
                f"{max(times):6.2f}  {json.loads(heavy.replace(chr(39), chr(34))) or 'none'}"
            )
        print(f"load average after: {loadavg()}")
        verdict = "under" if worst < TARGET_S else "OVER"
        print(f"slowest median {worst:.2f} s: {verdict} the {TARGET_S} s target")


if __name__ == "__main__":
    main()
