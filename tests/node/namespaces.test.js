// Namespaces over one connection, auth, refusals and disconnections.
"use strict";
const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const h = require("./helpers");

describe("namespaces and the Manager", () => {
  let server;
  const sockets = [];
  const track = (s) => { sockets.push(s); return s; };
  before(async () => {
    server = await h.startServer();
    for (const nsp of ["/", "/a", "/b"]) {
      server.io.of(nsp).on("connection", (s) => {
        s.on("where", (ack) => ack(nsp, s.conn.id));
      });
    }
  });
  after(() => server.close());
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    await h.until(() => server.io.engine.clientsCount === 0, 3000, "all sessions closed");
  });

  it("shares one Engine.IO session between io('/a') and io('/b')", async () => {
    // Multiplexing is the default: no forceNew here.
    const a = track(h.io(`${server.url}/a`, { WebSocket: h.WebSocket }));
    const b = track(h.io(`${server.url}/b`, { WebSocket: h.WebSocket }));
    assert.equal(a.io, b.io, "one Manager");
    const serverA = h.nextConnection(server, "/a");
    const serverB = h.nextConnection(server, "/b");
    await Promise.all([h.once(a, "connect"), h.once(b, "connect")]);
    const [sa, sb] = await Promise.all([serverA, serverB]);
    assert.equal(sa.conn.id, sb.conn.id, "one Engine.IO session on the server");
    assert.equal(server.io.engine.clientsCount, 1);
    assert.notEqual(a.id, b.id);
    assert.deepEqual(await a.emitWithAck("where"), "/a");
    assert.deepEqual(await b.emitWithAck("where"), "/b");
    const onlyA = h.once(a, "for-a");
    let leaked = false;
    b.on("for-a", () => { leaked = true; });
    sa.emit("for-a", 1);
    assert.deepEqual(await onlyA, [1]);
    await b.emitWithAck("where"); // a round trip after the emit on /a
    assert.equal(leaked, false);
  });

  it("keeps the connection while another namespace is still on it", async () => {
    // io() would now open new Managers, the cached one having /a and /b
    // already (socket.io-client does the same): build one explicitly.
    const manager = new h.io.Manager(server.url, { WebSocket: h.WebSocket, transports: ["websocket"] });
    const a = track(manager.socket("/a"));
    const b = track(manager.socket("/b"));
    await Promise.all([h.once(a, "connect"), h.once(b, "connect")]);
    const engine = a.io.engine;
    const [reason] = await Promise.all([
      h.once(a, "disconnect").then(([r]) => r),
      Promise.resolve().then(() => a.disconnect()),
    ]);
    assert.equal(reason, "io client disconnect");
    assert.equal(a.active, false);
    assert.equal(b.connected, true);
    assert.equal(engine.readyState, "open");
    assert.equal(await b.emitWithAck("where"), "/b");
    b.disconnect();
    await h.until(() => engine.readyState === "closed", 2000, "the engine to close with the last socket");
  });

  it("opens a new connection with forceNew, or for a namespace already in use", async () => {
    const a1 = track(h.io(`${server.url}/a`, { WebSocket: h.WebSocket }));
    const a2 = track(h.io(`${server.url}/a`, { WebSocket: h.WebSocket }));
    const b = track(h.io(`${server.url}/b`, { WebSocket: h.WebSocket, forceNew: true }));
    assert.notEqual(a1.io, a2.io);
    assert.notEqual(a1.io, b.io);
    await Promise.all([a1, a2, b].map((s) => h.once(s, "connect")));
    assert.equal(server.io.engine.clientsCount, 3);
  });
});

