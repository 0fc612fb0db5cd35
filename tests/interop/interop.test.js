// Interop: a Socket.IO client under Node against realtime's Python server.
//
// Run by tests/interop/test_node_interop.py, once per async mode of the
// server, transport setup and client, with the environment helpers.js reads
// and:
//   INTEROP_SERIAL_URL   the same app with async_handlers=False (events are
//                        handled one at a time, in the order they arrived)
//                        and short heartbeats (a dead client is noticed in
//                        about a second): for bursts and dropped connections
//   INTEROP_MSGPACK_URL  the same app with serializer="msgpack" (official
//                        client only; absent for ours, which has no msgpack)
"use strict";
const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const {
  env, fromNodeModules, URL_, CLIENT, SETUP, transports, FINAL,
  sleep, once, until, ackOf, ask, record, got, bytes, state, serverReason, cleanup,
  make, manager, connected, open, startProxy,
} = require("./helpers");

const SERIAL_URL = env("INTEROP_SERIAL_URL");
const MSGPACK_URL = CLIENT === "official" ? env("INTEROP_MSGPACK_URL") : "";

afterEach(cleanup);

// -------------------------------------------------------------- scenarios

describe(`${CLIENT} client, ${SETUP}: connecting`, () => {
  it("sends auth in CONNECT (an object, a function, none) and reaches the expected transport", async () => {
    const withObject = make("/", { auth: { token: "t0k3n", list: [1, null, "ü"] } });
    const withFunction = make("/custom", { auth: (cb) => cb({ from: "function" }) });
    const without = make("/");
    const answers = [once(withObject, "auth"), once(withFunction, "auth"), once(without, "auth")];
    assert.deepEqual(await answers[0], [{ token: "t0k3n", list: [1, null, "ü"] }]);
    assert.deepEqual(await answers[1], [{ from: "function" }]);
    assert.deepEqual(await answers[2], [{}]);
    for (const socket of [withObject, withFunction, without]) {
      await connected(socket);
      assert.equal(typeof socket.id, "string");
      assert.notEqual(socket.id, socket.io.engine.id, "the Socket.IO sid is not the Engine.IO sid");
    }
    for (const socket of [withObject, without]) {
      assert.equal(await ask(socket, "transport"), FINAL, "the server's view of the transport");
    }
    assert.notEqual(withObject.id, without.id);
  });

  it("a refusal reaches connect_error with the server's message and data", async () => {
    const refused = make("/", { auth: { refuse: "no entry" } });
    const [err] = await once(refused, "connect_error");
    assert.ok(err instanceof Error);
    assert.equal(err.message, "no entry");
    assert.deepEqual(err.data, { why: "no entry" });
    assert.equal(refused.connected, false);
    assert.equal(refused.active, false, "a refused socket does not retry by itself");

    const plain = make("/", { auth: { refuse_false: true } });
    const [plainErr] = await once(plain, "connect_error");
    assert.equal(plainErr.message, "Connection rejected by server");
    assert.equal(plainErr.data, undefined);

    const unknown = make("/nowhere");
    const [unknownErr] = await once(unknown, "connect_error");
    assert.equal(unknownErr.message, "Invalid namespace");
    assert.equal(unknownErr.data, undefined);

    // After a refusal, connect() tries again, with the auth as it is now.
    refused.auth = { token: "better" };
    const auth = once(refused, "auth");
    refused.connect();
    await once(refused, "connect");
    assert.deepEqual(await auth, [{ token: "better" }]);
  });

  it("several namespaces share one Engine.IO session; events stay in their namespace", async () => {
    const socket = manager();
    const root = socket("/");
    const custom = socket("/custom", { auth: { ns: "custom" } });
    const dyn = socket("/dyn-7");
    const rootLog = record(root), customLog = record(custom), dynLog = record(dyn);
    await Promise.all([root, custom, dyn].map(connected));
    assert.equal(root.io, custom.io);
    assert.equal(root.io, dyn.io);
    const engineId = root.io.engine.id;
    assert.equal(await ask(root, "engine_sid"), engineId, "the server sees one connection");
    assert.equal(await ask(custom, "engine_sid"), engineId, "the server sees one connection");
    assert.equal(new Set([root.id, custom.id, dyn.id, engineId]).size, 4);

    const rootBack = once(root, "message-back"), customBack = once(custom, "message-back");
    custom.emit("message", "to custom", 1);
    root.emit("message", "to root", 2);
    assert.deepEqual(await customBack, ["to custom", 1]);
    assert.deepEqual(await rootBack, ["to root", 2]);
    // A dynamic namespace: its connect handler and catch-all handler.
    assert.deepEqual(await ackOf(dyn, "anything", 3, { x: [4] }), ["anything", "/dyn-7", 3, { x: [4] }]);
    await sleep(100);
    assert.deepEqual(got(rootLog, "message-back"), [["to root", 2]]);
    assert.deepEqual(got(customLog, "message-back"), [["to custom", 1]]);
    assert.deepEqual(got(rootLog, "auth"), [[{}]]);
    assert.deepEqual(got(customLog, "auth"), [[{ ns: "custom" }]]);
    assert.deepEqual(got(dynLog, "welcome"), [["/dyn-7"]]);
    assert.deepEqual([...dynLog.keys()], ["welcome"]);

    // Leaving one namespace keeps the others, and the session, going.
    const customId = custom.id;
    custom.disconnect();
    assert.equal(await serverReason(customId), "client disconnect");
    assert.deepEqual(await ackOf(root, "message-with-ack", "still here"), ["still here"]);
    assert.equal(root.io.engine.id, engineId);
  });

  it("a class-based namespace (/chat) keeps its events to its members", async () => {
    const [alice, bob] = await Promise.all([open("/chat"), open("/chat")]);
    const aliceLog = record(alice);
    const said = once(bob, "said");
    assert.equal(await ask(alice, "say", "hi bob"), "ok");
    assert.deepEqual(await said, ["hi bob"]);
    assert.equal(await ask(bob, "say", "hi alice"), "ok");
    await until(() => got(aliceLog, "said").length === 1, "alice's message");
    assert.deepEqual(got(aliceLog, "said"), [["hi alice"]]);
  });
});

