"""Model aliases: another name for a model, set from Python or the admin API, honoured by the
gateway within a second, and never a way around a key's model allowlist."""

from __future__ import annotations

import openai
import pytest

from aignehub import Hub, InvalidInput, NotFoundError
from conftest import HELLO, StartServer, admin, ok, owner_key, wait_until
from replay import ReplayServer

UPSTREAM_KEY = "sk-aliases-0123456789abcdef"


@pytest.fixture
def served(hub: Hub, start_server: StartServer, replay: ReplayServer) -> tuple[Hub, str]:
    replay.route("POST", "/v1/chat/completions", fixture="openai/chat_basic")
    hub.providers.add(
        "openai", api_key=UPSTREAM_KEY, base_url=replay.url + "/v1", local=True, validate=False
    )
    return hub, start_server().url


def sdk(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def test_an_alias_reaches_its_target(served: tuple[Hub, str], replay: ReplayServer) -> None:
    hub, url = served
    key = hub.keys.create(hub.users.add("App"), name="app").secret
    hub.aliases.set("fast", "openai/gpt-4o-mini")

    answer = sdk(url, key).chat.completions.create(model="fast", messages=HELLO)

    assert answer.choices[0].message.content
    assert hub.aliases.list() == {"fast": "openai/gpt-4o-mini"}
    sent = replay.requests_to("/v1/chat/completions")[-1]
    assert b'"model":"gpt-4o-mini"' in sent.body
    assert hub.usage.query().records[0].model_requested == "fast"


def test_an_alias_never_opens_a_model_the_key_may_not_use(served: tuple[Hub, str]) -> None:
    hub, url = served
    narrow = hub.keys.create(hub.users.add("App"), name="narrow", models=["openai/gpt-4o"])
    hub.aliases.set("fast", "openai/gpt-4o-mini")

    with pytest.raises(openai.PermissionDeniedError) as refused:
        sdk(url, narrow.secret).chat.completions.create(model="fast", messages=HELLO)

    assert refused.value.code == "model_not_allowed"


def test_aliases_are_checked_and_do_not_chain(hub: Hub) -> None:
    hub.aliases.set("fast", "openai/gpt-4o-mini")

    with pytest.raises(InvalidInput) as chained:
        hub.aliases.set("faster", "fast")
    with pytest.raises(InvalidInput) as spaced:
        hub.aliases.set("two words", "openai/gpt-4o")
    with pytest.raises(NotFoundError):
        hub.aliases.remove("slow")
    hub.aliases.remove("fast")

    assert (chained.value.field, spaced.value.field) == ("target", "alias")
    assert hub.aliases.list() == {}


def test_the_admin_api_manages_aliases_and_a_running_server_follows(
    served: tuple[Hub, str], start_server: StartServer
) -> None:
    hub, _ = served
    server = start_server()
    key = owner_key(hub)
    client = sdk(server.url, key)

    put = admin(server, "PUT", "/aliases/team/fast", {"target": "openai/gpt-4o-mini"}, key=key)
    listed = ok(admin(server, "GET", "/aliases", key=key))
    assert wait_until(lambda: _answers(client, "team/fast"))
    gone = admin(server, "DELETE", "/aliases/team/fast", key=key)

    assert ok(put) == {"alias": "team/fast", "target": "openai/gpt-4o-mini"}
    assert listed == {"team/fast": "openai/gpt-4o-mini"}
    assert gone.status == 204
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="team/fast", messages=HELLO)


def _answers(client: openai.OpenAI, model: str) -> bool:
    try:
        client.chat.completions.create(model=model, messages=HELLO)
    except openai.NotFoundError:
        return False
    return True
