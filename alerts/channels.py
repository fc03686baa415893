"""Notification channels behind one small Protocol. Apprise covers the people-facing ones (JSON
webhooks, e-mail, WeCom / DingTalk / Feishu bots, SMS gateways, ...); ``mqtt:TOPIC`` publishes
to the broker for displays on site. Failures become :class:`SendFailed` with apprise's reason."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import apprise

from alerts.store import Notice
from campus.errors import MeterwatchError


class SendFailed(MeterwatchError):
    pass


class Notifier(Protocol):
    def send(self, notice: Notice) -> None: ...


def _with_fields(url: str, notice: Notice) -> str:
    """JSON webhooks get the alert's fields as extra payload keys (apprise's ``:key=value``)."""
    if not url.startswith(("json://", "jsons://")):
        return url
    extra = "&".join(f":{k}={quote(str(notice.payload[k]))}" for k in ("alert_id", "event", "rule", "severity",
                                                                       "level", "status") if k in notice.payload)
    return url + ("&" if "?" in url else "?") + extra


class AppriseNotifier:
    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        apprise.Apprise().add("json://127.0.0.1")  # load apprise's plugins now, not on the first alert

    def send(self, notice: Notice) -> None:
        url = _with_fields(notice.url, notice)
        if url.startswith(("json://", "jsons://", "form://", "xml://")) and "rto=" not in url:
            url += f"&cto={self.timeout_s:g}&rto={self.timeout_s:g}"
        ap = apprise.Apprise()
        if not ap.add(url):
            raise SendFailed(f"not a valid apprise URL for channel {notice.channel!r} (check the roster)")
        with apprise.LogCapture(level=logging.WARNING) as log:
            ok = ap.notify(title=notice.title, body=notice.body)
        if not ok:
            reason = log.getvalue().strip().splitlines()[-1:] or ["no reason given"]
            raise SendFailed(f"{notice.channel}: {reason[0][:300]}")


def send_file(url: str, title: str, body: str, attachment: Path) -> None:
    """One message with a file attached (the monthly bulletin's PDF) through an apprise URL."""
    ap = apprise.Apprise()
    if not ap.add(url):
        raise SendFailed(f"not a valid apprise URL: {url.split('://')[0]}://…")
    files = apprise.AppriseAttachment()
    files.add(str(attachment))
    with apprise.LogCapture(level=logging.WARNING) as log:
        ok = ap.notify(title=title, body=body, attach=files)
    if not ok:
        reason = log.getvalue().strip().splitlines()[-1:] or ["no reason given"]
        raise SendFailed(reason[0][:300])


class MqttNotifier:
    """Publishes the notice's JSON payload with QoS 1 to the topic after ``mqtt:``."""

    def __init__(self, publish: Callable[[str, bytes], None]) -> None:
        self._publish = publish

    def send(self, notice: Notice) -> None:
        import orjson

        topic = notice.url.removeprefix("mqtt:")
        try:
            self._publish(topic, orjson.dumps({**notice.payload, "body": notice.body}))
        except Exception as exc:
            raise SendFailed(f"mqtt publish to {topic}: {exc}") from exc


class ChannelSender:
    """Sends a notice by its URL, as the roster's channels name them: ``mqtt:TOPIC`` through this process's broker
    connection (SendFailed if it has none), anything else through apprise (made at first use; ``mail`` replaces
    it, for tests)."""

    def __init__(self, publish: Callable[[str, bytes], None] | None = None, mail: Notifier | None = None) -> None:
        self._mqtt = MqttNotifier(publish) if publish is not None else None
        self._apprise = mail

    def send(self, notice: Notice) -> None:
        if notice.url.startswith("mqtt:"):
            if self._mqtt is None:
                raise SendFailed("an mqtt: channel, but this process has no broker connection")
            self._mqtt.send(notice)
            return
        if self._apprise is None:
            self._apprise = AppriseNotifier()
        self._apprise.send(notice)