describe(`${CLIENT} client, ${SETUP}: events and acknowledgements`, () => {
  const MIXED = ["text", 42, -7, 1.5, 0.1, 2 ** 53 - 1, true, false, null, "",
    { deep: { list: [1, "two", { three: 3 }], empty: {} } }, [], [[]],
    "ünïcødé ✓ 🎉", "separators \x1e and \u2028 and \"quotes\" \\ and \n newline"];

  it("carries events with several arguments of mixed types both ways", async () => {
    const socket = await open();
    const back = once(socket, "message-back");
    socket.emit("message", ...MIXED);
    assert.deepEqual(await back, MIXED);
    const none = once(socket, "message-back");
    socket.emit("message");
    assert.deepEqual(await none, []);
    socket.send("via", "send()");
    assert.deepEqual(await once(socket, "message-back"), ["via", "send()"]);
  });

  it("client -> server acks, emitWithAck, and the ack timeouts of the client", async () => {
    const socket = await open();
    assert.deepEqual(await ackOf(socket, "message-with-ack", ...MIXED), MIXED);
    assert.deepEqual(await ackOf(socket, "message-with-ack"), []);
    assert.deepEqual(await socket.emitWithAck("message-with-ack", { v: [1, 2] }, "second"), { v: [1, 2] });
    assert.equal(await socket.timeout(5000).emitWithAck("message-with-ack", "timely"), "timely");
    const [err, ...rest] = await new Promise((resolve) =>
      socket.timeout(5000).emit("message-with-ack", "a", "b", (...r) => resolve(r)));
    assert.equal(err, null);
    assert.deepEqual(rest, ["a", "b"]);

    // An event no handler takes is never acknowledged.
    const started = Date.now();
    const [timedOut, ...nothing] = await new Promise((resolve) =>
      socket.timeout(150).emit("nobody-listens", 1, (...r) => resolve(r)));
    assert.ok(timedOut instanceof Error);
    assert.equal(timedOut.message, "operation has timed out");
    assert.deepEqual(nothing, []);
    assert.ok(Date.now() - started >= 140);
    await assert.rejects(socket.timeout(150).emitWithAck("nobody-listens"), /operation has timed out/);

    // An ack that comes after the timeout is dropped: the callback runs once.
    // (The Manager's "packet" event shows each decoded packet, 3 being ACK.)
    let lateAcks = 0;
    socket.io.on("packet", (p) => {
      if (p.type === 3 && p.data && p.data[0] === "late") lateAcks++;
    });
    const calls = [];
    socket.timeout(150).emit("slow_ack", 0.4, (...r) => calls.push(r));
    await until(() => calls.length === 1, "the timeout");
    assert.equal(calls[0][0].message, "operation has timed out");
    assert.deepEqual(await ackOf(socket, "slow_ack", 0.1), ["late"]);
    await until(() => lateAcks === 2, "the late ack");
    await sleep(10);
    assert.equal(calls.length, 1, "a late ack must not call the callback again");
    assert.deepEqual(await ackOf(socket, "message-with-ack", "still in sync"), ["still in sync"]);
  });

  it("server -> client acks: call(), its timeout, and emit with a callback", async () => {
    const socket = await open();
    const questions = [];
    socket.on("question", (...args) => {
      const ack = args.pop();
      questions.push(args);
      ack("answer", ...args);
    });
    assert.deepEqual(await ackOf(socket, "ask", "why", 42, { n: null }), ["answer", "why", 42, { n: null }]);
    assert.deepEqual(questions, [["why", 42, { n: null }]]);

    let silent = 0;
    socket.on("silent", (ack) => {
      silent++;
      assert.equal(typeof ack, "function", "the server asked for an ack");
    });
    assert.equal(await ask(socket, "ask_with_timeout", 0.3), "timeout True");
    assert.equal(silent, 1);

    const key = `cb-${CLIENT}-${SETUP}-${Date.now()}`;
    socket.emit("emit_with_callback", key);
    let callback = null;
    await until(async () => (callback = (await state({ callback: key })).callback) !== null,
      "the server's callback");
    assert.deepEqual(callback, ["answer", "callback?"]);
  });

  it("per-connection session storage", async () => {
    const [one, two] = await Promise.all([open(), open()]);
    one.emit("session_set", { user: "ada", n: [1] });
    assert.deepEqual(await ask(one, "session_get"), { user: "ada", n: [1] });
    // A handler returning None acks with no argument, as python-socketio does.
    assert.deepEqual(await ackOf(two, "session_get"), []);
  });

  // A stock server's socket.emit("disconnect") throws ('"disconnect" is a
  // reserved event name'); so does ours, so no client ever gets such an
  // event: both clients' decoders refuse one as an invalid packet and drop
  // the whole connection, every namespace with it.
  it("an app emitting a reserved event name fails in the app; the client stays connected", async () => {
    const socket = await open();
    const reasons = [];
    socket.on("disconnect", (reason) => reasons.push(reason));
    // sio_echo's to_rooms(rooms, event, *args) makes the app emit `event`.
    socket.emit("to_rooms", [socket.id], "disconnect", "from the app");
    const outcome = await Promise.race([
      ackOf(socket, "message-with-ack", "still here"),
      once(socket, "disconnect").then(([reason]) => `disconnected: ${reason}`),
    ]);
    assert.deepEqual(outcome, ["still here"]);
    assert.deepEqual(reasons, []);
    assert.equal(socket.connected, true);
  });
});

