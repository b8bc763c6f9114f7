"""aignehub: a self-hosted AI gateway with a C++ core.

>>> from aignehub import Hub
>>> with Hub() as hub, hub.serve(port=0) as server:
...     print(server.url)
"""

from aignehub._core import (
    AignehubError,
    BindError,
    ConfigError,
    SchemaVersionError,
    StoreError,
    __version__,
)
from aignehub._hub import Hub, Server, default_data_dir

__all__ = [
    "AignehubError",
    "BindError",
    "ConfigError",
    "Hub",
    "SchemaVersionError",
    "Server",
    "StoreError",
    "__version__",
    "default_data_dir",
]
