"""What a gateway adds: aignehub, Portkey and LiteLLM side by side, and the upstream mock alone.

Every target answers POST /v1/chat/completions from the same local upstreams: nginx returning a
fixed chat completion, and bench/sse_mock.cpp streaming chat completion chunks. The script
measures latency at concurrency 1, requests per second at 50 connections (wrk), CPU and memory
per request, memory per in-flight stream, and time to first token on a timed stream, then
prints one table. A second table sets aignehub translating for an Anthropic upstream (the
mock's POST /v1/messages) beside the same runs passed through to an OpenAI one. Run from the
repository root: ``.venv/bin/python bench/gateway.py`` (``--help`` for options;
``bash bench/setup`` installs Portkey, LiteLLM, nginx and wrk).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench"
DEPS = ROOT / "bench" / ".deps"
PORTKEY_SERVER = DEPS / "portkey" / "node_modules" / "@portkey-ai" / "gateway" / "build"
PORTKEY_SERVER /= "start-server.js"
LITELLM = DEPS / "litellm-venv" / "bin" / "litellm"
CLIENT = BUILD / "aignehub_bench_load_client"
SSE_MOCK = BUILD / "aignehub_bench_sse_mock"

SERVER_CPU = "1"  # the gateway under test (and the upstream mocks in direct's wrk runs)
CLIENT_CPU = "0"  # load clients, and the upstream mocks everywhere else
GATEWAYS = ("aignehub", "portkey", "litellm")
TRANSLATION = "translation"  # the --only name of the translation section
MODEL = "gpt-4o-mini"
CHAT_PATH = "/v1/chat/completions"
# Anthropic's Messages API, as the mock answers it and as aignehub's "anthropic" kind calls it.
ANTHROPIC_MODEL = "claude-sonnet-4-5"
MESSAGES_PATH = "/v1/messages"
ANTHROPIC_HEADERS = ("x-api-key: dummy", "anthropic-version: 2023-06-01")

# wrk counts a response slower than its timeout (2 s by default) as a socket error, though it
# still arrives; with 50 connections a slow gateway's answers take longer than that. Only a
# response that never comes should count against a target.
WRK_TIMEOUT_S = 30

CHUNKS = 20  # content chunks per stream
# The SSE mock's listeners the translation section reaches in both formats: sse (the whole stream
# at once) for c=1 and wrk, timed for time to first token.
TRANSLATED_UPSTREAMS = ("sse", "timed")
TIMED_INTERVAL_MS = 20  # between chunks, for time to first token and the gap per chunk
HELD_INTERVAL_MS = 3000  # 60 s per stream: long enough for a slow gateway to open 1,000

# Aims, printed beside the figures and never asserted.
AIM_ADDED_P99_US = 100
AIM_CPU_US = 50
AIM_VS_PORTKEY = 20
AIM_VS_LITELLM = 50
AIM_ADDED_TTFT_MS = 0.3
AIM_ADDED_GAP_US = 10
AIM_RSS_IDLE_MIB = 20
AIM_RSS_LOAD_MIB = 64
AIM_TRANSLATION_CPU = 1.5  # translated / passthrough gateway CPU per streamed request

# The non-streaming answer nginx returns: the shape of OpenAI's chat completion.
COMPLETION = {
    "id": "chatcmpl-bench0nginx0mock000000000001",
    "object": "chat.completion",
    "created": 1755690953,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! How can I help you today?",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 13,
        "completion_tokens": 9,
        "total_tokens": 22,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": None,
}

MODELS = {
    "object": "list",
    "data": [{"id": MODEL, "object": "model", "created": 1721172741, "owned_by": "system"}],
}

NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port};
        location = {path} {{
            default_type application/json;
            return 200 '{body}';
        }}
        location = /v1/models {{
            default_type application/json;
            return 200 '{models}';
        }}
    }}
}}
"""

LITELLM_ENTRY = """\
  - model_name: {name}
    litellm_params:
      model: openai/{model}
      api_base: http://127.0.0.1:{port}/v1
      api_key: dummy
"""

LITELLM_CONF = """\
model_list:
{entries}litellm_settings:
  telemetry: false
  set_verbose: false
  success_callback: []
  failure_callback: []
  callbacks: []
general_settings:
  master_key: {key}
"""

# uvicorn's access log is one line per request; the other gateways run without one.
LITELLM_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"err": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "uvicorn": {"handlers": ["err"], "level": "WARNING"},
        "uvicorn.error": {"level": "WARNING"},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}

RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
REQUESTS_RE = re.compile(r"^\s+(\d+) requests in ", re.MULTILINE)
SOCKET_ERRORS_RE = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)
NON_2XX_RE = re.compile(r"Non-2xx or 3xx responses: (\d+)")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class TargetFailed(Exception):
    """A target could not be started or measured; the others go on."""


@dataclasses.dataclass(frozen=True)
class Route:
    """How a client reaches one upstream through a target: port, model name and headers, and
    the API it speaks (OpenAI's chat completions, or Anthropic's messages for the mock alone)."""

    port: int
    model: str
    headers: tuple[str, ...]
    path: str = CHAT_PATH
    anthropic: bool = False

    def body(self, stream: bool) -> str:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": "Hello, how are you?"}],
            "max_tokens" if self.anthropic else "max_completion_tokens": 50,
            "temperature": 0,
        }
        if stream:
            body["stream"] = True
            if not self.anthropic:
                body["stream_options"] = {"include_usage": True}
        return json.dumps(body, separators=(",", ":"))


@dataclasses.dataclass(frozen=True)
class Upstreams:
    """Ports of the mocks: nginx (json) and the SSE mock's listeners (sse, timed, held)."""

    json: int
    sse: int
    timed: int
    held: int

    def items(self) -> list[tuple[str, int]]:
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]


@dataclasses.dataclass
class Wrk:
    requests_per_sec: float
    requests: int
    errors: int
    error_kinds: str  # wrk's own words, e.g. "Socket errors: connect 0, read 3, ..."
    command: str