describe(`${CLIENT} client, ${SETUP}: binary`, () => {
  it("round-trips binary nested in objects: Buffer, ArrayBuffer, typed arrays", async () => {
    const socket = await open();
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const answer = await ask(socket, "binary_back", {
      buf: Buffer.from([0, 1, 2, 255]),
      ab: new Uint8Array([9, 8, 7]).buffer,
      u16: new Uint16Array([1, 0xffff]),
      view: new DataView(new Uint8Array([5, 6, 7, 8]).buffer, 1, 2),
      nested: [{ deeper: all }, "text", 3, { empty: new Uint8Array(0) }],
    });
    assert.ok(Buffer.isBuffer(answer.extra), "binary arrives as a Buffer under Node");
    assert.deepEqual(bytes(answer.extra), [0, 255]);
    const echoed = answer.got;
    assert.deepEqual(bytes(echoed.buf), [0, 1, 2, 255]);
    assert.deepEqual(bytes(echoed.ab), [9, 8, 7]);
    assert.deepEqual(bytes(echoed.u16), [1, 0, 255, 255]);
    assert.deepEqual(bytes(echoed.view), [6, 7]);
    assert.deepEqual(bytes(echoed.nested[0].deeper), [...all]);
    assert.deepEqual(echoed.nested.slice(1, 3), ["text", 3]);
    assert.deepEqual(bytes(echoed.nested[3].empty), []);
  });

  it("binary in events and acks, both directions", async () => {
    const socket = await open();
    const back = once(socket, "message-back");
    socket.emit("message", Buffer.from("top level"), "text", { inner: [new Uint8Array([1, 2])] });
    const [top, text, obj] = await back;
    assert.equal(Buffer.from(top).toString(), "top level");
    assert.equal(text, "text");
    assert.deepEqual(bytes(obj.inner[0]), [1, 2]);

    // ask: a binary event to the client, its binary ack, the server's binary ack.
    socket.on("question", (data, ack) => {
      assert.ok(Buffer.isBuffer(data));
      ack({ reply: Buffer.from([...data].reverse()) }, data);
    });
    const [reply, original] = await ackOf(socket, "ask", new Uint8Array([1, 2, 3]));
    assert.deepEqual(bytes(reply.reply), [3, 2, 1]);
    assert.deepEqual(bytes(original), [1, 2, 3]);
  });
});

