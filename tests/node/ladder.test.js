// The transport ladder against a stock socket.io server: the client asks for
// it (ext=ladder on the handshake, nothing else), the server does not offer
// it, and the session goes on exactly as socket.io-client's would. Also the
// options of the ladder refused when they cannot work. (The ladder itself,
// against realtime's server, is tests/client/ladder.test.js.)
"use strict";
const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const h = require("./helpers");

function echoServer() {
  return h.startServer().then((server) => {
    server.io.on("connection", (s) => s.on("echo", (...args) => args.pop()(...args)));
    return server;
  });
}

describe("the ladder against a stock server", () => {
  let server;
  const clients = [];
  const client = (opts) => {
    const c = h.connect(server.url, opts);
    clients.push(c);
    return c;
  };
  before(async () => { server = await echoServer(); });
  after(() => server.close());
  afterEach(() => { for (const c of clients.splice(0)) c.disconnect(); });

  it("adds ext=ladder to the handshake only, and upgrades to WebSocket as usual", async () => {
    const before = server.log.length;
    const c = client();
    await h.once(c, "connect");
    if (c.io.engine.transport.name !== "websocket") await h.once(c.io.engine, "upgrade");
    assert.equal(c.io.engine.transport.name, "websocket");
    assert.equal(await c.emitWithAck("echo", "hi"), "hi");
    const sid = c.io.engine.id;
    const mine = server.log.slice(before).filter((r) => !r.query.sid || r.query.sid === sid);
    const handshake = mine.filter((r) => !r.query.sid);
    assert.equal(handshake.length, 1);
    assert.equal(handshake[0].query.ext, "ladder");
    assert.ok(mine.filter((r) => r.query.sid).every((r) => r.query.ext === undefined), "ext only on the handshake");
    assert.deepEqual([...new Set(mine.map((r) => r.query.transport))].sort(), ["polling", "websocket"]);
  });

  it("keeps a query parameter named ext, adding ladder to it", async () => {
    const before = server.log.length;
    const c = client({ transports: ["polling", "sse"], query: { ext: "mine" } });
    await h.once(c, "connect");
    const handshake = server.log.slice(before).find((r) => !r.query.sid && r.method === "GET");
    assert.equal(handshake.query.ext, "mine,ladder");
  });

  it("sends no ext at all when the transports option names no rung below WebSocket", async () => {
    const before = server.log.length;
    const c = client({ transports: ["polling", "websocket"] });
    await h.once(c, "connect");
    await h.once(c.io.engine, "upgrade");
    const sid = c.io.engine.id;
    const mine = server.log.slice(before).filter((r) => !r.query.sid || r.query.sid === sid);
    assert.ok(mine.length >= 3);
    assert.ok(mine.every((r) => r.query.ext === undefined));
  });

  it("never tries sse or streaming when the server does not offer them", async () => {
    // WebSocket is offered but every handshake dies: socket.io-client would
    // stay on polling, and so does this client.
    const listeners = server.httpServer.listeners("upgrade");
    server.httpServer.removeAllListeners("upgrade");
    server.httpServer.on("upgrade", (req, socket) => socket.destroy());
    try {
      const before = server.log.length;
      const c = client();
      const upgradeError = h.once(c.io.engine, "upgradeError");
      await h.once(c, "connect");
      await upgradeError;
      await h.sleep(200);
      assert.equal(c.io.engine.transport.name, "polling");
      assert.equal(await c.emitWithAck("echo", "still polling"), "still polling");
      const names = new Set(server.log.slice(before).map((r) => r.query.transport));
      assert.ok(!names.has("sse") && !names.has("streaming"), [...names].join(", "));
    } finally {
      server.httpServer.removeAllListeners("upgrade");
      for (const l of listeners) server.httpServer.on("upgrade", l);
    }
  });
});

describe("ladder options that cannot work", () => {
  const refused = (opts, pattern) => assert.throws(
    () => h.io("http://127.0.0.1:1", { forceNew: true, autoConnect: false, ...opts }),
    (err) => err instanceof TypeError && pattern.test(err.message),
  );

  it("refuse an unknown transport, naming the known ones", () => {
    refused({ transports: ["polling", "carrier-pigeon"] },
      /unknown transport "carrier-pigeon"; known: polling, websocket, sse, streaming/);
  });

  it("refuse a session opening on a rung it can only move to", () => {
    refused({ transports: ["sse", "polling"] }, /cannot open on "sse".*list "polling" first/);
    refused({ transports: ["streaming"] }, /cannot open on "streaming"/);
  });

  it("refuse an empty ladder and timings that are not positive", () => {
    refused({ transports: [] }, /non-empty array/);
    refused({ transports: "polling" }, /non-empty array/);
    refused({ probeTimeout: 0 }, /probeTimeout/);
    refused({ shortPollingInterval: "soon" }, /shortPollingInterval/);
  });
});
