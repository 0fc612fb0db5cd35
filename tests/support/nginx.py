"""A real nginx in front of test servers, configured as deployments get it right or wrong."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port

#: How each profile configures the proxy.
PROFILES: dict[str, dict[str, str]] = {
    # What the docs recommend.
    "good": {"upgrade": "yes", "buffering": "off", "read_timeout": "60s", "ignore": ""},
    # nginx's defaults: Upgrade not forwarded, responses buffered.
    "defaults": {"upgrade": "", "buffering": "on", "read_timeout": "60s", "ignore": ""},
    # Buffering forced on even for responses that ask for none.
    "buffer-everything": {
        "upgrade": "",
        "buffering": "on",
        "read_timeout": "60s",
        "ignore": "proxy_ignore_headers X-Accel-Buffering;",
    },
    # nginx's own default upstream protocol, HTTP/1.0, with buffering forced
    # on: a response without a length is held until nginx's buffers fill.
    "http10-buffer-everything": {
        "upgrade": "",
        "buffering": "on",
        "read_timeout": "60s",
        "ignore": "proxy_ignore_headers X-Accel-Buffering;",
        "http_version": "1.0",
    },
    # A held request is cut after 2 s.
    "short-timeouts": {"upgrade": "", "buffering": "on", "read_timeout": "2s", "ignore": ""},
}

_CONFIG = """
worker_processes 1;
error_log {tmp}/error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    # As docs/deployment.md has it: "upgrade" for WebSocket handshakes,
    # "close" (nginx's default to upstreams) for every other request.
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    upstream app {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version {http_version};
            proxy_set_header Host $http_host;
            {upgrade_headers}
            proxy_buffering {buffering};
            {ignore}
            proxy_read_timeout {read_timeout};
        }}
    }}
}}
"""


def nginx_path() -> str | None:
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


@dataclass
class Nginx:
    """nginx proxying to ``upstream_ports`` (round robin) with a profile's settings."""

    upstream_ports: list[int]
    profile: str = "good"
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        binary = nginx_path()
        if binary is None:
            raise RuntimeError("nginx is not installed")
        settings = PROFILES[self.profile]
        self._tmp = tempfile.TemporaryDirectory(prefix="realtime-nginx-")
        tmp = self._tmp.name
        self.port = free_port()
        upgrade = (
            "proxy_set_header Upgrade $http_upgrade;\n            "
            "proxy_set_header Connection $connection_upgrade;"
            if settings["upgrade"]
            else ""
        )
        config = _CONFIG.format(
            tmp=tmp,
            port=self.port,
            servers="\n".join(f"        server 127.0.0.1:{p};" for p in self.upstream_ports),
            upgrade_headers=upgrade,
            buffering=settings["buffering"],
            ignore=settings["ignore"],
            read_timeout=settings["read_timeout"],
            http_version=settings.get("http_version", "1.1"),
        )
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(config)
        self.process = subprocess.Popen(
            [binary, "-p", tmp, "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        log = (Path(tmp) / "error.log").read_text() if (Path(tmp) / "error.log").exists() else ""
        self.stop()
        raise RuntimeError(f"nginx did not start:\n{log}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
