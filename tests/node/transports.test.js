// Engine.IO conformance: transports, upgrade, heartbeat, payload limits, and
// the bytes a default client puts on the wire for a stock server.
"use strict";
const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const http = require("node:http");
const { execFile } = require("node:child_process");
const h = require("./helpers");

function echoServer(opts) {
  return h.startServer(opts).then((server) => {
    server.io.on("connection", (s) => {
      s.on("echo", (...args) => args.pop()(...args));
    });
    return server;
  });
}

describe("transports against a stock server", () => {
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

  it("connects over long polling and stays there when told to", async () => {
    const serverSide = h.nextConnection(server);
    const c = client({ transports: ["polling"] });
    await h.once(c, "connect");
    const s = await serverSide;
    assert.equal(c.id, s.id);
    assert.equal(c.connected, true);
    assert.deepEqual(await c.emitWithAck("echo", "over polling"), "over polling");
    await h.sleep(150);
    assert.equal(c.io.engine.transport.name, "polling");
    assert.equal(s.conn.transport.name, "polling");
    assert.equal(server.log.filter((r) => r.method === "UPGRADE" && r.query.sid === s.conn.id).length, 0);
  });

  it("connects over WebSocket only, without a single polling request", async () => {
    const before = server.log.length;
    const serverSide = h.nextConnection(server);
    const c = client({ transports: ["websocket"] });
    await h.once(c, "connect");
    const s = await serverSide;
    assert.equal(s.conn.transport.name, "websocket");
    assert.equal(c.io.engine.transport.name, "websocket");
    assert.equal(await c.emitWithAck("echo", 42), 42);
    // Earlier clients may still be closing: count this session's requests
    // and handshakes (no sid) only.
    const mine = server.log.slice(before).filter((r) => !r.query.sid || r.query.sid === s.conn.id);
    assert.equal(mine.filter((r) => r.query.transport === "polling").length, 0);
    assert.equal(mine.filter((r) => r.method === "UPGRADE" && r.query.transport === "websocket").length, 1);
  });

  it("starts on polling and upgrades to WebSocket, on both ends", async () => {
    const before = server.log.length;
    const serverSide = h.nextConnection(server);
    const c = client();
    const [, s] = await Promise.all([h.once(c, "connect"), serverSide]);
    assert.equal(s.conn.transport.name, "polling", "the session starts on polling");
    const clientUpgrade = h.once(c.io.engine, "upgrade");
    const serverUpgrade = s.conn.transport.name === "websocket" ? null : h.once(s.conn, "upgrade");
    const [transport] = await clientUpgrade;
    if (serverUpgrade) await serverUpgrade;
    assert.equal(transport.name, "websocket", "the event passes the new transport");
    assert.equal(c.io.engine.transport.name, "websocket");
    assert.equal(s.conn.transport.name, "websocket");
    const mine = server.log.slice(before);
    assert.equal(mine[0].method, "GET");
    assert.equal(mine[0].query.transport, "polling");
    assert.equal(mine[0].query.sid, undefined, "the handshake has no sid");
    const upgrade = mine.find((r) => r.method === "UPGRADE");
    assert.equal(upgrade.query.sid, s.conn.id, "the probe joins the same session");
    assert.equal(await c.emitWithAck("echo", "after upgrade"), "after upgrade");
  });

  it("does not upgrade with upgrade: false", async () => {
    const serverSide = h.nextConnection(server);
    const c = client({ upgrade: false });
    await h.once(c, "connect");
    const s = await serverSide;
    await h.sleep(200);
    assert.equal(c.io.engine.transport.name, "polling");
    assert.equal(s.conn.transport.name, "polling");
    assert.equal(server.log.filter((r) => r.method === "UPGRADE" && r.query.sid === s.conn.id).length, 0);
  });

  it("sends extraHeaders with polling requests and the WebSocket handshake", async () => {
    for (const transports of [["polling"], ["websocket"]]) {
      const serverSide = h.nextConnection(server);
      const c = client({ transports, extraHeaders: { "x-token": `via-${transports[0]}` } });
      await h.once(c, "connect");
      const s = await serverSide;
      assert.equal(s.handshake.headers["x-token"], `via-${transports[0]}`);
      c.disconnect();
    }
  });

  it("sends only standard query parameters and standard packets", async () => {
    const before = server.log.length;
    const c = client({ transports: ["polling"], auth: { token: "abc" }, query: { room: "r1" } });
    await h.once(c, "connect");
    c.emit("echo", "hello", "world", () => {});
    await h.until(() => server.log.slice(before).some((r) => r.body.startsWith("42")), 3000, "the event");
    const sid = c.io.engine.id;
    const mine = server.log.slice(before)
      .filter((r) => r.method !== "UPGRADE" && (!r.query.sid || r.query.sid === sid));
    for (const r of mine) {
      const extra = Object.keys(r.query).filter((k) => !["EIO", "transport", "t", "sid", "room"].includes(k));
      assert.deepEqual(extra, [], "no query parameter beyond the standard ones");
      assert.equal(r.query.EIO, "4");
      assert.equal(r.query.transport, "polling");
      assert.equal(r.query.room, "r1");
    }
    const bodies = mine.filter((r) => r.method === "POST").map((r) => r.body);
    assert.equal(bodies[0], '40{"token":"abc"}');
    assert.ok(bodies.includes('420["echo","hello","world"]'), JSON.stringify(bodies));
  });
});

