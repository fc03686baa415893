"""Grafana next to meterwatch: file provisioning, or a push through Grafana's HTTP API (grafana-client).

Both deliver the same datasource (InfluxQL over the store's InfluxDB, uid ``meterwatch-influxdb``) and
the dashboards of :mod:`deploy.dashboards` into the folder ``meterwatch``. Secrets never go into files:
provisioning refers to environment variables Grafana expands when it reads them. One delivery path
per dashboard uid: Grafana refuses to overwrite a file-provisioned dashboard through its API.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from app.settings import Settings
from campus.errors import ConfigError, MeterwatchError
from campus.model import Campus
from deploy.dashboards import DATASOURCE_UID, FOLDER, dashboards

PASSWORD_ENV = "METERWATCH_STORE__PASSWORD"  # noqa: S105 - the name of a variable, not a secret
TOKEN_ENV = "METERWATCH_STORE__TOKEN"  # noqa: S105


class GrafanaError(MeterwatchError):
    """Grafana refused or could not be reached."""


def datasource(settings: Settings, *, secrets_from_env: bool) -> dict[str, Any]:
    """The InfluxDB datasource. ``secrets_from_env``: refer to ``$METERWATCH_STORE__…`` (provisioning files)
    instead of the values (an API push sends them to Grafana, which keeps them encrypted)."""
    store = settings.store
    if store.backend != "influxdb":
        raise ConfigError("the Grafana dashboards read InfluxDB: set [store] backend = \"influxdb\"")
    json_data: dict[str, Any] = {"dbName": store.database, "httpMode": "GET", "version": "InfluxQL"}
    secure: dict[str, str] = {}
    ds: dict[str, Any] = {"name": "meterwatch InfluxDB", "uid": DATASOURCE_UID, "type": "influxdb",
                          "access": "proxy", "url": store.url, "database": store.database, "isDefault": False}
    if store.token is not None:
        json_data["httpHeaderName1"] = "Authorization"
        secure["httpHeaderValue1"] = f"Token ${{{TOKEN_ENV}}}" if secrets_from_env else \
            f"Token {store.token.get_secret_value()}"
    elif store.username:
        ds["user"] = store.username
        secure["password"] = f"${{{PASSWORD_ENV}}}" if secrets_from_env else \
            (store.password.get_secret_value() if store.password else "")
    ds["jsonData"] = json_data
    if secure:
        ds["secureJsonData"] = secure
    return ds


@dataclass(frozen=True, slots=True)
class Provisioned:
    datasource: Path
    provider: Path
    dashboards: tuple[Path, ...]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def provision(settings: Settings, campus: Campus, out: Path, *, seen_as: Path | None = None) -> Provisioned:
    """``out/provisioning/datasources/meterwatch.yaml``, ``out/provisioning/dashboards/meterwatch.yaml`` and
    ``out/dashboards/*.json``: point Grafana's ``paths.provisioning`` at ``out/provisioning``. ``seen_as``: where
    Grafana finds ``out`` (a container's mount point), if not at the same path."""
    ds_file = out / "provisioning" / "datasources" / "meterwatch.yaml"
    _write(ds_file, "# written by `meterwatch grafana provision`; secrets come from the environment\n"
           + yaml.safe_dump({"apiVersion": 1, "datasources": [datasource(settings, secrets_from_env=True)]},
                            allow_unicode=True, sort_keys=False))
    boards = out / "dashboards"
    provider = out / "provisioning" / "dashboards" / "meterwatch.yaml"
    _write(provider, yaml.safe_dump({"apiVersion": 1, "providers": [{
        "name": "meterwatch", "folder": FOLDER, "folderUid": FOLDER, "type": "file", "disableDeletion": False,
        "allowUiUpdates": False, "updateIntervalSeconds": 60,
        "options": {"path": str((seen_as or out.resolve()) / "dashboards")}}]},
        sort_keys=False))
    written = []
    for name, board in dashboards(campus).items():
        path = boards / f"{name}.json"
        _write(path, json.dumps(board, ensure_ascii=False, indent=2) + "\n")
        written.append(path)
    return Provisioned(ds_file, provider, tuple(written))


def push(settings: Settings, campus: Campus, url: str, token: str, *, timeout_s: float = 15.0) -> list[str]:
    """Create or update the folder, the datasource and every dashboard, each by its uid (so pushing again
    changes nothing else). Returns the dashboard uids."""
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaClientError, GrafanaException

    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    try:
        try:
            api.folder.get_folder(FOLDER)
        except GrafanaClientError as exc:
            if exc.status_code != 404:
                raise
            api.folder.create_folder("meterwatch", uid=FOLDER)
        ds = datasource(settings, secrets_from_env=False)
        try:
            api.datasource.get_datasource_by_uid(DATASOURCE_UID)
            api.datasource.update_datasource_by_uid(DATASOURCE_UID, ds)
        except GrafanaClientError as exc:
            if exc.status_code != 404:
                raise
            api.datasource.create_datasource(ds)
        uids = []
        for board in dashboards(campus).values():
            api.dashboard.update_dashboard({"dashboard": {**board, "id": None}, "folderUid": FOLDER,
                                            "overwrite": True, "message": "meterwatch grafana push"})
            uids.append(str(board["uid"]))
    except GrafanaException as exc:
        raise GrafanaError(f"Grafana at {url}: {exc}") from exc
    except OSError as exc:  # niquests' connection errors are OSErrors
        raise GrafanaError(f"Grafana at {url} unreachable: {exc}") from exc
    return uids
