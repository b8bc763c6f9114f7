"""The ``aignehub`` command."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from aignehub import _core
from aignehub._hub import Hub, default_data_dir


def _env_int(name: str, fallback: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return fallback
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"aignehub: {name} must be a whole number, not {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aignehub", description="A self-hosted AI gateway with a C++ core."
    )
    parser.add_argument("--version", action="version", version=f"aignehub {_core.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="run the gateway until Ctrl-C or SIGTERM", description="Run the gateway."
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
        "--data-dir",
        default=None,
        help=f"data directory (default: $AIGNEHUB_HOME or ~/.aignehub; now {default_data_dir()})",
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
    return parser


def _serve(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    with Hub(args.data_dir) as hub:
        server = hub.serve(
            args.host,
            args.port,
            args.threads,
            access_log=args.access_log,
            shutdown_grace=args.shutdown_grace,
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
    try:
        if args.command == "serve":
            return _serve(args)
    except _core.ConfigError as e:
        print(f"aignehub: {e}", file=sys.stderr)
        return 2
    except (_core.BindError, _core.StoreError) as e:
        print(f"aignehub: {e}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
