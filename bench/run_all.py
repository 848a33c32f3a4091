"""Run every benchmark in turn (`make bench`); each prints its table and writes bench/results/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "bench_engine.py",
    "bench_durable.py",
    "bench_http.py",
    "bench_entsoe_parse.py",
    "bench_market.py",
    "bench_mqtt.py",
    "bench_modbus.py",
    "bench_optimizer.py",
    "bench_webapp.py",
]


def main() -> int:
    failed = []
    for i, name in enumerate(BENCHMARKS, 1):
        print(f"\n## [{i}/{len(BENCHMARKS)}] {name}\n", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)]).returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("\nFigures: bench/results/*.json; summary: bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
