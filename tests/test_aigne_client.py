"""The real AIGNE Hub client against aignehub: ``@aigne/aigne-hub`` 0.10.16 on ``@aigne/core``
1.72.0, run by Node from ``tests/aigne_client`` (``run.mjs``), talks to a running aignehub whose
providers are the replay server. Each case checks what the application gets (text, thoughts,
tool calls, usage, model, modelWithProvider, errors), what went over the wire between the client
and aignehub (discovery, /api/v2/chat and /api/v2/image, the event stream), and what the
provider was sent.

``scripts/test`` installs the client's packages (``npm ci`` from the committed lock). One Node
process serves the whole module, one scenario at a time (loading the client takes a second);
its environment is built from scratch (no proxy, no AIGNE or Blocklet variables, observability
off, a home of its own) and ``run.mjs`` refuses every connection that would leave 127.0.0.1.

How the client picks its way (``@aigne/aigne-hub`` ``lib/esm/index.js``): the model given to the
constructor is parsed first. ``aignehub/...`` and ``aignehub:...`` go to the hub with the prefix
taken off; a prefix that names a provider the client has a class for (``openai/``,
``anthropic/``, ``gemini/``, ``google/``, ...) makes it call that provider's own API instead of
the hub; anything else (a bare name, ``claude/...``) goes to the hub as it is. A model named per
call in ``input.modelOptions.model`` always goes to the hub as it is."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    UPSTREAM_KEY,
    Gateway,
    SseEvent,
    add_upstream,
    parse_sse,
    person,
    recorded_chunks,
)
from replay import Fault, Received, recorded_request
from translate_helpers import (
    BERLIN,
    BERLIN_ARGS,
    CLAUDE,
    CLAUDE_FUNCTION_TOOLS,
    CLAUDE_TOOLS,
    add_gemini,
    anthropic_canonical,
    gemini_path,
    only_record,
    openai_canonical,
    recorded_json,
    route_claude,
    route_gemini,
    route_openai,
    user,
)

CLIENT_DIR = Path(__file__).resolve().parent / "aigne_client"
RUNNER = CLIENT_DIR / "run.mjs"
# Written by scripts/test after `npm ci`: the first 16 hex digits of the lock's SHA-256.
INSTALLED_STAMP = CLIENT_DIR / "node_modules" / ".installed-lock"

# Per scenario; the client's own deadlines are 60 s (its hub calls) and 8 s (discovery).
SCENARIO_TIMEOUT = 60.0

# What the client sends as x-aigne-hub-client-did when neither the application nor the
# environment (BLOCKLET_APP_PID, ABT_NODE_DID) names it.
CLIENT_DID = f"@aigne/aigne-hub:{socket.gethostname()}"

# The AIGNE usage object as the application gets it: the client's schema keeps these fields
# (modelCallId, on the wire, is dropped by it).
NO_CACHE = {"cacheCreationInputTokens": 0, "cacheReadInputTokens": 0, "aigneHubCredits": 0}


def usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"inputTokens": input_tokens, "outputTokens": output_tokens, **NO_CACHE}


# --- the Node process ------------------------------------------------------------------------


def installation_problem() -> str | None:
    """Why the client cannot run here, or None when Node and the locked packages are in place."""
    if shutil.which("node") is None:
        return "Node.js is not installed"
    lock = (CLIENT_DIR / "package-lock.json").read_bytes()
    digest = hashlib.sha256(lock).hexdigest()[:16]
    if not INSTALLED_STAMP.is_file() or INSTALLED_STAMP.read_text().strip() != digest:
        return "the packages of tests/aigne_client are missing or older than its lock"
    return None


@dataclass(frozen=True)
class Outcome:
    """What run.mjs reported for one scenario."""

    raw: Mapping[str, Any]

    @property
    def output(self) -> dict[str, Any]:
        """What the application got; fails the test when the call failed."""
        assert "error" not in self.raw, self.raw
        output: dict[str, Any] = self.raw["output"]
        return output

    @property
    def listing(self) -> list[dict[str, Any]]:
        """What models() returned; fails the test when the call failed."""
        assert "error" not in self.raw, self.raw
        listing: list[dict[str, Any]] = self.raw["output"]
        return listing

    @property
    def error(self) -> str:
        """The message of the error the application got; fails the test when there was none."""
        assert "error" in self.raw, self.raw
        return str(self.raw["error"])

    @property
    def chunks(self) -> list[dict[str, Any]]:
        """The chunks the AIGNE stream yielded to the application."""
        chunks: list[dict[str, Any]] = self.raw["chunks"]
        return chunks

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The client's HTTP calls: method, url, headers, body, status, contentType, requestId
        and, for event streams, the text received (events)."""
        calls: list[dict[str, Any]] = self.raw["requests"]
        return calls

    def hub_call(self, base_url: str, path: str) -> dict[str, Any]:
        """The call to `path` after the discovery request, which must be all the client sent."""
        assert [(r["method"], r["url"]) for r in self.requests] == [
            ("GET", f"{base_url}/__blocklet__.js?type=json"),
            ("POST", f"{base_url}{path}"),
        ], self.requests
        assert self.requests[0]["status"] == 200
        return self.requests[1]

    def events(self, base_url: str) -> list[SseEvent]:
        """The event stream aignehub answered /api/v2/chat with, as the client received it."""
        call = self.hub_call(base_url, "/api/v2/chat")
        assert call["status"] == 200, call
        assert call["contentType"].startswith("text/event-stream"), call
        return parse_sse(call["events"].encode())


