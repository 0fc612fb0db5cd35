// Connection state recovery with a Socket.IO client under Node, through a TCP
// proxy that plays the network: an outage (every connection cut, new ones
// refused for a while) or a silent change (the connections in place stop
// carrying anything, new ones go through).
//
// Run by tests/socketio/recovery/test_recovery.py with the environment helpers.js
// reads (INTEROP_URL is the recovery app, tests/support/recovery_apps.py),
// and these servers of the same app:
//   RECOVERY_SHORT_URL   max_disconnection_duration 1 s
//   RECOVERY_SMALL_URL   max_packets 5
//   RECOVERY_STRICT_URL  skip_middlewares off
"use strict";
const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const {
  env, URL_, CLIENT, SETUP, sleep, once, until, ask, record, got, state, cleanup, open,
  startProxy,
} = require("../../interop/helpers");

afterEach(cleanup);

const SHORT_URL = env("RECOVERY_SHORT_URL");
const SMALL_URL = env("RECOVERY_SMALL_URL");
const STRICT_URL = env("RECOVERY_STRICT_URL");
// Reconnect soon after an outage, never give up.
const FAST = { reconnectionDelay: 100, reconnectionDelayMax: 200, randomizationFactor: 0 };
let rooms = 0;
const room = () => `room-${process.pid}-${++rooms}`;

// The first argument of each "n" event: the official client also passes the
// offset, as a last argument; realtime.js strips it.
const numbers = (log) => got(log, "n").map((args) => args[0]);

async function serverCalls(sid, base = URL_) {
  return (await state({ sid }, base)).calls;
}

// "connect", or "refused" once the server answers with a CONNECT_ERROR (the
// failed attempts during the outage are connect_errors too, of the transport).
function reconnected(socket) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("neither connected nor refused")), 15000);
    const done = (outcome) => {
      clearTimeout(timer);
      socket.off("connect_error", refused);
      resolve(outcome);
    };
    const refused = (err) => {
      if (err.message === "Connection rejected by server") done("refused");
    };
    socket.once("connect", () => done("connect"));
    socket.on("connect_error", refused);
  });
}

// A socket through a proxy, in a room, with what it receives recorded.
async function member(base = URL_, opts = {}) {
  const proxy = await startProxy(base);
  const socket = await open("/", { ...FAST, ...opts }, proxy.url);
  const log = record(socket);
  const name = room();
  await ask(socket, "join", name);
  return { proxy, socket, log, name };
}

