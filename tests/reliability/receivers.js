// Receivers for the reliability tests: official socket.io-client 4.8 sockets
// that join a room, record every numbered "tick" broadcast with its offset,
// and record every (re)connection: its sid, and whether it was recovered.
//
// Run by tests/support/reliability_clients.py (NodeReceivers) with:
//   RELIABILITY_CLIENTS  JSON list of {name, url, transport}: transport is
//                        "polling", "websocket" or "upgrade" (polling, then
//                        the upgrade to WebSocket)
//   RELIABILITY_ROOM     the room to join
//   RELIABILITY_OPTIONS  optional JSON of extra io() options
//
// Reconnection is on, as in an application. A socket that connects fresh
// (the first time, or after a reconnection that was not recovered) joins
// the room again, as an application must; a recovered socket is in it
// already. Prints one JSON line per happening as it goes:
//   {"ev": "connect", name, sid, recovered, count}
//   {"ev": "joined", name, pid, sid, transport}
//   {"ev": "disconnect", name, reason, description}
//   {"ev": "connect_error", name, message}
//   {"ev": "upgrade", name, transport}: the engine upgraded (to WebSocket)
//   {"ev": "ready"} once every client has joined.
// Reads commands on stdin, one JSON line each:
//   {"cmd": "report", "expect": [n, ...], "settle": ms}: waits (at most
//   `settle`) until every client has every expected number, then each makes
//   a round trip ("echo"), prints {"ev": "report", clients: [...]} and exits.
"use strict";
const path = require("node:path");
const readline = require("node:readline");
const { createRequire } = require("node:module");

const fromNodeModules = createRequire(path.resolve(__dirname, "../node/package.json"));
const { io } = fromNodeModules("socket.io-client");

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const SPECS = JSON.parse(env("RELIABILITY_CLIENTS"));
const ROOM = env("RELIABILITY_ROOM");
const EXTRA = JSON.parse(process.env.RELIABILITY_OPTIONS || "{}");
const TRANSPORTS = {
  polling: ["polling"],
  websocket: ["websocket"],
  upgrade: ["polling", "websocket"],
};
const ECHO_TIMEOUT_MS = 8000;

// Resolves once the line is written: a large report must reach the pipe
// before the process exits.
const say = (obj) =>
  new Promise((resolve) => process.stdout.write(JSON.stringify(obj) + "\n", resolve));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function start(spec) {
  const transports = TRANSPORTS[spec.transport];
  if (!transports) throw new Error(`unknown transport ${spec.transport}`);
  const socket = io(spec.url, {
    forceNew: true,
    transports,
    reconnectionDelay: 100,
    reconnectionDelayMax: 1000,
    timeout: 5000,
    ...EXTRA,
  });
  const client = {
    name: spec.name,
    transport: spec.transport,
    socket,
    ticks: [], // [n, offset]
    connects: [], // {sid, recovered, at}
    joins: [], // {pid, sid, transport, at}
    disconnects: [], // {reason, description, at}
    errors: [],
    joined: false,
  };
  socket.io.on("open", () => {
    const engine = socket.io.engine;
    engine.on("upgrade", (transport) => say({ ev: "upgrade", name: spec.name, transport: transport.name }));
  });
  socket.on("tick", (data, offset) => {
    client.ticks.push([data && data.n, typeof offset === "string" ? offset : null]);
  });
  socket.on("connect", () => {
    const record = { sid: socket.id, recovered: Boolean(socket.recovered), at: Date.now() };
    client.connects.push(record);
    say({ ev: "connect", name: client.name, ...record, count: client.connects.length });
    const ask = socket.recovered ? "whoami" : "join";
    const args = socket.recovered ? [] : [ROOM];
    socket
      .timeout(10000)
      .emitWithAck(ask, ...args)
      .then((me) => {
        const transport = socket.io.engine ? socket.io.engine.transport.name : null;
        const joined = { pid: me.pid, sid: me.sid, transport, at: Date.now(), how: ask };
        client.joins.push(joined);
        client.joined = true;
        say({ ev: "joined", name: client.name, ...joined });
      })
      .catch((err) => {
        client.errors.push(`${ask}: ${err && err.message}`);
        say({ ev: "join_error", name: client.name, message: String(err && err.message) });
      });
  });
  socket.on("disconnect", (reason, details) => {
    const record = {
      reason,
      description: details && details.description ? String(details.description) : null,
      at: Date.now(),
    };
    client.disconnects.push(record);
    say({ ev: "disconnect", name: client.name, ...record });
  });
  socket.on("connect_error", (err) => {
    const message = String(err && err.message);
    client.errors.push(`connect_error: ${message}`);
    say({ ev: "connect_error", name: client.name, message });
  });
  return client;
}

async function report(clients, expect, settle) {
  const wanted = new Set(expect);
  const complete = (client) => {
    const got = new Set(client.ticks.map(([n]) => n));
    for (const n of wanted) if (!got.has(n)) return false;
    return true;
  };
  const deadline = Date.now() + settle;
  while (Date.now() < deadline && !clients.every(complete)) await sleep(50);
  // Anything still on its way would show as a duplicate.
  await sleep(300);
  const results = await Promise.all(
    clients.map(async (client) => {
      const started = Date.now();
      let echo = null;
      try {
        const answer = await client.socket.timeout(ECHO_TIMEOUT_MS).emitWithAck("echo", client.name);
        echo = { ok: answer && answer.echo === client.name, ms: Date.now() - started, pid: answer.pid };
      } catch (err) {
        echo = { ok: false, ms: Date.now() - started, error: String(err && err.message) };
      }
      return {
        name: client.name,
        transport: client.transport,
        ticks: client.ticks,
        connects: client.connects,
        joins: client.joins,
        disconnects: client.disconnects,
        errors: client.errors,
        connected: client.socket.connected,
        finalTransport: client.socket.io.engine ? client.socket.io.engine.transport.name : null,
        echo,
      };
    }),
  );
  await say({ ev: "report", clients: results });
  for (const client of clients) client.socket.disconnect();
}

async function main() {
  const clients = SPECS.map(start);
  const deadline = Date.now() + 20000;
  while (!clients.every((c) => c.joined)) {
    if (Date.now() > deadline) {
      const missing = clients.filter((c) => !c.joined).map((c) => c.name);
      throw new Error(`not joined within 20 s: ${missing.join(", ")}`);
    }
    await sleep(20);
  }
  await say({ ev: "ready" });
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const command = JSON.parse(line);
    if (command.cmd === "report") {
      await report(clients, command.expect || [], command.settle || 0);
      return;
    }
    if (command.cmd === "close") break;
  }
  for (const client of clients) client.socket.disconnect();
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exit(1);
  },
);
