// Shared by the interop test files: which client and transports to use (from
// the environment test_node_interop.py sets), and
// helpers to connect, wait and look at the server's state.
//   INTEROP_URL        the interop app (tests/support/interop_apps.py)
//   INTEROP_CLIENT     "official" (socket.io-client from npm) or "realtime"
//                      (realtime/static/realtime.js)
//   INTEROP_TRANSPORT  "polling", "websocket" or "upgrade" (polling first,
//                      then the upgrade to WebSocket)
// The npm packages come from tests/node/node_modules (tests/node/package.json).
"use strict";
const assert = require("node:assert/strict");
const net = require("node:net");
const path = require("node:path");
const { createRequire } = require("node:module");

const fromNodeModules = createRequire(path.resolve(__dirname, "../node/package.json"));

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run through tests/interop/test_*.py)`);
  return value;
}

const URL_ = env("INTEROP_URL");
const CLIENT = env("INTEROP_CLIENT");
const SETUP = env("INTEROP_TRANSPORT");

const CLIENTS = {
  official() {
    const lib = fromNodeModules("socket.io-client");
    return { io: lib.io, Manager: lib.Manager, options: {} };
  },
  realtime() {
    const io = require("../../realtime/static/realtime.js");
    return { io, Manager: io.Manager, options: { WebSocket: fromNodeModules("ws") } };
  },
};
const SETUPS = {
  polling: { transports: ["polling"], final: "polling" },
  websocket: { transports: ["websocket"], final: "websocket" },
  upgrade: { transports: ["polling", "websocket"], final: "websocket" },
};
if (!CLIENTS[CLIENT]) throw new Error(`unknown INTEROP_CLIENT ${CLIENT}`);
if (!SETUPS[SETUP]) throw new Error(`unknown INTEROP_TRANSPORT ${SETUP}`);

const client = CLIENTS[CLIENT]();
const { transports, final: FINAL } = SETUPS[SETUP];
const DEFAULTS = {
  forceNew: true,
  transports,
  reconnectionDelay: 50,
  reconnectionDelayMax: 200,
  ...client.options,
};

// ------------------------------------------------------------------ helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Resolves with the event's arguments (an array), or rejects after `ms`.
function once(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${event}"`)), ms);
    timer.unref(); // a test that gave up on it may end; the runner reports any still waiting
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

async function until(predicate, what, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

// Every argument of an emit's acknowledgement (emitWithAck keeps the first),
// with a plain (not error-first) callback.
const ackOf = (socket, event, ...args) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no ack for "${event}"`)), 10000);
  timer.unref();
  socket.emit(event, ...args, (...answer) => {
    clearTimeout(timer);
    resolve(answer);
  });
});
// The first argument of the acknowledgement, through emitWithAck.
const ask = (socket, ...args) => socket.timeout(10000).emitWithAck(...args);

// Records every event a socket receives: `log.get(event)` is a list of
// argument lists.
function record(socket) {
  const log = new Map();
  socket.onAny((event, ...args) => {
    if (!log.has(event)) log.set(event, []);
    log.get(event).push(args);
  });
  return log;
}
const got = (log, event) => log.get(event) || [];

const bytes = (b) => Array.from(ArrayBuffer.isView(b)
  ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b));

// What the server knows: GET /_test/state (the sio_echo app).
async function state(query, base = URL_) {
  const res = await fetch(`${base}/_test/state?${new URLSearchParams(query)}`);
  assert.equal(res.status, 200);
  return res.json();
}
async function serverReason(sid, base = URL_) {
  let reason = null;
  await until(async () => (reason = (await state({ sid }, base)).reason) !== null,
    `the server's disconnect reason for ${sid}`);
  return reason;
}

// Sockets and proxies made by a test; cleanup() (an afterEach hook of the
// test files) closes them.
let opened = [];
let proxies = [];
async function cleanup() {
  for (const socket of opened) socket.disconnect();
  for (const proxy of proxies) await proxy.close();
  opened = [];
  proxies = [];
}