describe(`${CLIENT} client, ${SETUP}: connection state recovery`, () => {
  it("after an outage: same sid, rooms and session, missed events once and in order", async () => {
    const { proxy, socket, log, name } = await member();
    const sid = socket.id;
    assert.equal(socket.recovered, false);
    await ask(socket, "remember", { kept: [1, 2] });
    const other = await open("/");
    for (let n = 0; n < 3; n++) await ask(other, "to", name, "n", n);
    await until(() => numbers(log).length === 3, "the first events");

    proxy.outage(600);
    for (let n = 3; n < 8; n++) await ask(other, "to", name, "n", n);
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, true);
    assert.equal(socket.id, sid);
    for (let n = 8; n < 10; n++) await ask(other, "to", name, "n", n);
    await until(() => numbers(log).length >= 10, "every event");
    await sleep(200);
    assert.deepEqual(numbers(log), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const me = await ask(socket, "whoami");
    assert.equal(me.sid, sid);
    assert.equal(me.recovered, true);
    assert.ok(me.rooms.includes(name));
    assert.deepEqual(await ask(socket, "recall"), { kept: [1, 2] });
    const calls = await serverCalls(sid);
    assert.deepEqual(calls.map((call) => call.slice(0, 2)), [
      ["connect", false],
      ["disconnect", calls[1][1]],
      ["connect", true],
    ]);
    assert.ok(["transport close", "ping timeout"].includes(calls[1][1]), calls[1][1]);
  });

  it("with no event received before the drop (the official server's hole)", async () => {
    const { proxy, socket, log, name } = await member();
    const other = await open("/");
    proxy.outage(600);
    for (let n = 0; n < 4; n++) await ask(other, "to", name, "n", n);
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, true);
    await until(() => numbers(log).length >= 4, "the missed events");
    await sleep(200);
    assert.deepEqual(numbers(log), [0, 1, 2, 3]);
  });

  it("volatile events carry the offset of the events before them and are never replayed", async () => {
    const { proxy, socket, log, name } = await member();
    const sid = socket.id;
    const other = await open("/");
    await ask(other, "to", name, "n", 0);
    await until(() => numbers(log).length === 1, "the first event");
    // A last argument that is a string: a client reading it as the offset
    // (with no offset after it) would resume from a place that is no offset.
    await ask(other, "volatile_to", name, "v", 1, "text");
    // A WebSocket takes it at once; a polling client between two requests
    // may not, and then never gets it (Node's server drops it the same way).
    if (SETUP === "websocket") await until(() => got(log, "v").length === 1, "the volatile event");
    await sleep(100);
    const offset = CLIENT === "official" ? got(log, "n")[0].at(-1) : null;
    for (const args of got(log, "v")) {
      // The official client hands the offset on as a last argument; realtime.js strips it.
      assert.deepEqual(args, CLIENT === "official" ? [1, "text", offset] : [1, "text"]);
    }
    const before = got(log, "v").length;

    proxy.outage(600);
    await ask(other, "to", name, "n", 1);
    await ask(other, "volatile_to", name, "v", 2, "gap");
    await ask(other, "to", name, "n", 2);
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, true);
    assert.equal(socket.id, sid);
    await until(() => numbers(log).length >= 3, "the missed events");
    await sleep(200);
    assert.deepEqual(numbers(log), [0, 1, 2]);
    assert.equal(got(log, "v").length, before, "a volatile event is never replayed");
  });

  it("a silent network change: the new connection takes over from the old one", async () => {
    const { proxy, socket, log, name } = await member();
    const sid = socket.id;
    const other = await open("/");
    await ask(other, "to", name, "n", 0);
    await until(() => numbers(log).length === 1, "the first event");
    proxy.freeze();
    // Sent while the old connection still looks alive to the server: lost
    // on the way, then replayed.
    for (let n = 1; n < 4; n++) await ask(other, "to", name, "n", n);
    // The client gives up on its connection (as after a missed heartbeat)
    // and opens a new one. realtime.js polls with Node's fetch, which sends
    // the next requests on idle keep-alive connections, frozen ones
    // included: requestTimeout bounds the handshake and the POSTs there, but
    // a long poll only the heartbeat (pingInterval + pingTimeout), longer
    // than this test waits. So the client's ends of the frozen connections
    // are reset, as a host that saw its network change does. (The official
    // client opens a connection per request under Node.)
    if (CLIENT === "realtime") proxy.resetClients();
    socket.io.engine.close();
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, true);
    assert.equal(socket.id, sid);
    await until(() => numbers(log).length >= 4, "the missed events");
    await sleep(200);
    assert.deepEqual(numbers(log), [0, 1, 2, 3]);
    const calls = await serverCalls(sid);
    assert.deepEqual(calls.map((call) => call[0]), ["connect", "disconnect", "connect"]);
  });

  it("after max_disconnection_duration, a fresh session", async () => {
    const { proxy, socket, log, name } = await member(SHORT_URL);
    const sid = socket.id;
    const other = await open("/", {}, SHORT_URL);
    proxy.outage(2000);
    await ask(other, "to", name, "n", 0);
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, false);
    assert.notEqual(socket.id, sid);
    await sleep(200);
    assert.deepEqual(numbers(log), []);
    const me = await ask(socket, "whoami");
    assert.deepEqual(me.rooms, [socket.id]);
  });

  it("when the buffer no longer holds what was missed, a fresh session", async () => {
    const { proxy, socket, log, name } = await member(SMALL_URL);
    const other = await open("/", {}, SMALL_URL);
    proxy.outage(600);
    for (let n = 0; n < 12; n++) await ask(other, "to", name, "n", n);
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, false);
    await sleep(200);
    // Never a partial replay.
    assert.deepEqual(numbers(log), []);
  });

  it("a client the server disconnected does not come back as recovered", async () => {
    const { socket } = await member();
    const sid = socket.id;
    socket.emit("kick");
    await once(socket, "disconnect");
    socket.connect();
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, false);
    assert.notEqual(socket.id, sid);
  });

  it("the connect handler cannot refuse a recovered client unless skip_middlewares is off", async () => {
    for (const [base, expected] of [[URL_, "connect"], [STRICT_URL, "refused"]]) {
      let calls = 0;
      // The first CONNECT is accepted; the one that resumes asks to be refused.
      const auth = (cb) => cb({ refuse: calls++ > 0 });
      const { proxy, socket } = await member(base, { auth });
      proxy.outage(600);
      const outcome = await reconnected(socket);
      assert.equal(outcome, expected, base);
      if (expected === "connect") assert.equal(socket.recovered, true);
      socket.disconnect();
    }
  });
});

