// Connection state recovery across two server processes sharing a Redis:
// the official Socket.IO client drops off process A and comes back on
// process B, through a TCP proxy whose upstream the test switches.
//
// Run by tests/cluster/test_recovery_cluster.py with INTEROP_URL (process A),
// RECOVERY_OTHER_URL (process B), INTEROP_CLIENT and INTEROP_TRANSPORT.
"use strict";
const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const {
  env, URL_, CLIENT, SETUP, sleep, once, until, ask, record, got, state, cleanup, open,
} = require("../interop/helpers");

const OTHER_URL = env("RECOVERY_OTHER_URL");
const FAST = { reconnectionDelay: 100, reconnectionDelayMax: 200, randomizationFactor: 0 };
let rooms = 0;
const room = () => `cluster-room-${process.pid}-${++rooms}`;
const numbers = (log) => got(log, "n").map((args) => args[0]);

// A TCP proxy to one process at a time. `outageTo(url, ms)` cuts every
// connection, refuses new ones for `ms`, then sends them to `url`;
// `freezeTo(url)` leaves the connections in place silent (neither end sees
// them close) and sends new ones to `url`.
const proxies = [];
async function switchable(target) {
  let upstream = new URL(target);
  let downUntil = 0;
  const live = new Set();
  const server = net.createServer((downstream) => {
    if (Date.now() < downUntil) return downstream.destroy();
    const to = net.connect(Number(upstream.port), upstream.hostname);
    const pair = [downstream, to];
    live.add(pair);
    const drop = () => {
      for (const s of pair) s.destroy();
      live.delete(pair);
    };
    downstream.on("error", drop).on("close", drop);
    to.on("error", drop).on("close", drop);
    downstream.pipe(to);
    to.pipe(downstream);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxy = {
    url: `http://127.0.0.1:${server.address().port}`,
    outageTo(url, ms) {
      upstream = new URL(url);
      downUntil = Date.now() + ms;
      for (const pair of [...live]) for (const s of pair) s.destroy();
      live.clear();
    },
    freezeTo(url) {
      upstream = new URL(url);
      for (const pair of [...live]) {
        for (const s of pair) {
          s.unpipe();
          s.pause();
          s.removeAllListeners("data");
        }
      }
      proxy.frozen = [...live];
      live.clear();
    },
    close() {
      for (const pair of [...live, ...(proxy.frozen || [])]) for (const s of pair) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
  proxies.push(proxy);
  return proxy;
}

afterEach(async () => {
  await cleanup();
  for (const proxy of proxies.splice(0)) await proxy.close();
});

// A socket on process A through a switchable proxy, in a room.
async function member() {
  const proxy = await switchable(URL_);
  const socket = await open("/", FAST, proxy.url);
  const log = record(socket);
  const name = room();
  await ask(socket, "join", name);
  return { proxy, socket, log, name };
}

describe(`${CLIENT} client, ${SETUP}: recovery on another process`, () => {
  it("comes back on process B with its sid, rooms, session and every missed event", async () => {
    const { proxy, socket, log, name } = await member();
    const sid = socket.id;
    const before = await ask(socket, "whoami");
    await ask(socket, "remember", { kept: "yes" });
    const onA = await open("/");
    const onB = await open("/", {}, OTHER_URL);
    await ask(onA, "to", name, "n", 0);
    await ask(onB, "to", name, "n", 1);
    await until(() => numbers(log).length === 2, "the first events");

    proxy.outageTo(OTHER_URL, 600);
    // Emitted on both processes during the gap, to the room and to the sid.
    await ask(onA, "to", name, "n", 2);
    await ask(onB, "to", sid, "n", 3);
    await ask(onA, "to", name, "n", 4);
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, true);
    assert.equal(socket.id, sid);
    const after = await ask(socket, "whoami");
    assert.notEqual(after.pid, before.pid, "it came back on the other process");
    assert.equal(after.recovered, true);
    assert.ok(after.rooms.includes(name));
    assert.deepEqual(await ask(socket, "recall"), { kept: "yes" });

    await ask(onA, "to", name, "n", 5);
    await ask(onB, "to", name, "n", 6);
    await until(() => numbers(log).length >= 7, "every event");
    await sleep(200);
    assert.deepEqual(numbers(log), [0, 1, 2, 3, 4, 5, 6]);

    // Process A now sends what concerns this client to process B.
    const other = room();
    await ask(onA, "put", sid, other);
    await ask(onA, "to", other, "n", 7);
    await until(() => numbers(log).length >= 8, "an event to a room process A put it in");
    assert.deepEqual(numbers(log).slice(7), [7]);
    assert.deepEqual((await state({ sid }, OTHER_URL)).calls.map((c) => c.slice(0, 2)), [
      ["connect", true],
    ]);
  });

  it("a volatile event from process B carries process A's offset; recovery on B resumes from it", async () => {
    const { proxy, socket, log, name } = await member();
    const onA = await open("/");
    const onB = await open("/", {}, OTHER_URL);
    await ask(onA, "to", name, "n", 0);
    await until(() => numbers(log).length === 1, "the first event");
    // Emitted on process B, delivered by process A in order with its log; a
    // string last argument, which a client without an offset after it would
    // read as its offset.
    await ask(onB, "volatile_to", name, "v", 1, "text");
    if (SETUP === "websocket") await until(() => got(log, "v").length === 1, "the volatile event");
    await sleep(100);
    const offset = CLIENT === "official" ? got(log, "n")[0].at(-1) : null;
    for (const args of got(log, "v")) {
      assert.deepEqual(args, CLIENT === "official" ? [1, "text", offset] : [1, "text"]);
    }
    const before = got(log, "v").length;

    proxy.outageTo(OTHER_URL, 600);
    await ask(onB, "to", name, "n", 1);
    await ask(onA, "volatile_to", name, "v", 2, "gap");
    await ask(onA, "to", name, "n", 2);
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, true);
    await until(() => numbers(log).length >= 3, "the missed events");
    await sleep(200);
    assert.deepEqual(numbers(log), [0, 1, 2]);
    assert.equal(got(log, "v").length, before, "a volatile event is never replayed");
  });

  it("with no event received before the drop", async () => {
    const { proxy, socket, log, name } = await member();
    const onA = await open("/");
    proxy.outageTo(OTHER_URL, 600);
    for (let n = 0; n < 3; n++) await ask(onA, "to", name, "n", n);
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, true);
    await until(() => numbers(log).length >= 3, "the missed events");
    await sleep(200);
    assert.deepEqual(numbers(log), [0, 1, 2]);
  });

  it("a silent network change: process B has process A let go of the old connection", async () => {
    const { proxy, socket, log, name } = await member();
    const sid = socket.id;
    const onA = await open("/");
    await ask(onA, "to", name, "n", 0);
    await until(() => numbers(log).length === 1, "the first event");
    proxy.freezeTo(OTHER_URL);
    for (let n = 1; n < 4; n++) await ask(onA, "to", name, "n", n);
    socket.io.engine.close();
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, true);
    assert.equal(socket.id, sid);
    await until(() => numbers(log).length >= 4, "the missed events");
    await sleep(200);
    assert.deepEqual(numbers(log), [0, 1, 2, 3]);
    const calls = (await state({ sid })).calls.map((call) => call[0]);
    assert.deepEqual(calls, ["connect", "disconnect"]);
  });
});