describe(`${CLIENT} client, ${SETUP}: rooms and broadcasts`, () => {
  it("broadcasts to a room but the sender, to a room but another sid, to several rooms, to all", async () => {
    const room = `room-${CLIENT}-${SETUP}-${Date.now()}`;
    const [alice, bob, carol, dave] = await Promise.all([open(), open(), open(), open()]);
    const logs = new Map([alice, bob, carol, dave].map((s) => [s, record(s)]));
    for (const s of [alice, bob, carol]) {
      const rooms = await ask(s, "join", room);
      assert.deepEqual(rooms.sort(), [s.id, room].sort());
    }
    // Sequenced by acks: the server emits before it acks, so an event sent
    // to a client is on its way before the next request is made.
    const marker = async (n) => {
      await ask(alice, "to_all", "marker", n);
      for (const s of logs.keys()) {
        await until(() => got(logs.get(s), "marker").length === n, `marker ${n}`);
      }
    };
    await ask(alice, "to_room", room, "news", "from alice", { n: 1 });
    await marker(1);
    assert.deepEqual(got(logs.get(bob), "news"), [["from alice", { n: 1 }]]);
    assert.deepEqual(got(logs.get(carol), "news"), [["from alice", { n: 1 }]]);
    assert.deepEqual(got(logs.get(alice), "news"), [], "the sender is skipped");
    assert.deepEqual(got(logs.get(dave), "news"), [], "not in the room");

    await ask(alice, "to_room_except", room, bob.id, "gossip", "not for bob");
    await marker(2);
    assert.deepEqual(got(logs.get(alice), "gossip"), [["not for bob"]]);
    assert.deepEqual(got(logs.get(carol), "gossip"), [["not for bob"]]);
    assert.deepEqual(got(logs.get(bob), "gossip"), []);
    assert.deepEqual(got(logs.get(dave), "gossip"), []);

    await ask(dave, "to_rooms", [room, dave.id], "roll call", 7);
    await marker(3);
    for (const s of logs.keys()) assert.deepEqual(got(logs.get(s), "roll call"), [[7]], "once each");

    const tag = `all-${Date.now()}`;
    await ask(bob, "to_all", tag, "hello everyone");
    await marker(4);
    for (const s of logs.keys()) assert.deepEqual(got(logs.get(s), tag), [["hello everyone"]]);

    assert.deepEqual(await ask(bob, "leave", room), [bob.id]);
    await ask(alice, "to_room", room, "after leave", 1);
    await marker(5);
    assert.deepEqual(got(logs.get(carol), "after leave"), [[1]]);
    assert.deepEqual(got(logs.get(bob), "after leave"), []);
  });

  it("call() to a room gathers each member's answer, or its timeout", async () => {
    const room = `poll-${CLIENT}-${SETUP}-${Date.now()}`;
    const [alice, bob, dave] = await Promise.all([open(), open(), open()]);
    for (const s of [alice, bob, dave]) await ask(s, "join", room);
    alice.on("question", (q, ack) => ack(`alice says yes to ${q}`));
    bob.on("question", (q, ack) => ack("bob says no", Buffer.from([1])));
    let daveAsked = 0;
    dave.on("question", () => daveAsked++); // never answers
    const answers = await alice.timeout(10000).emitWithAck("ask_room", room, 0.5);
    assert.equal(daveAsked, 1);
    assert.equal(answers[alice.id], "alice says yes to room?");
    assert.equal(answers[dave.id], "timeout");
    assert.equal(answers[bob.id][0], "bob says no");
    assert.deepEqual(bytes(answers[bob.id][1]), [1]);
    assert.deepEqual(Object.keys(answers).sort(), [alice.id, bob.id, dave.id].sort());
  });
});

