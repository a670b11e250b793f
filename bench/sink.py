"""Throughput of the RAW sink: MNIST-sized samples (784 bytes of uint8) into Kafka.

    python bench/sink.py [--samples 200000] [--mode batch|send|both] [--broker embedded|kafka]

Starts its own embedded broker unless KAFKA_BOOTSTRAP_SERVERS is set; ``--broker kafka`` starts a
one-node Apache Kafka instead (bench/brokers.py). Prints one JSON object:
samples/s (and MB/s) from the first produce call until close() has returned, i.e. every record
acknowledged by the broker and the control message delivered.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import brokers  # noqa: E402


def run_once(bootstrap: str, x: np.ndarray, y: np.ndarray, mode: str) -> dict:
    from datasources import RawSink

    topic = f"bench-sink-{mode}-{uuid.uuid4().hex[:8]}"
    sink = RawSink(
        bootstrap_servers=bootstrap,
        topic=topic,
        deployment_id=1,
        description="sink benchmark",
        data_type="uint8",
        label_type="uint8",
        data_reshape="28 28",
        control_topic=f"bench-control-{uuid.uuid4().hex[:8]}",
    )
    # Warm up the connection and topic metadata outside the timed region.
    sink._producer.list_topics(timeout=10)
    start = time.perf_counter()
    if mode == "batch":
        step = 50_000
        for i in range(0, len(x), step):
            sink.send_batch(x[i : i + step], y[i : i + step])
    else:
        send = sink.send
        for i in range(len(x)):
            send(x[i], y[i])
    produced = time.perf_counter() - start
    message = sink.close()
    elapsed = time.perf_counter() - start
    n = len(x)
    assert message is not None and message["total_msg"] == n, message
    return {
        "mode": mode,
        "samples": n,
        "seconds": round(elapsed, 3),
        "produce_seconds": round(produced, 3),
        "samples_per_s": round(n / elapsed),
        "mb_per_s": round(n * x[0].nbytes / elapsed / 1e6, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--mode", choices=["batch", "send", "both"], default="both")
    brokers.add_argument(parser)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(args.samples, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=args.samples, dtype=np.uint8)
    modes = ["batch", "send"] if args.mode == "both" else [args.mode]

    with brokers.broker(args.broker) as (bootstrap, broker_name):
        results = [run_once(bootstrap, x, y, mode) for mode in modes]
    report = {
        "benchmark": "raw_sink",
        "sample_bytes": int(x[0].nbytes),
        "broker": broker_name,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "results": results,
        "samples_per_s": max(r["samples_per_s"] for r in results),
    }
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
