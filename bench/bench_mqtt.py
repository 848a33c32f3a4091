"""Benchmark of MQTT telemetry ingest through the real Mosquitto (scripts/services, 127.0.0.1:1883).

Usage::

    python bench/bench_mqtt.py [--messages 200000] [--paced-rates 2000,10000,15000]
                               [--paced-seconds 5]

A separate process (paho-mqtt, QoS 0) publishes round-robin to the soc, power and temperature
topics as fast as it can; an ``MqttSource`` in this process (subscription QoS 0) parses,
validates and applies every message and emits a Reading per message. Counted: messages received,
applied (validated and stored) and Readings emitted, per second and overall. Every power message
carries its sequence number as the value (rated power is set high enough to accept it), so the
end-to-end latency publish → Reading is measured per message across the two processes (same
host clock). Two payload shapes: plain numbers, and JSON with a path (``data.v``). Paced runs
(``--paced-rates``, messages/s) show the sustained rate without loss and the latency without a
backlog: under an unpaced flood Mosquitto drops QoS 0 messages for a subscriber that lags.

Prints a Markdown table to stdout, progress to stderr, writes ``bench/results/mqtt.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from common import git_commit, git_dirty, machine, version_of
from phoenyra.telemetry.model import Reading
from phoenyra.telemetry.sources.mqtt import MqttConfig, MqttSource

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "mqtt.json"
HOST, PORT = "127.0.0.1", 1883

# The publisher runs in its own interpreter so it does not share the GIL with the source.
PUBLISHER = r"""
import json, sys, time
import paho.mqtt.client as mqtt
host, port, prefix, n, rate, shape = sys.argv[1:7]
n, rate = int(n), float(rate)
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pub-" + prefix[-8:])
c.max_queued_messages_set(0)
c.connect(host, int(port))
c.loop_start()
topics = [prefix + "/soc", prefix + "/power", prefix + "/temperature"]
def body(v):
    return str(v) if shape == "plain" else json.dumps({"data": {"v": v}, "ts": 0})
sent = {}
t0 = time.perf_counter()
for i in range(n):
    k = i % 3
    if k == 0:
        v = 50 + (i % 40)
    elif k == 1:
        v = i  # the sequence number: the consumer matches latency by it
        sent[i] = time.time()
    else:
        v = 20 + (i % 10)
    c.publish(topics[k], body(v), qos=0)
    if rate > 0:
        due = t0 + (i + 1) / rate
        while time.perf_counter() < due:
            time.sleep(max(0.0, min(0.001, due - time.perf_counter())))
elapsed = time.perf_counter() - t0
time.sleep(0.5)
c.loop_stop()
c.disconnect()
json.dump({"published": n, "publish_seconds": elapsed, "sent": sent}, sys.stdout)
"""


def progress(message: str) -> None:
    print(f"[bench_mqtt] {message}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def run_once(n: int, rate: float, shape: str) -> dict:
    prefix = f"phoenyra-bench/{uuid.uuid4().hex[:12]}"
    path = None if shape == "plain" else "data.v"
    config = MqttConfig(
        broker=HOST,
        port=PORT,
        qos=0,
        rated_power_mw=float(n),  # power carries the sequence number, up to n
        soc_percent={"topic": f"{prefix}/soc", "json_path": path},
        power_mw={"topic": f"{prefix}/power", "json_path": path},
        temperature_c={"topic": f"{prefix}/temperature", "json_path": path},
    )
    received_at: dict[int, float] = {}

    def on_reading(r: Reading) -> None:
        received_at.setdefault(int(r.power_mw), r.at)

    source = MqttSource(config, on_reading=on_reading)
    task = asyncio.create_task(source.run())
    await asyncio.wait_for(source.connected.wait(), 5)

    pub = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PUBLISHER,
        HOST,
        str(PORT),
        prefix,
        str(n),
        str(rate),
        shape,
        stdout=subprocess.PIPE,
    )
    pub_done = asyncio.create_task(pub.communicate())
    per_second: list[int] = []
    first = last = None
    seen = 0
    idle_since = time.perf_counter()
    tick = time.perf_counter()
    last_applied = 0
    while True:
        await asyncio.sleep(0.01)
        now = time.perf_counter()
        count = source.counters.messages
        if count != seen:
            if first is None:  # per-second buckets start at the first message, not at launch
                first = tick = now
            last, seen, idle_since = now, count, now
        if first is not None and now - tick >= 1.0:
            per_second.append(source.counters.applied - last_applied)
            last_applied, tick = source.counters.applied, now
        if seen >= n or (pub_done.done() and now - idle_since > 2.0):
            break
    out, _ = await pub_done
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    published = json.loads(out)
    sent = {int(k): v for k, v in published["sent"].items()}
    latencies = [(received_at[i] - t) * 1000 for i, t in sent.items() if i in received_at]
    span = (last - first) if first and last and last > first else float("nan")
    c = source.counters
    return {
        "shape": shape,
        "target_rate": rate or None,
        "published": n,
        "publish_rate": n / published["publish_seconds"],
        "received": c.messages,
        "lost_qos0": n - c.messages,
        "applied": c.applied,
        "readings": c.readings,
        "refused": c.refused,
        "seconds": span,
        "applied_per_s": c.applied / span,
        "per_second_applied": per_second,
        "latency_ms": {
            "samples": len(latencies),
            "p50": pct(latencies, 0.50) if latencies else None,
            "p99": pct(latencies, 0.99) if latencies else None,
            "max": max(latencies) if latencies else None,
            "mean": statistics.fmean(latencies) if latencies else None,
        },
    }


async def main_async(args) -> dict:
    runs = []
    for shape in ("plain", "json"):
        progress(f"flood: {args.messages} messages, {shape} payloads")
        runs.append(await run_once(args.messages, 0, shape))
        progress(f"  {runs[-1]['applied_per_s']:,.0f} applied/s")
    for rate in (float(r) for r in args.paced_rates.split(",")):
        n = int(rate * args.paced_seconds)
        progress(f"paced: {n} messages at {rate:,.0f}/s, plain")
        runs.append(await run_once(n, rate, "plain"))
        progress(f"  lost {runs[-1]['lost_qos0']}, p99 {runs[-1]['latency_ms']['p99']:.2f} ms")
    return {"runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--paced-rates", default="2000,10000,15000")
    parser.add_argument("--paced-seconds", type=float, default=5)
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    result.update(
        benchmark="mqtt_ingest",
        target="≥ 10,000 messages/s validated and applied",
        broker=f"mosquitto at {HOST}:{PORT}",
        machine=machine(
            aiomqtt=version_of("aiomqtt"),
            paho_mqtt=version_of("paho-mqtt"),
            mosquitto=subprocess.run(
                ["mosquitto", "-h"], capture_output=True, text=True, check=False
            ).stdout.split("\n")[0],
        ),
        commit=git_commit(),
        dirty=git_dirty(),
        date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        "| run | published | received | applied | applied/s | per-second min–max | "
        "latency p50 / p99 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in result["runs"]:
        name = f"{r['shape']}, " + (
            f"paced {r['target_rate']:,.0f}/s" if r["target_rate"] else "flood"
        )
        ps = r["per_second_applied"] or [0]
        lat = r["latency_ms"]
        print(
            f"| {name} | {r['published']:,} | {r['received']:,} | {r['applied']:,} | "
            f"{r['applied_per_s']:,.0f} | {min(ps):,}–{max(ps):,} | "
            f"{lat['p50']:.2f} / {lat['p99']:.2f} |"
        )


if __name__ == "__main__":
    main()
