#!/usr/bin/env python3
"""Minimal forwarding appservice on mautrix-python, a benchmark peer of interop-bridge.

For every m.room.message in a portal's source room whose sender is outside the
appservice's user namespace, it sends the same content into the portal's target
room as the ghost @peer_<sender localpart>:DOMAIN, through mautrix's IntentAPI
(which makes the ensure-registered / ensure-joined / power-level calls itself).

Usage: forward.py --registration REG.yaml --homeserver http://127.0.0.1:PORT \
                  --domain DOMAIN --port LISTEN_PORT --portals PORTALS.json
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile

from mautrix.appservice import AppService, IntentAPI
from mautrix.appservice.state_store import FileASStateStore
from mautrix.types import EventType, MessageEvent, UserID


def load_registration(path: str) -> dict:
    # mautrix bridges read their config and registration with ruamel.yaml.
    from ruamel.yaml import YAML

    with open(path, encoding="utf-8") as f:
        return YAML(typ="safe").load(f)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--registration", required=True)
    p.add_argument("--homeserver", required=True)
    p.add_argument("--domain", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--portals", required=True)
    args = p.parse_args()

    logging.basicConfig(
        level=logging.WARNING, format="[%(asctime)s] [%(levelname)s@%(name)s] %(message)s"
    )

    reg = load_registration(args.registration)
    with open(args.portals, encoding="utf-8") as f:
        portals: dict[str, str] = json.load(f)
    user_regexes = [re.compile(ns["regex"]) for ns in reg.get("namespaces", {}).get("users", [])]

    def in_namespace(user_id: str) -> bool:
        return any(r.match(user_id) for r in user_regexes)

    # mautrix's AppService default state store is a FileASStateStore named
    # "mx-state.json" in the working directory; keep it, but in a temp dir.
    state_dir = tempfile.mkdtemp(prefix="bench-peer-mautrix-")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    az = AppService(
        server=args.homeserver,
        domain=args.domain,
        as_token=reg["as_token"],
        hs_token=reg["hs_token"],
        bot_localpart=reg["sender_localpart"],
        id=reg["id"],
        loop=loop,
        state_store=FileASStateStore(
            path=os.path.join(state_dir, "mx-state.json"), binary=False
        ),
    )

    # The puppet cache of a mautrix bridge: one IntentAPI per ghost.
    intents: dict[str, IntentAPI] = {}

    def ghost_intent(sender: str) -> IntentAPI:
        intent = intents.get(sender)
        if intent is None:
            localpart = sender[1:].split(":", 1)[0]
            mxid = UserID(f"@peer_{localpart}:{args.domain}")
            intent = az.intent.user(mxid)
            intents[sender] = intent
        return intent

    @az.matrix_event_handler
    async def on_event(evt) -> None:
        if evt.type != EventType.ROOM_MESSAGE or not isinstance(evt, MessageEvent):
            return
        target = portals.get(evt.room_id)
        if target is None or in_namespace(evt.sender) or evt.sender == az.bot_mxid:
            return
        src = evt.content
        content = {"msgtype": str(src.msgtype), "body": src.body}
        if getattr(src, "formatted_body", None):
            content["format"] = str(src.format) if src.format else "org.matrix.custom.html"
            content["formatted_body"] = src.formatted_body
        await ghost_intent(evt.sender).send_message_event(
            target, EventType.ROOM_MESSAGE, content
        )

    stop = asyncio.Event()

    async def run() -> None:
        await az.start(host="127.0.0.1", port=args.port)
        az.ready = True
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await az.stop()

    try:
        loop.run_until_complete(run())
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
