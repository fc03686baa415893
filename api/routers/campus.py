"""GET /sites (the sites a token sees) and GET /campus (one site: names, zones, departments and targets)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AccessDep, CampusDep, LanguageDep
from api.schemas import BuildingPublic, CampusPublic, DepartmentPublic, SitePublic, SiteSummary, ZonePublic
from campus.labels import DEPARTMENTS, CampusNames, label

router = APIRouter(tags=["campus"])


@router.get("/sites", response_model=list[SiteSummary], summary="The sites this token may see (a console's site "
                                                                   "picker; add site=ID to other calls)")
def list_sites(access: AccessDep) -> list[SiteSummary]:
    return [SiteSummary(id=c.site.id, name=c.site.name, timezone=c.site.timezone, buildings=len(c.buildings),
                        devices=len(c.devices)) for c in access.campuses().values()]


@router.get("/campus", response_model=CampusPublic, summary="The site, buildings, zones and departments, "
                                                            "with names and monthly targets")
def get_campus(campus: CampusDep, language: LanguageDep) -> CampusPublic:
    names = CampusNames(campus)
    zone_of = {b: z.id for z in campus.zones for b in z.buildings}
    buildings = [BuildingPublic(
        id=b.id, name=b.name, code=b.code, department=b.department.value,
        department_name=label(DEPARTMENTS, b.department, language),
        zone=zone_of.get(b.id), zone_name=names.zone(zone_of.get(b.id)), floor_area_m2=b.floor_area_m2,
        occupants=b.occupants, targets={k.value: v for k, v in b.targets.items()}) for b in campus.buildings]
    departments = [DepartmentPublic(
        id=d, name=label(DEPARTMENTS, d, language), buildings=[b.id for b in campus.buildings if b.department == d],
        targets={k.value: v for k, v in campus.targets.get(d, {}).items()})  # type: ignore[call-overload]
        for d in dict.fromkeys(b.department.value for b in campus.buildings)]
    return CampusPublic(site=SitePublic(id=campus.site.id, name=campus.site.name, timezone=campus.site.timezone),
                        buildings=buildings, zones=[ZonePublic(id=z.id, name=z.name, buildings=z.buildings)
                                                    for z in campus.zones], departments=departments)