describe("the platform's WebSocket", () => {
  it("uses the global WebSocket when none is passed (node --experimental-websocket)", async () => {
    const server = await echoServer();
    const child = `
      const io = require(${JSON.stringify(require.resolve("../../realtime/static/realtime.js"))});
      const c = io(process.argv[1], { reconnection: false });
      c.io.engine.once("upgrade", async () => {
        const echoed = await c.emitWithAck("echo", { bin: new Uint8Array([1, 2, 3]) });
        console.log(JSON.stringify({ transport: c.io.engine.transport.name, bytes: [...echoed.bin] }));
        c.disconnect();
      });`;
    try {
      const stdout = await new Promise((resolve, reject) => {
        const args = ["--experimental-websocket", "--no-warnings", "-e", child, server.url];
        execFile(process.execPath, args, { timeout: 10000 }, (err, out, errOut) =>
          (err ? reject(new Error(errOut || err.message)) : resolve(out)));
      });
      assert.deepEqual(JSON.parse(stdout), { transport: "websocket", bytes: [1, 2, 3] });
    } finally {
      await server.close();
    }
  });
});

describe("upgrade failures", () => {
  it("stays on polling when the WebSocket probe fails", async () => {
    const server = await echoServer();
    // The server advertises "websocket" but every WebSocket handshake dies.
    const upgradeListeners = server.httpServer.listeners("upgrade");
    server.httpServer.removeAllListeners("upgrade");
    server.httpServer.on("upgrade", (req, socket) => socket.destroy());
    try {
      const c = h.connect(server.url);
      const disconnects = [];
      c.on("disconnect", (reason) => disconnects.push(reason));
      const upgradeError = h.once(c.io.engine, "upgradeError");
      await h.once(c, "connect");
      const [err] = await upgradeError;
      assert.ok(err instanceof Error);
      assert.equal(c.io.engine.transport.name, "polling");
      assert.equal(await c.emitWithAck("echo", "still here"), "still here");
      assert.deepEqual(disconnects, []);
      assert.equal(c.connected, true);
      c.disconnect();
    } finally {
      for (const l of upgradeListeners) server.httpServer.on("upgrade", l);
      await server.close();
    }
  });
});

