"""``storage.kind: azure_blob`` in the config, ``open_store``, and keeping secrets secret."""

from __future__ import annotations

import builtins
import json

import pytest
import yaml

from qtrain.checkpoints import LocalCheckpointStore, open_store, run_prefix
from qtrain.config import load_config
from qtrain.errors import CheckpointError, ConfigError, MissingExtraError

AZURE = ["storage.kind=azure_blob", "storage.container=ckpts", "storage.prefix=/team/phi4/"]


def storage(*overrides: str):
    return load_config(None, list(overrides)).storage


def test_local_is_the_default(tmp_path):
    config = storage()
    assert config.kind == "local"
    assert isinstance(open_store(config, tmp_path / "checkpoints", "r1"), LocalCheckpointStore)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["storage.kind=azure_blob"], r"^[^\n]*storage: container is required.*storage\.container"),
        ([*AZURE[:2], "storage.container=My_Ckpts"], r"storage\.container: must be 3-63 lower"),
        ([*AZURE, "storage.prefix=a/../b"], r"storage\.prefix: must be '/'-separated"),
        ([*AZURE, "storage.credential=default"], r"account_url is required.*storage\.account_url"),
        (
            [*AZURE, "storage.credential=default", "storage.account_url=http://127.0.0.1:1/a"],
            r"account_url must be https:// with credential 'default'",
        ),
        (["storage.container=ckpts"], r"container only applies to kind 'azure_blob'"),
        (["storage.resume=true"], r"resume only applies to kind 'azure_blob'"),
        (["storage.kind=s3"], r"storage\.kind: Input should be 'local' or 'azure_blob'"),
    ],
)
def test_invalid_storage_is_one_line_naming_the_field(overrides, message):
    with pytest.raises(ConfigError, match=message) as caught:
        storage(*overrides)
    assert "\n" not in str(caught.value)


def test_a_sas_token_in_account_url_is_refused_without_echoing_it():
    url = "storage.account_url=https://acct.blob.core.windows.net/?sv=1&sig=TOPSECRET"
    with pytest.raises(ConfigError, match="without a query string") as caught:
        storage(*AZURE, "storage.credential=default", url)
    assert "TOPSECRET" not in str(caught.value)


def test_redact_hides_keys_signatures_and_query_strings():
    from qtrain.redaction import scrub_secrets

    text = scrub_secrets(
        "AccountName=a;AccountKey=K3y==;BlobEndpoint=x; url https://a.blob.core.windows.net/c/b"
        "?sv=2024&sig=S1g%3D failed; Authorization: Bearer eyJ0eXAi.x.y"
    )
    for secret in ("K3y", "S1g", "sv=2024", "eyJ0eXAi"):
        assert secret not in text
    assert "https://a.blob.core.windows.net/c/b" in text


def test_prefix_is_normalised_and_scoped_by_run_id():
    config = storage(*AZURE)
    assert config.prefix == "team/phi4"
    assert run_prefix(config, "r7") == "team/phi4/r7"


def test_the_connection_string_is_never_serialised(tmp_path):
    config = load_config(None, [*AZURE, "storage.connection_string=AccountKey=TOPSECRET"])
    assert config.storage.connection_string.get_secret_value() == "AccountKey=TOPSECRET"
    for dumped in (
        json.dumps(config.model_dump(mode="json")),
        yaml.safe_dump(config.model_dump()),
        config.model_dump_json(),
        repr(config),
    ):
        assert "TOPSECRET" not in dumped


def test_missing_connection_string_names_the_env_var(tmp_path, monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    with pytest.raises(ConfigError, match=r"\$AZURE_STORAGE_CONNECTION_STRING"):
        open_store(storage(*AZURE), tmp_path, "r1")


def test_malformed_connection_string_is_not_echoed(tmp_path, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountKey=TOPSECRET;garbage")
    with pytest.raises(CheckpointError, match="malformed") as caught:
        open_store(storage(*AZURE), tmp_path, "r1")
    assert "TOPSECRET" not in str(caught.value)


def test_wrong_account_key_fails_in_one_line_without_the_key(azurite, tmp_path, monkeypatch):
    wrong = azurite.connection_string.replace("AccountKey=Eby8", "AccountKey=Xby8")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", wrong)
    with pytest.raises(CheckpointError, match=r"403.*check the credential") as caught:
        open_store(storage(*AZURE), tmp_path, "r1")
    message = str(caught.value)
    assert "\n" not in message
    assert "Xby8" not in message and "AccountKey" not in message


def test_open_store_on_azurite_uses_the_run_prefix(azurite, tmp_path, monkeypatch, sample_files):
    from support.checkpoint_files import write_tree

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    store = open_store(storage(*AZURE), tmp_path / "checkpoints", "r1")
    assert "TOPSECRET" not in repr(store) and "AccountKey" not in repr(store)
    store.commit(write_tree(store.staging_dir("t1"), sample_files), "t1")
    names = [b.name for b in store.container.list_blobs()]
    assert names and all(n.startswith("team/phi4/r1/checkpoints/t1/") for n in names)
    assert (tmp_path / "checkpoints" / "cache" / "t1" / "manifest.json").is_file()


def test_without_the_azure_extra_the_error_names_it(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_azure(name, *args, **kwargs):
        if name.startswith("azure"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_azure)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true")
    with pytest.raises(MissingExtraError, match=r"qtrain\[azure\]"):
        open_store(storage(*AZURE), tmp_path, "r1")
