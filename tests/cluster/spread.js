// Clients of a deployment with no sticky sessions: each joins a room, counts
// the numbered "tick" broadcasts it receives, and sends numbered "count"
// events whose acks say whether the server saw them in order.
//
// Run by tests/cluster/test_no_sticky_sessions.py with:
//   SPREAD_URL         the deployment (gunicorn or nginx)
//   SPREAD_CLIENT      "official" (socket.io-client) or "realtime" (realtime.js)
//   SPREAD_TRANSPORTS  comma-separated transports, e.g. "polling" or "polling,websocket";
//                      for realtime.js also "polling,sse" (the stream read with
//                      fetch, as Node has no EventSource) or "polling,streaming"
//   SPREAD_CLIENTS     how many clients
//   SPREAD_ROOM        the room to join
//   SPREAD_COUNT       how many ticks to expect and counts to send
// Prints "READY" once every client has joined, then one JSON line with what
// each client saw, and exits.
"use strict";
const path = require("node:path");
const { createRequire } = require("node:module");

const fromNodeModules = createRequire(path.resolve(__dirname, "../node/package.json"));
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const URL_ = env("SPREAD_URL");
const CLIENT = env("SPREAD_CLIENT");
const TRANSPORTS = env("SPREAD_TRANSPORTS").split(",");
const CLIENTS = Number(env("SPREAD_CLIENTS"));
const ROOM = env("SPREAD_ROOM");
const COUNT = Number(env("SPREAD_COUNT"));
const DEADLINE_MS = 60000;
// The transport each client should end on: the last one it may use.
const FINAL = TRANSPORTS[TRANSPORTS.length - 1];

const io =
  CLIENT === "official" ? fromNodeModules("socket.io-client").io : require("../../realtime/static/realtime.js");
const extra = CLIENT === "official" ? {} : { WebSocket: fromNodeModules("ws") };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Resolves once `predicate()` holds, or after `ms` (the caller checks again).
async function until(predicate, ms) {
  const deadline = Date.now() + ms;
  while (!predicate() && Date.now() < deadline) await sleep(20);
}

function withTimeout(promise, ms, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);
}

async function run(index) {
  const socket = io(URL_, { forceNew: true, reconnection: false, transports: TRANSPORTS, ...extra });
  const seen = { index, ticks: [], disconnects: [], errors: [], rungs: [] };
  // The transports the session went through, in order.
  socket.io.on("open", () => {
    const engine = socket.io.engine;
    seen.rungs.push(engine.transport.name);
    engine.on("upgrade", () => seen.rungs.push(engine.transport.name));
  });
  let allTicks;
  const ticksDone = new Promise((resolve) => (allTicks = resolve));
  socket.on("tick", (n) => {
    seen.ticks.push(n);
    if (seen.ticks.length >= COUNT) allTicks();
  });
  socket.on("disconnect", (reason) => seen.disconnects.push(reason));
  socket.on("connect_error", (err) => seen.errors.push(String(err && err.message)));
  await withTimeout(new Promise((resolve) => socket.once("connect", resolve)), 20000, "connect");
  seen.sid = socket.id;
  await withTimeout(socket.emitWithAck("join", ROOM), 20000, "join");
  return { socket, seen, ticksDone };
}

async function main() {
  const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => run(i)));
  process.stdout.write("READY\n");
  await Promise.all(
    clients.map(async ({ socket, seen, ticksDone }) => {
      // Numbered upstream messages, sent back to back: the server acks
      // whether each came in order.
      const acks = [];
      for (let n = 0; n < COUNT; n++) acks.push(socket.emitWithAck("count", n));
      seen.inOrder = await withTimeout(Promise.all(acks), DEADLINE_MS, "count acks");
      await withTimeout(ticksDone, DEADLINE_MS, "ticks").catch((err) => seen.errors.push(err.message));
      // An upgrade may still be under way: give it time, then report where it ended.
      await until(() => socket.io.engine.transport.name === FINAL, 10000);
      seen.transport = socket.io.engine.transport.name;
      // What the process that holds the session says the client is on.
      seen.serverTransport = await withTimeout(socket.emitWithAck("transport"), 20000, "transport");
    }),
  );
  // Anything more would be a tick that arrived twice.
  await sleep(300);
  const report = JSON.stringify(clients.map(({ seen }) => seen));
  for (const { socket } of clients) socket.disconnect();
  process.stdout.write(report + "\n");
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exit(1);
  },
);