describe("heartbeat", () => {
  for (const transports of [["polling"], ["websocket"]]) {
    it(`answers pings with pongs over ${transports[0]}`, async () => {
      const server = await echoServer({ pingInterval: 40, pingTimeout: 80 });
      try {
        const serverReasons = [];
        server.io.on("connection", (s) => s.on("disconnect", (r) => serverReasons.push(r)));
        const c = h.connect(server.url, { transports });
        let pings = 0;
        c.io.on("ping", () => pings++);
        const reasons = [];
        c.on("disconnect", (r) => reasons.push(r));
        await h.once(c, "connect");
        await h.sleep(500);
        assert.ok(pings >= 5, `only ${pings} pings in 500 ms`);
        assert.deepEqual(reasons, []);
        assert.deepEqual(serverReasons, []);
        assert.equal(await c.emitWithAck("echo", "alive"), "alive");
        c.disconnect();
      } finally {
        await server.close();
      }
    });
  }

  it('gives up with "ping timeout" when the server falls silent', async () => {
    const raw = await bareServer(['40{"sid":"s1"}']); // then silence: no ping
    try {
      const c = h.connect(raw.url, { reconnection: false });
      await h.once(c, "connect");
      const started = Date.now();
      const [reason] = await h.once(c, "disconnect", 3000);
      const elapsed = Date.now() - started;
      assert.equal(reason, "ping timeout");
      assert.ok(elapsed >= 150 && elapsed < 1500, `gave up after ${elapsed} ms`);
      assert.equal(c.connected, false);
    } finally {
      raw.close();
    }
  });
});

describe("bad input", () => {
  for (const [what, payload] of [
    ["an unknown Socket.IO packet type", "4X"],
    ["an EVENT without a name", "42[]"],
    ["an attachment nobody announced", "bAQID"],
  ]) {
    it(`closes with "parse error" on ${what}`, async () => {
      const raw = await bareServer(['40{"sid":"s1"}', `42["fine"]\x1e${payload}`]);
      try {
        const c = h.connect(raw.url, { reconnection: false });
        const fine = h.once(c, "fine");
        const [reason] = await h.once(c, "disconnect", 3000);
        assert.equal(reason, "parse error");
        await fine; // what came before the bad packet was delivered
      } finally {
        raw.close();
      }
    });
  }
});

// A bare Engine.IO server: a handshake (pingInterval 100, pingTimeout 100, no
// upgrades), then each GET gets the next of `responses`; later GETs hang.
async function bareServer(responses) {
  const queue = responses.slice();
  const server = http.createServer((req, res) => {
    const sid = new URL(req.url, "http://x").searchParams.get("sid");
    if (req.method === "POST") {
      req.resume();
      req.on("end", () => res.end("ok"));
    } else if (!sid) {
      res.end('0{"sid":"e1","upgrades":[],"pingInterval":100,"pingTimeout":100,"maxPayload":1000000}');
    } else if (queue.length) {
      res.end(queue.shift());
    } // else: hold the GET, as a server with nothing to say does
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe("long-polling writes", () => {
  it("splits POSTs to respect maxPayload, one GET and one POST at a time", async () => {
    const server = await h.startServer({ maxHttpBufferSize: 1500 });
    try {
      const received = [];
      server.io.on("connection", (s) => s.on("n", (i, pad) => received.push([i, pad.length])));
      const c = h.connect(server.url, { transports: ["polling"] });
      await h.once(c, "connect");
      assert.equal(c.io.engine.maxPayload, 1500);
      const pad = "é".repeat(50); // 100 bytes of UTF-8 in 50 characters
      for (let i = 0; i < 60; i++) c.emit("n", i, pad);
      await h.until(() => received.length === 60, 5000, "60 events");
      assert.deepEqual(received.map(([i]) => i), [...Array(60).keys()]);
      assert.ok(received.every(([, n]) => n === 50));
      const posts = server.log.filter((r) => r.method === "POST" && r.body.includes('["n",'));
      assert.ok(posts.length >= 5, `${posts.length} POSTs carried 6000+ bytes`);
      assert.ok(posts.length < 60, "packets are batched");
      for (const p of posts) assert.ok(p.length <= 1500, `a POST of ${p.length} bytes`);
      assert.ok(posts.some((p) => p.body.includes("\x1e")), "record separators join packets");
      const maxConcurrent = Math.max(...server.log.filter((r) => r.concurrent).map((r) => r.concurrent));
      assert.equal(maxConcurrent, 1);
      c.disconnect();
    } finally {
      await server.close();
    }
  });
});
