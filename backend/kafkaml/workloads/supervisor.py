"""Runs one workload's replicas and keeps them running (``python -m kafkaml.workloads.supervisor
DIR``). Training replicas run once; inference replicas are restarted with exponential backoff.
SIGHUP re-reads the replica count; SIGTERM stops every replica and exits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BACKOFF_START, BACKOFF_MAX = 1.0, 30.0


class Supervisor:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.spec = json.loads((workdir / "spec.json").read_text())
        self.restartable = self.spec["component"] == "inference"
        self.replicas: dict[int, subprocess.Popen] = {}
        self.next_start: dict[int, float] = {}
        self.backoff: dict[int, float] = {}
        self.restarts = 0
        self.stopping = False
        self.final_state: str | None = None
        self.reason = ""

    def desired(self) -> int:
        try:
            return max(0, int((self.workdir / "replicas").read_text()))
        except (OSError, ValueError):
            return 1

    def write_status(self, state: str) -> None:
        ready = sum(1 for p in self.replicas.values() if p.poll() is None)
        status = {
            "state": state,
            "reason": self.reason,
            "replicas_desired": self.desired(),
            "replicas_ready": ready,
            "restarts": self.restarts,
            "pids": {str(i): p.pid for i, p in self.replicas.items() if p.poll() is None},
            "updated": time.time(),
        }
        tmp = self.workdir / "status.json.tmp"
        tmp.write_text(json.dumps(status))
        os.replace(tmp, self.workdir / "status.json")

    def start_replica(self, index: int) -> None:
        env = {**os.environ, "KAFKAML_REPLICA": f"{self.spec['name']}-{index}"}
        log = open(self.workdir / f"replica-{index}.log", "ab")
        self.replicas[index] = subprocess.Popen(
            self.spec["command"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        log.close()

    def stop_replica(self, index: int, timeout: float = 15.0) -> None:
        process = self.replicas.pop(index, None)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def step(self) -> None:
        desired = self.desired()
        for index in [i for i in self.replicas if i >= desired]:
            self.stop_replica(index)
        now = time.monotonic()
        for index in range(desired):
            process = self.replicas.get(index)
            if process is not None and process.poll() is None:
                continue
            if process is not None:  # it exited
                code = process.returncode
                if not self.restartable:
                    self.replicas.pop(index)
                    self.final_state = "succeeded" if code == 0 else "failed"
                    self.reason = "" if code == 0 else f"exited with code {code}"
                    return
                delay = self.backoff.get(index, BACKOFF_START)
                self.backoff[index] = min(delay * 2, BACKOFF_MAX)
                self.next_start[index] = now + delay
                self.reason = f"replica {index} exited with code {code}; restarting in {delay:.0f}s"
                self.replicas.pop(index)
                self.restarts += 1
                continue
            if now >= self.next_start.get(index, 0):
                self.start_replica(index)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        signal.signal(signal.SIGHUP, lambda *_: None)  # wakes the loop; desired() re-reads
        self.write_status("running")
        while not self.stopping and self.final_state is None:
            self.step()
            self.write_status("running")
            time.sleep(0.3)
        for index in list(self.replicas):
            self.stop_replica(index)
        self.write_status(self.final_state or "stopped")
        return 0

    def _on_term(self, *_):
        self.stopping = True


if __name__ == "__main__":
    sys.exit(Supervisor(Path(sys.argv[1])).run())