function make(nsp = "/", opts = {}, base = URL_) {
  const socket = client.io(base + nsp, { ...DEFAULTS, ...opts });
  opened.push(socket);
  return socket;
}
function manager(opts = {}, base = URL_) {
  const m = new client.Manager(base, { ...DEFAULTS, ...opts });
  return (nsp, socketOpts) => {
    const socket = m.socket(nsp, socketOpts);
    opened.push(socket);
    return socket;
  };
}

// Resolves once the socket's transport is the setup's last one.
async function settled(socket) {
  if (SETUP === "upgrade" && socket.io.engine.transport.name !== "websocket") {
    await once(socket.io.engine, "upgrade");
  }
  assert.equal(socket.io.engine.transport.name, FINAL);
}

async function connected(socket) {
  if (!socket.connected) await once(socket, "connect");
  await settled(socket);
  return socket;
}
const open = (nsp, opts, base) => connected(make(nsp, opts, base));

// A TCP proxy on 127.0.0.1 in front of the server: it can hold WebSocket
// handshakes for a while (so an upgrade lands in the middle of traffic) and
// play a network outage (every connection cut, no close frame, no packet,
// and new ones refused for a while).
async function startProxy(target, { holdUpgradesMs = 0 } = {}) {
  const { hostname, port } = new URL(target);
  const pairs = new Set();
  const frozen = new Set();
  const clientEnds = new Set();
  let downUntil = 0;
  const server = net.createServer((downstream) => {
    if (Date.now() < downUntil) return downstream.destroy();
    const pair = [downstream];
    pairs.add(pair);
    const drop = () => {
      for (const s of pair) s.destroy();
      pairs.delete(pair);
    };
    downstream.on("error", drop).on("close", drop);
    downstream.once("data", (first) => {
      downstream.pause();
      const forward = () => {
        if (downstream.destroyed) return;
        const upstream = net.connect(Number(port), hostname, () => {
          upstream.write(first);
          downstream.pipe(upstream);
          upstream.pipe(downstream);
          downstream.resume();
        });
        pair.push(upstream);
        upstream.on("error", drop).on("close", drop);
      };
      const isUpgrade = /\r\nupgrade:\s*websocket/i.test(first.toString("latin1"));
      if (isUpgrade && holdUpgradesMs) setTimeout(forward, holdUpgradesMs);
      else forward();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxy = {
    url: `http://127.0.0.1:${server.address().port}`,
    // Cuts every connection, and refuses new ones for `ms`: a long poll
    // between two requests fails with its next one.
    outage(ms) {
      downUntil = Date.now() + ms;
      proxy.destroyAll();
    },
    destroyAll() {
      for (const pair of [...pairs]) for (const s of pair) s.destroy();
      pairs.clear();
      for (const s of frozen) s.destroy();
      frozen.clear();
    },
    // A silent network change: the connections in place stop carrying
    // anything, without being closed, so neither end notices at once; new
    // ones go through.
    freeze() {
      for (const pair of [...pairs]) {
        for (const s of pair) {
          s.unpipe();
          s.pause();
          s.removeAllListeners("data");
          frozen.add(s);
        }
        // Each end of a frozen pair now dies alone (see resetClients).
        for (const s of pair) s.removeAllListeners("close").removeAllListeners("error").on("error", () => {});
        clientEnds.add(pair[0]);
      }
      pairs.clear();
    },
    // After freeze(): the client's ends of the frozen connections are reset,
    // the server's stay open and silent, as when the client's host moved to
    // another network and knows its old connections are gone, and the
    // server does not. (A client that pools HTTP connections, as Node's
    // fetch does, would otherwise send a new session's requests on one.)
    resetClients() {
      for (const s of clientEnds) s.destroy();
      clientEnds.clear();
    },
    close() {
      proxy.destroyAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  proxies.push(proxy);
  return proxy;
}

module.exports = {
  env, fromNodeModules, URL_, CLIENT, SETUP, client, transports, FINAL, DEFAULTS,
  sleep, once, until, ackOf, ask, record, got, bytes, state, serverReason, cleanup,
  make, manager, settled, connected, open, startProxy,
};
