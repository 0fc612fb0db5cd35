// Requests on a dead connection: Node's fetch sends the next requests on idle
// keep-alive connections, which a silent network change leaves dead (nothing
// closes them). A request the server answers at once is bounded by
// requestTimeout, so the client gives such a connection up and reconnects;
// long polls are not (the heartbeat bounds them).
"use strict";
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const h = require("./helpers");

// A heartbeat long enough not to end anything a test waits for.
const SLOW_HEARTBEAT = { pingInterval: 20000, pingTimeout: 10000 };

async function frozenSetup(clientOpts) {
  const server = await h.startServer(SLOW_HEARTBEAT);
  const proxy = await h.startProxy(server.url);
  const c = h.connect(proxy.url, { transports: ["polling"], ...clientOpts });
  await h.once(c, "connect");
  const close = async () => {
    c.disconnect();
    await proxy.close();
    await server.close();
  };
  return { server, proxy, c, close };
}

describe("requestTimeout", () => {
  it("a POST stuck on a dead connection fails as a transport error; the client reconnects", async () => {
    const { server, proxy, c, close } = await frozenSetup({ requestTimeout: 400 });
    try {
      const closed = h.once(c.io, "close", 5000);
      proxy.freeze();
      const started = Date.now();
      c.emit("lost", 1);
      const [reason, err] = await closed;
      assert.equal(reason, "transport error");
      assert.equal(err.message, "xhr poll error");
      assert.equal(err.description.message, "request timeout");
      assert.ok(Date.now() - started >= 350, `gave up after ${Date.now() - started} ms`);
      // New connections work again, the frozen ones stay in the pool: the
      // handshake may go on one, and is bounded too.
      proxy.thaw();
      const next = h.nextConnection(server);
      await h.once(c, "connect", 5000);
      const s = await next;
      const got = h.once(s, "alive");
      c.emit("alive", 2);
      assert.deepEqual(await got, [2]);
    } finally {
      await close();
    }
  });

  it("engine.close() does not wait for a POST stuck on a dead connection", async () => {
    const { proxy, c, close } = await frozenSetup({ requestTimeout: 400, reconnection: false });
    try {
      const engine = c.io.engine;
      proxy.freeze();
      c.emit("stuck", 1);
      await h.sleep(50);
      assert.equal(engine.transport.writable, false); // the POST is in flight
      const closed = h.once(engine, "close", 3000);
      engine.close();
      const [reason] = await closed;
      assert.equal(reason, "transport error");
      assert.equal(engine.readyState, "closed");
    } finally {
      await close();
    }
  });

  it("leaves long polls alone: a healthy session outlives many requestTimeouts", async () => {
    const server = await h.startServer({ pingInterval: 600, pingTimeout: 400 });
    const c = h.connect(server.url, { transports: ["polling"], requestTimeout: 100 });
    try {
      await h.once(c, "connect");
      const closes = [];
      c.io.on("close", (reason) => closes.push(reason));
      const [s] = [...server.io.of("/").sockets.values()];
      const got = [];
      s.on("n", (n) => got.push(n));
      for (let n = 0; n < 5; n++) {
        c.emit("n", n);
        await h.sleep(300);
      }
      await h.until(() => got.length === 5);
      assert.deepEqual(got, [0, 1, 2, 3, 4]);
      assert.deepEqual(closes, []);
      assert.ok(c.connected);
      // Held GETs lasted about pingInterval, six times the bound.
      const held = server.log.filter((e) => e.method === "GET" && e.query.sid);
      assert.ok(held.length >= 2, `${held.length} polls`);
    } finally {
      c.disconnect();
      await server.close();
    }
  });

  it("defaults to the server's heartbeat once known, and can be turned off", async () => {
    const server = await h.startServer({ pingInterval: 3000, pingTimeout: 2000 });
    const clients = [h.connect(server.url), h.connect(server.url, { requestTimeout: false })];
    try {
      const [dflt, off] = clients;
      assert.equal(dflt.io.engine.requestTimeout, 0); // the handshake: `timeout` bounds it
      await Promise.all(clients.map((c) => h.once(c, "connect")));
      assert.equal(dflt.io.engine.requestTimeout, 5000);
      assert.equal(off.io.engine.requestTimeout, 0);
    } finally {
      for (const c of clients) c.disconnect();
      await server.close();
    }
  });

  it("refuses a bound that is not a positive number or false", () => {
    for (const requestTimeout of [0, -1, "5000", true, null]) {
      assert.throws(() => h.io("http://127.0.0.1:1", { requestTimeout, autoConnect: false, forceNew: true }),
        /requestTimeout option/, String(requestTimeout));
    }
  });
});