describe(`${CLIENT} client, ${SETUP}: disconnections`, () => {
  it("client disconnect(): 'io client disconnect' here, 'client disconnect' on the server", async () => {
    const socket = await open();
    const sid = socket.id;
    const reason = once(socket, "disconnect");
    socket.disconnect();
    assert.equal((await reason)[0], "io client disconnect");
    assert.equal(socket.active, false);
    assert.equal(await serverReason(sid), "client disconnect");
  });

  it("server disconnect (kick): 'io server disconnect', no reconnection", async () => {
    const socket = await open();
    const sid = socket.id;
    let attempts = 0;
    socket.io.on("reconnect_attempt", () => attempts++);
    const reason = once(socket, "disconnect");
    socket.emit("kick");
    assert.equal((await reason)[0], "io server disconnect");
    assert.equal(socket.active, false);
    assert.equal(await serverReason(sid), "server disconnect");
    await sleep(400); // several reconnection delays
    assert.equal(attempts, 0);
    assert.equal(socket.connected, false);
    // connect() brings it back by hand.
    socket.connect();
    await once(socket, "connect");
    assert.notEqual(socket.id, sid);
  });

  // `how`: the server closes the Engine.IO session (close packet first), or
  // the network drops (the proxy cuts every connection and refuses new ones
  // for a while).
  for (const how of ["server closes the session", "network drop"]) {
    it(`${how}: the client reconnects by itself and sends what it buffered`, async () => {
      const proxy = await startProxy(SERIAL_URL);
      const socket = await open("/", {}, proxy.url);
      const firstId = socket.id, firstEngine = socket.io.engine.id;
      const backs = record(socket);
      const reasons = [];
      let buffered = null;
      socket.on("disconnect", (reason) => reasons.push(reason));
      socket.once("disconnect", () => {
        assert.equal(socket.connected, false);
        socket.emit("message", "buffered", 1, { bin: new Uint8Array([7]) });
        buffered = ackOf(socket, "message-with-ack", "acked after reconnecting");
        buffered.catch(() => {}); // awaited below; no unhandled rejection if the test fails first
      });
      // The server is on the final transport too: a connection cut in the
      // middle of the upgrade would leave it waiting on polling for the
      // heartbeat, as a stock server does.
      assert.equal(await ask(socket, "transport"), FINAL);
      const disconnected = once(socket, "disconnect");
      if (how === "network drop") proxy.outage(300);
      else socket.emit("drop");
      await disconnected;
      // A long poll cut short fails its request ("transport error"); a
      // WebSocket closes ("transport close"), as with a stock server.
      const expected = how === "network drop" && SETUP === "polling" ? "transport error" : "transport close";
      assert.equal(reasons[0], expected);
      assert.equal(socket.active, true, "a dropped connection is retried");
      await connected(socket);
      assert.notEqual(socket.id, firstId);
      assert.notEqual(socket.io.engine.id, firstEngine);
      assert.deepEqual(await buffered, ["acked after reconnecting"]);
      await until(() => got(backs, "message-back").length === 1, "the buffered message");
      const [[text, n, obj]] = got(backs, "message-back");
      assert.deepEqual([text, n, bytes(obj.bin)], ["buffered", 1, [7]]);
      assert.deepEqual(reasons, [reasons[0]], "one disconnection");
      const serverSide = await serverReason(firstId, SERIAL_URL);
      if (how === "network drop" && SETUP === "polling") {
        // Seen at once if a GET was waiting, else by the heartbeat.
        assert.ok(["transport close", "transport error", "ping timeout"].includes(serverSide), serverSide);
      } else if (how === "network drop") {
        assert.equal(serverSide, "transport close");
      } else {
        assert.equal(serverSide, "server disconnect");
      }
    });
  }
});

