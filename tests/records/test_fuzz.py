"""Hostile files and dates at the records' boundary: any bytes sent as a photo or a laboratory's PDF are kept or
refused with FileRejected, never anything else; calendar windows hold for any span of dates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from campus.calendar import CampusCalendar
from campus.model import load_campus
from records.photos import FileRejected, check_image, check_pdf
from records.rounds import Every, windows
from tests.support.paths import SAMPLE
from tests.support.records import png

CAL = CampusCalendar(load_campus(SAMPLE).calendar)
HEADS = st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\0\0\0\0WEBP", b"GIF89a", b"%PDF-"])


@settings(max_examples=300, deadline=None)
@given(head=HEADS, body=st.binary(max_size=2048), cut=st.integers(0, 200))
def test_any_bytes_as_a_photo_are_kept_or_refused_clearly(head: bytes, body: bytes, cut: int) -> None:
    for data in (head + body, png()[:cut] + body, png()[: len(png()) - cut]):
        assert "x.jpg" in _refusal(lambda d=data: check_image(d, "x.jpg", 1 << 20, 10_000_000))
        assert "r.pdf" in _refusal(lambda d=data: check_pdf(d, "r.pdf", 1 << 20))


def _refusal(call: Callable[[], object]) -> str:
    """Why ``call`` refused its file (FileRejected's message, which names the file), or the name if it took it."""
    try:
        call()
    except FileRejected as exc:
        return str(exc)
    return "x.jpg r.pdf"


@settings(max_examples=200, deadline=None)
@given(every=st.sampled_from(list(Every)), start=st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)),
       days=st.integers(0, 60))
def test_windows_are_ordered_and_within_the_span(every: Every, start: dt.date, days: int) -> None:
    end = start + dt.timedelta(days=days)
    got = windows(every, CAL, start, end)
    assert all(w.start <= w.end for w in got)
    assert all(start <= w.end <= end for w in got)
    assert [w.end for w in got] == sorted(w.end for w in got)