class AigneClient:
    """``node run.mjs --lines``: scenarios go in on stdin, results come back on stdout, one JSON
    line each. A scenario that gets no answer in time ends the process; the next one starts a
    new one."""

    def __init__(self, home: Path) -> None:
        self._home = home
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr = home / "node-stderr.log"

    def _environment(self) -> dict[str, str]:
        # Built from nothing: no proxy, no AIGNE_HUB_* / BLOCKLET_* / provider keys that would
        # change where the client goes, and a home of its own for whatever it writes there.
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self._home),
            "LANG": "C.UTF-8",
            "AIGNE_OBSERVABILITY_DISABLED": "true",
            "NO_PROXY": "*",
            "no_proxy": "*",
        }

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._lines = queue.Queue()
            self._proc = subprocess.Popen(
                ["node", str(RUNNER), "--lines"],
                cwd=CLIENT_DIR,
                env=self._environment(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr.open("a"),
                text=True,
                encoding="utf-8",
            )
            threading.Thread(target=self._read, args=(self._proc, self._lines), daemon=True).start()
        return self._proc

    @staticmethod
    def _read(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def run(self, scenario: Mapping[str, Any]) -> Outcome:
        proc = self._start()
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(scenario) + "\n")
        proc.stdin.flush()
        try:
            line = self._lines.get(timeout=SCENARIO_TIMEOUT)
        except queue.Empty:
            self.close()
            raise AssertionError(
                f"run.mjs gave no answer in {SCENARIO_TIMEOUT} s; stderr:\n{self._tail()}"
            ) from None
        if line is None:
            raise AssertionError(f"run.mjs exited ({proc.wait()}); stderr:\n{self._tail()}")
        outcome = Outcome(json.loads(line))
        assert outcome.raw["blocked"] == [], f"the client tried to leave 127.0.0.1: {outcome.raw}"
        return outcome

    def _tail(self) -> str:
        return self._stderr.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        if self._proc is None:
            return
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None


@pytest.fixture(scope="module")
def aigne(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AigneClient]:
    """The real client, ready for scenarios (one Node process for the module)."""
    problem = installation_problem()
    if problem is not None:
        pytest.fail(
            f"{problem}: run scripts/test, or npm ci --prefix tests/aigne_client", pytrace=False
        )
    client = AigneClient(tmp_path_factory.mktemp("aigne-client-home"))
    yield client
    client.close()


def chat(
    aigne: AigneClient,
    gateway: Gateway,
    model: str | None,
    messages: list[dict[str, Any]],
    *,
    streaming: bool = False,
    via: str | None = None,
    key: str | None = None,
    base_url: str | None = None,
    env: Mapping[str, str | None] | None = None,
    **input_fields: Any,
) -> Outcome:
    """AIGNEHubChatModel({baseURL, apiKey, model}) invoked with {messages, **input_fields}: by
    the application (model.invoke) unless streaming, by the framework (AIGNE.invoke) when
    streaming, or as `via` says. The key is the gateway app's unless `key` is given."""
    scenario: dict[str, Any] = {
        "kind": "chat",
        "baseURL": base_url or gateway.server.url,
        "apiKey": key if key is not None else gateway.app.key.secret,
        "streaming": streaming,
        "input": {"messages": messages, **input_fields},
    }
    if model is not None:
        scenario["model"] = model
    if via is not None:
        scenario["via"] = via
    if env is not None:
        scenario["env"] = dict(env)
    return aigne.run(scenario)


# --- helpers about the wire ------------------------------------------------------------------


def recorded_text(fixture: str) -> str:
    """The answer text of a recorded OpenAI chat completion."""
    return str(recorded_json(fixture)["choices"][0]["message"]["content"])


def the_upstream_call(gateway: Gateway, path: str) -> Received:
    """The one request the provider got (after the replay server's requests were cleared)."""
    calls = [r for r in gateway.replay.requests if r.method == "POST"]
    assert [r.path for r in calls] == [path], calls
    return calls[0]


def assert_hub_request(call: Mapping[str, Any], model: str, *, streaming: bool) -> None:
    """What the client POSTs to aignehub: its key as a bearer token, its client id, the model
    in input.modelOptions.model, streaming asked for or not at all."""
    assert call["headers"]["authorization"] == "Bearer <key>"
    assert call["headers"]["content-type"] == "application/json"
    assert call["headers"]["x-aigne-hub-client-did"] == CLIENT_DID
    body = call["body"]
    assert body["agent"] == "$CHAT_MODEL"
    assert body["input"]["modelOptions"]["model"] == model
    options = body["options"]
    assert options == {
        "userContext": {},
        "memories": [],
        **({"streaming": True} if streaming else {}),
    }


def text_deltas(events: list[SseEvent]) -> list[str]:
    """The answer text of each text delta of a stream, in order (reasoning left out)."""
    deltas = [e.json()["delta"].get("text") or {} for e in events]
    return [d["text"] for d in deltas if "text" in d]


def assert_final_event(
    event: SseEvent, call: Mapping[str, Any], model: str, with_provider: str, used: Any
) -> None:
    """The last event: model, usage with the request id as modelCallId, modelWithProvider."""
    assert event.event is None
    request_id = call["requestId"]
    assert request_id
    assert event.json() == {
        "delta": {
            "json": {
                "model": model,
                "usage": {**used, "modelCallId": request_id},
                "modelWithProvider": with_provider,
            }
        }
    }


def assert_plain_stream(events: list[SseEvent]) -> None:
    """data-only frames of JSON deltas, without [DONE]."""
    assert events
    assert all(e.event is None for e in events), events
    assert all(e.data != "[DONE]" for e in events)
    assert all(set(e.json()) == {"delta"} for e in events), events


# --- answers ---------------------------------------------------------------------------------


CHAT_BASIC_TEXT = recorded_text("openai/chat_basic")
HELLO = [user("Hello, how are you?")]


def test_a_plain_answer_for_the_application(aigne: AigneClient, gateway: Gateway) -> None:
    path = route_openai(gateway, "openai/chat_basic")
    gateway.replay.clear_requests()

    outcome = chat(aigne, gateway, "gpt-4o-mini", HELLO)

    assert outcome.output == {
        "text": CHAT_BASIC_TEXT,
        "model": "gpt-3.5-turbo-0125",
        "usage": usage(13, 31),
        "modelWithProvider": "openai/gpt-4o-mini",
    }
    call = outcome.hub_call(gateway.server.url, "/api/v2/chat")
    assert_hub_request(call, "gpt-4o-mini", streaming=False)
    assert (call["status"], call["contentType"]) == (200, "application/json")
    assert call["body"]["input"]["messages"] == HELLO
    upstream = the_upstream_call(gateway, path)
    assert upstream.header("authorization") == f"Bearer {UPSTREAM_KEY}"
    sent = openai_canonical(upstream.json())
    assert sent["model"] == "gpt-4o-mini"
    assert sent["messages"] == openai_canonical({"messages": HELLO})["messages"]
    assert not sent.get("stream")
    record = only_record(gateway)
    assert record["request_id"] == call["requestId"]
    assert (record["prompt_tokens"], record["completion_tokens"], record["status"]) == (13, 31, 200)
    assert record["app"] == "test-app"  # the key's label wins over the client id


def test_a_key_without_an_application_label_records_the_client_id(
    aigne: AigneClient, gateway: Gateway
) -> None:
    route_openai(gateway, "openai/chat_basic")
    someone = person(gateway.hub, "member", "No label")

    outcome = chat(aigne, gateway, "gpt-4o-mini", HELLO, key=someone.key.secret)

    assert outcome.output["text"] == CHAT_BASIC_TEXT
    record = only_record(gateway)
    assert (record["app"], record["key_id"]) == (CLIENT_DID, someone.key.id)


COUNT_TEXT = "1\n2\n3"


@pytest.mark.parametrize(
    ("streaming", "via"),
    [
        pytest.param(True, "aigne", id="framework-stream"),
        pytest.param(True, "model", id="model-stream"),
        # The framework asks the hub for a stream even when its caller wants one object.
        pytest.param(False, "aigne", id="framework-object"),
    ],
)
def test_a_streamed_answer(aigne: AigneClient, gateway: Gateway, streaming: bool, via: str) -> None:
    path = route_openai(gateway, "openai/chat_stream_include_usage")
    gateway.replay.clear_requests()

    outcome = chat(
        aigne, gateway, "gpt-5-nano", [user("Count from 1 to 3")], streaming=streaming, via=via
    )

    assert outcome.output == {
        "text": COUNT_TEXT,
        "model": "gpt-5-nano-2025-08-07",
        "usage": usage(13, 142),
        "modelWithProvider": "openai/gpt-5-nano",
    }
    call = outcome.hub_call(gateway.server.url, "/api/v2/chat")
    assert_hub_request(call, "gpt-5-nano", streaming=True)
    events = outcome.events(gateway.server.url)
    assert_plain_stream(events)
    # Each piece of text as the provider sent it, then the closing event.
    assert text_deltas(events) == ["1", "\n", "2", "\n", "3"]
    assert len(events) == 6
    assert_final_event(
        events[-1],
        call,
        "gpt-5-nano-2025-08-07",
        "openai/gpt-5-nano",
        usage(13, 142),
    )
    if streaming:
        seen = [c["delta"]["text"]["text"] for c in outcome.chunks if "text" in c["delta"]]
        assert seen == ["1", "\n", "2", "\n", "3"]
    sent = the_upstream_call(gateway, path).json()
    assert isinstance(sent, dict)
    assert (sent["model"], sent["stream"]) == ("gpt-5-nano", True)
    assert only_record(gateway)["request_id"] == call["requestId"]


# --- model names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "per_call", "env", "on_the_wire"),
    [
        pytest.param("gpt-4o-mini", None, None, "gpt-4o-mini", id="bare"),
        # The client takes the aignehub prefix off itself ...
        pytest.param("aignehub/openai/gpt-4o-mini", None, None, "openai/gpt-4o-mini", id="slash"),
        pytest.param("aignehub:openai/gpt-4o-mini", None, None, "openai/gpt-4o-mini", id="colon"),
        # ... but not when a Blocklet names the provider, and not for a model named per call.
        pytest.param(
            "aignehub/openai/gpt-4o-mini",
            None,
            {"BLOCKLET_AIGNE_API_PROVIDER": "aignehub"},
            "aignehub/openai/gpt-4o-mini",
            id="blocklet-provider",
        ),
        pytest.param(None, "openai/gpt-4o-mini", None, "openai/gpt-4o-mini", id="per-call"),
        pytest.param(
            None,
            "aignehub/openai/gpt-4o-mini",
            None,
            "aignehub/openai/gpt-4o-mini",
            id="per-call-hub",
        ),
    ],
)
def test_model_names(
    aigne: AigneClient,
    gateway: Gateway,
    model: str | None,
    per_call: str | None,
    env: dict[str, str] | None,
    on_the_wire: str,
) -> None:
    path = route_openai(gateway, "openai/chat_basic")
    gateway.replay.clear_requests()
    extra: dict[str, Any] = {"modelOptions": {"model": per_call}} if per_call else {}

    outcome = chat(aigne, gateway, model, HELLO, env=env, **extra)

    assert outcome.output["text"] == CHAT_BASIC_TEXT
    assert outcome.output["modelWithProvider"] == "openai/gpt-4o-mini"
    call = outcome.hub_call(gateway.server.url, "/api/v2/chat")
    assert_hub_request(call, on_the_wire, streaming=False)
    sent = the_upstream_call(gateway, path).json()
    assert isinstance(sent, dict) and sent["model"] == "gpt-4o-mini"