describe(`${CLIENT} client, ${SETUP}: ordering`, () => {
  const COUNT = 300;
  // Numbered payloads; every tenth carries binary, to interleave attachments.
  const payload = (i) => (i % 10 === 0
    ? { i, bin: Buffer.from([i & 0xff, 1]) } : { i, pad: "x".repeat(i % 40) });
  const numbers = (n) => [...Array(n).keys()];
  const across = SETUP === "upgrade" ? " across the upgrade" : "";

  it(`hundreds of numbered messages each way arrive complete and in order${across}`, async () => {
    // For the upgrade the proxy holds the WebSocket handshake, so that the
    // switch happens in the middle of the traffic, not before it.
    const proxy = await startProxy(SERIAL_URL, { holdUpgradesMs: SETUP === "upgrade" ? 400 : 0 });
    const socket = make("/", {}, proxy.url);
    const fromServer = [], echoed = [];
    let serverEnd = null, echoedAtUpgrade = -1, streamedAtUpgrade = -1;
    socket.on("n", (i) => fromServer.push(i));
    socket.on("n-end", (count) => { serverEnd = count; });
    socket.on("message-back", (p) => echoed.push(p));
    await once(socket, "connect");
    assert.equal(socket.io.engine.transport.name, transports[0]);
    let upgradedTo = null;
    socket.io.engine.on("upgrade", (transport) => {
      upgradedTo = transport.name; // both clients pass the new transport
      echoedAtUpgrade = echoed.length;
      streamedAtUpgrade = fromServer.length;
    });
    // The server streams "n" until it has sent COUNT and (for the upgrade)
    // sees the client on WebSocket; the client sends COUNT numbered messages
    // and, for the upgrade, goes on until it has switched.
    socket.emit("stream", "n", COUNT, SETUP === "upgrade");
    let sent = 0;
    const deadline = Date.now() + 20000;
    while ((sent < COUNT || socket.io.engine.transport.name !== FINAL) && Date.now() < deadline) {
      socket.emit("message", payload(sent++));
      if (sent % 3 === 0) await sleep(1);
    }
    assert.equal(socket.io.engine.transport.name, FINAL);
    await until(() => serverEnd !== null && fromServer.length >= serverEnd && echoed.length >= sent,
      "the end of both streams", 20000);
    assert.ok(serverEnd >= COUNT);
    assert.deepEqual(fromServer, numbers(serverEnd), "server -> client: every message once, in order");
    assert.deepEqual(echoed.map((p) => p.i), numbers(sent), "client -> server: every message once, in order");
    for (const p of echoed) {
      if (p.i % 10 === 0) assert.deepEqual(bytes(p.bin), [p.i & 0xff, 1], `attachment of ${p.i}`);
      else assert.equal(p.pad, "x".repeat(p.i % 40));
    }
    if (SETUP === "upgrade") {
      assert.ok(echoedAtUpgrade > 0 && echoedAtUpgrade < sent,
        `the upgrade came mid-traffic (${echoedAtUpgrade} of ${sent} echoes before it)`);
      assert.ok(streamedAtUpgrade > 0 && streamedAtUpgrade < serverEnd,
        `the upgrade came mid-stream (${streamedAtUpgrade} of ${serverEnd} before it)`);
      assert.equal(await ask(socket, "transport"), "websocket");
      assert.equal(upgradedTo, "websocket");
    }
    await sleep(50);
    assert.equal(fromServer.length, serverEnd, "nothing doubled late");
    assert.equal(echoed.length, sent, "nothing doubled late");
  });
});

