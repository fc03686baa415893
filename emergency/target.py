"""What a drill or a plan started by hand is about: one of the site's plans, and one device or building of the site
(as the asker's token sees it), checked once for both."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.desk import SiteDesk
from alerts.plans import Plan
from campus.errors import MeterwatchError, NotFound
from campus.model import Building


class PlanRefused(MeterwatchError):
    """A drill, or a plan started by hand, that cannot start as asked (422 with what to fix)."""


@dataclass(frozen=True, slots=True)
class Target:
    plan: Plan
    building: Building
    zone: str | None
    device: str | None
    where: str          # the device's or the building's name


def target(desk: SiteDesk, plan_id: str, device: str | None, building: str | None, what: str) -> Target:
    """The plan and the place ``what`` (a drill, the plan) is about: NotFound for what the site does not have,
    PlanRefused for a place that cannot be one (neither or both named, a virtual meter)."""
    plans = desk.book.plans
    plan = plans.plans.get(plan_id) if plans is not None else None
    campus = desk.campus
    if plan is None:
        known = ", ".join(plans.plans) if plans is not None and plans.plans else "none (set [records] plans_file)"
        raise NotFound(f"no emergency plan {plan_id!r} at site {campus.site.id}; plans: {known}")
    if (device is None) == (building is None):
        raise PlanRefused(f"name the device or the building {what} is about (one of them)")
    dev = next((d for d in campus.devices if d.id == device), None) if device else None
    if device is not None and dev is None:
        raise NotFound(f"no device {device!r} at site {campus.site.id}")
    if dev is not None and dev.virtual is not None:
        raise PlanRefused(f"{dev.name or dev.id} is a virtual meter (a sum of others): it takes no readings, so "
                          f"nothing could raise its alert; name its building ({dev.building}) or one of its meters")
    b = campus.building(dev.building if dev is not None else str(building))
    if b is None:
        raise NotFound(f"no building {building!r} at site {campus.site.id}")
    where = (desk.names.device(device) or str(device)) if device else b.name
    return Target(plan, b, campus.zone_of(b.id), device, where)
