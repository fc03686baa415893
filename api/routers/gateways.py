from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import CampusDep, PageDep, ServiceDep
from api.schemas import GatewayPublic
from campus.db import DataDir
from deploy.credentials import Credentials

router = APIRouter(prefix="/gateways", tags=["gateways"])


@router.get("", response_model=list[GatewayPublic],
            summary="Who connects to the broker: gateways and devices without one, with the state of their credentials")
def list_gateways(service: ServiceDep, campus: CampusDep, page: PageDep, response: Response) -> list[GatewayPublic]:
    listed = {g.id: g for g in campus.gateways}
    store = Credentials(DataDir(service.data_dir).state)
    try:
        creds = {c.id: c for c in store.list()}
    finally:
        store.close()
    out = []
    for who, devices in sorted(campus.publishers().items()):
        g = listed.get(who)
        c = creds.get(who)
        out.append(GatewayPublic(id=who, name=g.name if g else devices[0].name, is_device=g is None,
                                 building=g.building if g else devices[0].building,
                                 devices=[d.id for d in devices],
                                 credentials="none" if c is None else "active" if c.active else "revoked"))
    return page.of(out, response)