@pytest.mark.parametrize("suffix", ["", "/v1"], ids=["root", "v1"])
def test_an_openai_prefix_makes_the_client_speak_openai_to_the_openai_front_door(
    aigne: AigneClient, gateway: Gateway, suffix: str
) -> None:
    """With "openai/..." the client builds its OpenAIChatModel on baseURL and never uses the
    hub protocol: it posts to <baseURL>/chat/completions, which aignehub serves at its root as
    well as under /v1 (discovery, for hub models, uses only the origin)."""
    path = route_openai(gateway, "openai/chat_stream_include_usage")
    gateway.replay.clear_requests()

    outcome = chat(
        aigne,
        gateway,
        "openai/gpt-5-nano",
        [user("Count from 1 to 3")],
        base_url=gateway.server.url + suffix,
    )

    assert outcome.output["text"] == COUNT_TEXT
    assert outcome.output["model"] == "gpt-5-nano-2025-08-07"
    assert outcome.output["usage"]["inputTokens"] == 13
    assert [(r["method"], r["url"]) for r in outcome.requests] == [
        ("POST", f"{gateway.server.url}{suffix}/chat/completions")
    ]
    body = outcome.requests[0]["body"]
    assert (body["model"], body["stream"]) == ("gpt-5-nano", True)
    sent = the_upstream_call(gateway, path).json()
    assert isinstance(sent, dict) and sent["model"] == "gpt-5-nano"