// realtime.js only: what the client sent and the server did not get is sent
// again after a recovery, once (the server's CONNECT reply says how many of
// the client's events it received). `counted` lists every number the app's
// `count` event got, in order.
const describeOurs = CLIENT === "realtime" ? describe : describe.skip;

describeOurs(`${CLIENT} client, ${SETUP}: events the client sent are replayed`, () => {
  it("lost on the way or emitted during the gap: replayed once and in order, acks kept", async () => {
    const { proxy, socket } = await member();
    const sid = socket.id;
    let next = 0;
    assert.equal(await ask(socket, "count", next++), true);
    const answers = [];
    // Twice, so the count goes on across recoveries.
    for (let round = 0; round < 2; round++) {
      proxy.outage(600);
      // In the same tick as the cut: written to a connection already gone.
      socket.emit("count", next++);
      socket.volatile.emit("count", -1); // never replayed
      socket.emit("count", next++, (ok) => answers.push(ok));
      await once(socket, "disconnect");
      // During the gap: buffered.
      socket.emit("count", next++);
      await once(socket, "connect", 15000);
      assert.equal(socket.recovered, true);
      assert.equal(socket.id, sid);
      assert.equal(await ask(socket, "count", next++), true);
    }
    assert.deepEqual(await ask(socket, "counted"), Array.from({ length: next }, (_, n) => n));
    assert.deepEqual(answers, [true, true]);
  });

  it("a silent network change: what the old connection swallowed is sent again", async () => {
    const { proxy, socket } = await member(URL_, { requestTimeout: 1000 });
    assert.equal(await ask(socket, "count", 0), true);
    proxy.freeze();
    socket.emit("count", 1);
    const answered = socket.timeout(15000).emitWithAck("count", 2);
    await sleep(100);
    // The client gives up on its connection, as after a missed heartbeat.
    // The POST a frozen connection holds is waited for no longer than
    // requestTimeout (1 s), not until the heartbeat gives up (45 s with the
    // server's defaults); the bound leaves room for a loaded machine.
    const engine = socket.io.engine;
    const closed = once(engine, "close", 10000);
    engine.close();
    await closed;
    // The next session's requests must not go on the frozen connections
    // Node's fetch keeps (see "the new connection takes over" above).
    proxy.resetClients();
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, true);
    assert.equal(await answered, true);
    assert.deepEqual(await ask(socket, "counted"), [0, 1, 2]);
  });

  it("more lost than replayBuffer keeps: none replayed, never a partial gap", async () => {
    const { proxy, socket } = await member(URL_, { replayBuffer: 2 });
    assert.equal(await ask(socket, "count", 0), true);
    proxy.outage(600);
    for (let n = 1; n < 4; n++) socket.emit("count", n);
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, true);
    assert.equal(await ask(socket, "count", 4), false);
    assert.deepEqual(await ask(socket, "counted"), [0, 4]);
  });

  it("a fresh session replays nothing it had sent before", async () => {
    const { proxy, socket, name } = await member(SMALL_URL);
    const other = await open("/", {}, SMALL_URL);
    assert.equal(await ask(socket, "count", 0), true);
    proxy.outage(600);
    socket.emit("count", 1); // lost on the way
    const failed = socket.timeout(15000).emitWithAck("count", 2).catch((err) => err.message);
    await once(socket, "disconnect");
    await ask(other, "burst", name, 12); // more than the server keeps: no recovery
    socket.emit("count", 0); // buffered: sent to the new session
    await once(socket, "connect", 15000);
    assert.equal(socket.recovered, false);
    assert.equal(await failed, "socket has been disconnected");
    assert.deepEqual(await ask(socket, "counted"), [0]);
  });
});
