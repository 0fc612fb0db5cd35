// Connection state recovery against a stock socket.io server with
// `connectionStateRecovery` on: the client keeps the pid of the CONNECT
// reply, strips the offset socket.io appends to its events, sends both back
// when it reconnects, and comes back with its id, rooms and missed events.
"use strict";
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const h = require("./helpers");

const RECOVERY = { connectionStateRecovery: { maxDisconnectionDuration: 60000 } };

// A server with recovery on that records the auth of every CONNECT (the
// middlewares run on a recovery too, with skipMiddlewares off).
async function startRecoveryServer() {
  const server = await h.startServer({
    connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: false },
  });
  server.auths = [];
  server.io.use((socket, next) => {
    server.auths.push(socket.handshake.auth);
    next();
  });
  return server;
}

// Records every event the client gets, with its arguments.
function record(c) {
  const events = [];
  c.onAny((...args) => events.push(args));
  return events;
}

for (const transports of [["polling"], ["websocket"]]) {
  describe(`recovery with a stock server (${transports[0]})`, () => {
    it("recovers: same id and rooms, missed events once and in order, offsets stripped", async () => {
      const server = await startRecoveryServer();
      const c = h.connect(server.url, { transports, auth: { token: "t" } });
      try {
        const events = record(c);
        const serverSide = h.nextConnection(server);
        await h.once(c, "connect");
        const s = await serverSide;
        assert.equal(c.recovered, false);
        s.join("room");
        server.io.to("room").emit("n", 0, "text"); // a last argument that is a string stays
        s.emit("n", 1);
        await h.until(() => events.length === 2, 5000, "the first events");
        assert.deepEqual(events, [["n", 0, "text"], ["n", 1]]);

        const disconnected = h.once(c, "disconnect");
        s.conn.close(); // socket.io calls it "forced close": recoverable
        assert.equal((await disconnected)[0], "transport close");
        server.io.to("room").emit("n", 2);
        server.io.to("room").emit("n", 3, { x: "y" });
        await h.once(c, "connect");
        assert.equal(c.recovered, true);
        assert.equal(c.id, s.id);
        await h.until(() => events.length === 4, 5000, "the missed events");
        await h.sleep(100);
        assert.deepEqual(events.slice(2), [["n", 2], ["n", 3, { x: "y" }]]);
        const [again] = [...server.io.of("/").sockets.values()];
        assert.equal(again.id, s.id);
        assert.ok(again.rooms.has("room"));
        // The second CONNECT carried the auth, the pid and the last offset.
        assert.equal(server.auths.length, 2);
        assert.deepEqual(server.auths[0], { token: "t" });
        assert.deepEqual(Object.keys(server.auths[1]).sort(), ["offset", "pid", "token"]);
        assert.equal(typeof server.auths[1].pid, "string");
        assert.equal(typeof server.auths[1].offset, "string");
      } finally {
        c.disconnect();
        await server.close();
      }
    });

    it("leaves alone what is not an offset: events that ask for an ack", async () => {
      const server = await h.startServer(RECOVERY);
      const c = h.connect(server.url, { transports });
      try {
        const serverSide = h.nextConnection(server);
        await h.once(c, "connect");
        const s = await serverSide;
        c.on("question", (text, ack) => ack(text.toUpperCase()));
        assert.equal(await s.timeout(5000).emitWithAck("question", "why"), "WHY");
      } finally {
        c.disconnect();
        await server.close();
      }
    });

    it("sends no pid after a disconnect on purpose, by either side", async () => {
      const server = await startRecoveryServer();
      const c = h.connect(server.url, { transports });
      try {
        let serverSide = h.nextConnection(server);
        await h.once(c, "connect");
        let s = await serverSide;
        s.emit("n", 0);
        await h.once(c, "n");
        const first = c.id;
        // The client leaves, and comes back.
        c.disconnect();
        serverSide = h.nextConnection(server);
        c.connect();
        await h.once(c, "connect");
        s = await serverSide;
        assert.equal(c.recovered, false);
        assert.notEqual(c.id, first);
        // The server sends it away, and it comes back.
        s.emit("n", 1);
        await h.once(c, "n");
        const second = c.id;
        const gone = h.once(c, "disconnect");
        s.disconnect();
        assert.equal((await gone)[0], "io server disconnect");
        c.connect();
        await h.once(c, "connect");
        assert.equal(c.recovered, false);
        assert.notEqual(c.id, second);
        assert.equal(server.auths.length, 3);
        for (const auth of server.auths) assert.deepEqual(auth, {});
      } finally {
        c.disconnect();
        await server.close();
      }
    });

    it("sends what was emitted during the gap once (no replay: a stock server says not what it got)", async () => {
      const server = await h.startServer(RECOVERY);
      const got = [];
      server.io.on("connection", (s) => s.on("m", (n) => got.push(n)));
      const c = h.connect(server.url, { transports });
      try {
        const serverSide = h.nextConnection(server);
        await h.once(c, "connect");
        const s = await serverSide;
        s.emit("n", 0);
        await h.once(c, "n");
        c.emit("m", 0);
        await h.until(() => got.length === 1, 5000, "the first event");
        const disconnected = h.once(c, "disconnect");
        s.conn.close();
        await disconnected;
        c.emit("m", 1);
        await h.once(c, "connect");
        assert.equal(c.recovered, true);
        await h.until(() => got.length === 2, 5000, "the buffered event");
        await h.sleep(100);
        assert.deepEqual(got, [0, 1]);
      } finally {
        c.disconnect();
        await server.close();
      }
    });
  });
}