@dataclasses.dataclass
class Result:
    target: str
    error: str | None = None
    server_command: str = ""
    latency: dict[str, Any] = dataclasses.field(default_factory=dict)
    stream: dict[str, Any] = dataclasses.field(default_factory=dict)
    streams: dict[str, Any] = dataclasses.field(default_factory=dict)
    wrk_json: Wrk | None = None
    wrk_sse: Wrk | None = None
    cpu_us_per_request: float | None = None
    core_busy: tuple[float, float] | None = None  # CPU 0 and CPU 1 during the wrk JSON run
    rss_idle: int | None = None
    rss_load: int | None = None
    rss_streams: int | None = None
    streams_in_flight: int | None = None


# --- tools and processes -------------------------------------------------------------------


def find_tool(name: str) -> str | None:
    # /usr/sbin is not on a non-root PATH, and that is where Debian puts nginx.
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/bin")


def ensure_tools(targets: list[str]) -> tuple[str, str]:
    """Return wrk and nginx; run bench/setup first when something the run needs is missing."""
    missing = find_tool("wrk") is None or find_tool("nginx") is None
    missing |= "portkey" in targets and not PORTKEY_SERVER.exists()
    missing |= "litellm" in targets and not LITELLM.exists()
    if missing:
        print("bench/gateway.py: running bench/setup to install what is missing", file=sys.stderr)
        subprocess.run(["bash", str(ROOT / "bench" / "setup")], check=True)
    wrk, nginx = find_tool("wrk"), find_tool("nginx")
    if wrk is None or nginx is None or shutil.which("taskset") is None:
        raise SystemExit("wrk, nginx and taskset are needed: run bash bench/setup as root")
    return wrk, nginx


def build_binaries() -> None:
    configure = [
        "cmake", "-S", str(ROOT), "-B", str(BUILD), "-G", "Ninja",
        "-DCMAKE_BUILD_TYPE=Release", "-DAIGNEHUB_BUILD_PYTHON=OFF", "-DAIGNEHUB_BUILD_BENCH=ON",
    ]  # fmt: skip
    targets = ["aignehub_bench_load_client", "aignehub_bench_sse_mock"]
    for command in (configure, ["cmake", "--build", str(BUILD), "--target", *targets]):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{shlex.join(command)} failed:\n{done.stdout}{done.stderr}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def raise_fd_limit() -> None:
    # 1,000 streams hold 1,000 client and 2,000 gateway sockets; children inherit the limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@contextmanager
