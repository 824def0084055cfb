#!/usr/bin/env node
// Minimal forwarding appservice on matrix-appservice-bridge, a benchmark peer of
// interop-bridge.
//
// For every m.room.message in a portal's source room whose sender is outside the
// appservice's user namespace, it sends the same content into the portal's target
// room as the ghost @peer_<sender localpart>:DOMAIN through the Bridge's Intent
// (which makes the ensure-registered / ensure-joined / power-level calls itself).
//
// Usage: node forward.js --registration REG.yaml --homeserver http://127.0.0.1:PORT \
//                        --domain DOMAIN --port LISTEN_PORT --portals PORTALS.json
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { Bridge, Logger, AppServiceRegistration } = require("matrix-appservice-bridge");

function parseArgs(argv) {
  const want = ["registration", "homeserver", "domain", "port", "portals"];
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m || !want.includes(m[1])) {
      throw new Error(`unknown argument ${argv[i]}`);
    }
    out[m[1]] = m[2] !== undefined ? m[2] : argv[++i];
  }
  for (const k of want) {
    if (out[k] === undefined) throw new Error(`missing --${k}`);
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  Logger.configure({ console: "warn" });

  const portals = JSON.parse(fs.readFileSync(args.portals, "utf8"));
  // The Bridge's default stores are NeDB files in the working directory
  // (user-store.db, room-store.db, user-activity-store.db); keep them, in a temp dir.
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-peer-mab-"));
  let registration; // set once the Bridge has loaded the registration file

  const bridge = new Bridge({
    homeserverUrl: args.homeserver,
    domain: args.domain,
    registration: args.registration,
    userStore: path.join(storeDir, "user-store.db"),
    roomStore: path.join(storeDir, "room-store.db"),
    userActivityStore: path.join(storeDir, "user-activity-store.db"),
    controller: {
      onEvent(request) {
        const ev = request.getData();
        if (ev.type !== "m.room.message") {
          request.resolve("not a message");
          return;
        }
        const target = portals[ev.room_id];
        if (target === undefined || registration.isUserMatch(ev.sender, false)) {
          request.resolve("not bridged");
          return;
        }
        const src = ev.content || {};
        const content = { msgtype: src.msgtype, body: src.body };
        if (src.formatted_body) {
          content.format = src.format || "org.matrix.custom.html";
          content.formatted_body = src.formatted_body;
        }
        const localpart = ev.sender.slice(1).split(":")[0];
        const intent = bridge.getIntent(`@peer_${localpart}:${args.domain}`);
        request.outcomeFrom(intent.sendMessage(target, content)).catch(() => {
          /* already logged by the Bridge's reject callback */
        });
      },
    },
  });

  await bridge.initialise();
  registration = bridge.registration;
  await bridge.listen(Number(args.port), "127.0.0.1");
  process.stdout.write("ready\n");

  const stop = () => {
    fs.rmSync(storeDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
