"""The Python face of the control plane: thin, typed wrappers over the C++ core."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

from aignehub import _core
from aignehub._providers import Aliases, Credentials, Providers
from aignehub._usage import Usage
from aignehub._users import Bootstrap, Keys, Users, bootstrap


def default_data_dir() -> Path:
    """Where a Hub keeps its data when none is given: ``$AIGNEHUB_HOME``, else ``~/.aignehub``."""
    home = os.environ.get("AIGNEHUB_HOME")
    return Path(home) if home else Path.home() / ".aignehub"


class Server:
    """A running gateway server. Stop it with :meth:`stop` or by leaving its ``with`` block."""

    def __init__(self, core: _core.Server) -> None:
        self._core = core
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()

    @property
    def host(self) -> str:
        """The host the server listens on, as configured."""
        return self._core.host

    @property
    def port(self) -> int:
        """The port the server listens on (the real one when port 0 was asked for)."""
        return self._core.port

    @property
    def url(self) -> str:
        """The base URL of the server, e.g. ``http://127.0.0.1:8080``."""
        host = self.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """True until the server has stopped."""
        return self._core.running

    def stop(self) -> None:
        """Stops gracefully: no new connections, in-flight requests finish within the grace
        period, then every connection is closed. Safe to call more than once."""
        with self._stop_lock:
            self._core.stop()
            self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until the server stops (or `timeout` seconds pass); True if it stopped.

        The wait happens in Python, in short steps, so Ctrl-C interrupts it."""
        return self._stopped.wait(timeout)

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<aignehub.Server {self.url} {state}>"


class Hub:
    """One aignehub installation: a data directory with its database.

    ``Hub()`` opens (creating when absent) the data directory, ``$AIGNEHUB_HOME`` or
    ``~/.aignehub``, migrates its database, loads the master key (``$AIGNEHUB_MASTER_KEY``, else
    ``master.key`` in the data directory, created with mode 0600 on first start) and brings the
    providers configured by environment variables (``OPENAI_API_KEY``, ...) up to date. Use it as
    a context manager or call :meth:`close`; servers started from it are stopped when it closes.
    """

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        path = Path(data_dir) if data_dir is not None else default_data_dir()
        self._core: _core.Hub | None = _core.Hub(path.expanduser())
        self._servers: list[Server] = []
        self.providers = Providers(self._open)
        """The configured providers: ``hub.providers.add("openai", api_key=...)``."""
        self.credentials = Credentials(self._open)
        """The providers' keys: ``hub.credentials.add("openai", "sk-...")``."""
        self.users = Users(self._open)
        """The people and applications that call the gateway."""
        self.keys = Keys(self._open)
        """Their access keys: ``hub.keys.create(user, name="ci")``."""
        self.aliases = Aliases(self._open)
        """Other names for models: ``hub.aliases.set("fast", "openai/gpt-4o-mini")``."""
        self.usage = Usage(self._open)
        """What the gateway recorded of every call: ``hub.usage.query(model="gpt-4o")``."""

    def _open(self) -> _core.Hub:
        if self._core is None:
            raise _core.AignehubError("this Hub is closed")
        return self._core

    @property
    def data_dir(self) -> Path:
        """The data directory, as an absolute path."""
        return Path(self._open().data_dir)

    @property
    def database_path(self) -> Path:
        """The SQLite database inside the data directory."""
        return Path(self._open().database_path)

    @property
    def schema_version(self) -> int:
        """The schema version the database is at."""
        return self._open().schema_version

    def bootstrap(self) -> Bootstrap | None:
        """On an empty database, creates the owner and a first owner access key and returns
        both; the key's ``secret`` is shown this once. Afterwards, always None."""
        return bootstrap(self._open())

    @property
    def master_key_id(self) -> str:
        """The public id of the master key new secrets are sealed under (never the key)."""
        return self._open().master_key_id

    def rotate_master_key(self) -> tuple[str, str, int]:
        """Re-wraps every credential's data key under a new master key, without re-encrypting
        the secrets; returns (old key id, new key id, credentials re-wrapped).

        With a key file the new key replaces the old one in it; with ``AIGNEHUB_MASTER_KEY``
        set to ``"new,old"`` everything is re-wrapped under ``new``."""
        old, new, count = self._open().rotate_master_key()
        return old, new, count

    def ping(self) -> None:
        """Raises :class:`StoreError` unless the store answers a query."""
        self._open().ping()

    def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        threads: int | None = None,
        *,
        max_header_bytes: int | None = None,
        max_body_bytes: int | None = None,
        header_timeout: float | None = None,
        body_timeout: float | None = None,
        idle_timeout: float | None = None,
        write_timeout: float | None = None,
        shutdown_grace: float | None = None,
        max_connections: int | None = None,
        access_log: str | os.PathLike[str] | None = None,
        usage_sync: str | None = None,
        upstream_connect_timeout: float | None = None,
        upstream_first_byte_timeout: float | None = None,
        upstream_gap_timeout: float | None = None,
        upstream_timeout: float | None = None,
    ) -> Server:
        """Starts the gateway on C++ threads and returns once it listens.

        `threads` defaults to one per core; `port=0` picks a free port (see ``Server.port``).
        Times are in seconds. `access_log` is ``"-"`` (standard error, the default), ``""``
        (off) or a file path. Unset limits keep the core's defaults (16 KiB of headers, 32 MiB
        of body, 10 s to send a header, 60 s for a body or a response, 75 s idle keep-alive,
        10 s of shutdown grace, 10,000 connections).

        `usage_sync` is ``"full"`` (the default: every batch of usage records is fsynced
        before the answers it covers finish, so a record survives a power cut) or ``"normal"``
        (records reach the operating system before the answers finish: they survive a crash or
        ``kill -9`` of the process, not of the machine, and each request saves the fsync's
        latency). Upstream deadlines default to 10 s to connect, 300 s to the first byte, 120 s
        between two pieces of a stream and 900 s for a whole call.

        Raises :class:`ConfigError` (a ``ValueError``) for a bad setting and :class:`BindError`
        (an ``OSError``) when the address cannot be bound.
        """
        if threads is not None and threads < 0:
            raise _core.ConfigError("threads: must be 0 (one per core) or more")
        core = self._open().serve(
            host=host,
            port=port,
            threads=threads,
            max_header_bytes=max_header_bytes,
            max_body_bytes=max_body_bytes,
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            idle_timeout=idle_timeout,
            write_timeout=write_timeout,
            shutdown_grace=shutdown_grace,
            max_connections=max_connections,
            access_log=None if access_log is None else os.fspath(access_log),
            usage_sync=usage_sync,
            upstream_connect_timeout=upstream_connect_timeout,
            upstream_first_byte_timeout=upstream_first_byte_timeout,
            upstream_gap_timeout=upstream_gap_timeout,
            upstream_timeout=upstream_timeout,
        )
        server = Server(core)
        self._servers.append(server)
        return server

    def close(self) -> None:
        """Stops the servers this hub started and releases the store. Safe to call twice."""
        for server in self._servers:
            server.stop()
        self._servers.clear()
        self._core = None

    def __enter__(self) -> Hub:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._core is None:
            return "<aignehub.Hub closed>"
        return f"<aignehub.Hub {self._core.data_dir}>"
