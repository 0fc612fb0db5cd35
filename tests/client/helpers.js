// Shared by the Node tests of the transport ladder (tests/client/*.test.js,
// tests/proxy/*.test.js): realtime.js clients, waiting helpers, and an HTTP
// proxy on 127.0.0.1 that misbehaves the way real networks do.
//
// The servers are realtime's own, started by the pytest wrappers
// (tests/client/test_ladder.py, tests/proxy/test_client_through_nginx.py),
// which pass their URLs in the environment. npm packages come from
// tests/node/node_modules (tests/node/package.json).
"use strict";
const assert = require("node:assert/strict");
const http = require("node:http");
const net = require("node:net");
const path = require("node:path");
const { createRequire } = require("node:module");

const fromNodeModules = createRequire(path.resolve(__dirname, "../node/package.json"));
const WebSocket = fromNodeModules("ws");
const io = require("../../realtime/static/realtime.js");

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run through the pytest wrapper)`);
  return value;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Resolves with the event's arguments (an array), or rejects after `ms`.
function once(emitter, event, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${event}"`)), ms);
    timer.unref();
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

async function until(predicate, what, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

// Sockets made by a test; cleanup() (an afterEach hook) disconnects them and
// closes the proxies.
let opened = [];
let proxies = [];
async function cleanup() {
  for (const socket of opened) socket.disconnect();
  for (const proxy of proxies) await proxy.close();
  opened = [];
  proxies = [];
}

// A realtime.js socket on its own Manager, with quick reconnection.
function connect(url, opts = {}) {
  const socket = io(url, {
    WebSocket,
    forceNew: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    ...opts,
  });
  opened.push(socket);
  return socket;
}

// What the client is on: "websocket", "sse", "streaming", "polling" or
// "short polling".
function rung(socket) {
  const t = socket.io.engine && socket.io.engine.transport;
  if (!t) return "";
  return t.name === "polling" && t.short ? "short polling" : t.name;
}

// Records the rungs a socket went through and its upgrade errors.
function watch(socket) {
  const seen = { rungs: [], upgradeErrors: [], disconnects: [] };
  const follow = () => {
    const engine = socket.io.engine;
    seen.rungs.push(rung(socket));
    engine.on("upgrade", () => seen.rungs.push(rung(socket)));
    engine.on("upgradeError", (err) => seen.upgradeErrors.push(err.message));
  };
  socket.io.on("open", follow);
  socket.on("disconnect", (reason) => seen.disconnects.push(reason));
  return seen;
}

const ask = (socket, ...args) => socket.timeout(10000).emitWithAck(...args);

// Events, acks and binary data both ways, with text that tests the framing
// of every rung: line breaks (SSE's "json" events), the record separator
// (escaped by JSON), non-ASCII.
async function checkTraffic(socket) {
  const text = "line one\nline two\r\nthree\x1e€ 🎉";
  const got = once(socket, "message-back");
  socket.emit("message", text, 42);
  assert.deepEqual(await got, [text, 42]);
  const acked = await new Promise((resolve, reject) => {
    socket.timeout(10000).emit("message-with-ack", { text }, [1, null], (err, ...answer) =>
      (err ? reject(err) : resolve(answer)));
  });
  assert.deepEqual(acked, [{ text }, [1, null]]);
  const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
  const answer = await ask(socket, "binary_back", { bin: bytes, nested: [bytes.subarray(1, 3)] });
  assert.deepEqual([...answer.got.bin], [...bytes]);
  assert.deepEqual([...answer.got.nested[0]], [1, 2]);
  assert.deepEqual([...answer.extra], [0, 255]);
}

// The server's disconnect reason for a Socket.IO sid (sio_echo's /_test/state).
async function serverReason(base, sid) {
  let reason = null;
  await until(async () => {
    const res = await fetch(`${base}/_test/state?sid=${encodeURIComponent(sid)}`);
    reason = (await res.json()).reason;
    return reason !== null;
  }, `the server's disconnect reason for ${sid}`);
  return reason;
}

// An HTTP proxy on 127.0.0.1 in front of `target`, which can misbehave:
//   refuseUpgrade   answer every WebSocket handshake 400 (a proxy that does
//                   not forward Upgrade)
//   silentUpgrade   forward the handshake, then drop whatever the client
//                   sends, and keep the server's side open after the client
//                   left (a middlebox that blackholes a WebSocket)
//   refuse          transports whose requests get 502 (["sse"], say)
//   holdStreams     forward the headers of sse and streaming responses but
//                   none of their body (a proxy that buffers them)
//   delayProbes     hold WebSocket handshakes and sse and streaming GETs that
//                   many ms before passing them on (so that an upgrade lands
//                   in the middle of traffic)
//   cutAfter        cut, with a network error, any request still held after
//                   that many ms (a network that kills held requests)
//   stallPosts      pass on polling POSTs but their last byte, which follows
//                   that many ms later (a slow uplink: the server is still
//                   reading the POST)
// `log` has {method, transport, sid, wait} for every HTTP request.
async function startProxy(target, options = {}) {
  const { refuseUpgrade = false, silentUpgrade = false, refuse = [], holdStreams = false,
    delayProbes = 0, cutAfter = 0, stallPosts = 0 } = options;
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const sockets = new Set();
  const log = [];
  const server = http.createServer((req, res) => {
    const query = new URL(req.url, "http://x").searchParams;
    const transport = query.get("transport");
    log.push({ method: req.method, transport, sid: query.get("sid"), wait: query.get("wait") });
    if (refuse.includes(transport)) {
      res.writeHead(502, { "Content-Type": "text/plain" });
      res.end("refused by the proxy");
      return;
    }
    const streamGet = (transport === "sse" || transport === "streaming") && req.method === "GET";
    const up = http.request({
      host: upstream.hostname, port: upstream.port, method: req.method, path: req.url,
      headers: req.headers, agent,
    }, (upRes) => {
      res.writeHead(upRes.statusCode, upRes.headers);
      if (holdStreams && streamGet) {
        res.flushHeaders();
        upRes.on("data", () => {});
      } else {
        upRes.pipe(res);
      }
    });
    up.on("error", () => res.destroy());
    res.on("close", () => { if (!res.writableFinished) up.destroy(); });
    if (delayProbes && streamGet) {
      setTimeout(() => req.pipe(up), delayProbes);
    } else if (stallPosts && transport === "polling" && req.method === "POST") {
      const chunks = [];
      req.on("data", (chunk) => chunks.push(chunk));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        up.write(body.subarray(0, body.length - 1));
        setTimeout(() => up.end(body.subarray(body.length - 1)), stallPosts);
      });
    } else {
      req.pipe(up);
    }
    if (cutAfter) {
      const timer = setTimeout(() => {
        req.socket.destroy();
        up.destroy();
      }, cutAfter);
      res.on("close", () => clearTimeout(timer));
    }
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("upgrade", (req, socket, head) => {
    log.push({ method: "UPGRADE", transport: "websocket" });
    if (refuseUpgrade) {
      socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    const out = new net.Socket();
    const forward = () => socket.destroyed || out.connect(Number(upstream.port), upstream.hostname, () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      out.write(raw + "\r\n");
      if (!silentUpgrade) {
        out.write(head);
        socket.pipe(out);
      } else {
        socket.on("data", () => {});
      }
      out.pipe(socket);
    });
    if (delayProbes) setTimeout(forward, delayProbes);
    else forward();
    sockets.add(out).add(socket);
    const drop = () => { out.destroy(); socket.destroy(); };
    out.on("error", drop).on("close", drop);
    if (silentUpgrade) socket.on("error", () => {});
    else socket.on("error", drop).on("close", drop);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxy = {
    url: `http://127.0.0.1:${server.address().port}`,
    log,
    close() {
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  proxies.push(proxy);
  return proxy;
}

module.exports = {
  assert, env, fromNodeModules, io, WebSocket, sleep, once, until, cleanup, connect, rung, watch,
  ask, checkTraffic, serverReason, startProxy,
};
