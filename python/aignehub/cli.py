"""The ``aignehub`` command."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from aignehub import _core
from aignehub._hub import Hub, default_data_dir
from aignehub._providers import Provider
from aignehub._users import AccessKey, User


def _env_int(name: str, fallback: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return fallback
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"aignehub: {name} must be a whole number, not {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir",
        default=None,
        help=f"data directory (default: $AIGNEHUB_HOME or ~/.aignehub; now {default_data_dir()})",
    )
    parser = argparse.ArgumentParser(
        prog="aignehub", description="A self-hosted AI gateway with a C++ core."
    )
    parser.add_argument("--version", action="version", version=f"aignehub {_core.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        parents=[data_dir],
        help="run the gateway until Ctrl-C or SIGTERM",
        description="Run the gateway.",
    )
    serve.add_argument(
        "--host",
        default=os.environ.get("AIGNEHUB_HOST", "127.0.0.1"),
        help="address to listen on (default: $AIGNEHUB_HOST or 127.0.0.1)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=_env_int("AIGNEHUB_PORT", 8080),
        help="port to listen on, 0 for any free one (default: $AIGNEHUB_PORT or 8080)",
    )
    serve.add_argument(
        "--threads", type=int, default=None, help="I/O threads (default: one per core)"
    )
    serve.add_argument(
        "--access-log",
        default=None,
        help="'-' for standard error (default), '' for none, or a file to append to",
    )
    serve.add_argument(
        "--shutdown-grace",
        type=float,
        default=None,
        help="seconds in-flight requests get to finish on shutdown (default: 10)",
    )
    serve.add_argument(
        "--usage-sync",
        choices=("full", "normal"),
        default=None,
        help="'full' (default): fsync usage records before an answer ends, surviving a power "
        "cut; 'normal': surviving a crash of the process only, without the fsync's latency",
    )

    providers = commands.add_parser(
        "providers", help="list, add, remove and test upstream providers"
    ).add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = providers.add_parser("list", parents=[data_dir], help="list the providers")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add = providers.add_parser(
        "add",
        parents=[data_dir],
        help="add a provider (and its first key, checked live)",
        description="Add a provider. The key is checked against the provider before it is "
        "saved; --no-validate saves it whatever the check says.",
    )
    add.add_argument("kind", help="the kind of provider: see 'aignehub providers kinds'")
    add.add_argument("--name", help="its name in model addresses (default: the kind)")
    add.add_argument("--display-name")
    add.add_argument("--base-url", help="override the catalogue's URL")
    add.add_argument(
        "--local",
        action="store_true",
        default=None,
        help="allow http and loopback/private addresses (self-hosted servers)",
    )
    key = add.add_mutually_exclusive_group()
    key.add_argument("--api-key-env", metavar="VAR", help="read the key from this variable")
    key.add_argument("--api-key-stdin", action="store_true", help="read the key from stdin")
    key.add_argument(
        "--api-key", help="the key itself (visible to other users in the process list)"
    )
    add.add_argument("--credential-name", help="name of the first credential (default: default)")
    add.add_argument("--weight", type=int, help="load-balancing weight (default: 100)")
    add.add_argument(
        "--no-validate", dest="validate", action="store_false", default=None, help="skip the check"
    )
    remove = providers.add_parser("remove", parents=[data_dir], help="remove a provider")
    remove.add_argument("name")
    test = providers.add_parser(
        "test", parents=[data_dir], help="check every key of a provider live"
    )
    test.add_argument("name")
    providers.add_parser("kinds", parents=[data_dir], help="list the kinds of provider known")

    master_key = commands.add_parser(
        "master-key", help="manage the master key that encrypts stored secrets"
    ).add_subparsers(dest="action", metavar="ACTION", required=True)
    master_key.add_parser(
        "rotate",
        parents=[data_dir],
        help="re-wrap every secret's data key under a new master key",
        description="Re-wraps every credential's data key under a new master key without "
        "re-encrypting the secrets. With a key file the new key replaces the old one in it; "
        "with AIGNEHUB_MASTER_KEY set to 'new,old' everything moves to 'new'.",
    )
    users = commands.add_parser("users", help="list, add and change users").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    users_list = users.add_parser("list", parents=[data_dir], help="list the users")
    users_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    users_add = users.add_parser("add", parents=[data_dir], help="add a user")
    users_add.add_argument("display_name")
    users_add.add_argument("--email")
    users_add.add_argument("--external-subject", help="issuer|subject of a sign-in provider")
    users_add.add_argument("--role", choices=["owner", "admin", "member"], default=None)
    users_update = users.add_parser("update", parents=[data_dir], help="change a user")
    users_update.add_argument("id", type=int)
    users_update.add_argument("--display-name")
    users_update.add_argument("--email")
    users_update.add_argument("--role", choices=["owner", "admin", "member"], default=None)
    state = users_update.add_mutually_exclusive_group()
    state.add_argument("--disable", dest="disabled", action="store_true", default=None)
    state.add_argument("--enable", dest="disabled", action="store_false")

    keys = commands.add_parser("keys", help="create, list and revoke access keys").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    create = keys.add_parser(
        "create", parents=[data_dir], help="create an access key (printed once, never again)"
    )
    create.add_argument("--user", type=int, required=True, help="the id of the key's user")
    create.add_argument("--name", required=True)
    create.add_argument("--app", help="application label recorded with its usage")
    create.add_argument(
        "--model",
        action="append",
        dest="models",
        help="allow only this model (repeatable; 'provider/*' allows a whole provider)",
    )
    create.add_argument("--rpm", type=int, help="requests per minute")
    create.add_argument("--tpm", type=int, help="tokens per minute")
    create.add_argument("--expires", help="RFC 3339 UTC time, e.g. 2027-01-31T00:00:00Z")
    keys_list = keys.add_parser("list", parents=[data_dir], help="list access keys")
    keys_list.add_argument("--user", type=int, help="only this user's keys")
    keys_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    revoke = keys.add_parser("revoke", parents=[data_dir], help="revoke an access key")
    revoke.add_argument("id", type=int)
    return parser


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]))


def _print_users(users: list[User], as_json: bool) -> None:
    if as_json:
        print(json.dumps([dataclasses.asdict(u) for u in users], indent=2))
        return
    rows = [("ID", "ROLE", "STATE", "EMAIL", "NAME")]
    for u in users:
        state = "disabled" if u.disabled else "active"
        rows.append((str(u.id), u.role, state, u.email or "-", u.display_name))
    _table(rows)


def _print_keys(keys: list[AccessKey], as_json: bool) -> None:
    if as_json:
        print(json.dumps([dataclasses.asdict(k) for k in keys], indent=2))
        return
    rows = [("ID", "USER", "STATE", "HINT", "NAME")]
    for k in keys:
        state = "revoked" if k.revoked_at else "active" if k.active else "expired"
        rows.append((str(k.id), str(k.user_id), state, k.hint, k.name))
    _table(rows)


def _users(args: argparse.Namespace) -> int:
    with Hub(args.data_dir) as hub:
        if args.action == "list":
            _print_users(hub.users.list(), args.json)
        elif args.action == "add":
            user = hub.users.add(
                args.display_name,
                email=args.email,
                external_subject=args.external_subject,
                role=args.role,
            )
            _print_users([user], False)
        else:
            user = hub.users.update(
                args.id,
                display_name=args.display_name,
                email=args.email,
                role=args.role,
                disabled=args.disabled,
            )
            _print_users([user], False)
    return 0


def _keys(args: argparse.Namespace) -> int:
    with Hub(args.data_dir) as hub:
        if args.action == "create":
            key = hub.keys.create(
                args.user,
                name=args.name,
                app=args.app,
                models=args.models,
                rpm=args.rpm,
                tpm=args.tpm,
                expires=args.expires,
            )
            print(f"created key {key.id} ({key.hint}) for user {key.user_id}; it is shown once:")
            print(key.secret)
        elif args.action == "list":
            _print_keys(hub.keys.list(args.user), args.json)
        else:
            _print_keys([hub.keys.revoke(args.id)], False)
    return 0


def _api_key(args: argparse.Namespace) -> str | None:
    if args.api_key_env:
        value = os.environ.get(args.api_key_env)
        if value is None:
            raise _core.InvalidInput(f"api_key: the variable {args.api_key_env} is not set")
        return value
    if args.api_key_stdin:
        return sys.stdin.readline().strip()
    key: str | None = args.api_key
    return key


def _print_providers(providers: list[Provider], as_json: bool) -> None:
    if as_json:
        print(json.dumps([dataclasses.asdict(p) for p in providers], indent=2))
        return
    rows = [("NAME", "KIND", "STATUS", "KEYS", "BASE URL")]
    for p in providers:
        keys = ", ".join(f"{c.name} {c.key_hint or '-'} ({c.status})" for c in p.credentials)
        rows.append((p.name, p.kind, p.status, keys or "-", p.base_url))
    _table(rows)


def _providers(args: argparse.Namespace) -> int:
    with Hub(args.data_dir) as hub:
        if args.action == "list":
            _print_providers(hub.providers.list(), args.json)
        elif args.action == "kinds":
            for k in hub.providers.catalogue():
                print(
                    f"{k.kind:18} {k.display_name:26} {k.default_base_url or '(base URL needed)'}"
                )
        elif args.action == "add":
            provider = hub.providers.add(
                args.kind,
                api_key=_api_key(args),
                base_url=args.base_url,
                name=args.name,
                display_name=args.display_name,
                local=args.local,
                credential_name=args.credential_name,
                weight=args.weight,
                validate=args.validate,
            )
            _print_providers([provider], False)
        elif args.action == "remove":
            hub.providers.remove(args.name)
            print(f"removed {args.name}")
        elif args.action == "test":
            provider = hub.providers.test(args.name)
            _print_providers([provider], False)
            return 0 if provider.status == "Connected" else 1
    return 0


def _master_key(args: argparse.Namespace) -> int:
    with Hub(args.data_dir) as hub:
        old, new, count = hub.rotate_master_key()
    print(f"master key {old} -> {new}; {count} credential(s) re-wrapped")
    return 0


def _serve(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    with Hub(args.data_dir) as hub:
        first = hub.bootstrap()
        if first is not None:
            print(
                "aignehub: created the owner account. Its access key is shown this once; "
                "store it now:\n"
                f"  {first.key.secret}",
                flush=True,
            )
        server = hub.serve(
            args.host,
            args.port,
            args.threads,
            access_log=args.access_log,
            shutdown_grace=args.shutdown_grace,
            usage_sync=args.usage_sync,
        )
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            print(
                f"aignehub {_core.__version__} serving {server.url} "
                f"(data directory {hub.data_dir}); Ctrl-C stops it",
                flush=True,
            )
            # Short waits keep the main thread responsive to signals.
            while not stop.wait(0.5):
                pass
            print("aignehub: shutting down", flush=True)
            server.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    print("aignehub: stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aignehub`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return 2
    run = {
        "serve": _serve,
        "providers": _providers,
        "master-key": _master_key,
        "users": _users,
        "keys": _keys,
    }[args.command]
    try:
        return run(args)
    except _core.ConfigError as e:
        print(f"aignehub: {e}", file=sys.stderr)
        return 2
    except _core.AignehubError as e:
        print(f"aignehub: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
