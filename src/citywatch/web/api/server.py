"""The API served by uvicorn on a thread beside the camera workers, stopped cleanly."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from citywatch.alerts.delivery.feed import AlertFeed
from citywatch.config.api import ApiSettings
from citywatch.domain.errors import Unavailable

log = logging.getLogger(__name__)

START_S = 10.0


class ApiServer:
    """`start` binds the port (a taken one fails there, clearly) and serves on a thread;
    `stop` ends the live streams first (their clients reconnect elsewhere or later), then
    lets open requests finish for `shutdown_s`."""

    def __init__(self, app: FastAPI, settings: ApiSettings, feed: AlertFeed) -> None:
        self._settings = settings
        self._feed = feed
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_config=None,  # citywatch's logging, not uvicorn's own
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=max(1, round(settings.shutdown_s)),
                # the client address the rate limits count: X-Forwarded-For only from these
                # (none by default: uvicorn's own default would trust 127.0.0.1)
                proxy_headers=bool(settings.trusted_proxies),
                forwarded_allow_ips=list(settings.trusted_proxies),
            )
        )
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._socket is None:
            raise Unavailable("the API server has not started")
        host, port = self._socket.getsockname()[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def start(self) -> None:
        host, port = self._settings.host, self._settings.port
        try:
            self._socket = socket.create_server(
                (host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET
            )
        except OSError as exc:
            raise Unavailable(f"cannot serve the API on {host}:{port}: {exc.strerror or exc}") from None
        # Connections accepted on it inherit this: without it, a response written in two parts
        # (headers, body) waits for the client's delayed ACK, 40 ms on every keep-alive request.
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not _is_loopback(host):
            log.warning(
                "the API listens on %s: API tokens cross the network in clear unless a TLS proxy is in front",
                host,
            )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise Unavailable(f"the API server did not start on {host}:{port} (see the log)")
            time.sleep(0.02)
        log.info("serving the API on %s", self.url)

    def stop(self) -> None:
        self._feed.close("the server is stopping")
        self._server.should_exit = True
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(self._settings.shutdown_s + 5)
            if self._thread.is_alive():
                log.error("the API server did not stop within %.0f s", self._settings.shutdown_s + 5)
        if self._socket is not None:
            self._socket.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