# --- tools -----------------------------------------------------------------------------------


def openai_tools(fixture: str) -> list[dict[str, Any]]:
    """The tools of a recorded chat completions request, as AIGNE declares them (the same
    shape)."""
    tools: list[dict[str, Any]] = recorded_request(fixture)["tools"]
    return tools


def test_a_tool_call_from_openai(aigne: AigneClient, gateway: Gateway) -> None:
    fixture = "openai/chat_tool_call"
    path = route_openai(gateway, fixture)
    gateway.replay.clear_requests()
    question = recorded_request(fixture)["messages"]

    outcome = chat(aigne, gateway, "gpt-4o-mini", question, tools=openai_tools(fixture))

    assert outcome.output == {
        "toolCalls": [
            {
                "id": "call_TTY8UFNo7rNCaOBUNtlRSvMG",
                "type": "function",
                "function": {"name": "lookup_population", "arguments": {"country": "Crumpet"}},
            }
        ],
        "model": "gpt-4o-mini-2024-07-18",
        "usage": usage(92, 17),
        "modelWithProvider": "openai/gpt-4o-mini",
    }
    sent = openai_canonical(the_upstream_call(gateway, path).json())
    assert sent["tools"] == openai_tools(fixture)
    assert sent["messages"] == openai_canonical({"messages": question})["messages"]


