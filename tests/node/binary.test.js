// BINARY_EVENT and BINARY_ACK: ArrayBuffer, typed arrays, DataView, Buffer
// and Blob nested anywhere in the arguments, both ways, on every transport.
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
  describe(`binary over ${mode}`, () => {
    let server, c, s;
    before(async () => {
      server = await h.startServer();
      server.io.on("connection", (sock) => {
        sock.on("echo", (...args) => args.pop()(...args));
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

    it("sends binary nested in objects and arrays to the server", async () => {
      const f32 = new Float32Array([1.5, -2]);
      const view = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]).subarray(2, 5); // an offset view
      const got = h.once(s, "upload");
      c.emit("upload", {
        a: { b: [new Uint8Array([1, 2, 3]), new Uint16Array([258]).buffer] },
        c: Buffer.from("buf"),
        d: [f32, new DataView(new Uint8Array([9, 9]).buffer)],
        e: view,
        text: "plain",
        date: new Date(0),
      }, new ArrayBuffer(0));
      const [data, empty] = await got;
      assert.ok(Buffer.isBuffer(data.a.b[0]));
      assert.deepEqual(h.bytes(data.a.b[0]), [1, 2, 3]);
      assert.deepEqual(h.bytes(data.a.b[1]), h.bytes(new Uint16Array([258])));
      assert.equal(data.c.toString(), "buf");
      assert.deepEqual(h.bytes(data.d[0]), h.bytes(f32));
      assert.deepEqual(h.bytes(data.d[1]), [9, 9]);
      assert.deepEqual(h.bytes(data.e), [2, 3, 4]);
      assert.equal(data.text, "plain");
      assert.equal(data.date, "1970-01-01T00:00:00.000Z");
      assert.equal(empty.length, 0);
    });

    it("receives binary nested in objects from the server", async () => {
      const got = h.once(c, "download");
      const nested = { x: Buffer.from([1, 2, 3]), y: [{ z: Buffer.alloc(300, 7) }] };
      s.emit("download", nested, "after", Buffer.from([255]));
      const [data, text, last] = await got;
      assert.ok(Buffer.isBuffer(data.x), "a Buffer under Node, as socket.io-client gives");
      assert.deepEqual(h.bytes(data.x), [1, 2, 3]);
      assert.equal(data.y[0].z.length, 300);
      assert.ok(data.y[0].z.every((b) => b === 7));
      assert.equal(text, "after");
      assert.deepEqual(h.bytes(last), [255]);
    });

    it("sends and receives binary acks", async () => {
      const echoed = await c.emitWithAck("echo", { blob: new Uint8Array([4, 5, 6]) });
      assert.deepEqual(h.bytes(echoed.blob), [4, 5, 6]);
      c.once("need-bytes", (n, ack) => ack({ bytes: new Uint8Array(n).fill(n) }));
      const reply = await s.timeout(2000).emitWithAck("need-bytes", 4);
      assert.ok(Buffer.isBuffer(reply.bytes));
      assert.deepEqual(h.bytes(reply.bytes), [4, 4, 4, 4]);
    });

    it("sends a Blob, keeping its place in the order", async () => {
      const got = [];
      s.on("seq", (...a) => got.push(a));
      const blob = new Blob([new Uint8Array([10, 20, 30])]);
      c.emit("seq", 1, { file: blob });
      c.emit("seq", 2);
      c.emit("seq", 3, new Blob(["text blob"]));
      await h.until(() => got.length === 3, 3000, "three events");
      assert.deepEqual(got.map((a) => a[0]), [1, 2, 3]);
      assert.deepEqual(h.bytes(got[0][1].file), [10, 20, 30]);
      assert.equal(got[2][1].toString(), "text blob");
    });

    it("carries a large binary payload intact", async () => {
      const big = new Uint8Array(256 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
      const echoed = await c.emitWithAck("echo", big);
      assert.equal(echoed.length, big.length);
      assert.ok(Buffer.from(big).equals(echoed));
    });
  });
}
