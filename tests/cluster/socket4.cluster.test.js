// Node's socket.io 4 server tools across two realtime processes sharing
// Redis, seen by the official client under Node: one client on each process.
//
// Run by tests/cluster/test_socket4_cluster_node.py with the environment
// ../interop/helpers.js reads (INTEROP_URL: the first process) and
// SOCKET4_OTHER_URL (the second); both serve tests/support/socket4_apps.py.
"use strict";
const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const {
  env, CLIENT, SETUP, URL_, once, until, ask, record, got, cleanup, make, open,
} = require("../interop/helpers");

const OTHER = env("SOCKET4_OTHER_URL");
afterEach(cleanup);

// A client on each process, each seen by both processes' fetch_sockets.
async function pair() {
  const a = await open("/", { auth: { name: "a" } });
  const b = await open("/", { auth: { name: "b" } }, OTHER);
  await until(async () => (await ask(a, "fetch")).length === 2 && (await ask(b, "fetch")).length === 2,
    "both processes to see both clients");
  return [a, b];
}

describe(`${CLIENT} client, ${SETUP}, two processes`, () => {
  it("fetch_sockets returns the other process's client with its rooms, data and handshake", async () => {
    const [a, b] = await pair();
    await ask(b, "join", "blue");
    await ask(b, "save", "team", "b-team");
    const found = Object.fromEntries((await ask(a, "fetch")).map((v) => [v.sid, v]));
    const remote = found[b.id];
    assert.equal(remote.local, false);
    assert.deepEqual(remote.rooms, [b.id, "blue"]);
    assert.equal(remote.data.team, "b-team");
    assert.deepEqual(remote.auth, { name: "b" });
    assert.equal(found[a.id].local, true);
  });

  it("a fetched socket's emit, and sockets_join then a room emit, reach the other process", async () => {
    const [a, b] = await pair();
    const logA = record(a);
    const logB = record(b);
    await ask(a, "view_emit", b.id, "hi", 1, "two");
    await until(() => got(logB, "hi").length === 1, "the view's emit");
    assert.deepEqual(got(logB, "hi")[0], [1, "two"]);
    await ask(b, "join_all", ["crowd"]);
    await ask(a, "to_except", "crowd", null, "news", "for the crowd");
    await until(() => got(logA, "news").length === 1 && got(logB, "news").length === 1, "the room emit");
  });

  it("exclude leaves out a room spanning both processes", async () => {
    const [a, b] = await pair();
    const c = await open("/", {}, OTHER);
    const logs = [a, b, c].map(record);
    await ask(a, "join", "muted");
    await ask(b, "join", "muted");
    await ask(a, "to_except", null, "muted", "news", "not for the muted");
    await ask(a, "plain_all", "last");
    await until(() => logs.every((log) => got(log, "last").length === 1), "the last event");
    assert.deepEqual(got(logs[2], "news"), [["not for the muted"]]);
    assert.equal(got(logs[0], "news").length + got(logs[1], "news").length, 0);
  });

  it("disconnect_sockets of a room spanning both processes", async () => {
    const [a, b] = await pair();
    await ask(a, "join_all", ["doomed"]);
    const gone = [once(a, "disconnect"), once(b, "disconnect")];
    const watcher = await open("/", {}, OTHER);
    watcher.emit("kick_all", "doomed");
    const [[ra], [rb]] = await Promise.all(gone);
    assert.equal(ra, "io server disconnect");
    assert.equal(rb, "io server disconnect");
    assert.equal(watcher.connected, true);
  });

  it("a middleware refusal and server_side_emit answers", async () => {
    const refused = make("/", { auth: { mw_refuse: "members only" } }, OTHER);
    const [err] = await once(refused, "connect_error");
    assert.equal(err.message, "members only");
    assert.deepEqual(err.data, { by: "middleware" });
    const [a] = await pair();
    const answers = await ask(a, "ask_servers", 5, "ping");
    assert.equal(answers.length, 1);
    assert.deepEqual(answers[0].args, ["ping"]);
  });
});
