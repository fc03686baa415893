"""InfluxDB over the v1-compatible HTTP API (served by InfluxDB 1.x, 2.x with a DBRP mapping, and 3.x).

Where the three differ (``[store] influx_version``):

- authentication: 1.x ``u``/``p`` (username, password); 2.x and 3.x a token (``Authorization: Token``);
- the database: 1.x ``CREATE DATABASE``; 2.x has no such statement: a bucket is made (``/api/v2/buckets``,
  in ``[store] org``) and a DBRP mapping that gives it the v1 database name (``/api/v2/dbrps``); 3.x makes
  it through ``/api/v3/configure/database`` (or on the first write);
- 3.x Core answers a query from at most 432 Parquet files per table (about 72 hours at its default
  10-minute files): reads are split into spans of ``[store] query_span_h`` (24 h) between
  ``[store] history_start`` (400 days ago by default) and now, so the roll-ups' first build, the newest
  reading and long ranges never ask for more at once. (Enterprise compacts; the spans cost little there.)

Writes: line protocol (serialised by influxdb-client's ``Point``) to ``/write`` with ms precision.
Reads: InfluxQL over ``/query``. Measurement = kind; tags = site, building, department, zone,
device; fields = the values plus ``seq``. InfluxDB treats measurement + tags + timestamp as one
point, so a replay with the device's own timestamp is idempotent. (Caveat: a device moved to
another building gets new tags, so readings replayed from before the move are stored twice.)
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import influxdb_client
from influxdb_client import WritePrecision

from campus.contract import ALL_FIELDS, Kind, Reading
from campus.errors import StoreRejected, StoreUnavailable
from ingest.config import StoreSettings
from ingest.stores.base import Agg, Point, Sample, register_store

_KINDS = [k.value for k in Kind]


def _float(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text  # as Point writes it: 5.0 -> 5 (still a float field)


def to_line(r: Reading) -> str:
    """Line protocol for one reading, byte-identical to influxdb-client's ``Point`` (tests check it).

    Tags and fields sorted by key; no escaping is needed because every id matches ID_PATTERN
    (letters, digits, _ . -) and field names are our constants. About 20x faster than ``Point``.
    """
    parts = {k: _float(v) for k, v in r.values.items()}
    if r.seq is not None:
        parts["seq"] = f"{int(r.seq)}i"
    fields = ",".join(f"{k}={parts[k]}" for k in sorted(parts))
    return (f"{r.kind.value},building={r.building},department={r.department},device={r.device},"
            f"site={r.site},zone={r.zone} {fields} {int(r.ts)}")


def to_line_reference(r: Reading) -> str:
    """The same line through influxdb-client's Point: the reference the fast path is tested against."""
    point = (
        influxdb_client.Point(r.kind.value)
        .tag("site", r.site).tag("building", r.building).tag("department", r.department)
        .tag("zone", r.zone).tag("device", r.device)
        .time(r.ts, WritePrecision.MS)
    )
    for name, value in r.values.items():
        point.field(name, float(value))
    if r.seq is not None:
        point.field("seq", int(r.seq))
    return point.to_line_protocol()


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _point_line(p: Point) -> str:
    tags = "".join(f",{_escape(k)}={_escape(v)}" for k, v in sorted(p.tags.items()) if v)
    fields = ",".join(f"{_escape(k)}={_float(v)}" for k, v in sorted(p.fields.items()))
    return f"{_escape(p.measurement)}{tags} {fields} {int(p.ts_ms)}"


def _quote(ident: str) -> str:
    return "'" + ident.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _device(site: str, device: str) -> str:
    return f"site = {_quote(site)} AND device = {_quote(device)}"


CHANGES = "meterwatch_changes"  # ingest's change notes ([store] change_notes)
LATEST_WINDOWS = 31  # with spans (InfluxDB 3), how far back the newest reading is looked for: a month of days


