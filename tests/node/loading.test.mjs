// How the file loads: as an ES module (realtime.esm.js, which must match its
// source), as a classic script defining the global `io`, and through require();
// and the same for the minified build (realtime.min.js and its source map,
// which must match their source too). The build scripts, and terser, are in
// realtime/static/build (npm ci --prefix realtime/static/build).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import vm from "node:vm";
import { io, Manager, Socket } from "../../realtime/static/realtime.esm.js";
import esmDefault from "../../realtime/static/realtime.esm.js";

const require = createRequire(import.meta.url);
const h = require("./helpers.js");
const { render, SOURCE, TARGET } = require("../../realtime/static/build/build-esm.js");
const min = require("../../realtime/static/build/build-min.js");

describe("loading", () => {
  it("realtime.esm.js is up to date (run: npm run build --prefix realtime/static/build)", () => {
    const fresh = readFileSync(TARGET, "utf8") === render(readFileSync(SOURCE, "utf8"));
    assert.ok(fresh, "realtime.esm.js is stale: run npm run build --prefix realtime/static/build");
  });

  it("realtime.min.js and its map are up to date (run: npm run build --prefix realtime/static/build)", async () => {
    const { code, map } = await min.render(readFileSync(min.SOURCE, "utf8"));
    const fresh = readFileSync(min.TARGET, "utf8") === code && readFileSync(min.MAP, "utf8") === map;
    assert.ok(fresh, "realtime.min.js is stale: run npm run build --prefix realtime/static/build");
  });

  it("works as an ES module", async () => {
    assert.equal(esmDefault, io);
    assert.equal(io.Manager, Manager);
    assert.equal(io.Socket, Socket);
    const server = await h.startServer();
    server.io.on("connection", (s) => s.on("echo", (v, ack) => ack(v)));
    const c = io(server.url, { WebSocket: h.WebSocket, forceNew: true });
    try {
      assert.ok(c instanceof Socket);
      assert.equal(await c.timeout(3000).emitWithAck("echo", "esm"), "esm");
    } finally {
      c.disconnect();
      await server.close();
    }
  });

  for (const file of [SOURCE, min.TARGET]) {
    const name = file.split("/").pop();

    it(`${name} defines the global io as a classic script, and nothing else`, () => {
      const context = vm.createContext({ URL, URLSearchParams, setTimeout, clearTimeout, queueMicrotask });
      const before = new Set(Object.getOwnPropertyNames(context));
      vm.runInContext(readFileSync(file, "utf8"), context, { filename: name });
      const added = Object.getOwnPropertyNames(context).filter((k) => !before.has(k));
      assert.deepEqual(added, ["io"]);
      assert.equal(typeof context.io, "function");
      assert.equal(context.io.protocol, 5);
      assert.equal(typeof context.io.Manager, "function");
    });

    it(`${name} exports io through require()`, () => {
      const cjs = require(file);
      assert.equal(typeof cjs, "function");
      assert.equal(cjs.io, cjs);
      assert.equal(cjs.connect, cjs);
      assert.deepEqual(Object.keys(cjs.transports), ["polling", "websocket", "sse", "streaming"]);
    });
  }

  it("realtime.min.js talks to a server: polling, the upgrade, acks, binary", async () => {
    const minIo = require(min.TARGET);
    const server = await h.startServer();
    server.io.on("connection", (s) => s.on("echo", (v, ack) => ack(v)));
    const c = minIo(server.url, { WebSocket: h.WebSocket, forceNew: true });
    try {
      await h.once(c.io.engine, "upgrade");
      assert.equal(c.io.engine.transport.name, "websocket");
      assert.equal(await c.timeout(3000).emitWithAck("echo", "min"), "min");
      const back = await c.timeout(3000).emitWithAck("echo", { b: new Uint8Array([1, 2, 3]) });
      assert.deepEqual(h.bytes(back.b), [1, 2, 3]);
    } finally {
      c.disconnect();
      await server.close();
    }
  });
});
