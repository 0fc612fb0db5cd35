// Reconnection: after the server drops the connection, after it restarts,
// giving up, backoff with jitter, and the emit buffer across it all.
"use strict";
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const http = require("node:http");
const h = require("./helpers");

// Records, per server-side connection, every event and acks "sync".
function recordEvents(server) {
  const connections = [];
  server.io.on("connection", (s) => {
    const events = [];
    connections.push({ socket: s, events });
    s.onAny((ev, ...args) => {
      if (typeof args[args.length - 1] === "function") args.pop()("synced");
      events.push([ev, ...args]);
    });
  });
  return connections;
}

// Emits, from inside the "disconnect" listener (so before any reconnection
// can start): two buffered events around a volatile one.
function emitWhileDisconnected(c) {
  c.once("disconnect", () => {
    assert.equal(c.connected, false);
    c.emit("buffered", 1);
    c.volatile.emit("volatile", 2);
    c.emit("buffered", 3, { bin: new Uint8Array([7]) });
  });
}

describe("reconnection", () => {
  it("buffers emits made before the first connection, and drops volatile ones", async () => {
    const server = await h.startServer();
    const connections = recordEvents(server);
    const c = h.connect(server.url);
    try {
      assert.equal(c.connected, false);
      c.emit("early", 1);
      c.volatile.emit("volatile", 2);
      c.emit("early", 3);
      await h.once(c, "connect");
      assert.equal(await c.emitWithAck("sync"), "synced");
      const events = connections[0].events.map((e) => e.slice(0, 2));
      assert.deepEqual(events, [["early", 1], ["early", 3], ["sync"]]);
    } finally {
      c.disconnect();
      await server.close();
    }
  });

  for (const transports of [["polling"], ["websocket"]]) {
    it(`comes back after the server drops the connection (${transports[0]})`, async () => {
      const server = await h.startServer();
      const connections = recordEvents(server);
      const c = h.connect(server.url, { transports });
      try {
        await h.once(c, "connect");
        const firstId = c.id;
        let reconnects = 0;
        c.io.on("reconnect", () => reconnects++);
        emitWhileDisconnected(c);
        const disconnected = h.once(c, "disconnect");
        connections[0].socket.conn.close();
        const [reason] = await disconnected;
        assert.equal(reason, "transport close");
        assert.equal(c.active, true, "a dropped connection is retried");
        await h.once(c, "connect");
        assert.notEqual(c.id, firstId);
        assert.equal(await c.emitWithAck("sync"), "synced");
        assert.equal(connections.length, 2);
        assert.equal(reconnects, 1);
        const events = connections[1].events;
        assert.deepEqual(events.map((e) => e[0]), ["buffered", "buffered", "sync"]);
        assert.equal(events[0][1], 1);
        assert.equal(events[1][1], 3);
        assert.deepEqual(h.bytes(events[1][2].bin), [7]);
      } finally {
        c.disconnect();
        await server.close();
      }
    });
  }

  for (const transports of [["polling"], ["websocket"]]) {
    it(`comes back after the server restarts (${transports[0]})`, async () => {
      let server = await h.startServer();
      const port = server.port;
      recordEvents(server);
      const c = h.connect(server.url, { transports });
      try {
        await h.once(c, "connect");
        let attempts = 0, reconnectErrors = 0, connectErrors = 0;
        c.io.on("reconnect_attempt", () => attempts++);
        c.io.on("reconnect_error", () => reconnectErrors++);
        c.on("connect_error", () => connectErrors++);
        const reconnected = h.once(c.io, "reconnect", 10000);
        emitWhileDisconnected(c);
        const disconnected = h.once(c, "disconnect");
        await server.close();
        const [reason] = await disconnected;
        assert.ok(["transport close", "transport error"].includes(reason), reason);
        await h.sleep(400); // several attempts fail while the server is down
        assert.ok(reconnectErrors >= 1, "attempts failed while the server was down");
        assert.equal(connectErrors, reconnectErrors, "each failed attempt is a connect_error");
        server = await h.startServer({}, port);
        const connections = recordEvents(server);
        await h.once(c, "connect", 5000);
        const [attempt] = await reconnected;
        assert.ok(attempt >= 2, `reconnected after ${attempt} attempts`);
        assert.ok(attempts >= 2);
        assert.equal(await c.emitWithAck("sync"), "synced");
        assert.deepEqual(connections[0].events.map((e) => e[0]), ["buffered", "buffered", "sync"]);
      } finally {
        c.disconnect();
        await server.close();
      }
    });
  }

  it("gives up after reconnectionAttempts", async () => {
    const probe = await h.startServer();
    const deadUrl = probe.url;
    await probe.close(); // nothing listens on this port now
    const c = h.connect(deadUrl, {
      reconnectionAttempts: 2, reconnectionDelay: 20, reconnectionDelayMax: 40,
    });
    try {
      const errors = [];
      let attempts = 0;
      c.on("connect_error", (err) => errors.push(err.message));
      c.io.on("reconnect_attempt", () => attempts++);
      await h.once(c.io, "reconnect_failed", 5000);
      await h.sleep(200);
      assert.deepEqual(errors, ["xhr poll error", "xhr poll error", "xhr poll error"]);
      assert.equal(attempts, 2);
      assert.equal(c.connected, false);
    } finally {
      c.disconnect();
    }
  });

  it("does not reconnect with reconnection: false", async () => {
    const server = await h.startServer();
    const connections = recordEvents(server);
    const c = h.connect(server.url, { reconnection: false, transports: ["websocket"] });
    try {
      await h.once(c, "connect");
      const disconnected = h.once(c, "disconnect");
      connections[0].socket.conn.close();
      assert.equal((await disconnected)[0], "transport close");
      await h.sleep(300);
      assert.equal(connections.length, 1);
      assert.equal(c.connected, false);
    } finally {
      c.disconnect();
      await server.close();
    }
  });

  it("fails a connection attempt after `timeout` ms", async () => {
    const held = [];
    const silent = http.createServer((req, res) => held.push(res)); // never answers
    await new Promise((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const c = h.connect(`http://127.0.0.1:${silent.address().port}`, { timeout: 150, reconnection: false });
    try {
      const started = Date.now();
      const [err] = await h.once(c, "connect_error", 3000);
      assert.equal(err.message, "timeout");
      assert.ok(Date.now() - started >= 140);
    } finally {
      c.disconnect();
      silent.closeAllConnections();
      silent.close();
    }
  });
});

describe("backoff", () => {
  const manager = (opts) => new h.io.Manager("http://127.0.0.1:9", { autoConnect: false, ...opts });
  const delays = (m, n) => Array.from({ length: n }, () => Math.round(m._delay()));

  it("doubles the delay up to reconnectionDelayMax", () => {
    const m = manager({ reconnectionDelay: 100, reconnectionDelayMax: 1000, randomizationFactor: 0 });
    assert.deepEqual(delays(m, 6), [100, 200, 400, 800, 1000, 1000]);
  });

  it("spreads each delay by +/- randomizationFactor, within the maximum", (t) => {
    const opts = { reconnectionDelay: 100, reconnectionDelayMax: 1000, randomizationFactor: 0.5 };
    const low = t.mock.method(Math, "random", () => 0);
    assert.deepEqual(delays(manager(opts), 6), [50, 100, 200, 400, 500, 500]);
    low.mock.restore();
    const high = t.mock.method(Math, "random", () => 0.999999);
    assert.deepEqual(delays(manager(opts), 5), [150, 300, 600, 1000, 1000]);
    high.mock.restore();
    const firsts = Array.from({ length: 50 }, () => manager(opts)._delay());
    assert.ok(firsts.every((d) => d >= 50 && d <= 150));
    assert.ok(new Set(firsts.map(Math.round)).size > 10, "jitter spreads the first attempt");
  });
});
