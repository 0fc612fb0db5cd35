// The admin namespace of instrument() seen by the official client under
// Node, as the Socket.IO Admin UI uses it (its protocol: the ServerEvents and
// ClientEvents of @socket.io/admin-ui).
//
// Run by tests/socketio/test_admin.py with the environment
// ../interop/helpers.js reads (INTEROP_URL: a server of
// tests/support/admin_apps.py in development mode) and ADMIN_RO_URL (the
// same app, read_only).
"use strict";
const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const {
  env, CLIENT, SETUP, URL_, once, until, ask, record, got, cleanup, make, open,
} = require("../interop/helpers");

const RO_URL = env("ADMIN_RO_URL");
const CREDENTIALS = { username: "admin", password: "s3cret" };
afterEach(cleanup);

// An admin, connected, with everything it received recorded.
async function admin(base = URL_, auth = CREDENTIALS) {
  const socket = make("/admin", { auth }, base);
  const log = record(socket);
  await once(socket, "connect");
  await until(() => got(log, "server_stats").length > 0, "the first server_stats");
  return [socket, log];
}

const refusal = async (auth) => {
  const socket = make("/admin", { auth });
  const [err] = await once(socket, "connect_error");
  return err.message;
};

describe(`${CLIENT} client, ${SETUP}, the admin namespace`, () => {
  it("refuses wrong or missing credentials with 'invalid credentials'", async () => {
    assert.equal(await refusal({ username: "admin", password: "nope" }), "invalid credentials");
    assert.equal(await refusal({}), "invalid credentials");
    assert.equal(await refusal({ sessionId: "made-up" }), "invalid credentials");
  });

  it("sends config, every socket with its rooms and handshake, then server stats", async () => {
    const user = await open("/", { query: { team: "blue" } });
    await ask(user, "join", "lobby");
    const [, log] = await admin();
    const [config] = got(log, "config")[0];
    for (const feature of ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"]) {
      assert.ok(config.supportedFeatures.includes(feature), feature);
    }
    assert.equal(typeof got(log, "session")[0][0], "string");
    const [sockets] = got(log, "all_sockets")[0];
    const mine = sockets.find((s) => s.id === user.id);
    assert.ok(mine, "the user's socket is listed");
    assert.equal(mine.nsp, "/");
    assert.deepEqual(mine.rooms, [user.id, "lobby"]);
    assert.equal(mine.clientId, user.io.engine.id);
    assert.equal(mine.transport, user.io.engine.transport.name);
    assert.equal(typeof mine.handshake.issued, "number");
    assert.ok(Math.abs(mine.handshake.issued - Date.now()) < 60000);
    assert.equal(mine.handshake.query.team, "blue");
    assert.equal(mine.handshake.address, "127.0.0.1");
    const [stats] = got(log, "server_stats")[0];
    assert.equal(typeof stats.serverId, "string");
    assert.equal(typeof stats.pid, "number");
    assert.ok(stats.clientsCount >= 2);
    assert.equal(typeof stats.pollingClientsCount, "number");
    assert.ok(Array.isArray(stats.aggregatedEvents));
    assert.ok(stats.namespaces.some((n) => n.name === "/" && n.socketsCount >= 1));
  });

  it("counts raw connections and traffic in aggregatedEvents", async () => {
    const [, log] = await admin();
    const user = await open("/");
    await ask(user, "echo", "x".repeat(1000));
    const total = (kind) => got(log, "server_stats").flatMap(([s]) => s.aggregatedEvents)
      .filter((e) => e.type === kind).reduce((sum, e) => sum + e.count, 0);
    await until(() => total("bytesIn") >= 1000 && total("bytesOut") >= 2000,
      "the user's 1000 bytes in, and twice that out (the ack and the echoed event)");
    for (const kind of ["rawConnection", "packetsIn", "packetsOut"]) assert.ok(total(kind) >= 1, kind);
  });

  it("reports connections, room changes and events as they happen", async () => {
    const [, log] = await admin();
    const user = await open("/");
    await until(() => got(log, "socket_connected").some(([s]) => s.id === user.id), "socket_connected");
    const [socket, connectedAt] = got(log, "socket_connected").find(([s]) => s.id === user.id);
    assert.deepEqual(socket.rooms, [user.id]);
    assert.ok(!Number.isNaN(Date.parse(connectedAt)));
    await ask(user, "join", "red");
    await until(() => got(log, "room_joined").some(([, room, id]) => room === "red" && id === user.id), "room_joined");
    assert.equal(got(log, "room_joined").find(([, room]) => room === "red")[0], "/");
    await ask(user, "echo", 1, "two");
    await until(() => got(log, "event_sent").some(([, id, args]) => id === user.id && args[0] === "echoed"), "event_sent");
    const received = got(log, "event_received").find(([, id]) => id === user.id);
    assert.deepEqual(received.slice(0, 3), ["/", user.id, ["join", "red"]]);
    assert.deepEqual(got(log, "event_sent").find(([, id]) => id === user.id)[2], ["echoed", 1, "two"]);
    await ask(user, "leave", "red");
    await until(() => got(log, "room_left").some(([, room, id]) => room === "red" && id === user.id), "room_left");
    const id = user.id;
    user.disconnect();
    await until(() => got(log, "socket_disconnected").some(([, sid]) => sid === id), "socket_disconnected");
    const [nsp, , reason] = got(log, "socket_disconnected").find(([, sid]) => sid === id);
    assert.equal(nsp, "/");
    assert.equal(reason, "client disconnect");
  });

  // Only a client that starts on polling upgrades.
  if (SETUP === "upgrade") it("reports a socket's upgrade to WebSocket (socket_updated)", async () => {
    const [, log] = await admin();
    const user = make("/");
    await once(user, "connect");
    const id = user.id;
    await until(() => got(log, "socket_connected").some(([s]) => s.id === id), "socket_connected");
    await until(() => got(log, "socket_updated").some(([s]) => s.id === id && s.transport === "websocket"),
      "socket_updated with the WebSocket transport");
    const [update] = got(log, "socket_updated").find(([s]) => s.id === id);
    assert.equal(update.nsp, "/");
  });

  it("acts for the admin: join, leave, emit, disconnect a socket (filtered by its sid)", async () => {
    const [root, log] = await admin();
    const user = await open("/");
    const other = await open("/");
    const userLog = record(user);
    root.emit("join", "/", "vip", user.id);
    await until(async () => (await ask(user, "rooms")).includes("vip"), "the user in vip");
    assert.ok(!(await ask(other, "rooms")).includes("vip"));
    root.emit("emit", "/", "vip", "hello", 1, { two: 2 });
    await until(() => got(userLog, "hello").length === 1, "the admin's emit");
    assert.deepEqual(got(userLog, "hello")[0], [1, { two: 2 }]);
    root.emit("leave", "/", "vip", user.id);
    await until(async () => !(await ask(user, "rooms")).includes("vip"), "the user out of vip");
    const gone = once(user, "disconnect");
    const id = user.id; // the client forgets it on disconnect
    root.emit("_disconnect", "/", false, id);
    assert.equal((await gone)[0], "io server disconnect");
    await until(() => got(log, "socket_disconnected").some(([, sid]) => sid === id), "socket_disconnected");
    assert.ok(other.connected, "the other socket stays");
    assert.deepEqual(await ask(other, "echo", "still here"), ["still here"]);
  });

  it("takes back an admin by the session id it was given", async () => {
    const [, log] = await admin();
    const [session] = got(log, "session")[0];
    const [, again] = await admin(URL_, { sessionId: session });
    assert.ok(got(again, "config").length === 1);
  });

  it("read-only: no action offered, and none done", async () => {
    const [root, log] = await admin(RO_URL);
    const [config] = got(log, "config")[0];
    assert.deepEqual(config.supportedFeatures.sort(), ["AGGREGATED_EVENTS", "ALL_EVENTS"]);
    const user = await open("/", {}, RO_URL);
    root.emit("_disconnect", "/", false, user.id);
    root.emit("_disconnect", "/", true, user.id);
    root.emit("join", "/", "vip", user.id);
    // Two stats rounds later (a second at the test app's interval), the
    // server has long read the admin's packets: nothing may have happened.
    const seen = got(log, "server_stats").length;
    await until(() => got(log, "server_stats").length >= seen + 2, "two more server_stats");
    assert.ok(user.connected);
    assert.deepEqual(await ask(user, "rooms"), [user.id]);
  });
});
