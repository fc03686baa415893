"""Energy item codes (分项能耗): the classification table the project ships, and the item of a device.

The table is ``campus/energy_items.yaml`` (its source is named there), read once. A device's item is the
``item:`` it names in the campus file; without one it is its kind's default: electricity 01000 (a canteen's
electricity 01D20, the kitchens), water 02000, gas 03A00 (natural gas). A water-quality sensor has no item.

A meter that feeds two uses may carry shares of items instead of one: ``01A00 60%, 01B00 40%`` (names allowed,
``照明插座 60%，空调 40%``): percentages of its use, each item once, adding up to 100 (:func:`item_shares`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from campus.contract import Kind


@dataclass(frozen=True)
class EnergyItem:
    code: str
    zh: str
    en: str
    kind: Kind
    parent: str | None = None

    def name(self, language: str) -> str:
        return self.en if language.lower().startswith("en") else self.zh


DEFAULT_ITEM: dict[Kind, str] = {Kind.ELECTRICITY: "01000", Kind.WATER: "02000", Kind.GAS: "03A00"}
DEPARTMENT_ITEM: dict[str, str] = {"canteen": "01D20"}  # a building department's default electricity item


@cache
def energy_items() -> dict[str, EnergyItem]:
    """Every item by code, in the file's order."""
    text = resources.files("campus").joinpath("energy_items.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    return {row["code"]: EnergyItem(code=row["code"], zh=row["zh"], en=row["en"], kind=Kind(row["kind"]),
                                    parent=row.get("parent")) for row in doc["items"]}


def item_source() -> str:
    text = resources.files("campus").joinpath("energy_items.yaml").read_text(encoding="utf-8")
    return str(yaml.safe_load(text)["source"])


UNITEMISED = "unitemised"  # the key of 未分项: a building's use that no sub-meter puts under an item
UNITEMISED_NAMES = ("未分项", "Unitemised")


def item_name(code: str, language: str = "zh-CN") -> str:
    """The item's name in ``language`` (zh-CN or English); 未分项 for :data:`UNITEMISED`; an unknown code as it is."""
    en = language.lower().startswith("en")
    if code == UNITEMISED:
        return UNITEMISED_NAMES[1 if en else 0]
    item = energy_items().get(code)
    return code if item is None else item.name(language)


def items_of(kind: Kind) -> list[EnergyItem]:
    """The items of ``kind``, in the table's order."""
    return [i for i in energy_items().values() if i.kind is kind]


def splits_further(code: str) -> bool:
    """A kind's top code that the table splits into sub-items (01000 电, 03000 燃气): use counted under it is use
    nobody itemised, 未分项. 02000 水 has no sub-items: water is counted under 02000 itself."""
    items = energy_items()
    item = items.get(code)
    return item is not None and item.parent is None and any(i.parent == code for i in items.values())


def _names() -> dict[str, str]:
    out: dict[str, str] = {}
    for item in energy_items().values():
        for name in (item.zh, item.zh.removesuffix("用电"), item.en):
            out.setdefault(_folded(name), item.code)
    return out


def _folded(text: str) -> str:
    return re.sub(r"[\s()（）]", "", text).casefold()


def item_code(value: str, kind: Kind) -> str:
    """An item cell as people write it: the code (``01A00``, ``1000`` where a spreadsheet dropped the leading
    zero), the name in Chinese (``照明插座用电``, ``照明插座``) or English, or both (``01A00 照明插座``) → its code,
    checked against ``kind`` (ValueError saying what to write)."""
    text = value.strip()
    head = text.split(maxsplit=1)[0] if text else ""
    if head.isascii() and head.isdigit() and len(head) < 5:
        head = head.zfill(5)  # 1000 → 01000: a spreadsheet keeps 01000 as the number 1000
    code = head.upper() if head.upper() in energy_items() else _names().get(_folded(text))
    rest = text[len(head):].strip()
    if code == head.upper() and rest and _names().get(_folded(rest)) != code:
        raise ValueError(f"item {value!r}: {code} is {item_name(code)}, not {rest}; write the code or the name, "
                         "or both of one item")
    if code is None:
        raise ValueError(f"item {value!r} is neither an energy item code nor its name; write e.g. 01A00 or "
                         "照明插座用电, 01B00 or 空调用电, 01D20 or 厨房餐厅, 02000 or 水")
    return check_item(code, kind)


MAX_SHARES = 20
MAX_ITEM_CHARS = 400
# an item, then its percentage: digits not glued to the item's own digits (01A00 60%, 照明插座60%, never 01A0060%)
_SHARE = re.compile(r"^(?P<item>.*?)(?<![0-9.])\s*(?P<pct>[0-9]+(?:\.[0-9]+)?)\s*[%％]$")
_SEPARATORS = re.compile(r"[,，;；、]")