def test_a_streamed_tool_call_from_openai(aigne: AigneClient, gateway: Gateway) -> None:
    fixture = "openai/chat_stream_tool_call"
    path = route_openai(gateway, fixture)
    gateway.replay.clear_requests()
    call_id = recorded_chunks(fixture)[0]["choices"][0]["delta"]["tool_calls"][0]["id"]
    expected_calls = [
        {
            "id": call_id,
            "type": "function",
            "function": {"name": "multiply", "arguments": {"a": 1231, "b": 2331}},
        }
    ]

    outcome = chat(
        aigne,
        gateway,
        "gpt-4o-mini",
        recorded_request(fixture)["messages"],
        streaming=True,
        tools=openai_tools(fixture),
    )

    assert outcome.output == {
        "toolCalls": expected_calls,
        "model": "gpt-4o-mini-2024-07-18",
        "usage": usage(54, 20),
        "modelWithProvider": "openai/gpt-4o-mini",
    }
    events = outcome.events(gateway.server.url)
    assert_plain_stream(events)
    # The calls come whole, once, arguments as an object.
    assert [e.json() for e in events[:-1]] == [{"delta": {"json": {"toolCalls": expected_calls}}}]
    sent = openai_canonical(the_upstream_call(gateway, path).json())
    assert sent["tools"] == openai_tools(fixture)
    assert sent["stream"] is True


AIGNE_CLAUDE_TOOLS = CLAUDE_FUNCTION_TOOLS


