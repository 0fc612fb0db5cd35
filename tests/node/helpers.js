// Shared by the *.test.js files: a stock socket.io server on 127.0.0.1 with a
// log of the HTTP requests it gets, and clients of realtime.js pointed at it.
"use strict";
const http = require("node:http");
const net = require("node:net");
const { Server } = require("socket.io");
const WebSocket = require("ws");
const io = require("../../realtime/static/realtime.js");

// Starts a socket.io server. `port` 0 picks a free one. The log records every
// HTTP request and WebSocket upgrade, each request with how many of its method
// were in flight for its sid when it came in (the client must never have two
// GETs or two POSTs of one session at once).
async function startServer(opts = {}, port = 0) {
  const httpServer = http.createServer();
  const server = new Server(httpServer, opts);
  const log = [];
  const inFlight = new Map(); // "sid method" -> requests in flight
  httpServer.prependListener("request", (req, res) => {
    const url = new URL(req.url, "http://x");
    const key = `${url.searchParams.get("sid")} ${req.method}`;
    inFlight.set(key, (inFlight.get(key) || 0) + 1);
    const entry = {
      method: req.method,
      query: Object.fromEntries(url.searchParams),
      concurrent: inFlight.get(key),
      length: Number(req.headers["content-length"] || 0),
      body: "",
    };
    log.push(entry);
    if (req.method === "POST") req.on("data", (chunk) => { entry.body += chunk; });
    res.on("close", () => inFlight.set(key, inFlight.get(key) - 1));
  });
  httpServer.prependListener("upgrade", (req) => {
    log.push({ method: "UPGRADE", query: Object.fromEntries(new URL(req.url, "http://x").searchParams) });
  });
  await new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, "127.0.0.1", resolve);
  });
  const actualPort = httpServer.address().port;
  return {
    io: server,
    httpServer,
    log,
    port: actualPort,
    url: `http://127.0.0.1:${actualPort}`,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        httpServer.closeAllConnections();
      });
    },
  };
}

// A client on its own Manager, with quick reconnection and `ws` as the
// WebSocket (Node 20 has no global one without a flag).
function connect(url, opts = {}) {
  return io(url, {
    WebSocket,
    forceNew: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    ...opts,
  });
}

// Resolves with the event's arguments (an array), or rejects after `ms`.
function once(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${event}"`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

// Polls `predicate` until true, or rejects after `ms`.
async function until(predicate, ms = 5000, what = "condition") {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The next server-side socket to connect on namespace `nsp`.
const nextConnection = (server, nsp = "/") => once(server.io.of(nsp), "connection").then(([s]) => s);

// The bytes of an ArrayBuffer, a typed array, a DataView or a Buffer.
const bytes = (b) => Array.from(ArrayBuffer.isView(b)
  ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b));

// A TCP proxy on 127.0.0.1 in front of `target` (a URL) that can play a dead
// network: freeze() makes the connections in place carry nothing more,
// without closing them, so neither end notices; and until thaw(), new
// connections are accepted and carry nothing either. (Node's fetch sends the
// next requests on idle keep-alive connections, so a freeze that let new
// connections through would leave a request's fate to the pool.)
async function startProxy(target) {
  const { hostname, port } = new URL(target);
  const sockets = new Set();
  let live = new Set();
  let dead = false;
  const server = net.createServer((downstream) => {
    sockets.add(downstream);
    downstream.on("error", () => {});
    if (dead) return downstream.pause();
    const upstream = net.connect(Number(port), hostname);
    const pair = [downstream, upstream];
    sockets.add(upstream);
    live.add(pair);
    upstream.on("error", () => {});
    for (const s of pair) {
      s.on("close", () => {
        live.delete(pair);
        for (const other of pair) other.destroy();
      });
    }
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    freeze() {
      dead = true;
      for (const pair of live) {
        for (const s of pair) {
          s.unpipe();
          s.pause();
          s.removeAllListeners("data");
          s.removeAllListeners("close");
        }
      }
      live = new Set();
    },
    // New connections go through again; the frozen ones stay dead.
    thaw() {
      dead = false;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

module.exports = {
  io, WebSocket, startServer, connect, once, until, sleep, nextConnection, bytes, startProxy,
};
