// Socket.IO events and acknowledgements, in both directions, on each way of
// connecting: polling only, WebSocket only, and polling upgraded to WebSocket.
"use strict";
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const h = require("./helpers");

const MODES = {
  polling: { transports: ["polling"] },
  websocket: { transports: ["websocket"] },
  upgrade: {},
};

for (const [mode, opts] of Object.entries(MODES)) {
  describe(`messaging over ${mode}`, () => {
    let server, c, s;
    before(async () => {
      server = await h.startServer();
      server.io.on("connection", (sock) => {
        sock.on("echo", (...args) => args.pop()(...args));
        sock.on("no-ack", () => {});
        sock.on("relay", (...args) => sock.emit("relayed", ...args));
      });
      const serverSide = h.nextConnection(server);
      c = h.connect(server.url, opts);
      await h.once(c, "connect");
      s = await serverSide;
      if (mode === "upgrade" && c.io.engine.transport.name !== "websocket") {
        await h.once(c.io.engine, "upgrade");
      }
    });
    after(async () => {
      c.disconnect();
      await server.close();
    });

    it("carries events with several arguments both ways", async () => {
      const args = ["text", 42, 1.5, true, null, { deep: { list: [1, "two", { three: 3 }] } }, [],
        "ünïcødé ✓ 🎉"];
      const got = h.once(s, "many");
      c.emit("many", ...args);
      assert.deepEqual(await got, args);
      const back = h.once(c, "relayed");
      c.emit("relay", ...args);
      assert.deepEqual(await back, args);
      assert.equal(c.io.engine.transport.name, mode === "polling" ? "polling" : "websocket");
    });

    it("calls the ack callback with the server's answer", async () => {
      const answer = await new Promise((resolve) => c.emit("echo", "a", 2, { c: 3 }, (...r) => resolve(r)));
      assert.deepEqual(answer, ["a", 2, { c: 3 }]);
    });

    it("answers the server's acks, and only once", async () => {
      const seen = [];
      c.once("question", (x, y, ack) => {
        ack(x + y, "second");
        ack("ignored");
        seen.push(x, y);
      });
      const reply = await s.timeout(2000).emitWithAck("question", 2, 3);
      assert.equal(reply, 5);
      assert.deepEqual(seen, [2, 3]);
      const all = await new Promise((resolve, reject) => {
        c.once("question2", (ack) => ack("x", "y"));
        s.timeout(2000).emit("question2", (err, ...r) => (err ? reject(err) : resolve(r)));
      });
      assert.deepEqual(all, ["x", "y"]);
    });

    it("emitWithAck resolves with the first argument of the ack", async () => {
      assert.deepEqual(await c.emitWithAck("echo", { v: [1, 2] }), { v: [1, 2] });
      assert.equal(await c.timeout(2000).emitWithAck("echo", "timely"), "timely");
    });

    it("timeout().emit calls back with an error first when no ack comes", async () => {
      const started = Date.now();
      const [err, ...rest] = await new Promise((resolve) =>
        c.timeout(120).emit("no-ack", 1, (...r) => resolve(r)));
      assert.ok(err instanceof Error);
      assert.equal(err.message, "operation has timed out");
      assert.deepEqual(rest, []);
      assert.ok(Date.now() - started >= 100);
      const ok = await new Promise((resolve) => c.timeout(2000).emit("echo", "v", (...r) => resolve(r)));
      assert.deepEqual(ok, [null, "v"]);
    });

    it("timeout().emitWithAck rejects when no ack comes", async () => {
      await assert.rejects(c.timeout(100).emitWithAck("no-ack"), /operation has timed out/);
    });

    it("send() emits a message event", async () => {
      const got = h.once(s, "message");
      c.send("hi", 1);
      assert.deepEqual(await got, ["hi", 1]);
    });

    it("onAny, offAny, once and off", async () => {
      const any = [];
      const onAny = (...a) => any.push(a);
      c.onAny(onAny);
      let onceCount = 0;
      c.once("tick", () => onceCount++);
      const off = () => assert.fail("an off() listener was called");
      c.on("tick", off);
      c.off("tick", off);
      const outgoing = [];
      const onOut = (...a) => outgoing.push(a);
      c.onAnyOutgoing(onOut);
      const relayed = h.once(c, "relayed");
      c.emit("relay", "x");
      c.offAnyOutgoing(onOut);
      await relayed;
      assert.deepEqual(outgoing, [["relay", "x"]]);
      s.emit("tick", 1);
      s.emit("tick", 2);
      const done = h.once(c, "marker");
      s.emit("marker");
      await done;
      assert.equal(onceCount, 1);
      assert.deepEqual(any, [["relayed", "x"], ["tick", 1], ["tick", 2], ["marker"]]);
      assert.deepEqual(c.listenersAny(), [onAny]);
      c.offAny(onAny);
      assert.deepEqual(c.listenersAny(), []);
    });

    it("refuses reserved event names", () => {
      for (const name of ["connect", "connect_error", "disconnect", "disconnecting"]) {
        assert.throws(() => c.emit(name), /reserved event name/);
      }
    });

    it("keeps a throwing listener from breaking delivery", async () => {
      // The client reports the exception as uncaught; catch it here instead
      // of the test runner, which would fail the file.
      const errors = [];
      const onError = (e) => errors.push(e.message);
      const runners = process.listeners("uncaughtException");
      process.removeAllListeners("uncaughtException");
      process.on("uncaughtException", onError);
      try {
        c.once("boom", () => { throw new Error("listener bug"); });
        const next = h.once(c, "after-boom");
        s.emit("boom");
        s.emit("after-boom", "fine");
        assert.deepEqual(await next, ["fine"]);
        await h.sleep(10);
        assert.deepEqual(errors, ["listener bug"]);
      } finally {
        process.off("uncaughtException", onError);
        for (const l of runners) process.on("uncaughtException", l);
      }
    });
  });
}
