"""GET /v1/models through the official openai SDK: what a key may use, and 403 outside it."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from aignehub import Hub
from conftest import StartServer, openai_upstream, wait_until
from replay import FIXTURES, ReplayServer

GOOD_KEY = "sk-models-0123456789abcdef"


def recorded_ids() -> list[str]:
    fixture = json.loads((FIXTURES / "openai" / "models_list.json").read_text())
    return [m["id"] for m in json.loads(fixture["response"]["body"])["data"]]


@pytest.fixture
def served(hub: Hub, start_server: StartServer, replay: ReplayServer) -> tuple[Hub, str]:
    hub.providers.add(
        "openai", api_key=GOOD_KEY, base_url=openai_upstream(replay, GOOD_KEY), local=True
    )
    return hub, start_server().url + "/v1"


def client(base_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0)


def test_a_key_without_allowlist_sees_every_listed_model(served: tuple[Hub, str]) -> None:
    hub, base_url = served
    key = hub.keys.create(hub.users.add("App"), name="all")

    models = list(client(base_url, key.secret).models.list())
    one = client(base_url, key.secret).models.retrieve("openai/gpt-4o")

    assert sorted(m.id for m in models) == sorted(f"openai/{i}" for i in recorded_ids())
    assert (one.id, one.owned_by, one.object) == ("openai/gpt-4o", "openai", "model")


def test_an_allowlist_narrows_the_listing_and_refuses_the_rest(served: tuple[Hub, str]) -> None:
    hub, base_url = served
    key = hub.keys.create(hub.users.add("App"), name="narrow", models=["openai/gpt-4o"])
    sdk = client(base_url, key.secret)

    listed = [m.id for m in sdk.models.list()]
    with pytest.raises(openai.PermissionDeniedError) as refused:
        sdk.models.retrieve("openai/gpt-4-0613")

    assert listed == ["openai/gpt-4o"]
    assert refused.value.status_code == 403
    assert refused.value.code == "model_not_allowed"


def test_unknown_models_and_bad_keys(served: tuple[Hub, str]) -> None:
    hub, base_url = served
    key = hub.keys.create(hub.users.add("App"), name="all")

    with pytest.raises(openai.NotFoundError) as missing:
        client(base_url, key.secret).models.retrieve("openai/no-such-model")
    with pytest.raises(openai.AuthenticationError) as unknown:
        client(base_url, key.secret[:-1] + ("A" if key.secret[-1] != "A" else "B")).models.list()

    assert missing.value.code == "model_not_found"
    assert unknown.value.status_code == 401
    assert unknown.value.code == "invalid_api_key"


def test_providers_added_by_another_process_reach_a_running_server(
    hub: Hub, start_server: StartServer, replay: ReplayServer, data_dir: Path
) -> None:
    server = start_server()
    key = hub.keys.create(hub.users.add("App"), name="all")
    sdk = client(server.url + "/v1", key.secret)
    assert list(sdk.models.list()) == []

    # Another Hub on the same data directory stands for the CLI next to a running server.
    with Hub(data_dir) as other:
        other.providers.add(
            "openai", api_key=GOOD_KEY, base_url=openai_upstream(replay, GOOD_KEY), local=True
        )

    assert wait_until(lambda: len(list(sdk.models.list())) == len(recorded_ids()))