def test_claude_tool_calls_through_translation(aigne: AigneClient, gateway: Gateway) -> None:
    path = route_claude(gateway, "anthropic/messages_tool_use")
    gateway.replay.clear_requests()

    outcome = chat(aigne, gateway, f"claude/{CLAUDE}", [user(BERLIN)], tools=AIGNE_CLAUDE_TOOLS)

    assert outcome.output == {
        "toolCalls": [
            {
                "id": "toolu_01TjHdHxyQNDy4DipRieJU5n",
                "type": "function",
                "function": {"name": "weather", "arguments": BERLIN_ARGS},
            },
            {
                "id": "toolu_01QHFWAkMuVLb3VgS4EDGUGY",
                "type": "function",
                "function": {"name": "best_language_to_learn", "arguments": {}},
            },
        ],
        "model": CLAUDE,
        "usage": usage(701, 98),
        "modelWithProvider": f"claude/{CLAUDE}",
    }
    upstream = the_upstream_call(gateway, path)
    assert upstream.header("x-api-key") == UPSTREAM_KEY
    sent = anthropic_canonical(upstream.json())
    assert sent["model"] == CLAUDE
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": BERLIN}]}]
    assert sent["tools"] == CLAUDE_TOOLS


def test_a_streamed_claude_tool_call_through_translation(
    aigne: AigneClient, gateway: Gateway
) -> None:
    # An agent's model is always called streaming, so this is how every AIGNE agent that uses
    # tools meets Claude.
    fixture = "anthropic/messages_stream_tool_use"
    path = route_claude(gateway, fixture)
    gateway.replay.clear_requests()
    recorded = recorded_request(fixture)
    [tool] = recorded["tools"]
    declared = {"name": tool["name"], "parameters": tool["input_schema"]}

    outcome = chat(
        aigne,
        gateway,
        f"claude/{CLAUDE}",
        [user(recorded["messages"][0]["content"][0]["text"])],
        streaming=True,
        tools=[{"type": "function", "function": declared}],
    )

    calls = [
        {
            "id": "toolu_01CzN6riCPqw4pVSuTd9Dwn7",
            "type": "function",
            "function": {"name": "pelican_name_generator", "arguments": {}},
        }
    ]
    assert outcome.output == {
        "toolCalls": calls,
        "model": CLAUDE,
        "usage": usage(543, 40),
        "modelWithProvider": f"claude/{CLAUDE}",
    }
    events = outcome.events(gateway.server.url)
    assert_plain_stream(events)
    assert [e.json() for e in events[:-1]] == [{"delta": {"json": {"toolCalls": calls}}}]
    sent = anthropic_canonical(the_upstream_call(gateway, path).json())
    assert [(t["name"], t["input_schema"]) for t in sent["tools"]] == [
        (tool["name"], tool["input_schema"])
    ]
    assert sent["stream"] is True


# --- Claude and Gemini -----------------------------------------------------------------------


def test_claude_by_its_bare_name(aigne: AigneClient, gateway: Gateway) -> None:
    path = route_claude(gateway, "anthropic/messages_basic")
    gateway.replay.clear_requests()

    outcome = chat(aigne, gateway, CLAUDE, [user("What's 2 + 2?")])

    assert outcome.output == {
        "text": "2 + 2 = 4",
        "model": CLAUDE,
        "usage": usage(16, 13),
        "modelWithProvider": f"claude/{CLAUDE}",
    }
    sent = anthropic_canonical(the_upstream_call(gateway, path).json())
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What's 2 + 2?"}]}
    ]


def test_a_claude_stream_through_translation(aigne: AigneClient, gateway: Gateway) -> None:
    path = route_claude(gateway, "anthropic/messages_stream")
    gateway.replay.clear_requests()
    question = "Two names for a pet pelican, be brief"

    outcome = chat(aigne, gateway, "claude/claude-sonnet-4-5", [user(question)], streaming=True)

    assert outcome.output == {
        "text": "- Captain\n- Scoop",
        "model": "claude-sonnet-4-5-20250929",
        "usage": usage(17, 10),
        "modelWithProvider": "claude/claude-sonnet-4-5",
    }
    events = outcome.events(gateway.server.url)
    assert_plain_stream(events)
    assert text_deltas(events) == ["-", " Captain", "\n- Sc", "oop"]
    call = outcome.hub_call(gateway.server.url, "/api/v2/chat")
    assert_final_event(
        events[-1],
        call,
        "claude-sonnet-4-5-20250929",
        "claude/claude-sonnet-4-5",
        usage(17, 10),
    )
    sent = anthropic_canonical(the_upstream_call(gateway, path).json())
    assert (sent["model"], sent["stream"]) == ("claude-sonnet-4-5", True)


