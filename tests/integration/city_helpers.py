"""A city on this machine for the process tests (`test_city.py`, `test_city_netns.py`): its
separate `citywatch` processes on a NATS server of the test's own and a fresh PostgreSQL
database, two cameras replaying the Hamilton clip with Lin-Manuel Miranda enrolled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from citywatch.cluster.nats import NatsClient
from citywatch.cluster.servers import NatsServer
from citywatch.domain.leases import DEFAULT_TTL_S, Lease, camera_key
from citywatch.leases.nats_kv import NatsLeases
from tests.databases import fresh_postgresql, metadata_sql, require_postgresql
from tests.integration.cli_helpers import authorise, cli_env, enroll

LIN = "Lin-Manuel Miranda"
CAMERAS = ("north", "south")
MODES = {"north": "watchlist", "south": "investigate"}
FAILOVER_S = DEFAULT_TTL_S + 5


@dataclass
class City:
    work: Path
    data: Path
    nats: NatsServer
    config: Path
    leases: NatsLeases
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(
        self, name: str, *args: str, prefix: Sequence[str] = (), env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """`citywatch args…` as process `name` (its output in `<name>.log`); `prefix` runs it
        through another command (`ip netns exec NS`, which execs it: the pid is the same),
        `env` adds to the environment."""
        log = (self.work / f"{name}.log").open("wb")
        environment = {
            **cli_env(self.work, self.data),
            "CITYWATCH_DATABASE_URL": os.environ["CITYWATCH_DATABASE_URL"],
            **(env or {}),
        }
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "citywatch", "--config", str(self.config), *args],
            cwd=self.work,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = process
        return process

    def holders(self) -> dict[str, Lease]:
        return {c: lease for c in CAMERAS if (lease := self.leases.holder(camera_key(c))) is not None}

    def held_by(self, name: str) -> set[str]:
        pid = str(self.processes[name].pid)
        return {c for c, lease in self.holders().items() if lease.holder.split(":")[1] == pid}

    def log(self, name: str) -> str:
        return (self.work / f"{name}.log").read_text(errors="replace")[-3000:]


def sightings(city: City) -> list[tuple[str, str]]:
    db = metadata_sql(city.work / "data")
    return [(str(c), str(k)) for c, k in db.execute("select camera_id, source_key from sightings").fetchall()]


def token_of(source_key: str) -> int:
    return int(source_key.split(":")[1])


def wait_for(what: str, condition: Callable[[], bool], city: City, timeout_s: float = 120.0) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            logs = "\n".join(f"--- {name}\n{city.log(name)}" for name in city.processes)
            pytest.fail(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.2)
    return time.monotonic() - started


@contextmanager
def city_on(
    work: Path, shared_data: Path, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[City]:
    """The city in `work` (its processes killed at the end, a paused one too), on a fresh
    PostgreSQL database named by CITYWATCH_DATABASE_URL while inside."""
    examples = shared_data / "face_recognition/examples"
    clip = examples / "short_hamilton_clip.mp4"
    require_postgresql()
    with fresh_postgresql() as url:
        monkeypatch.setenv("CITYWATCH_DATABASE_URL", url)
        assert enroll(work, shared_data, LIN, examples / "lin-manuel-miranda.png").code == 0
        authorise(work, list(CAMERAS))
        config = work / "city.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "bus": nats_server.url,
                    "recording": {"enabled": False},
                    "cameras": [
                        {"id": c, "url": str(clip), "mode": MODES[c], "source": {"replay": True}}
                        for c in CAMERAS
                    ],
                }
            )
        )
        client = NatsClient(nats_server.url)
        town = City(work, shared_data, nats_server, config, NatsLeases(client))
        try:
            yield town
        finally:
            for process in town.processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGCONT)
                    process.kill()
                    process.wait()
            client.close()