describe("auth", () => {
  let server;
  const seen = [];
  before(async () => {
    server = await h.startServer();
    server.io.use((s, next) => {
      seen.push(s.handshake.auth);
      next();
    });
    server.io.on("connection", (s) => s.on("auth", (ack) => ack(s.handshake.auth)));
  });
  after(() => server.close());

  it("sends an auth object with CONNECT", async () => {
    const c = h.connect(server.url, { auth: { token: "t1", n: 2 } });
    await h.once(c, "connect");
    assert.deepEqual(await c.emitWithAck("auth"), { token: "t1", n: 2 });
    c.disconnect();
  });

  it("calls an auth function on every connection", async () => {
    let calls = 0;
    // WebSocket only: a stock server asked to close a polling session that
    // is mid-upgrade leaves a 30 s timer behind, which would hold the test.
    const c = h.connect(server.url, {
      transports: ["websocket"],
      auth: (cb) => { calls++; setTimeout(() => cb({ token: `call-${calls}` }), 5); },
    });
    await h.once(c, "connect");
    assert.deepEqual(await c.emitWithAck("auth"), { token: "call-1" });
    const [s] = await server.io.fetchSockets();
    s.conn.close(); // drop the connection: the client reconnects and asks again
    await h.once(c, "disconnect");
    await h.once(c, "connect");
    assert.equal(calls, 2);
    assert.deepEqual(await c.emitWithAck("auth"), { token: "call-2" });
    c.disconnect();
  });
});

describe("refusal and disconnection", () => {
  it("reports a middleware refusal as connect_error with message and data", async () => {
    const server = await h.startServer();
    let attempts = 0;
    server.io.use((s, next) => {
      attempts++;
      const err = new Error("nope");
      err.data = { code: 42, why: ["x"] };
      next(err);
    });
    try {
      const c = h.connect(server.url);
      const [err] = await h.once(c, "connect_error");
      assert.ok(err instanceof Error);
      assert.equal(err.message, "nope");
      assert.deepEqual(err.data, { code: 42, why: ["x"] });
      assert.equal(c.connected, false);
      assert.equal(c.active, false, "a refusal is final until connect() is called");
      await h.sleep(300);
      assert.equal(attempts, 1, "no automatic retry");
      c.connect(); // a manual retry reaches the server again
      await h.once(c, "connect_error");
      assert.equal(attempts, 2);
      c.disconnect();
    } finally {
      await server.close();
    }
  });

  it("refuses one namespace without disturbing another on the same connection", async () => {
    const server = await h.startServer();
    server.io.of("/private").use((s, next) => next(new Error("private")));
    server.io.on("connection", (s) => s.on("ping?", (ack) => ack("pong")));
    try {
      const manager = new h.io.Manager(server.url, { WebSocket: h.WebSocket });
      const main = manager.socket("/");
      const priv = manager.socket("/private");
      const [[err]] = await Promise.all([h.once(priv, "connect_error"), h.once(main, "connect")]);
      assert.equal(err.message, "private");
      assert.equal(await main.emitWithAck("ping?"), "pong");
      assert.equal(main.connected, true);
      main.disconnect();
    } finally {
      await server.close();
    }
  });

  it('reports "io server disconnect" and does not reconnect', async () => {
    const server = await h.startServer();
    let connections = 0;
    server.io.on("connection", (s) => {
      connections++;
      s.on("kick me", () => s.disconnect());
    });
    try {
      const c = h.connect(server.url);
      await h.once(c, "connect");
      c.emit("kick me");
      const [reason] = await h.once(c, "disconnect");
      assert.equal(reason, "io server disconnect");
      assert.equal(c.active, false);
      assert.equal(c.connected, false);
      assert.equal(c.id, undefined);
      await h.sleep(300);
      assert.equal(connections, 1);
      assert.equal(c.connected, false);
    } finally {
      await server.close();
    }
  });

  it('tells the server when the client disconnects ("client namespace disconnect")', async () => {
    const server = await h.startServer();
    try {
      const serverSide = h.nextConnection(server);
      const c = h.connect(server.url, { transports: ["polling"] });
      await h.once(c, "connect");
      const s = await serverSide;
      const reason = h.once(s, "disconnect");
      c.disconnect();
      assert.equal((await reason)[0], "client namespace disconnect");
      await h.until(() => server.io.engine.clientsCount === 0, 2000, "the session to close");
    } finally {
      await server.close();
    }
  });

  it("rejects pending emitWithAck on disconnection", async () => {
    const server = await h.startServer();
    server.io.on("connection", (s) => s.on("slow", () => setTimeout(() => s.conn.close(), 20)));
    try {
      const c = h.connect(server.url, { reconnection: false });
      await h.once(c, "connect");
      await assert.rejects(c.emitWithAck("slow"), /socket has been disconnected/);
      assert.equal(c.connected, false);
    } finally {
      await server.close();
    }
  });
});
