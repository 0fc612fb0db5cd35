// Shared by the *.test.js files: a stock socket.io server on 127.0.0.1 with a
// log of the HTTP requests it gets, and clients of realtime.js pointed at it.
"use strict";
const http = require("node:http");
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

module.exports = { io, WebSocket, startServer, connect, once, until, sleep, nextConnection, bytes };