def item_shares(value: str, kind: Kind) -> dict[str, float]:
    """An item cell → code → share of the meter's use: ``{"01A00": 1.0}`` for one item (code or name, as
    :func:`item_code` reads it), or shares written ``01A00 60%, 01B00 40%`` (also ``，`` ``；`` ``、``): each item
    once, percentages above 0 adding up to 100. A ValueError says what to write."""
    if len(value) > MAX_ITEM_CHARS:
        raise ValueError(f"item: {len(value)} characters; write at most {MAX_ITEM_CHARS}, e.g. 01A00 60%, 01B00 40%")
    parts = [p.strip() for p in _SEPARATORS.split(value) if p.strip()]
    if len(parts) <= 1 and not _SHARE.match(value.strip()):
        return {item_code(value, kind): 1.0}
    if len(parts) > MAX_SHARES:
        raise ValueError(f"item: {len(parts)} shares; a meter is shared among {MAX_SHARES} items at most")
    pcts: dict[str, float] = {}
    for part in parts:
        m = _SHARE.match(part)
        if m is None or not m["item"]:
            raise ValueError(f"item {value!r}: {part!r} has no share; give each item its percentage, e.g. "
                             "01A00 60%, 01B00 40%")
        code = item_code(m["item"], kind)
        if code in pcts:
            raise ValueError(f"item {value!r}: {code} is named twice; give each item once")
        pct = float(m["pct"][:12])
        if not 0 < pct <= 100:
            raise ValueError(f"item {value!r}: {part!r}: a share is above 0 % and at most 100 %")
        pcts[code] = pct
    total = sum(pcts.values())
    if abs(total - 100) > 1e-6:
        raise ValueError(f"item {value!r}: the shares add up to {total:g} %, not 100 %")
    return {code: pct / 100 for code, pct in pcts.items()}


def item_text(shares: dict[str, float]) -> str:
    """The canonical form of :func:`item_shares`'s result: ``01A00``, or ``01A00 60%, 01B00 40%``."""
    if len(shares) == 1:
        return next(iter(shares))
    return ", ".join(f"{code} {round(frac * 100, 6):g}%" for code, frac in shares.items())


def shares_name(shares: dict[str, float], language: str = "zh-CN") -> str:
    """The items' names as people read them: ``照明插座用电``, or ``照明插座用电 60%、空调用电 40%``."""
    if len(shares) == 1:
        return item_name(next(iter(shares)), language)
    sep = ", " if language.lower().startswith("en") else "、"
    return sep.join(f"{item_name(code, language)} {round(frac * 100, 6):g}%" for code, frac in shares.items())


def check_item(code: str, kind: Kind) -> str:
    """``code`` if it is an item of ``kind``; else a ValueError saying what to write."""
    item = energy_items().get(code)
    if item is None:
        raise ValueError(f"item {code!r} is not an energy item code; use one of the table's, e.g. 01A00 "
                         "(照明插座), 01B00 (空调), 01C00 (动力), 01D20 (厨房餐厅), 02000 (水), 03A00 (天然气)")
    if item.kind is not kind:
        raise ValueError(f"item {code} ({item.zh}) is a {item.kind.value} item, not {kind.value}")
    return code


def default_item(kind: Kind, department: str | None = None) -> str | None:
    """The item of a device of ``kind`` in a building of ``department`` that names none; None for water-quality
    sensors."""
    if kind is Kind.ELECTRICITY and department in DEPARTMENT_ITEM:
        return DEPARTMENT_ITEM[department]
    return DEFAULT_ITEM.get(kind)


BUILDING_CATEGORIES = {"A": "办公建筑", "B": "商场建筑", "C": "宾馆饭店建筑", "D": "文化教育建筑", "E": "医疗卫生建筑",
                       "F": "体育建筑", "G": "综合建筑", "H": "其他建筑"}
PROVINCES = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53,
             54, 61, 62, 63, 64, 65, 71, 81, 82}


def check_building_code(code: str) -> str:
    """A building code (建筑识别编码) of 10 characters: the 6-digit administrative division (GB/T 2260), the
    category letter (A–H; D is culture and education), a 3-digit number. ``code``, or a ValueError saying what
    is wrong."""
    if len(code) != 10:
        raise ValueError(f"building code {code!r} has {len(code)} characters, not 10: 6-digit division, a "
                         "category letter, 3 digits, e.g. 330106D001")
    division, letter, number = code[:6], code[6], code[7:]
    if not (division.isascii() and division.isdigit()):
        raise ValueError(f"building code {code!r}: the first 6 characters are the administrative division "
                         "(GB/T 2260), digits, e.g. 330106")
    if int(division[:2]) not in PROVINCES:
        raise ValueError(f"building code {code!r}: {division[:2]} is no province's code (GB/T 2260)")
    if letter not in BUILDING_CATEGORIES:
        raise ValueError(f"building code {code!r}: the 7th character is the category, one of A–H (D: 文化教育建筑), "
                         f"not {letter!r}")
    if not (number.isascii() and number.isdigit()):
        raise ValueError(f"building code {code!r}: the last 3 characters are the building's number, digits")
    return code
