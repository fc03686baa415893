"""The device view says why a meter is silent: its gateway's last poll in words (zh-CN by default, English with
?lang=en), when it last answered in the site's time zone, and its success rate."""

from __future__ import annotations

import time
from pathlib import Path

from ingest.decode import Inbound
from tests.support.alertapp import alert_app
from tests.support.meterhealth import CAMPUS_YAML, answered, failed


def test_device_health_in_words_with_last_answer_in_site_time(tmp_path: Path) -> None:
    campus = tmp_path / "campus.yaml"
    campus.write_text(CAMPUS_YAML, encoding="utf-8")
    now = int(time.time()) // 60 * 60
    last = now - 3 * 3600
    batch = [
        Inbound("campus/s1/c1-elec/health", failed("c1-elec", now - 60, last_answer=last, rate=0.82), now * 1000),
        Inbound("campus/s1/d1-elec/health", answered("d1-elec", now - 30), now * 1000),
    ]
    with alert_app(tmp_path / "data", batch, store=True, campus=campus) as (client, _):
        body = client.get("/api/v1/devices/c1-elec").json()
        h = body["health"]
        assert h["ok"] is False
        assert h["code"] == "no_answer"
        assert h["reason"] == "没有应答：rs485-1 上的 000012345678 三次未应答"
        assert h["error"] == "no answer from 000012345678 on rs485-1 after 3 tries"
        assert h["success_rate"] == 0.82
        assert (h["gateway"], h["gateway_name"], h["bus"]) == ("gw-canteen-1", "一食堂集中器", "rs485-1")
        assert h["last_answer"].endswith("+08:00")
        assert h["last_answer"] == time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(last + 8 * 3600))
        en = client.get("/api/v1/sites/s1/devices/c1-elec", params={"lang": "en"}).json()["health"]
        assert en["reason"] == "no answer from 000012345678 on rs485-1 after 3 tries"
        listed = {d["id"]: d for d in client.get("/api/v1/devices", params={"site": "s1"}).json()}
        assert listed["c1-elec"]["health"]["reason"] == h["reason"]
        assert listed["d1-elec"]["health"]["reason"] == "正常应答"
        assert listed["c1-gas"]["health"] is None  # its gateway has said nothing yet
        bad = client.get("/api/v1/devices/c1-elec", params={"lang": "fr"})
        assert bad.status_code == 422
