"""aignehub: a self-hosted AI gateway with a C++ core.

>>> from aignehub import Hub
>>> with Hub() as hub, hub.serve(port=0) as server:
...     print(server.url)
"""

from aignehub._core import (
    AignehubError,
    BindError,
    ConfigError,
    ConflictError,
    CredentialRejected,
    CryptoError,
    ForbiddenError,
    InvalidInput,
    NotFoundError,
    SchemaVersionError,
    StoreError,
    __version__,
)
from aignehub._hub import Hub, Server, default_data_dir
from aignehub._providers import Credential, Provider, ProviderKind
from aignehub._usage import UsagePage, UsageRecord
from aignehub._users import AccessKey, Bootstrap, CreatedKey, User

__all__ = [
    "AccessKey",
    "AignehubError",
    "BindError",
    "Bootstrap",
    "ConfigError",
    "ConflictError",
    "CreatedKey",
    "Credential",
    "CredentialRejected",
    "CryptoError",
    "ForbiddenError",
    "Hub",
    "InvalidInput",
    "NotFoundError",
    "Provider",
    "ProviderKind",
    "SchemaVersionError",
    "Server",
    "StoreError",
    "UsagePage",
    "UsageRecord",
    "User",
    "__version__",
    "default_data_dir",
]
