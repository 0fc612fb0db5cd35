// Node's socket.io 4 server tools on realtime's server, seen by a client
// under Node: connection and event middlewares, onAny/onAnyOutgoing on the
// server, and the "disconnecting" event.
//
// Run by tests/socketio/test_socket4_node.py with the environment
// ../interop/helpers.js reads; INTEROP_URL is an app of
// tests/support/socket4_apps.py (the bare server or the Flask extension).
"use strict";
const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const {
  CLIENT, SETUP, once, until, ask, ackOf, record, got, cleanup, make, open,
} = require("../interop/helpers");

afterEach(cleanup);

describe(`${CLIENT} client, ${SETUP}: middlewares`, () => {
  it("a connection middleware's refusal reaches connect_error with its message and data", async () => {
    const refused = make("/", { auth: { mw_refuse: "members only" } });
    const [err] = await once(refused, "connect_error");
    assert.equal(err.message, "members only");
    assert.deepEqual(err.data, { by: "middleware" });
    assert.equal(refused.active, false, "a refused socket does not retry by itself");

    const plain = make("/", { auth: { mw_false: true } });
    const [plainErr] = await once(plain, "connect_error");
    assert.equal(plainErr.message, "Connection rejected by server");
    assert.equal(plainErr.data, undefined);
  });

  it("middlewares run in registration order, then the connect handler", async () => {
    const socket = await open("/");
    const trail = await ask(socket, "trail");
    assert.deepEqual(trail.slice(1), ["second", "connect"]);
    assert.match(trail[0], /^first/);
  });

  it("an event middleware refuses an event (its ack carries the error) or changes it", async () => {
    const socket = await open("/");
    const [refused] = await ackOf(socket, "secret");
    assert.equal(refused.error, "forbidden");
    assert.deepEqual(await ackOf(socket, "shout", "quiet", 3), ["QUIET", 3]);
    assert.deepEqual(await ackOf(socket, "echo", "as", "is"), ["as", "is"]);
    // Refused with no answer: no ack, the client's timeout tells.
    await assert.rejects(socket.timeout(300).emitWithAck("hush"), /operation has timed out/);
  });
});

describe(`${CLIENT} client, ${SETUP}: listeners and disconnecting`, () => {
  it("on_any sees unhandled events; on_any_outgoing sees what the client got", async () => {
    const socket = await open("/");
    const log = record(socket);
    socket.emit("nobody_handles", 1, { a: [2] });
    await ask(socket, "ping_me");
    await until(() => got(log, "pong").length === 1, "the pong");
    const seen = await ask(socket, "seen");
    assert.deepEqual(seen.slice(0, 2), [["nobody_handles", 1, { a: [2] }], ["ping_me"]]);
    assert.deepEqual(got(log, "pong")[0].slice(0, 2), ["a", 1]);
    const sent = await ask(socket, "seen_out");
    assert.ok(sent.some((e) => e[0] === "pong" && e[1] === "a" && e[2] === 1), JSON.stringify(sent));
  });

  it("the disconnecting handler sees the rooms the client was in", async () => {
    const leaving = await open("/");
    const watcher = await open("/");
    const sid = leaving.id;
    await ask(leaving, "join", "lobby");
    leaving.disconnect();
    let exits = null;
    await until(async () => {
      exits = await ask(watcher, "exits_of", sid);
      return exits != null && exits.disconnect !== undefined;
    }, "the server's disconnect handler");
    assert.deepEqual(exits.disconnecting, [sid, "lobby"]);
    assert.deepEqual(exits.disconnect, [sid, "lobby"]);
  });
});