def test_gemini_through_translation(aigne: AigneClient, gateway: Gateway) -> None:
    # "gemini/..." would make the client call Google itself: the hub prefix keeps it here.
    path = route_gemini(gateway, "gemini/generate_basic")
    gateway.replay.clear_requests()

    outcome = chat(aigne, gateway, "aignehub/gemini/gemini-2.5-flash", [user("What's 2 + 2?")])

    assert outcome.output == {
        "text": "2 + 2 = **4**",
        "model": "gemini-2.5-flash",
        # Gemini's thoughts tokens (23) count as output, as they are billed.
        "usage": usage(10, 31),
        "modelWithProvider": "gemini/gemini-2.5-flash",
    }
    sent = the_upstream_call(gateway, path).json()
    assert isinstance(sent, dict)
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "What's 2 + 2?"}]}]


def test_a_gemini_stream_by_its_bare_name(aigne: AigneClient, gateway: Gateway) -> None:
    upstream = add_gemini(gateway)
    path = gemini_path(upstream, "gemini-2.0-flash-exp", "streamGenerateContent")
    gateway.replay.route("POST", path, fixture="gemini/stream_sse")
    gateway.replay.clear_requests()
    messages = [
        {"role": "system", "content": "You are a helpful chatbot."},
        user("What is the capital of France?"),
    ]

    outcome = chat(aigne, gateway, "gemini-2.0-flash-exp", messages, streaming=True)

    assert outcome.output == {
        "text": "The capital of France is Paris.\n",
        "model": "gemini-2.0-flash-exp",
        "usage": usage(13, 8),
        "modelWithProvider": "gemini/gemini-2.0-flash-exp",
    }
    events = outcome.events(gateway.server.url)
    assert text_deltas(events) == ["The", " capital of France", " is Paris.\n"]
    sent = the_upstream_call(gateway, path).json()
    assert isinstance(sent, dict)
    assert sent["systemInstruction"]["parts"] == [{"text": "You are a helpful chatbot."}]
    assert sent["contents"] == [
        {"role": "user", "parts": [{"text": "What is the capital of France?"}]}
    ]


# --- images ----------------------------------------------------------------------------------


IMAGE_PROMPT = recorded_request("openai/images_generations")["prompt"]
IMAGE_URL = recorded_json("openai/images_generations")["data"][0]["url"]


@pytest.mark.parametrize(
    "size_in", [pytest.param("input", id="size"), pytest.param("modelOptions", id="option")]
)
def test_an_image(aigne: AigneClient, gateway: Gateway, size_in: str) -> None:
    upstream = add_upstream(gateway.hub, gateway.replay, "openai")
    gateway.replay.route("POST", upstream.images, fixture="openai/images_generations")
    gateway.replay.clear_requests()
    image_input: dict[str, Any] = {"prompt": IMAGE_PROMPT, "outputFileType": "url"}
    if size_in == "input":
        image_input["size"] = "256x256"
    else:
        image_input["modelOptions"] = {"size": "256x256"}

    outcome = aigne.run(
        {
            "kind": "image",
            "baseURL": gateway.server.url,
            "apiKey": gateway.app.key.secret,
            "model": "dall-e-2",
            "input": image_input,
        }
    )

    # With outputFileType "url" the client hands the URL on (by default it would download it).
    assert outcome.output == {
        "images": [{"type": "url", "url": IMAGE_URL, "mimeType": "image/png"}],
        "usage": usage(0, 0),
        "model": "dall-e-2",
        "modelWithProvider": "openai/dall-e-2",
    }
    call = outcome.hub_call(gateway.server.url, "/api/v2/image")
    assert call["status"] == 200
    assert call["body"]["input"]["modelOptions"]["model"] == "dall-e-2"
    assert call["body"]["options"]["streaming"] is False
    sent = the_upstream_call(gateway, upstream.images)
    assert sent.json() == recorded_request("openai/images_generations")
    record = only_record(gateway)
    assert (record["images"], record["status"]) == (1, 200)


# --- model listings --------------------------------------------------------------------------