class InfluxStore:
    backend = "influxdb"
    SERIES_PAGE = 50_000
    MANY_CHUNK = 200
    series_batch = 50  # one query for 50 meters: the round trips were most of a roll-up refresh

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings
        headers, self._auth = {}, {}
        if settings.token is not None:
            headers["Authorization"] = f"Token {settings.token.get_secret_value()}"
        elif settings.username:
            self._auth = {"u": settings.username,
                          "p": settings.password.get_secret_value() if settings.password else ""}
        self._http = httpx.Client(base_url=settings.url, headers=headers, timeout=settings.timeout_s)
        self._created = False
        self._lock = threading.Lock()
        self._writer = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{socket.gethostname()}-{os.getpid()}")[:64]

    # -- HTTP boundary -----------------------------------------------------------------
    def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"InfluxDB at {self.settings.url} unreachable: {exc!r}") from exc
        if resp.status_code >= 500:
            raise StoreUnavailable(f"InfluxDB {path}: HTTP {resp.status_code} {resp.text[:200]}")
        return resp

    def _influxql(self, q: str, *, post: bool = False) -> list[dict[str, Any]]:
        params = {"db": self.settings.database, "q": q, "epoch": "ms", **self._auth}
        resp = self._call("POST" if post else "GET", "/query", params=params)
        if resp.status_code >= 400:
            raise StoreRejected(f"InfluxDB query refused: HTTP {resp.status_code} {resp.text[:200]}")
        body = resp.json()
        for result in body.get("results", []):
            if "error" in result:
                raise StoreRejected(f"InfluxDB query {q[:80]!r}: {result['error']}")
        return [s for result in body.get("results", []) for s in result.get("series", [])]

    def _create_database(self) -> None:
        """Make the database the way this InfluxDB does: 1.x InfluxQL; 2.x a bucket and its DBRP mapping (the v1
        API's database name); 3.x its configure API. Each needs a token allowed to do it."""
        db, version = self.settings.database, self.settings.influx_version
        if version == 1:
            self._influxql(f'CREATE DATABASE "{db}"', post=True)
        elif version == 2:
            org = self.settings.org
            if not org:
                raise StoreRejected(f"InfluxDB 2: bucket {db!r} does not exist; set [store] org to make it, or make "
                                    f"it yourself (influx bucket create -n {db}; influx v1 dbrp create ...)")
            orgs = self._json("GET", "/api/v2/orgs", params={"org": org}).get("orgs") or []
            if not orgs:
                raise StoreRejected(f"InfluxDB 2: no organisation {org!r} ([store] org)")
            bucket = self._json("POST", "/api/v2/buckets", json={"orgID": orgs[0]["id"], "name": db,
                                                                  "retentionRules": []})
            self._json("POST", "/api/v2/dbrps", json={"orgID": orgs[0]["id"], "bucketID": bucket["id"],
                                                      "database": db, "retention_policy": "autogen",
                                                      "default": True})
        else:
            self._json("POST", "/api/v3/configure/database", json={"db": db})
        self._created = True

    def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        resp = self._call(method, path, **kw)
        if resp.status_code >= 400:
            raise StoreRejected(f"InfluxDB {method} {path}: HTTP {resp.status_code} {resp.text[:200]}")
        return resp.json() if resp.content else {}

    def _windows(self, start_ms: int, end_ms: int, *, backward: bool = False) -> list[tuple[int, int]]:
        """[start, end) as one range, or, where one query may reach only so far ([store] query_span_h; InfluxDB 3
        Core), as spans of that length, between [store] history_start and a day from now."""
        span = self.settings.span_ms
        if span is None:
            return [(start_ms, end_ms)]
        floor = self._floor_ms()
        lo, hi = max(start_ms, floor), min(end_ms, int(time.time() * 1000) + 86_400_000)
        out = [(a, min(a + span, hi)) for a in range(lo, hi, span)]
        return out[::-1] if backward else out

    def _floor_ms(self) -> int:
        start = self.settings.history_start
        if start is None:
            return int(time.time() * 1000) - 400 * 86_400_000
        return int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000)

    # -- Protocol ----------------------------------------------------------------------
    def write(self, readings: Sequence[Reading]) -> None:
        if not readings:
            return
        lines = "\n".join(to_line(r) for r in readings)
        if self.settings.change_notes:  # in the same request: the readings and their note land together
            lines += "\n" + self._notes(readings)
        self._post_lines(lines.encode())

    def _notes(self, readings: Sequence[Reading]) -> str:
        """One line per device: the oldest reading time of this write, stamped now, by this writer (its own
        series, so two workers writing in the same millisecond do not overwrite each other's note)."""
        oldest: dict[tuple[str, str], int] = {}
        for r in readings:
            key = (r.site, r.device)
            if r.ts < oldest.get(key, r.ts + 1):
                oldest[key] = r.ts
        now = int(time.time() * 1000)
        return "\n".join(f"{CHANGES},device={d},site={s},writer={self._writer} from_ms={ts}i {now}"
                         for (s, d), ts in oldest.items())

    def change_notes(self, site: str, since_ms: int) -> dict[str, int]:
        q = (f'SELECT min("from_ms") AS "from_ms" FROM "{CHANGES}" WHERE site = {_quote(site)} '  # noqa: S608
             f"AND time >= {int(since_ms)}ms GROUP BY device")
        return {x["tags"]["device"]: int(x["values"][0][1]) for x in self._influxql(q)
                if x.get("values") and x["values"][0][1] is not None}

    def write_points(self, points: Sequence[Point]) -> None:
        """Derived series (tags and field names are our own identifiers; escaped all the same)."""
        for i in range(0, len(points), 5000):
            self._post_lines("\n".join(_point_line(p) for p in points[i:i + 5000]).encode())

    def _post_lines(self, body: bytes) -> None:
        params = {"db": self.settings.database, "precision": "ms", **self._auth}
        for attempt in (1, 2):
            resp = self._call("POST", "/write", params=params, content=body)
            if resp.status_code == 204:
                return
            if resp.status_code == 404 and "not found" in resp.text and attempt == 1:  # 1.x database, 2.x bucket
                self._create_database()
                continue
            raise StoreRejected(f"InfluxDB write refused: HTTP {resp.status_code} {resp.text[:300]}")

    @staticmethod
    def _samples(series: list[dict[str, Any]], prefix: str = "") -> list[Sample]:
        out = []
        for s in series:
            cols = s["columns"]
            for row in s["values"]:
                rec = dict(zip(cols, row, strict=True))
                values = {f: float(rec[prefix + f]) for f in ALL_FIELDS if rec.get(prefix + f) is not None}
                if not values:
                    continue
                seq = rec.get("seq") if not prefix else None
                out.append(Sample(int(rec["time"]), values, None if seq is None else int(seq)))
        return out

    def readings(self, site: str, device: str, kind: Kind, start_ms: int, end_ms: int, *,
                 interval_ms: int | None = None, agg: Agg = "mean", offset_ms: int = 0,
                 limit: int = 10_000) -> list[Sample]:
        out: list[Sample] = []
        for a, b in self._windows(start_ms, end_ms):
            if interval_ms is not None and self.settings.span_ms is not None:  # whole buckets in each window
                a = a - (a - offset_ms) % interval_ms if a > start_ms else a
            where = f"{_device(site, device)} AND time >= {int(a)}ms AND time < {int(b)}ms"
            left = int(limit) - len(out)
            if interval_ms is None:
                q = f'SELECT * FROM "{kind.value}" WHERE {where} ORDER BY time ASC LIMIT {left}'  # noqa: S608
                out += self._samples(self._influxql(q))
            else:
                off = int(offset_ms) % int(interval_ms)
                q = (f'SELECT {agg}(*) FROM "{kind.value}" WHERE {where} '  # noqa: S608
                     f"GROUP BY time({int(interval_ms)}ms, {off}ms) fill(none) LIMIT {left}")
                got = self._samples(self._influxql(q), prefix=f"{agg}_")
                out += [x for x in got if not out or x.ts > out[-1].ts]
            if len(out) >= limit:
                break
        return out[:limit]

    def series(self, site: str, device: str, kind: Kind, field: str, start_ms: int,
               end_ms: int) -> list[tuple[int, float]]:
        if field not in ALL_FIELDS:
            raise ValueError(f"unknown field {field!r}")
        out: list[tuple[int, float]] = []
        page = self.SERIES_PAGE
        for a, b in self._windows(start_ms, end_ms):
            while True:
                q = (f'SELECT "{field}" FROM "{kind.value}" WHERE {_device(site, device)} '  # noqa: S608
                     f'AND time >= {int(a)}ms AND time < {int(b)}ms AND "{field}" >= 0 '
                     f"ORDER BY time ASC LIMIT {page}")
                rows = [(int(t), float(v)) for s in self._influxql(q) for t, v in s["values"]]
                out += rows
                if len(rows) < page:
                    break
                a = rows[-1][0] + 1
        return out

    def series_many(self, site: str, kind: Kind, field: str, starts: Mapping[str, int],
                    end_ms: int) -> dict[str, list[tuple[int, float]]]:
        """One query per chunk of devices from the earliest start (callers batch devices whose starts are
        close, e.g. the roll-ups' last day), each device's points then cut at its own start."""
        if field not in ALL_FIELDS:
            raise ValueError(f"unknown field {field!r}")
        out: dict[str, list[tuple[int, float]]] = {dev: [] for dev in starts}
        devices = list(starts)
        for i in range(0, len(devices), self.MANY_CHUNK):
            chunk = devices[i:i + self.MANY_CHUNK]
            names = "|".join(re.escape(d) for d in chunk)  # ids are [A-Za-z0-9_.-]: no slash to escape
            got: dict[str, list[tuple[int, float]]] = {d: [] for d in chunk}
            partial = False
            for a, b in self._windows(min(starts[d] for d in chunk), end_ms):
                q = (f'SELECT "{field}" FROM "{kind.value}" WHERE site = {_quote(site)} '  # noqa: S608
                     f'AND device =~ /^({names})$/ AND time >= {a}ms AND time < {int(b)}ms AND "{field}" >= 0 '
                     "GROUP BY device ORDER BY time ASC")
                series = self._influxql(q)
                if any(x.get("partial") for x in series):  # a server with max-row-limit: one device at a time
                    partial = True
                    break
                for x in series:
                    dev = x["tags"]["device"]
                    got[dev] += [(int(t), float(v)) for t, v in x["values"] if t >= starts[dev]]
            if partial:
                for dev in chunk:
                    out[dev] = self.series(site, dev, kind, field, starts[dev], end_ms)
                continue
            out.update(got)
        return out

    def latest(self, site: str, device: str, kind: Kind) -> Sample | None:
        if self.settings.span_ms is None:
            q = f'SELECT * FROM "{kind.value}" WHERE {_device(site, device)} ORDER BY time DESC LIMIT 1'  # noqa: S608
            found = self._samples(self._influxql(q))
            return found[0] if found else None
        for a, b in self._windows(0, int(time.time() * 1000) + 86_400_000, backward=True)[:LATEST_WINDOWS]:
            q = (f'SELECT * FROM "{kind.value}" WHERE {_device(site, device)} AND time >= {a}ms '  # noqa: S608
                 f"AND time < {b}ms ORDER BY time DESC LIMIT 1")
            found = self._samples(self._influxql(q))
            if found:
                return found[0]
        return None

    def around(self, site: str, device: str, kind: Kind, field: str, at_ms: int) -> tuple[Sample | None, Sample | None]:
        if field not in ALL_FIELDS:
            raise ValueError(f"unknown field {field!r}")
        out: list[Sample | None] = []
        for cmp, order, windows in (("<=", "DESC", self._windows(0, at_ms + 1, backward=True)),
                                    (">", "ASC", self._windows(at_ms + 1, 2**62))):
            found: list[Sample] = []
            for a, b in windows[:LATEST_WINDOWS]:
                span = "" if self.settings.span_ms is None else f"AND time >= {a}ms AND time < {b}ms "
                q = (f'SELECT "{field}", seq FROM "{kind.value}" WHERE {_device(site, device)} '  # noqa: S608
                     f'AND time {cmp} {int(at_ms)}ms {span}AND "{field}" >= 0 ORDER BY time {order} LIMIT 1')
                found = self._samples(self._influxql(q))
                if found:
                    break
            out.append(found[0] if found else None)
        return out[0], out[1]

    def count(self, device: str | None = None, kind: Kind | None = None, site: str | None = None) -> int:
        terms = [f"device = {_quote(device)}"] if device else []
        terms += [f"site = {_quote(site)}"] if site else []
        where = f" WHERE {' AND '.join(terms)}" if terms else ""
        total = 0
        for k in [kind.value] if kind else _KINDS:
            for s in self._influxql(f'SELECT count(*) FROM "{k}"{where}'):  # noqa: S608
                row = s["values"][0]
                total += max(int(v) for v in row[1:] if v is not None)
        return total

    def ping(self) -> None:
        resp = self._call("GET", "/ping")
        if resp.status_code >= 400:
            raise StoreUnavailable(f"InfluxDB ping: HTTP {resp.status_code}")

    def close(self) -> None:
        self._http.close()


@register_store("influxdb")
def _open(settings: StoreSettings, data_dir: Path) -> InfluxStore:
    return InfluxStore(settings)
