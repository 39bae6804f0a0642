"""Enrolment with the central office's CA over the control socket (design/0097): the box's
request (a CSR signed by its node key, naming its site and node) and the install of the
certificate the office issued, with the office's CA certificate, which the box pins.

The files travel with the technician (`edgectl enrol --out`, `--install`): the office accepts a
request a person carried, never one that only came over the broker.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from edged.config import Config
from edged.control.operation import Operations, op
from edged.control.protocol import RequestError
from edged.i18n import _
from edged.rules.roles import Actor
from storage import audit
from storage.keys import nodecert, nodekey
from storage.catalog import CatalogWriter

MAX_BUNDLE = 64 * 1024


class EnrolOps(Operations):
    def __init__(self, cfg: Config, writer: CatalogWriter, key: nodekey.NodeKey):
        self.cfg, self.writer, self.key = cfg, writer, key

    @property
    def data_dir(self) -> Path:
        return Path(self.cfg.storage.data_dir)

    @op("node.enrol")
    async def request(self, _args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        site, node = self.cfg.site.id, self.cfg.site.node
        try:
            pem = await asyncio.to_thread(nodecert.make_request, self.key, site, node)
        except nodecert.CertError as exc:
            raise RequestError(_("no enrolment request can be made: {why}").format(why=exc)) from None
        state = await asyncio.to_thread(nodecert.enrolment, self.data_dir)
        detail = {"site": site, "node": node, "fingerprint": self.key.fingerprint}
        await self.writer.run(lambda c: audit.append(c.db, str(caller), "node.enrol_request", detail))
        return {**detail, "request": pem.decode(), "enrolled": state}

    @op("node.install_cert")
    async def install(self, args: dict[str, Any], caller: Actor) -> dict[str, Any]:
        bundle = str(args.get("bundle") or "")
        if not bundle or len(bundle) > MAX_BUNDLE:
            raise RequestError(_("give the file the office wrote (edged-central nodes accept --out)"))
        site, node = self.cfg.site.id, self.cfg.site.node
        try:
            ident = await asyncio.to_thread(nodecert.install, self.data_dir, bundle.encode(), self.key, site, node)
        except nodecert.CertError as exc:
            raise RequestError(_("the certificate was not installed: {why}").format(why=exc)) from None
        state = await asyncio.to_thread(nodecert.enrolment, self.data_dir)
        detail = {"site": ident.site, "node": ident.node, "serial": f"{ident.serial:x}",
                  "fingerprint": ident.fingerprint, "ca_fingerprint": (state or {}).get("ca_fingerprint")}
        await self.writer.run(lambda c: audit.append(c.db, str(caller), "node.enrolled", detail))
        return {**detail, "enrolled": state}
