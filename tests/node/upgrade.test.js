// The polling -> WebSocket upgrade under load: hundreds of numbered messages
// both ways while the transport switches; none may be lost, doubled or
// reordered (engine.io-protocol v4, "Upgrade").
"use strict";
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const h = require("./helpers");

const COUNT = 400;

// Holds every WebSocket handshake for `ms`, so the upgrade lands in the
// middle of the traffic instead of before it.
function delayUpgrades(server, ms) {
  const listeners = server.httpServer.listeners("upgrade");
  server.httpServer.removeAllListeners("upgrade");
  server.httpServer.on("upgrade", (...args) => {
    setTimeout(() => { for (const l of listeners) l.apply(server.httpServer, args); }, ms);
  });
}

// Numbered payloads; every tenth carries binary, to interleave attachments.
const payload = (i) => (i % 10 === 0
  ? { i, bin: Buffer.from([i & 0xff, 1, 2]) }
  : { i, pad: "x".repeat(i % 50) });

function checkSequence(received, side) {
  const numbers = received.map((p) => p.i);
  assert.deepEqual(numbers, [...Array(COUNT).keys()], `${side}: every message once, in order`);
  for (const p of received) {
    if (p.i % 10 === 0) assert.deepEqual(h.bytes(p.bin), [p.i & 0xff, 1, 2], `${side}: attachment of ${p.i}`);
  }
}

describe("upgrade under load", () => {
  for (const delay of [0, 60]) {
    it(`loses, doubles and reorders nothing both ways (WebSocket handshake held ${delay} ms)`, async () => {
      const server = await h.startServer();
      if (delay) delayUpgrades(server, delay);
      const fromClient = [];
      let serverSwitchedAt = -1;
      let serverConn;
      server.io.on("connection", (s) => {
        serverConn = s.conn;
        s.conn.on("upgrade", () => { serverSwitchedAt = fromClient.length; });
        s.on("n", (p) => fromClient.push(p));
        s.on("done", (ack) => ack(fromClient.length));
        let i = 0;
        const pump = () => {
          s.emit("m", payload(i++));
          if (i < COUNT) setTimeout(pump, i % 3 ? 0 : 1);
        };
        pump();
      });
      const c = h.connect(server.url);
      try {
        const fromServer = [];
        let clientSwitchedAt = -1;
        c.io.engine.on("upgrade", () => { clientSwitchedAt = fromServer.length; });
        c.on("m", (p) => fromServer.push(p));
        await h.once(c, "connect");
        let i = 0;
        await new Promise((resolve) => {
          const pump = () => {
            c.emit("n", payload(i++));
            c.emit("n", payload(i++)); // two per tick: batches on polling
            if (i < COUNT) setTimeout(pump, 1);
            else resolve();
          };
          pump();
        });
        await h.until(() => fromServer.length >= COUNT, 10000, "the server's messages");
        assert.equal(await c.timeout(5000).emitWithAck("done"), COUNT);
        checkSequence(fromClient, "server received");
        checkSequence(fromServer, "client received");
        assert.equal(c.io.engine.transport.name, "websocket");
        assert.equal(serverConn.transport.name, "websocket");
        if (delay) {
          // The switch happened with traffic on both sides of it.
          const mid = (n) => n > 0 && n < COUNT;
          assert.ok(mid(clientSwitchedAt), `client switched after ${clientSwitchedAt} messages`);
          assert.ok(mid(serverSwitchedAt), `server switched after ${serverSwitchedAt} messages`);
        }
        const concurrent = server.log.filter((r) => r.concurrent > 1);
        assert.deepEqual(concurrent, [], "at most one GET and one POST in flight");
        await h.sleep(50);
        assert.equal(fromServer.length, COUNT, "nothing doubled late");
      } finally {
        c.disconnect();
        await server.close();
      }
    });
  }
});
