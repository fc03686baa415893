"""Names people read, zh-CN first, English second: departments, device roles, reading fields.

One table each, so the console, the reports and the alert texts say the same thing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from campus.model import Campus

DEPARTMENTS: dict[str, tuple[str, str]] = {
    "canteen": ("食堂", "Canteens"), "dormitory": ("学生宿舍", "Dormitories"), "teaching": ("教学楼", "Teaching"),
    "office": ("行政办公", "Offices"), "boiler_room": ("锅炉房", "Boiler room"),
    "power_room": ("配电房", "Power room"), "other": ("其他", "Other"),
}

ROLES: dict[str, tuple[str, str]] = {
    "drinking": ("饮用水", "Drinking water"), "purified_drinking": ("直饮水", "Purified drinking water"),
    "canteen_water": ("食堂用水", "Canteen water"),
    "secondary_supply": ("二次供水", "Secondary supply"), "water_heater_storage": ("热水储罐", "Hot-water storage"),
    "water_heater_outlet": ("热水器出水", "Water-heater outlet"), "dorm_room": ("宿舍房间", "Dorm room"),
    "incomer": ("进线总表", "Incomer"),
}

FIELDS: dict[str, tuple[str, str]] = {
    "energy_kwh": ("电能读数", "Energy register"), "power_kw": ("有功功率", "Active power"),
    "voltage_v": ("电压", "Voltage"), "current_a": ("电流", "Current"), "power_factor": ("功率因数", "Power factor"),
    "volume_m3": ("累计读数", "Volume register"), "flow_m3h": ("瞬时流量", "Flow"),
    "ph": ("pH", "pH"), "turbidity_ntu": ("浑浊度", "Turbidity"), "free_chlorine_mgl": ("游离氯", "Free chlorine"),
    "conductivity_uscm": ("电导率", "Conductivity"), "tds_mgl": ("溶解性总固体", "TDS"),
    "temperature_c": ("水温", "Temperature"),
}

KINDS: dict[str, tuple[str, str]] = {
    "electricity": ("电", "Electricity"), "water": ("水", "Water"), "gas": ("燃气", "Gas"),
    "water_quality": ("水质", "Water quality"),
}


def label(table: dict[str, tuple[str, str]], key: str, language: str) -> str:
    """``key``'s name in ``language`` (zh-CN unless it starts with en); an unknown key is its own name."""
    pair = table.get(key)
    if pair is None:
        return key
    return pair[1] if language.lower().startswith("en") else pair[0]

SEVERITIES: dict[str, tuple[str, str]] = {
    "critical": ("严重", "Critical"), "major": ("重要", "Major"), "minor": ("次要", "Minor"),
    "warning": ("提示", "Warning"),
}

CATEGORIES: dict[str, tuple[str, str]] = {"energy": ("节能", "Energy"), "safety": ("安全", "Safety"),
                                          "data": ("数据", "Data")}


class CampusNames:
    """The names of one campus's devices, buildings and zones by id; an unknown or missing id is shown as
    it is, and a device or gateway without a name goes by its id."""

    def __init__(self, campus: Campus) -> None:
        self.campus = campus
        self._devices = {d.id: d.name or d.id for d in campus.devices}
        self._buildings = {b.id: b.name for b in campus.buildings}
        self._zones = {z.id: z.name for z in campus.zones}

    def device(self, key: str | None) -> str | None:
        return None if key is None else self._devices.get(key, key)

    def building(self, key: str | None) -> str | None:
        return None if key is None else self._buildings.get(key, key)

    def zone(self, key: str | None) -> str | None:
        return None if key is None else self._zones.get(key, key)

    def subject(self, key: str, language: str) -> str:
        """An alert's subject: a device, or a department (budget rules)."""
        if key in self._devices:
            return self._devices[key]
        return label(DEPARTMENTS, key, language)


class Name(BaseModel):
    """A name people read, in both languages (a rule's, a round template's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    zh: str
    en: str

    def text(self, language: str) -> str:
        return self.en if language.startswith("en") else self.zh