def running(
    command: list[str],
    log: Path,
    cpu: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stop: signal.Signals = signal.SIGTERM,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server pinned to `cpu` until the block ends; its output goes to `log`."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["taskset", "-c", cpu, *command],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(stop)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def post(route: Route, timeout: float = 5) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{route.port}{route.path}",
        data=route.body(stream=False).encode(),
        headers=dict(h.split(": ", 1) for h in route.headers)
        | {"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def wait_answering(proc: subprocess.Popen[bytes], route: Route, log: Path, timeout: float) -> None:
    """Poll a non-streaming POST until it answers 200; give up on a steady 4xx after 5 s."""
    start = time.monotonic()
    last = "no answer"
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise TargetFailed(f"exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            status, body = post(route, timeout=5)
        except OSError as e:
            last = str(e)
            time.sleep(0.1)
            continue
        if status == 200:
            return
        last = f"HTTP {status}: {body[:300]}"
        if 400 <= status < 500 and time.monotonic() - start > 5:
            break
        time.sleep(0.2)
    raise TargetFailed(f"POST {route.path} did not answer 200 ({last})")


# --- /proc ---------------------------------------------------------------------------------


def stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # fields from the state on


def process_tree(root: int) -> list[int]:
    """`root` and every live descendant (Node and Python gateways may fork workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(stat_fields(int(entry))[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    pids = [root]
    for pid in pids:
        pids.extend(children.get(pid, []))
    return pids


def cpu_seconds(root: int) -> float:
    """utime + stime of the tree, plus cutime + cstime (children that already exited)."""
    ticks = 0
    for pid in process_tree(root):
        try:
            fields = stat_fields(pid)
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])
    return ticks / CLOCK_TICKS


def rss_bytes(root: int) -> int:
    total = 0
    for pid in process_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(match.group(1)) * 1024 if match else 0
    return total


def core_times() -> dict[str, tuple[int, int]]:
    """Per CPU: (busy, total) jiffies from /proc/stat."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            numbers = [int(v) for v in values[:8]]
            idle = numbers[3] + numbers[4]
            out[name[3:]] = (sum(numbers) - idle, sum(numbers))
    return out


def cores_busy(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> tuple[float, float]:
    """How busy CPU 0 and CPU 1 were, in %, between two `core_times()`."""

    def busy(cpu: str) -> float:
        (b0, t0), (b1, t1) = before[cpu], after[cpu]
        return 100 * (b1 - b0) / max(t1 - t0, 1)

    return busy(CLIENT_CPU), busy(SERVER_CPU)


class RssSampler:
    """Samples the RSS of a process tree in the background; keeps the largest figure."""

    def __init__(self, pid: int | None, every: float = 0.2) -> None:
        self.peak = 0
        self._pid, self._every = pid, every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while self._pid is not None and not self._done.wait(self._every):
            self.peak = max(self.peak, rss_bytes(self._pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


# --- load ----------------------------------------------------------------------------------


def client_command(mode: str, route: Route, stream: bool, *extra: str) -> list[str]:
    command = [
        "taskset", "-c", CLIENT_CPU, str(CLIENT), mode, "--port", str(route.port),
        "--path", route.path, "--body", route.body(stream),
    ]  # fmt: skip
    for header in route.headers:
        command += ["--header", header]
    return [*command, *extra]


def run_client(command: list[str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise TargetFailed(f"load client failed: {done.stderr.strip()}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def lua_string(text: str) -> str:
    return f"[==[{text}]==]"


def run_wrk(
    wrk: str, route: Route, stream: bool, duration: int, tmp: Path, connections: int
) -> Wrk:
    script = tmp / ("post-stream.lua" if stream else "post.lua")
    lines = ['wrk.method = "POST"', f"wrk.body = {lua_string(route.body(stream))}"]
    lines.append('wrk.headers["Content-Type"] = "application/json"')
    for header in route.headers:
        name, value = header.split(": ", 1)
        lines.append(f'wrk.headers["{name}"] = {lua_string(value)}')  # names are tokens
    script.write_text("\n".join(lines) + "\n")
    command = [
        "taskset", "-c", CLIENT_CPU, wrk, "-t1", f"-c{connections}", f"-d{duration}s",
        "--timeout", f"{WRK_TIMEOUT_S}s", "-s", str(script),
        f"http://127.0.0.1:{route.port}{route.path}",
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=False
    )
    output = done.stdout
    rps, requests = RPS_RE.search(output), REQUESTS_RE.search(output)
    if done.returncode != 0 or rps is None or requests is None:
        raise TargetFailed(f"{shlex.join(command)} failed:\n{output}{done.stderr}")
    socket_errors, non_2xx = SOCKET_ERRORS_RE.search(output), NON_2XX_RE.search(output)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    errors += int(non_2xx.group(1)) if non_2xx else 0
    kinds = "; ".join(m.group(0) for m in (socket_errors, non_2xx) if m is not None)
    return Wrk(float(rps.group(1)), int(requests.group(1)), errors, kinds, shlex.join(command))


def held_streams(route: Route, count: int, pid: int | None) -> tuple[dict[str, Any], int, int]:
    """Open `count` streams at once; returns the client's totals, the peak RSS sampled while
    all were open, and how many were in flight then. The streams are long (CHUNKS x
    HELD_INTERVAL_MS) so that slow gateways can open them all; once sampled, the client is
    stopped, which closes them."""
    command = client_command(
        "streams", route, True, "--connections", str(count), "--max-seconds", "90"
    )
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    peak, in_flight, last = 0, 0, ""
    for line in proc.stdout:
        if line.startswith("open "):
            in_flight = int(line.split()[1])
            for _ in range(5):
                peak = max(peak, rss_bytes(pid)) if pid is not None else 0
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
        elif line.strip():
            last = line
    stderr = proc.stderr.read()
    if proc.wait() != 0 or not last:
        raise TargetFailed(f"load client failed: {stderr.strip()}")
    result: dict[str, Any] = json.loads(last)
    return result, peak, in_flight


# --- targets -------------------------------------------------------------------------------


def nginx_quoted(value: object) -> str:
    """JSON for inside an nginx single-quoted string."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("\\", "\\\\").replace("'", "\\'")


@contextmanager
def upstreams(nginx: str, cpu: str, tmp: Path) -> Iterator[Upstreams]:
    """Start nginx and the SSE mock on `cpu`; yields their ports once they answer."""
    ports = Upstreams(free_port(), free_port(), free_port(), free_port())
    conf = tmp / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            # Run as root, the worker would otherwise switch to nobody; keep one identity.
            user="user root;\n" if os.geteuid() == 0 else "",
            tmp=tmp,
            port=ports.json,
            path=CHAT_PATH,
            body=nginx_quoted(COMPLETION),
            models=nginx_quoted(MODELS),
        )
    )
    nginx_command = [nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "nginx-error.log")]
    mock_command = [str(SSE_MOCK), "--chunks", str(CHUNKS)]
    mock_command += [
        f"127.0.0.1:{ports.sse}:0",
        f"127.0.0.1:{ports.timed}:{TIMED_INTERVAL_MS}",
        f"127.0.0.1:{ports.held}:{HELD_INTERVAL_MS}",
    ]
    with (
        running(nginx_command, tmp / "nginx.out", cpu, stop=signal.SIGQUIT) as nginx_proc,
        running(mock_command, tmp / "sse-mock.out", cpu) as mock_proc,
    ):
        direct = Route(ports.json, MODEL, ("Authorization: Bearer dummy",))
        wait_answering(nginx_proc, direct, tmp / "nginx.out", 10)
        wait_answering(
            mock_proc, dataclasses.replace(direct, port=ports.sse), tmp / "sse-mock.out", 10
        )
        yield ports


def direct_routes(up: Upstreams) -> dict[str, Route]:
    """The mocks themselves; `anthropic-sse` and `anthropic-timed` are the SSE mock's listeners
    answering Anthropic's Messages API."""
    routes = {
        name: Route(port, MODEL, ("Authorization: Bearer dummy",)) for name, port in up.items()
    }
    for name in TRANSLATED_UPSTREAMS:
        routes[f"anthropic-{name}"] = Route(
            getattr(up, name), ANTHROPIC_MODEL, ANTHROPIC_HEADERS, MESSAGES_PATH, anthropic=True
        )
    return routes


def aignehub_setup(up: Upstreams, data: Path, translation: bool = False) -> dict[str, Route]:
    """A fresh data directory with one provider per upstream and one access key; with
    `translation`, also a provider of kind "anthropic" on each streaming mock listener that the
    translation section uses (`anthropic-sse`, `anthropic-timed`), which calls its
    POST /v1/messages."""
    try:
        from aignehub import Hub
    except ImportError as e:  # the extension may be mid-rebuild
        raise TargetFailed(f"cannot import aignehub: {e}") from e
    with Hub(data) as hub:
        for name, port in up.items():
            hub.providers.add(
                "openai-compatible",
                name=name,
                base_url=f"http://127.0.0.1:{port}/v1",
                api_key="dummy",
                local=True,
                validate=False,
            )
        for name in TRANSLATED_UPSTREAMS if translation else ():
            hub.providers.add(
                "anthropic",
                name=f"anthropic-{name}",
                base_url=f"http://127.0.0.1:{getattr(up, name)}",  # the kind adds /v1/messages
                api_key="dummy",
                local=True,
                validate=False,
            )
        secret = hub.keys.create(hub.users.add("bench"), name="bench").secret
    headers = (f"Authorization: Bearer {secret}",)
    routes = {name: Route(0, f"{name}/{MODEL}", headers) for name, _ in up.items()}
    for name in TRANSLATED_UPSTREAMS if translation else ():
        routes[f"anthropic-{name}"] = Route(0, f"anthropic-{name}/{ANTHROPIC_MODEL}", headers)
    return routes


@dataclasses.dataclass
class Launch:
    command: Callable[[int], list[str]]  # the server's command line for a port
    routes: dict[str, Route]  # with port 0: the gateway's port is filled in at each start
    env: dict[str, str] | None = None
    cwd: Path | None = None
    ready_timeout: float = 20


def gateway_launch(
    target: str, up: Upstreams, tmp: Path, usage_sync: str, translation: bool = False
) -> Launch:
    if target == "aignehub":
        data = tmp / "aignehub-data"
        routes = aignehub_setup(up, data, translation)
        python = sys.executable

        def aignehub(port: int) -> list[str]:
            return [
                python, "-m", "aignehub", "serve", "--host", "127.0.0.1", "--port", str(port),
                "--threads", "1", "--data-dir", str(data), "--access-log", "",
                "--usage-sync", usage_sync,
            ]  # fmt: skip

        return Launch(
            aignehub,
            routes,
            env=os.environ | {"AIGNEHUB_HOME": str(data)},
        )
    if target == "portkey":
        node = shutil.which("node")
        if node is None or not PORTKEY_SERVER.exists():
            raise TargetFailed("Portkey is not installed: bash bench/setup")
        routes = {
            name: Route(
                0,
                MODEL,
                (
                    "x-portkey-provider: openai",
                    f"x-portkey-custom-host: http://127.0.0.1:{upstream}/v1",
                    "Authorization: Bearer dummy",
                ),
            )
            for name, upstream in up.items()
        }
        return Launch(
            lambda port: [node, str(PORTKEY_SERVER), f"--port={port}", "--headless"],
            routes,
            env=os.environ | {"NODE_ENV": "production"},
            cwd=PORTKEY_SERVER.parents[3],
        )
    if target == "litellm":
        if not LITELLM.exists():
            raise TargetFailed("LiteLLM is not installed: bash bench/setup")
        key = "sk-bench"
        entries = "".join(
            LITELLM_ENTRY.format(name=name, model=MODEL, port=upstream)
            for name, upstream in up.items()
        )
        config = tmp / "litellm.yaml"
        config.write_text(LITELLM_CONF.format(entries=entries, key=key))
        logging = tmp / "litellm-logging.json"
        logging.write_text(json.dumps(LITELLM_LOGGING))
        routes = {name: Route(0, name, (f"Authorization: Bearer {key}",)) for name, _ in up.items()}
        env = os.environ | {
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the cost map at start
        }

        def litellm(port: int) -> list[str]:
            return [
                str(LITELLM), "--config", str(config), "--host", "127.0.0.1", "--port",
                str(port), "--num_workers", "1", "--log_config", str(logging),
                "--telemetry", "False",
            ]  # fmt: skip

        return Launch(
            litellm,
            routes,
            env=env,
            cwd=tmp,
            ready_timeout=90,
        )
    raise ValueError(target)


@contextmanager
def gateway(launch: Launch, log: Path, cpu: str) -> Iterator[tuple[dict[str, Route], int, str]]:
    """Start the gateway on `cpu` and a free port; yields its routes, pid and command."""
    port = free_port()
    routes = {k: dataclasses.replace(r, port=port) for k, r in launch.routes.items()}
    command = launch.command(port)
    with running(command, log, cpu, env=launch.env, cwd=launch.cwd) as proc:
        try:
            wait_answering(proc, routes["json"], log, launch.ready_timeout)
            yield routes, proc.pid, shlex.join(["taskset", "-c", cpu, *command])
        except TargetFailed as e:
            if proc.poll() is None:
                raise
            tail = log.read_text(errors="replace")[-1500:].strip()
            message = f"{e}\n  the gateway exited with {proc.returncode}: {tail}"
            raise TargetFailed(message) from e


def measure_quiet(
    result: Result, routes: dict[str, Route], pid: int | None, args: argparse.Namespace
) -> None:
    """Concurrency 1, idle memory, then the 1,000 streams, on a gateway that has seen no load
    yet: a heap grown under wrk would hide what the streams cost."""
    latency = ["--warmup", "200", "--requests", "20000", "--max-seconds", str(args.latency_seconds)]
    result.latency = run_client(
        client_command("latency", routes["json"], False, *latency),
        timeout=args.latency_seconds + 60,
    )
    timed = ["--warmup", "1", "--requests", str(args.timed), "--max-seconds", "30"]
    result.stream = run_client(client_command("stream", routes["timed"], True, *timed), timeout=90)
    if pid is not None:
        time.sleep(1)
        result.rss_idle = rss_bytes(pid)
    result.streams, peak, result.streams_in_flight = held_streams(routes["held"], args.streams, pid)
    if pid is not None:
        result.rss_streams = peak


def measure_load(
    result: Result,
    routes: dict[str, Route],
    pid: int | None,
    wrk: str,
    args: argparse.Namespace,
    tmp: Path,
) -> None:
    """The two wrk runs, with CPU per request and the peak RSS."""
    json_route, sse_route = routes["json"], routes["sse"]
    if args.warmup > 0:
        run_wrk(wrk, json_route, False, args.warmup, tmp, args.connections)
    cpu_before = cpu_seconds(pid) if pid is not None else 0.0
    cores_before = core_times()
    with RssSampler(pid) as json_rss:
        result.wrk_json = run_wrk(wrk, json_route, False, args.duration, tmp, args.connections)
    cores_after = core_times()
    if pid is not None and result.wrk_json.requests > 0:
        cpu = cpu_seconds(pid) - cpu_before
        result.cpu_us_per_request = cpu * 1e6 / result.wrk_json.requests
    result.core_busy = cores_busy(cores_before, cores_after)
    if args.warmup > 0:
        run_wrk(wrk, sse_route, True, args.warmup, tmp, args.connections)
    with RssSampler(pid) as sse_rss:
        result.wrk_sse = run_wrk(wrk, sse_route, True, args.duration, tmp, args.connections)
    if pid is not None:
        result.rss_load = max(json_rss.peak, sse_rss.peak)


def run_target(target: str, nginx: str, wrk: str, args: argparse.Namespace, tmp: Path) -> Result:
    """Measure one target. A gateway is started twice: a fresh process for the quiet phases,
    another for the wrk runs, so that neither phase inherits the other's leftovers (a
    gateway may go on reading the upstream streams of clients that left)."""
    result = Result(target)
    work = tmp / target
    work.mkdir()
    started = time.monotonic()
    try:
        if target == "direct":
            # The quiet phases see the mocks where they are for the gateways, on the client
            # core, so that "added" is the gateway and nothing else; the wrk runs give the
            # mocks the server core, to show what they sustain.
            result.server_command = f"(the mocks: CPU {CLIENT_CPU}, for wrk CPU {SERVER_CPU})"
            with upstreams(nginx, CLIENT_CPU, work) as up:
                measure_quiet(result, direct_routes(up), None, args)
            with upstreams(nginx, SERVER_CPU, work) as up:
                measure_load(result, direct_routes(up), None, wrk, args, work)
            return result
        with upstreams(nginx, CLIENT_CPU, work) as up:
            launch = gateway_launch(target, up, work, args.usage_sync)
            # The quiet phases run one request at a time: the gateway shares the client's and
            # the mocks' core, as direct's mock does, so that "added" holds the gateway's work
            # and not this VM's cross-core wake-ups (tens of microseconds each, four per call).
            quiet = work / f"{target}-quiet.out"
            with gateway(launch, quiet, CLIENT_CPU) as (routes, pid, command):
                result.server_command = command
                measure_quiet(result, routes, pid, args)
            with gateway(launch, work / f"{target}-load.out", SERVER_CPU) as (routes, pid, _):
                measure_load(result, routes, pid, wrk, args, work)
    except TargetFailed as e:
        result.error = str(e)
    finally:
        print(f"{target}: done in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return result


# --- translation ---------------------------------------------------------------------------

# The two ways through aignehub the translation section compares, and the route names (in
# direct_routes and aignehub_setup) each takes to the whole-stream listener and the timed one.
LEGS = {"passthrough": ("sse", "timed"), "translated": ("anthropic-sse", "anthropic-timed")}


@dataclasses.dataclass
class LoadRun:
    """One wrk run with what the target spent on it."""

    wrk: Wrk
    cpu_us_per_request: float | None
    core_busy: tuple[float, float]  # CPU 0 and CPU 1, in %


@dataclasses.dataclass
class Leg:
    """The figures of one way through a target (passthrough or translated). A leg that fails
    (say, a build without translation) leaves the other's figures standing."""

    error: str | None = None
    latency: dict[str, Any] = dataclasses.field(default_factory=dict)  # c=1, whole streams
    stream: dict[str, Any] = dataclasses.field(default_factory=dict)  # timed streams
    wrk_sse: LoadRun | None = None
    wrk_json: LoadRun | None = None


@dataclasses.dataclass
class Translation:
    target: str  # "direct" (the mock in each format) or "aignehub"
    error: str | None = None
    server_command: str = ""
    legs: dict[str, Leg] = dataclasses.field(default_factory=dict)


def load_run(
    wrk: str,
    route: Route,
    stream: bool,
    pid: int | None,
    args: argparse.Namespace,
    tmp: Path,
) -> LoadRun:
    """A wrk run after its warm-up, with the CPU the target spent per request."""
    if args.warmup > 0:
        run_wrk(wrk, route, stream, args.warmup, tmp, args.connections)
    cpu_before = cpu_seconds(pid) if pid is not None else 0.0
    cores_before = core_times()
    done = run_wrk(wrk, route, stream, args.duration, tmp, args.connections)
    cores_after = core_times()
    cpu = None
    if pid is not None and done.requests > 0:
        cpu = (cpu_seconds(pid) - cpu_before) * 1e6 / done.requests
    return LoadRun(done, cpu, cores_busy(cores_before, cores_after))


def check_route(route: Route, what: str) -> None:
    """One non-streaming call, so that a way the target cannot take fails with its answer."""
    try:
        status, body = post(route, timeout=10)
    except OSError as e:
        raise TargetFailed(f"{what}: POST {route.path} failed: {e}") from e
    if status != 200:
        raise TargetFailed(f"{what}: POST {route.path} answered HTTP {status}: {body[:500]}")


def measure_translation_quiet(
    t: Translation, routes: dict[str, Route], args: argparse.Namespace
) -> None:
    """Concurrency 1 over whole streams (latency), then the timed streams, for each leg."""
    latency = ["--warmup", "200", "--requests", "20000", "--max-seconds", str(args.latency_seconds)]
    timed = ["--warmup", "1", "--requests", str(args.timed), "--max-seconds", "30"]
    for name, (whole, paced) in LEGS.items():
        leg = t.legs.setdefault(name, Leg())
        try:
            check_route(routes[whole], name)
            leg.latency = run_client(
                client_command("latency", routes[whole], True, *latency),
                timeout=args.latency_seconds + 60,
            )
            leg.stream = run_client(
                client_command("stream", routes[paced], True, *timed), timeout=90
            )
        except TargetFailed as e:
            leg.error = str(e)


def measure_translation_load(
    t: Translation,
    routes: dict[str, Route],
    pid: int | None,
    wrk: str,
    args: argparse.Namespace,
    tmp: Path,
) -> None:
    """Streaming under wrk for each leg, then non-streaming, with CPU per request."""
    for stream in (True, False):
        for name, (whole, _) in LEGS.items():
            leg = t.legs.setdefault(name, Leg())
            if leg.error is not None:
                continue
            try:
                run = load_run(wrk, routes[whole], stream, pid, args, tmp)
            except TargetFailed as e:
                leg.error = str(e)
                continue
            if stream:
                leg.wrk_sse = run
            else:
                leg.wrk_json = run


def run_translation(
    target: str, nginx: str, wrk: str, args: argparse.Namespace, tmp: Path
) -> Translation:
    """The translation section for one target, with the phases and CPU placement of
    run_target: quiet runs on the client's core, then wrk with the gateway (a fresh process) on
    the server core."""
    t = Translation(target)
    work = tmp / f"{TRANSLATION}-{target}"
    work.mkdir()
    started = time.monotonic()
    try:
        if target == "direct":
            t.server_command = f"(the mock: CPU {CLIENT_CPU}, for wrk CPU {SERVER_CPU})"
            with upstreams(nginx, CLIENT_CPU, work) as up:
                measure_translation_quiet(t, direct_routes(up), args)
            with upstreams(nginx, SERVER_CPU, work) as up:
                measure_translation_load(t, direct_routes(up), None, wrk, args, work)
            return t
        with upstreams(nginx, CLIENT_CPU, work) as up:
            launch = gateway_launch(target, up, work, args.usage_sync, translation=True)
            quiet = work / f"{target}-quiet.out"
            with gateway(launch, quiet, CLIENT_CPU) as (routes, _, command):
                t.server_command = command
                measure_translation_quiet(t, routes, args)
            with gateway(launch, work / f"{target}-load.out", SERVER_CPU) as (routes, pid, _):
                measure_translation_load(t, routes, pid, wrk, args, work)
    except TargetFailed as e:
        t.error = str(e)
    finally:
        print(f"{TRANSLATION} {target}: done in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return t


# --- report --------------------------------------------------------------------------------


def clean_rps(w: Wrk | None) -> float | None:
    """A rate counts only when its run had no errors."""
    return w.requests_per_sec if w is not None and w.errors == 0 else None


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def ratios(results: list[Result]) -> dict[str, dict[str, float | None]]:
    """aignehub's rate over each peer's, for the runs whose rates count."""
    by = {r.target: r for r in results}
    hub = by.get("aignehub")
    out = {}
    for peer in (by[p] for p in ("portkey", "litellm") if p in by):
        if hub is not None:
            out[f"aignehub/{peer.target}"] = {
                "non_streaming": ratio(clean_rps(hub.wrk_json), clean_rps(peer.wrk_json)),
                "streaming": ratio(clean_rps(hub.wrk_sse), clean_rps(peer.wrk_sse)),
            }
    return out


def table_rows(results: list[Result]) -> list[tuple[str, list[str], str]]:
    by = {r.target: r for r in results}
    base = by.get("direct")

    def value(r: Result, get: Callable[[Result], float | None], fmt: str) -> str:
        if r.error is not None:
            return "failed"
        v = get(r)
        return "-" if v is None else format(v, fmt)

    def added(r: Result, get: Callable[[Result], float | None], fmt: str) -> str:
        if r.target == "direct" or r.error is not None or base is None or base.error is not None:
            return "-" if r.error is None else "failed"
        v, b = get(r), get(base)
        return "-" if v is None or b is None else format(v - b, "+" + fmt)

    def wrk_cell(r: Result, w: Wrk | None, errors: bool) -> str:
        if r.error is not None:
            return "failed"
        if w is None:
            return "-"
        return str(w.errors) if errors else f"{w.requests_per_sec:.0f}"

    def lat(key: str) -> Callable[[Result], float | None]:
        return lambda r: r.latency.get(key)

    def stm(key: str, scale: float = 1) -> Callable[[Result], float | None]:
        return lambda r: r.stream[key] * scale if key in r.stream else None

    def held(key: str) -> Callable[[Result], float | None]:
        return lambda r: r.streams.get(key)

    def busy(r: Result) -> str:
        if r.error is not None or r.core_busy is None:
            return "failed" if r.error is not None else "-"
        return f"{r.core_busy[0]:.0f}/{r.core_busy[1]:.0f}"

    streams = next((r.streams["streams"] for r in results if "streams" in r.streams), "?")
    rows: list[tuple[str, list[str], str]] = [
        ("c=1 latency p50 us", [value(r, lat("p50_us"), ".0f") for r in results], ""),
        ("c=1 latency p99 us", [value(r, lat("p99_us"), ".0f") for r in results], ""),
        ("added p50 us", [added(r, lat("p50_us"), ".0f") for r in results], ""),
        ("added p99 us", [added(r, lat("p99_us"), ".0f") for r in results],
         f"<= {AIM_ADDED_P99_US}"),
        ("c=1 rate x mean latency", [value(r, lat("littles_law"), ".3f") for r in results],
         "~1 (Little's law)"),
        ("  errors (latency/stream)", [c1_errors(r) for r in results], ""),
        ("req/s c=50 non-streaming", [wrk_cell(r, r.wrk_json, False) for r in results],
         "counts with 0 errors"),
        ("  errors", [wrk_cell(r, r.wrk_json, True) for r in results], ""),
        ("req/s c=50 streaming", [wrk_cell(r, r.wrk_sse, False) for r in results],
         "counts with 0 errors"),
        ("  errors", [wrk_cell(r, r.wrk_sse, True) for r in results], ""),
        ("  CPU0/CPU1 busy %", [busy(r) for r in results], "non-streaming run"),
        ("gateway CPU us/request",
         [value(r, lambda r: r.cpu_us_per_request, ".1f") for r in results],
         f"<= {AIM_CPU_US}"),
        ("RSS idle MiB", [value(r, lambda r: mib(r.rss_idle), ".1f") for r in results],
         f"<= {AIM_RSS_IDLE_MIB}"),
        ("RSS under c=50 MiB", [value(r, lambda r: mib(r.rss_load), ".1f") for r in results],
         f"<= {AIM_RSS_LOAD_MIB}"),
        ("RSS per open stream KiB", [value(r, per_stream_kib, ".1f") for r in results], ""),
        (f"  streams open (of {streams})",
         [value(r, lambda r: r.streams_in_flight, "d") for r in results], "when sampled"),
        ("  seconds to open them", [value(r, held("open_after_s"), ".1f") for r in results],
         ""),
        ("timed TTFT p50 ms", [value(r, stm("ttft_p50_us", 1e-3), ".2f") for r in results], ""),
        ("added TTFT ms", [added(r, stm("ttft_p50_us", 1e-3), ".2f") for r in results],
         f"<= {AIM_ADDED_TTFT_MS}"),
        ("gap per chunk us", [value(r, stm("gap_mean_us"), ".0f") for r in results], ""),
        ("added gap per chunk us", [added(r, stm("gap_mean_us"), ".1f") for r in results],
         f"<= {AIM_ADDED_GAP_US}"),
        ("added mean chunk delay ms",
         [added(r, stm("chunk_delay_mean_us", 1e-3), ".2f") for r in results], ""),
    ]  # fmt: skip
    return rows


def c1_errors(r: Result) -> str:
    if r.error is not None:
        return "failed"
    return f"{r.latency.get('errors', '-')}/{r.stream.get('errors', '-')}"


def mib(n: int | None) -> float | None:
    return None if n is None else n / 2**20


def per_stream_kib(r: Result) -> float | None:
    if r.rss_streams is None or r.rss_idle is None or not r.streams_in_flight:
        return None
    return (r.rss_streams - r.rss_idle) / r.streams_in_flight / 1024


def print_table(results: list[Result], args: argparse.Namespace, load: float) -> None:
    print(
        f"POST {CHAT_PATH}: under wrk the gateway is on CPU {SERVER_CPU} (1 thread/worker), "
        f"wrk and the upstream mocks on CPU {CLIENT_CPU} (for direct's wrk runs the mocks are "
        f"on CPU {SERVER_CPU}); one request at a time (c=1, timed stream, held streams) all on "
        f"CPU {CLIENT_CPU}; "
        f"wrk -t1 -c{args.connections} -d{args.duration}s after {args.warmup}s of warm-up; "
        f"aignehub usage_sync={args.usage_sync}; load average before the run {load:.2f}\n"
    )
    names = [r.target for r in results]
    width = max(13, *(len(n) for n in names))
    print(f"{'':<28}" + "".join(f"{n:>{width}}" for n in names) + "   aim")
    for label, cells, aim in table_rows(results):
        print(f"{label:<28}" + "".join(f"{c:>{width}}" for c in cells) + f"   {aim}")
    print()
    aims = {"aignehub/portkey": AIM_VS_PORTKEY, "aignehub/litellm": AIM_VS_LITELLM}
    for name, pair in ratios(results).items():
        cells = [f"{kind.replace('_', '-')} " + ("n/a" if v is None else f"{v:.1f}x")
                 for kind, v in pair.items()]  # fmt: skip
        print(f"{name} req/s: {', '.join(cells)} (aim: >= {aims[name]}x)")
    print()
    for r in results:
        if r.error is not None:
            print(f"{r.target} failed: {r.error}")
        for kind, w in (("non-streaming", r.wrk_json), ("streaming", r.wrk_sse)):
            if w is not None and w.errors:
                print(f"{r.target} {kind} errors: {w.error_kinds}")
    for r in results:
        print(f"{r.target} server: {r.server_command}")
        if r.wrk_json is not None:
            print(f"{r.target} wrk:    {r.wrk_json.command}")


def translation_rows(
    ts: list[Translation],
) -> list[tuple[str, list[str], str, str]]:
    """Rows of the translation table: label, a cell per leg, translated/passthrough, aim."""
    by = {t.target: t for t in ts}
    names = list(LEGS)

    def leg(target: str, name: str) -> Leg | str:
        """The leg, or why there is no figure ("failed" or "-")."""
        t = by.get(target)
        if t is None:
            return "-"
        if t.error is not None or t.legs.get(name, Leg()).error is not None:
            return "failed"
        return t.legs.get(name, Leg())

    Get = Callable[[Leg], float | None]

    def figure(target: str, name: str, get: Get) -> float | str:
        got = leg(target, name)
        if isinstance(got, str):
            return got
        v = get(got)
        return "-" if v is None else v

    def added(name: str, get: Get) -> float | str:
        v, b = figure("aignehub", name, get), figure("direct", name, get)
        if isinstance(v, str) or isinstance(b, str):
            return v if isinstance(v, str) else b
        return v - b

    def row(
        label: str, values: list[float | str], fmt: str, aim: str = "", ratio: bool = False
    ) -> tuple[str, list[str], str, str]:
        cells = [v if isinstance(v, str) else format(v, fmt) for v in values]
        r = "-"
        if ratio and not any(isinstance(v, str) for v in values) and values[0] != 0:
            r = f"{float(values[1]) / float(values[0]):.2f}x"
        return label, cells, r if ratio else "", aim

    def lat(key: str) -> Get:
        return lambda g: g.latency.get(key)

    def stm(key: str, scale: float = 1) -> Get:
        return lambda g: g.stream[key] * scale if key in g.stream else None

    def rps(which: str) -> Get:
        def get(g: Leg) -> float | None:
            run: LoadRun | None = getattr(g, which)
            return clean_rps(run.wrk) if run is not None else None

        return get

    def cpu(which: str) -> Get:
        def get(g: Leg) -> float | None:
            run: LoadRun | None = getattr(g, which)
            return run.cpu_us_per_request if run is not None else None

        return get

    def text(target: str, get: Callable[[Leg], str]) -> list[str]:
        out = []
        for name in names:
            got = leg(target, name)
            out.append(got if isinstance(got, str) else get(got))
        return out

    def errors(which: str) -> Callable[[Leg], str]:
        def get(g: Leg) -> str:
            run: LoadRun | None = getattr(g, which)
            return "-" if run is None else str(run.wrk.errors)

        return get

    def busy(which: str) -> Callable[[Leg], str]:
        def get(g: Leg) -> str:
            run: LoadRun | None = getattr(g, which)
            return "-" if run is None else f"{run.core_busy[0]:.0f}/{run.core_busy[1]:.0f}"

        return get

    def c1_errors(g: Leg) -> str:
        return f"{g.latency.get('errors', '-')}/{g.stream.get('errors', '-')}"

    def each(target: str, get: Get) -> list[float | str]:
        return [figure(target, n, get) for n in names]

    def each_added(get: Get) -> list[float | str]:
        return [added(n, get) for n in names]

    rows = [
        row("direct c=1 stream p50 us", each("direct", lat("p50_us")), ".0f"),
        row("aignehub c=1 stream p50 us", each("aignehub", lat("p50_us")), ".0f", ratio=True),
        row("aignehub c=1 stream p99 us", each("aignehub", lat("p99_us")), ".0f"),
        row("added p50 us", each_added(lat("p50_us")), "+.0f", ratio=True),
        row("added p99 us", each_added(lat("p99_us")), "+.0f"),
        ("  errors (latency/stream)", text("aignehub", c1_errors), "", ""),
        row("aignehub timed TTFT p50 ms", each("aignehub", stm("ttft_p50_us", 1e-3)), ".2f"),
        row("added TTFT ms", each_added(stm("ttft_p50_us", 1e-3)), "+.2f",
            f"<= {AIM_ADDED_TTFT_MS}"),
        row("added gap per chunk us", each_added(stm("gap_mean_us")), "+.1f",
            f"<= {AIM_ADDED_GAP_US}"),
        row("added mean chunk delay ms", each_added(stm("chunk_delay_mean_us", 1e-3)), "+.2f"),
        row("direct req/s c=50 streaming", each("direct", rps("wrk_sse")), ".0f",
            "the mock alone"),
        row("aignehub req/s c=50 streaming", each("aignehub", rps("wrk_sse")), ".0f",
            "counts with 0 errors", ratio=True),
        ("  errors", text("aignehub", errors("wrk_sse")), "", ""),
        ("  CPU0/CPU1 busy %", text("aignehub", busy("wrk_sse")), "", ""),
        row("gateway CPU us/request streaming", each("aignehub", cpu("wrk_sse")), ".1f",
            f"ratio <= {AIM_TRANSLATION_CPU}", ratio=True),
        row("direct req/s c=50 non-streaming", each("direct", rps("wrk_json")), ".0f",
            "the mock alone"),
        row("aignehub req/s c=50 non-streaming", each("aignehub", rps("wrk_json")), ".0f",
            "counts with 0 errors", ratio=True),
        ("  errors", text("aignehub", errors("wrk_json")), "", ""),
        ("  CPU0/CPU1 busy %", text("aignehub", busy("wrk_json")), "", ""),
        row("gateway CPU us/request non-str.", each("aignehub", cpu("wrk_json")), ".1f",
            "", ratio=True),
    ]  # fmt: skip
    return rows


def translation_cpu_ratio(ts: list[Translation]) -> float | None:
    """aignehub's CPU per streamed request, translated over passthrough."""
    hub = next((t for t in ts if t.target == "aignehub" and t.error is None), None)
    if hub is None:
        return None
    runs = [hub.legs[n].wrk_sse if n in hub.legs else None for n in LEGS]
    cpus = [r.cpu_us_per_request if r is not None else None for r in runs]
    return ratio(cpus[1], cpus[0])


def print_translation(ts: list[Translation], args: argparse.Namespace, load: float) -> None:
    print(
        f"Translation, POST {CHAT_PATH} from an OpenAI client, {CHUNKS} content chunks a "
        f"stream: passthrough = aignehub's openai-compatible provider on the mock's OpenAI API, "
        f"translated = its anthropic provider on the mock's POST {MESSAGES_PATH} (request into "
        f"the Messages API, Anthropic's events back into chat.completion.chunk); direct = the "
        f"mock alone in each format; ratio = translated / passthrough. c=1 = whole streams one "
        f"after another. CPU placement and "
        f"wrk settings as above (wrk -t1 -c{args.connections} -d{args.duration}s after "
        f"{args.warmup}s of warm-up); load average before the section {load:.2f}\n"
    )
    width = 13
    head = "".join(f"{n:>{width}}" for n in LEGS)
    print(f"{'':<34}{head}{'ratio':>{width}}   aim")
    for label, cells, r, aim in translation_rows(ts):
        print(f"{label:<34}" + "".join(f"{c:>{width}}" for c in cells) + f"{r:>{width}}   {aim}")
    print()
    cpu = translation_cpu_ratio(ts)
    shown = "n/a" if cpu is None else f"{cpu:.2f}x"
    print(
        f"aignehub translated/passthrough CPU per streamed request: {shown} "
        f"(aim: <= {AIM_TRANSLATION_CPU}x)"
    )
    print()
    for t in ts:
        if t.error is not None:
            print(f"{TRANSLATION} {t.target} failed: {t.error}")
        for name, leg in t.legs.items():
            if leg.error is not None:
                print(f"{TRANSLATION} {t.target} {name} failed: {leg.error}")
            for kind, run in (("streaming", leg.wrk_sse), ("non-streaming", leg.wrk_json)):
                if run is not None and run.wrk.errors:
                    print(f"{TRANSLATION} {t.target} {name} {kind} errors: {run.wrk.error_kinds}")
    for t in ts:
        print(f"{TRANSLATION} {t.target} server: {t.server_command}")
        for name, leg in t.legs.items():
            if leg.wrk_sse is not None:
                print(f"{TRANSLATION} {t.target} {name} wrk: {leg.wrk_sse.wrk.command}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds of each wrk run (default: 10)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=(*GATEWAYS, TRANSLATION),
        help="measure only this gateway, or only the translation section (repeatable); "
        "'direct' is always measured",
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument(
        "--usage-sync",
        choices=("full", "normal"),
        default="full",
        help="aignehub's usage durability: fsync per batch (full, the default) or journal "
        "(normal: survives a process crash)",
    )
    parser.add_argument("--connections", type=int, default=50, help="wrk -c (default: 50)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="seconds of wrk before each wrk run (default: 1)"
    )
    parser.add_argument(
        "--latency-seconds",
        type=float,
        default=3,
        help="longest concurrency-1 latency run (default: 3)",
    )
    parser.add_argument(
        "--timed", type=int, default=10, help="timed streams for TTFT and gaps (default: 10)"
    )
    parser.add_argument(
        "--streams", type=int, default=1000, help="concurrent streams for memory (default: 1000)"
    )
    args = parser.parse_args()
    only = args.only
    gateways = [g for g in GATEWAYS if only is None or g in only]
    targets = ["direct", *gateways] if gateways else []
    translate = only is None or TRANSLATION in only

    wrk, nginx = ensure_tools(targets)
    build_binaries()
    raise_fd_limit()
    load = os.getloadavg()[0]
    translation_load = load
    translation: list[Translation] = []
    with tempfile.TemporaryDirectory(prefix="aignehub-bench-gateway-") as name:
        results = [run_target(t, nginx, wrk, args, Path(name)) for t in targets]
        if translate:
            translation_load = os.getloadavg()[0]
            translation = [
                run_translation(t, nginx, wrk, args, Path(name)) for t in ("direct", "aignehub")
            ]
    if args.json:
        report = {
            **{k: v for k, v in vars(args).items() if k != "json"},
            "load_average_before": load,
            "results": [dataclasses.asdict(r) for r in results],
            "ratios": ratios(results),
        }
        if translate:
            report["translation"] = {
                "load_average_before": translation_load,
                "targets": [dataclasses.asdict(t) for t in translation],
                "cpu_translated_over_passthrough": translation_cpu_ratio(translation),
            }
        print(json.dumps(report, indent=2))
    else:
        if results:
            print_table(results, args, load)
        if results and translation:
            print()
        if translation:
            print_translation(translation, args, translation_load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
