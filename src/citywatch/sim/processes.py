"""The simulated city's processes, each a real `citywatch` subcommand started as a user would,
and what the simulation watches while they run: memory and CPU of each (from /proc), the bus's
backlog, the database's counts and write rate, and the operator's live feed (an SSE client)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from citywatch.bus.jetstream import STREAM
from citywatch.cluster.consumer import DURABLE
from citywatch.cluster.nats import NatsClient
from citywatch.domain.errors import CitywatchError, Unavailable
from citywatch.domain.leases import CAMERA
from citywatch.leases.nats_kv import NatsLeases

STOP_S = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    stats: Path | None = None

    def rss_mb(self) -> float:
        """Resident memory (MiB); 0 once it has ended."""
        try:
            for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def cpu_s(self) -> float:
        """User and system CPU seconds so far."""
        try:
            fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def tail(self, chars: int = 2500) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stat_lines(self) -> list[dict[str, Any]]:
        if self.stats is None or not self.stats.exists():
            return []
        return [json.loads(line) for line in self.stats.read_text().splitlines() if line.strip()]


class SimFailed(CitywatchError):
    """A process of the simulated city ended, or the city did not come up in time."""


class Processes:
    """Starts `citywatch` subcommands on one configuration file, and stops them."""

    def __init__(self, work: Path, config: Path) -> None:
        self._work = work
        self._config = config
        self.running: dict[str, Process] = {}

    def start(self, name: str, *args: str, stats: bool = False) -> Process:
        log = self._work / f"{name}.log"
        stats_file = self._work / f"{name}.stats.jsonl" if stats else None
        extra = ["--stats", str(stats_file)] if stats_file is not None else []
        with log.open("ab") as out:
            popen = subprocess.Popen(  # noqa: S603  (this Python, our own command)
                [sys.executable, "-m", "citywatch", "--config", str(self._config), *args, *extra],
                cwd=self._work,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        process = Process(name, popen, log, stats_file)
        self.running[name] = process
        return process

    def check(self) -> None:
        for process in self.running.values():
            if process.popen.poll() is not None:
                raise SimFailed(f"{process.name} ended (exit {process.popen.returncode}):\n{process.tail()}")

    def stop(self, *names: str) -> None:
        """SIGTERM, then SIGKILL whatever has not ended within STOP_S."""
        chosen = [self.running.pop(n) for n in (names or list(self.running)) if n in self.running]
        for process in chosen:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        for process in chosen:
            try:
                process.popen.wait(STOP_S)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()


@dataclass
class Sample:
    t: float
    rss_mb: dict[str, float]
    cpu_s: dict[str, float]
    bus_pending: int
    sightings: int
    alerts: int
    inserted: int
    """Rows PostgreSQL has inserted into the database so far (pg_stat_database)."""
    commits: int
    machine_busy_s: float
    """CPU seconds every process of the machine has used so far (/proc/stat)."""


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (not idle or waiting on I/O) since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


@dataclass
class Watch:
    """Samples once a second while the city runs."""

    processes: Processes
    database_url: str
    bus_url: str
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._engine = create_engine(self.database_url, pool_size=1, max_overflow=0)
        self._nats = NatsClient(self.bus_url, name="citywatch-sim")
        self._leases = NatsLeases(self._nats)

    def close(self) -> None:
        self._engine.dispose()
        self._nats.close()

    def sample(self) -> Sample:
        procs = list(self.processes.running.values())
        with self._engine.connect() as conn:
            sightings, alerts = conn.execute(
                text("SELECT (SELECT count(*) FROM sightings), (SELECT count(*) FROM alerts)")
            ).one()
            inserted, commits = conn.execute(
                text(
                    "SELECT tup_inserted, xact_commit FROM pg_stat_database "
                    "WHERE datname = current_database()"
                )
            ).one()
        s = Sample(
            time.time(),
            {p.name: p.rss_mb() for p in procs},
            {p.name: p.cpu_s() for p in procs},
            self.bus_pending(),
            int(sightings),
            int(alerts),
            int(inserted),
            int(commits),
            machine_busy_s(),
        )
        self.samples.append(s)
        return s

    def bus_pending(self) -> int:
        """Sightings on the bus not yet stored: waiting, or handed out and not acknowledged."""
        js = self._nats.jetstream
        try:
            info = self._nats.call(lambda: js.consumer_info(STREAM, DURABLE))
        except Unavailable:
            return -1  # no store consumer yet
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    def held(self) -> int:
        """Cameras held by some worker now (their leases in NATS KV)."""
        return len(self._leases.holders(f"{CAMERA}."))

    def run_for(self, seconds: float, *, every_s: float = 1.0) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.processes.check()
            self.sample()
            time.sleep(every_s)

    def until(self, what: str, done: Callable[[Sample], bool], timeout_s: float) -> float:
        """Sample until `done`; the seconds it took (SimFailed past `timeout_s`)."""
        started = time.monotonic()
        while not done(self.sample()):
            self.processes.check()
            if time.monotonic() - started > timeout_s:
                raise SimFailed(f"timed out after {timeout_s:.0f} s waiting for {what}")
            time.sleep(0.5)
        return time.monotonic() - started


class LiveFeed:
    """The operator's console feed (`/api/alerts/stream` of a `citywatch serve`): each alert's
    id and when its event arrived (wall-clock seconds)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.received: dict[int, float] = {}
        self.opened = threading.Event()
        self._stop = threading.Event()
        self._url = f"{base_url}/api/alerts/stream"
        self._token = token
        self._thread = threading.Thread(target=self._read, name="sim-feed", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                with (
                    httpx.Client(timeout=httpx.Timeout(10, read=30)) as client,
                    client.stream("GET", self._url, headers={"Authorization": f"Bearer {self._token}"}) as r,
                ):
                    r.raise_for_status()
                    self.opened.set()
                    for line in r.iter_lines():
                        if line.startswith("id:"):
                            self.received.setdefault(int(line[3:].strip()), time.time())
                        if self._stop.is_set():
                            return
            except httpx.HTTPError:
                self._stop.wait(0.5)  # the server is not up yet, or restarted: read again

    def close(self) -> None:
        self._stop.set()
