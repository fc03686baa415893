"""``[water]``: the water balance's limits, the night minimum flow's hours and trend, the water-saving school's
indicators (节水型学校). Where no published text gives a number, it is a setting here; the README says what was
found and where."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


def parse_hours(span: str) -> tuple[int, int]:
    """``"00:00-05:00"`` → (0, 5): whole local hours, the end after the start or past midnight (``23:00-05:00``)."""
    try:
        a, b = (part.strip() for part in span.split("-"))
        (ha, ma), (hb, mb) = (map(int, a.split(":")), map(int, b.split(":")))
    except ValueError:
        raise ValueError(f"night hours {span!r}: write whole hours as HH:00-HH:00, e.g. 00:00-05:00") from None
    if ma or mb or not (0 <= ha < 24 and 0 <= hb < 24) or ha == hb:
        raise ValueError(f"night hours {span!r}: write two different whole hours as HH:00-HH:00, e.g. 00:00-05:00")
    return ha, hb


class WaterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    balance_site_pct: float = Field(default=10.0, gt=0, le=100, description="the incomer against the buildings' "
                                    "main meters: a day or month lost beyond this share raises a data alert")
    balance_building_pct: float = Field(default=5.0, gt=0, le=100, description="a building's main meter against "
                                        "its sub-meters: beyond this share, a data alert naming the building")
    min_coverage: float = Field(default=0.9, gt=0, le=1, description="a day or month is judged only when every "
                                "meter in it has this share of its readings")
    check_s: float = Field(default=3600, ge=0, description="how often the balance is checked for alerts (0: never)")
    night_hours: str = Field(default="00:00-05:00", description="the night's hours, site time (夜间最小流量)")
    night_rise_m3h: float = Field(default=0.1, gt=0, description="a night minimum this far above the building's "
                                  "usual (median of the 4 weeks before the last 7 nights) is rising")
    litres_per_person_day: float = Field(default=120.0, gt=0, description="the indicator: litres per person per "
                                         "school day (a boarding school's quota; set the province's)")
    persons: int | None = Field(default=None, ge=1, description="persons for the indicator; default: the sum of "
                                "the buildings' occupants")
    coverage_first_pct: float = Field(default=100.0, ge=0, le=100, description="first-level meters required")
    coverage_second_pct: float = Field(default=90.0, ge=0, le=100, description="second-level metering required")

    @field_validator("night_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value