if (CLIENT === "official") {
  describe(`official client with socket.io-msgpack-parser, ${SETUP}`, () => {
    const parser = fromNodeModules("socket.io-msgpack-parser");
    const openMsgpack = (nsp = "/", opts = {}) => open(nsp, { parser, ...opts }, MSGPACK_URL);

    it("connects with auth, carries events, acks and binary both ways", async () => {
      const socket = make("/", { parser, auth: { token: "packed", n: [1, 2.5] } }, MSGPACK_URL);
      const auth = once(socket, "auth");
      await connected(socket);
      assert.deepEqual(await auth, [{ token: "packed", n: [1, 2.5] }]);
      const args = ["text", 42, -1.25, true, null, { deep: [1, "two", {}] }, [], "ünïcødé ✓"];
      assert.deepEqual(await ackOf(socket, "message-with-ack", ...args), args);
      const back = once(socket, "message-back");
      socket.emit("message", ...args);
      assert.deepEqual(await back, args);
      const answer = await ask(socket, "binary_back",
        { nested: [Buffer.from([0, 1, 255]), { deeper: new Uint8Array([5]) }] });
      assert.deepEqual(bytes(answer.extra), [0, 255]);
      assert.deepEqual(bytes(answer.got.nested[0]), [0, 1, 255]);
      assert.deepEqual(bytes(answer.got.nested[1].deeper), [5]);
      socket.on("question", (...a) => a.pop()("answer", ...a));
      assert.deepEqual(await ackOf(socket, "ask", "why", Buffer.from([3])),
        ["answer", "why", Buffer.from([3])]);
      assert.equal(await ask(socket, "transport"), FINAL);
    });

    it("refusals and several namespaces", async () => {
      const refused = make("/", { parser, auth: { refuse: "packed no" } }, MSGPACK_URL);
      const [err] = await once(refused, "connect_error");
      assert.equal(err.message, "packed no");
      assert.deepEqual(err.data, { why: "packed no" });
      const unknown = make("/nowhere", { parser }, MSGPACK_URL);
      assert.equal((await once(unknown, "connect_error"))[0].message, "Invalid namespace");

      const socket = manager({ parser }, MSGPACK_URL);
      const root = socket("/"), custom = socket("/custom");
      await Promise.all([connected(root), connected(custom)]);
      assert.equal(await ask(root, "engine_sid"), root.io.engine.id);
      assert.equal(await ask(custom, "engine_sid"), root.io.engine.id);
      const back = once(custom, "message-back");
      custom.emit("message", "to custom");
      assert.deepEqual(await back, ["to custom"]);
      const sid = custom.id;
      custom.disconnect();
      assert.equal(await serverReason(sid, MSGPACK_URL), "client disconnect");
    });

    it("timeouts both ways", async () => {
      const socket = await openMsgpack();
      await assert.rejects(socket.timeout(150).emitWithAck("nobody-listens"), /operation has timed out/);
      socket.on("silent", () => {});
      assert.equal(await ask(socket, "ask_with_timeout", 0.2), "timeout True");
    });
  });
}
