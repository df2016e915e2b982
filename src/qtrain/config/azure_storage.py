"""The ``storage`` fields that place checkpoints in Azure Blob Storage (``kind: azure_blob``).

:class:`AzureBlobStorageFields` is mixed into :class:`qtrain.config.schema.StorageConfig`, so
a config reads flat::

    storage:
      kind: azure_blob
      container: checkpoints          # required with kind azure_blob
      prefix: team-a/phi4             # checkpoints go under <prefix>/<run_id>/checkpoints/
      credential: default             # DefaultAzureCredential on account_url
      account_url: https://ACCOUNT.blob.core.windows.net

or, with ``credential: connection_string`` (the default), a connection string from
``$AZURE_STORAGE_CONNECTION_STRING`` (preferred) or ``storage.connection_string``. The
connection string is a secret: it is never serialised (``model_dump`` leaves it out, so it
reaches no config.yaml, trial.json or pipeline parameter) and never shown in errors.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"

# Azure's container rules: 3-63 lowercase letters, digits and single hyphens, no edge hyphen.
_CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
_PREFIX_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$")
_AZURE_FIELDS = ("container", "prefix", "credential", "account_url", "connection_string")


class AzureBlobStorageFields(BaseModel):
    """Where in Azure Blob Storage checkpoints live, and how qtrain authenticates."""

    container: str | None = Field(
        None, description="Blob container holding the checkpoints (kind azure_blob)"
    )
    prefix: str = Field(
        "", description="Blob name prefix; a run's store is <prefix>/<run_id>/checkpoints/"
    )
    credential: Literal["connection_string", "default"] = Field(
        "connection_string",
        description="connection_string: $AZURE_STORAGE_CONNECTION_STRING or "
        "storage.connection_string; default: DefaultAzureCredential on account_url",
    )
    account_url: str | None = Field(
        None, description="https://ACCOUNT.blob.core.windows.net (credential default)"
    )
    connection_string: SecretStr | None = Field(
        None,
        exclude=True,
        description=f"Prefer ${CONNECTION_STRING_ENV}; never written to any file",
    )
    connect_timeout_s: float = Field(
        5.0,
        gt=0,
        le=120,
        description="Seconds to connect to the blob endpoint; an unreachable endpoint is "
        "reported after one retry, in about twice this plus 2 s",
    )
    resume: bool = Field(
        False,
        description="Continue runtime.run_id from the history and incumbent kept in the "
        "store (another machine, a fresh output_dir); kind azure_blob only",
    )

    @field_validator("container")
    @classmethod
    def _container_name(cls, value: str | None) -> str | None:
        if value is not None and not _CONTAINER.match(value):
            raise ValueError(
                "must be 3-63 lowercase letters, digits and single hyphens "
                "(an Azure container name)"
            )
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix_path(cls, value: str) -> str:
        value = value.strip("/")
        if value and not all(_PREFIX_PART.match(part) for part in value.split("/")):
            raise ValueError(
                "must be '/'-separated parts of letters, digits, '.', '_', '=' or '-' "
                "(no empty, '.' or '..' parts)"
            )
        return value

    @model_validator(mode="after")
    def _fits_the_kind(self) -> Any:
        # Errors from here name the field in the message; the input (which may hold a
        # SAS token in account_url) is a mapping, which the config loader never echoes.
        kind = getattr(self, "kind", "azure_blob")
        if kind != "azure_blob":
            # Set to a non-default value: a dumped config (every field present) still loads.
            stray = [
                name
                for name in (*_AZURE_FIELDS, "resume")
                if name in self.model_fields_set
                and getattr(self, name) != type(self).model_fields[name].default
            ]
            if stray:
                verb = "applies" if len(stray) == 1 else "apply"
                raise ValueError(
                    f"{', '.join(stray)} only {verb} to kind 'azure_blob' (kind is {kind!r}): "
                    "remove them or set storage.kind=azure_blob"
                )
            return self
        if self.container is None:
            raise ValueError(
                "container is required with kind 'azure_blob': set storage.container=NAME"
            )
        if self.credential == "default":
            if not self.account_url:
                raise ValueError(
                    "account_url is required with credential 'default': set "
                    "storage.account_url=https://ACCOUNT.blob.core.windows.net"
                )
            if not self.account_url.startswith("https://"):
                raise ValueError(
                    "account_url must be https:// with credential 'default' (tokens are never "
                    "sent over plain http); for Azurite use a connection string"
                )
            if self.connection_string is not None:
                raise ValueError("connection_string is unused with credential 'default': remove it")
        if self.account_url is not None:
            if not re.match(r"^https?://[^/?#\s]+/?[^?#\s]*$", self.account_url):
                raise ValueError(
                    "account_url must be http(s)://HOST[/PATH] without a query string "
                    "(put SAS tokens in a connection string, never in account_url)"
                )
            if self.credential == "connection_string":
                raise ValueError(
                    "account_url is only used with credential 'default' (a connection "
                    "string names its own endpoint): remove it or set storage.credential=default"
                )
        return self
