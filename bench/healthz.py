"""Requests per second and latency of ``GET /healthz``: aignehub next to nginx, under wrk.

Both servers get one I/O thread (one nginx worker) pinned to CPU 1; wrk runs on CPU 0. Each is
warmed up, then measured with the same wrk settings, and the ratio of their rates is printed.
Run from the repository root: ``.venv/bin/python bench/healthz.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVER_CPU = "1"
WRK_CPU = "0"
AIM = 0.7  # aignehub req/s over nginx req/s we want to reach; reported, not asserted

NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {access_log};
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port};
        location = /healthz {{
            default_type application/json;
            return 200 '{{"status":"ok"}}';
        }}
    }}
}}
"""

UNIT_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}
PERCENTILE_RE = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
REQUESTS_RE = re.compile(r"^\s+(\d+) requests in ", re.MULTILINE)
SOCKET_ERRORS_RE = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)
NON_2XX_RE = re.compile(r"Non-2xx or 3xx responses: (\d+)")


@dataclasses.dataclass(frozen=True)
class Result:
    target: str
    requests_per_sec: float
    requests: int
    p50_us: float
    p75_us: float
    p90_us: float
    p99_us: float
    errors: int
    server_command: str
    wrk_command: str


def find_tool(name: str) -> str | None:
    # /usr/sbin is not on a non-root PATH, and that is where Debian puts nginx.
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/bin")


def ensure_tools() -> tuple[str, str]:
    """Return the paths of wrk and nginx, installing them from Debian if absent and root."""
    if shutil.which("taskset") is None:
        raise SystemExit("taskset is missing: apt-get install -y util-linux")
    if find_tool("wrk") is None or find_tool("nginx") is None:
        if os.geteuid() != 0:
            raise SystemExit("wrk and nginx are needed: sudo apt-get install -y wrk nginx")
        print("installing wrk and nginx with apt-get", file=sys.stderr)
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(["apt-get", "install", "-y", "wrk", "nginx"], check=True)
    wrk, nginx = find_tool("wrk"), find_tool("nginx")
    if wrk is None or nginx is None:
        raise SystemExit("wrk or nginx still not found after apt-get install")
    return wrk, nginx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {timeout:.0f}s:\n{log.read_text()}")


@contextmanager
def running(command: list[str], url: str, log: Path, stop: signal.Signals) -> Iterator[None]:
    """Run a server pinned to SERVER_CPU until the block ends; its output goes to ``log``."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, *command], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_ready(proc, url, log)
        yield
    finally:
        proc.send_signal(stop)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wrk_command(wrk: str, args: argparse.Namespace, url: str, duration: int) -> list[str]:
    return [
        "taskset", "-c", WRK_CPU, wrk, f"-t{args.threads}", f"-c{args.connections}",
        f"-d{duration}s", "--latency", url,
    ]  # fmt: skip


def run_wrk(command: list[str], duration: int) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def parse_wrk(target: str, output: str, server_command: str, wrk_command: str) -> Result:
    rps, requests = RPS_RE.search(output), REQUESTS_RE.search(output)
    percentiles = {p: float(v) * UNIT_US[u] for p, v, u in PERCENTILE_RE.findall(output)}
    if rps is None or requests is None or len(percentiles) != 4:
        raise SystemExit(f"cannot parse wrk output:\n{output}")
    socket_errors, non_2xx = SOCKET_ERRORS_RE.search(output), NON_2XX_RE.search(output)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return Result(
        target=target,
        requests_per_sec=float(rps.group(1)),
        requests=int(requests.group(1)),
        p50_us=percentiles["50"],
        p75_us=percentiles["75"],
        p90_us=percentiles["90"],
        p99_us=percentiles["99"],
        errors=errors,
        server_command=server_command,
        wrk_command=wrk_command,
    )


def measure(
    target: str,
    server: list[str],
    port: int,
    stop: signal.Signals,
    wrk: str,
    args: argparse.Namespace,
    tmp: Path,
) -> Result:
    """Start ``server``, warm it up, run wrk against it, stop it."""
    url = f"http://127.0.0.1:{port}/healthz"
    with running(server, url, tmp / f"{target}.out", stop):
        if args.warmup > 0:
            run_wrk(wrk_command(wrk, args, url, args.warmup), args.warmup)
        command = wrk_command(wrk, args, url, args.duration)
        output = run_wrk(command, args.duration)
    pinned = shlex.join(["taskset", "-c", SERVER_CPU, *server])
    return parse_wrk(target, output, pinned, shlex.join(command))


def aignehub_server(port: int, tmp: Path, access_log: bool) -> list[str]:
    log = str(tmp / "aignehub-access.log") if access_log else ""
    return [
        sys.executable, "-m", "aignehub", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--threads", "1", "--data-dir", str(tmp / "aignehub-data"), "--access-log", log,
    ]  # fmt: skip


def nginx_server(nginx: str, port: int, tmp: Path, access_log: bool) -> list[str]:
    conf = tmp / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            # Run as root, the worker would otherwise switch to nobody; keep one identity.
            user="user root;\n" if os.geteuid() == 0 else "",
            tmp=tmp,
            port=port,
            access_log=tmp / "nginx-access.log" if access_log else "off",
        )
    )
    return [nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "nginx-error.log")]


def print_table(results: list[Result], ratio: float, load: float, args: argparse.Namespace) -> None:
    print(
        f"GET /healthz: wrk -t{args.threads} -c{args.connections} -d{args.duration}s "
        f"(warm-up {args.warmup}s), access log {args.access_log}, "
        f"server on CPU {SERVER_CPU} with 1 thread/worker, wrk on CPU {WRK_CPU}, "
        f"load average before the run {load:.2f} (other work on the cores skews the figures)\n"
    )
    print(f"{'target':<10} {'req/s':>10} {'p50 us':>9} {'p90 us':>9} {'p99 us':>9} {'errors':>7}")
    for r in results:
        print(
            f"{r.target:<10} {r.requests_per_sec:>10.0f} {r.p50_us:>9.0f} {r.p90_us:>9.0f} "
            f"{r.p99_us:>9.0f} {r.errors:>7}"
        )
    print(f"\naignehub/nginx req/s: {ratio:.2f} (aim: at least {AIM})\n")
    for r in results:
        print(f"{r.target} server: {r.server_command}")
        print(f"{r.target} wrk:    {r.wrk_command}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=50, help="wrk -c (default: 50)")
    parser.add_argument("--duration", type=int, default=10, help="wrk -d, seconds (default: 10)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (default: 1)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up (default: 2)")
    parser.add_argument(
        "--access-log", choices=["on", "off"], default="on", help="for both servers (default: on)"
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args()

    wrk, nginx = ensure_tools()
    access_log = args.access_log == "on"
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="aignehub-bench-") as name:
        tmp = Path(name)
        # SIGQUIT lets nginx finish gracefully; aignehub does so on SIGTERM.
        port = free_port()
        server = nginx_server(nginx, port, tmp, access_log)
        baseline = measure("nginx", server, port, signal.SIGQUIT, wrk, args, tmp)
        port = free_port()
        server = aignehub_server(port, tmp, access_log)
        hub = measure("aignehub", server, port, signal.SIGTERM, wrk, args, tmp)
    results = [baseline, hub]
    ratio = hub.requests_per_sec / baseline.requests_per_sec
    if args.json:
        report = {
            **{k: v for k, v in vars(args).items() if k != "json"},
            "load_average_before": load,
            "results": [dataclasses.asdict(r) for r in results],
            "ratio": ratio,
        }
        print(json.dumps(report, indent=2))
    else:
        print_table(results, ratio, load, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