def test_the_model_listing_parses_in_the_client(aigne: AigneClient, gateway: Gateway) -> None:
    add_upstream(gateway.hub, gateway.replay, "openai")
    # models() reads the hub's address from the environment, not from the model's baseURL.
    env = {"AIGNE_HUB_API_URL": gateway.server.url}
    listings = {}
    for kind in ("chat", "image"):
        outcome = aigne.run(
            {"kind": "models", "type": kind, "baseURL": gateway.server.url, "env": env}
        )
        assert [r["url"] for r in outcome.requests] == [
            f"{gateway.server.url}/__blocklet__.js?type=json",
            f"{gateway.server.url}/api/ai/models?type={kind}",
        ]
        listings[kind] = {m["model"]: m for m in outcome.listing}
        assert {m["type"] for m in outcome.listing} == {kind}

    assert listings["chat"]["gpt-4o-mini"] == {
        "model": "gpt-4o-mini",
        "type": "chat",
        "provider": "openai",
        "providerDisplayName": listings["chat"]["gpt-4o-mini"]["providerDisplayName"],
        "input_credits_per_token": "0",
        "output_credits_per_token": "0",
        "modelMetadata": None,
        "status": {"available": True},
    }
    assert listings["chat"]["gpt-4o-mini"]["providerDisplayName"]
    assert "dall-e-2" not in listings["chat"]
    assert listings["image"]["dall-e-2"]["provider"] == "openai"
    assert "gpt-4o-mini" not in listings["image"]


# --- errors ----------------------------------------------------------------------------------


def hub_error(gateway: Gateway, body: Any, key: str, status: int) -> dict[str, Any]:
    """The error aignehub answers `body` with, asked directly."""
    answer = gateway.post("/api/v2/chat", body, key=key)
    assert answer.status == status, answer
    error: dict[str, Any] = answer.json()["error"]
    return error


@pytest.mark.parametrize("streaming", [False, True], ids=["object", "stream"])
def test_a_bad_key_is_aignehubs_error(
    aigne: AigneClient, gateway: Gateway, streaming: bool
) -> None:
    route_openai(gateway, "openai/chat_basic")
    gateway.replay.clear_requests()
    bad_key = "ahk_aaaaaaaaaaaa_" + "A" * 43

    outcome = chat(aigne, gateway, "gpt-4o-mini", HELLO, key=bad_key, streaming=streaming)

    call = outcome.hub_call(gateway.server.url, "/api/v2/chat")  # one attempt, no retries
    assert call["status"] == 401
    sent = {"input": {"messages": HELLO, "modelOptions": {"model": "gpt-4o-mini"}}}
    expected = hub_error(gateway, sent, bad_key, 401)
    assert outcome.error == expected["message"]
    assert outcome.raw["errorType"] == expected["type"]
    assert gateway.replay.requests == []


@pytest.mark.parametrize("streaming", [False, True], ids=["object", "stream"])
def test_an_unknown_model_is_a_404_naming_it(
    aigne: AigneClient, gateway: Gateway, streaming: bool
) -> None:
    route_openai(gateway, "openai/chat_basic")
    gateway.replay.clear_requests()

    outcome = chat(aigne, gateway, "no-such-model-3000", HELLO, streaming=streaming)

    call = outcome.hub_call(gateway.server.url, "/api/v2/chat")
    assert call["status"] == 404
    sent = {"input": {"messages": HELLO, "modelOptions": {"model": "no-such-model-3000"}}}
    expected = hub_error(gateway, sent, gateway.app.key.secret, 404)
    assert outcome.error == expected["message"]
    assert "no-such-model-3000" in outcome.error
    assert [r for r in gateway.replay.requests if r.method == "POST"] == []


def test_a_stream_broken_upstream_ends_with_aignehubs_error(
    aigne: AigneClient, gateway: Gateway
) -> None:
    path = route_openai(gateway, "openai/chat_stream_include_usage")
    # The role chunk, "1" and "\n" reach aignehub, then the provider's connection breaks.
    gateway.replay.fail("POST", path, Fault.reset_after(3))
    gateway.replay.clear_requests()

    outcome = chat(aigne, gateway, "gpt-5-nano", [user("Count from 1 to 3")], streaming=True)

    events = outcome.events(gateway.server.url)
    assert text_deltas(events[:-1]) == ["1", "\n"]
    assert events[-1].event == "error"
    message = events[-1].json()["message"]
    assert isinstance(message, str) and message
    assert outcome.error == message
    # What the application saw before the error.
    seen = [c["delta"]["text"]["text"] for c in outcome.chunks if "text" in c["delta"]]
    assert seen == ["1", "\n"]
    assert only_record(gateway)["error_kind"]
