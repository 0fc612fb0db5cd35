// The transport ladder of realtime.js against realtime's server, under Node:
// each rung (websocket, sse, streaming, long and short polling) carries
// events, acks and binary both ways, keeps the order of hundreds of messages
// across the switch, answers heartbeats and closes cleanly; failed and
// silent probes fall through to the next rung; held requests that keep being
// cut drop the client to short polling.
//
// Run by tests/client/test_ladder.py, once per async mode of the server, with:
//   LADDER_URL         tests.support.interop_apps:interop (sio_echo and more)
//   LADDER_SERIAL_URL  the same with async_handlers=False (an echo keeps the
//                      order of the wire) and a 0.5 s ping interval
"use strict";
const { describe, it, afterEach } = require("node:test");
const {
  assert, env, sleep, once, until, cleanup, connect, rung, watch, ask, checkTraffic,
  serverReason, startProxy,
} = require("./helpers");

const URL_ = env("LADDER_URL");
const SERIAL_URL = env("LADDER_SERIAL_URL");

afterEach(cleanup);

// How to reach each rung of a server that offers them all, and what the
// server calls the transport then.
const RUNGS = {
  websocket: { opts: {}, server: "websocket" },
  sse: { opts: { transports: ["polling", "sse"] }, server: "sse" },
  streaming: { opts: { transports: ["polling", "streaming"] }, server: "streaming" },
  "long polling": { opts: { transports: ["polling", "sse", "streaming"], upgrade: false }, server: "polling" },
  "short polling": { opts: { shortPolling: true, shortPollingInterval: 100 }, server: "polling" },
};
const expected = (name) => (name === "long polling" ? "polling" : name);

// Connected, and on its last rung.
async function settled(socket, name) {
  if (!socket.connected) await once(socket, "connect");
  await until(() => rung(socket) === expected(name), `the client on ${name} (it is on ${rung(socket)})`);
  return socket;
}

for (const [name, { opts, server }] of Object.entries(RUNGS)) {
  describe(`on ${name}`, () => {
    it("lands there, and the server agrees", async () => {
      const socket = await settled(connect(URL_, opts), name);
      assert.equal(await ask(socket, "transport"), server);
      assert.equal(!!socket.io.engine.transport.short, name === "short polling");
    });

    it("carries events, acks and binary data both ways", async () => {
      const socket = await settled(connect(URL_, opts), name);
      await checkTraffic(socket);
      assert.equal(rung(socket), expected(name));
    });

    it("closes cleanly from either side", async () => {
      const kicked = await settled(connect(URL_, opts), name);
      const gone = once(kicked, "disconnect");
      kicked.emit("kick");
      assert.deepEqual((await gone).slice(0, 1), ["io server disconnect"]);

      const leaving = await settled(connect(URL_, opts), name);
      const sid = leaving.id;
      leaving.disconnect();
      assert.equal(await serverReason(URL_, sid), "client disconnect");
    });
  });
}

// The server of LADDER_SERIAL_URL pings every 0.5 s and gives a client 1 s
// to answer: three seconds on each rung (all at once) show the pongs get
// through, down every downstream and up every upstream.
it("answers heartbeats on every rung and stays connected", async () => {
  const sockets = await Promise.all(Object.entries(RUNGS).map(async ([name, { opts }]) => {
    const socket = await settled(connect(SERIAL_URL, opts), name);
    const seen = watch(socket);
    seen.pings = 0;
    socket.io.on("ping", () => seen.pings++);
    return { name, socket, seen };
  }));
  await sleep(3000);
  for (const { name, socket, seen } of sockets) {
    assert.ok(seen.pings >= 2, `${name}: ${seen.pings} pings in 3 s`);
    assert.deepEqual(seen.disconnects, [], name);
    assert.equal(rung(socket), expected(name));
    assert.equal(await ask(socket, "message-with-ack", "alive"), "alive", name);
  }
});

// Numbered messages both ways while the session moves to `name`: none may
// be lost, doubled or reordered (engine.io-protocol v4, "Upgrade").
const COUNT = 300;
for (const name of ["websocket", "sse", "streaming"]) {
  it(`loses, doubles and reorders nothing across the switch to ${name}`, async () => {
    // The proxy holds the probe a while, so the switch lands mid-traffic.
    const proxy = await startProxy(SERIAL_URL, { delayProbes: 150 });
    const socket = connect(proxy.url, RUNGS[name].opts);
    const fromServer = [], echoed = [];
    let switchedAt = -1;
    socket.on("n", (i) => fromServer.push(i));
    socket.on("message-back", (i) => echoed.push(i));
    socket.io.on("open", () => socket.io.engine.on("upgrade", () => { switchedAt = fromServer.length; }));
    await once(socket, "connect");
    assert.equal(rung(socket), "polling", "the session starts on polling");
    const ended = once(socket, "n-end", 30000);
    socket.emit("stream", "n", COUNT, true); // until the session has left polling
    for (let i = 0; i < COUNT; i++) {
      socket.emit("message", i);
      if (i % 2) await sleep(1);
    }
    const [sent] = await ended;
    await until(() => echoed.length >= COUNT, "the echoes", 20000);
    assert.deepEqual(fromServer, [...Array(sent).keys()], "server to client: each once, in order");
    assert.deepEqual(echoed, [...Array(COUNT).keys()], "client to server: each once, in order");
    assert.equal(rung(socket), name);
    assert.ok(switchedAt > 0 && switchedAt < sent, `switched after ${switchedAt} of ${sent} messages`);
    await sleep(100);
    assert.equal(echoed.length, COUNT, "nothing doubled late");
  });
}

describe("the handshake", () => {
  it("asks for the ladder by default, and the server offers every rung", async () => {
    const socket = connect(URL_);
    const [handshake] = await once(socket.io.engine, "handshake");
    assert.deepEqual(handshake.upgrades, ["websocket", "sse", "streaming"]);
  });

  it("without a ladder rung in transports, the server sees a stock client", async () => {
    const socket = connect(URL_, { transports: ["polling", "websocket"] });
    const [handshake] = await once(socket.io.engine, "handshake");
    assert.deepEqual(handshake.upgrades, ["websocket"]);
    await settled(socket, "websocket");
  });
});

describe("when a probe fails", () => {
  it("falls from a refused WebSocket to sse", async () => {
    const proxy = await startProxy(URL_, { refuseUpgrade: true });
    const socket = connect(proxy.url);
    const seen = watch(socket);
    await settled(socket, "sse");
    assert.deepEqual(seen.upgradeErrors, ["websocket error"]);
    assert.deepEqual(seen.rungs, ["polling", "sse"]);
    await checkTraffic(socket);
  });

  it("gives up a WebSocket that never answers the probe, then takes sse", async () => {
    const proxy = await startProxy(URL_, { silentUpgrade: true });
    const socket = connect(proxy.url, { probeTimeout: 500 });
    const seen = watch(socket);
    await settled(socket, "sse");
    assert.deepEqual(seen.upgradeErrors, ["probe timeout"]);
    await checkTraffic(socket);
  });

  it("falls to streaming when sse is refused too", async () => {
    const proxy = await startProxy(URL_, { refuseUpgrade: true, refuse: ["sse"] });
    const socket = connect(proxy.url);
    const seen = watch(socket);
    await settled(socket, "streaming");
    assert.deepEqual(seen.upgradeErrors, ["websocket error", "sse error"]);
    await checkTraffic(socket);
  });

  it("keeps the session when a probe's POST overlaps a polling POST", async () => {
    // The CONNECT packet's POST is still being read by the server when the
    // probe's "2probe" arrives: the probe is not the session's packet
    // stream, and must not be refused as a second POST.
    const proxy = await startProxy(URL_, { stallPosts: 400 });
    const socket = connect(proxy.url, { transports: ["polling", "sse"] });
    const seen = watch(socket);
    await settled(socket, "sse");
    assert.deepEqual(seen.upgradeErrors, []);
    assert.deepEqual(seen.disconnects, []);
    const sid = socket.io.engine.id;
    const posts = proxy.log.filter((r) => r.sid === sid && r.method === "POST");
    assert.deepEqual(posts.slice(0, 2).map((r) => r.transport), ["polling", "sse"], "the probe came second");
    await checkTraffic(socket);
  });

  it("tries the rungs in the order of the transports option", async () => {
    const proxy = await startProxy(URL_, { refuseUpgrade: true });
    const socket = connect(proxy.url, { transports: ["polling", "websocket", "streaming", "sse"] });
    await settled(socket, "streaming");
    await checkTraffic(socket);
  });

  it("stays on long polling when a proxy holds every stream, without spinning", async () => {
    const proxy = await startProxy(URL_, { refuseUpgrade: true, holdStreams: true });
    const socket = connect(proxy.url, { probeTimeout: 600 });
    const seen = watch(socket);
    await once(socket, "connect");
    await until(() => seen.upgradeErrors.length === 3, "three failed probes");
    assert.deepEqual(seen.upgradeErrors, ["websocket error", "probe timeout", "probe timeout"]);
    assert.equal(rung(socket), "polling");
    // The server was upgrading while each stream probe waited: it answers
    // polls at once then, and the client held its GETs instead of spinning.
    const sid = socket.io.engine.id;
    const polls = proxy.log.filter((r) => r.sid === sid && r.transport === "polling" && r.method === "GET");
    assert.ok(polls.length < 15, `${polls.length} polling GETs during 1.2 s of probes`);
    await checkTraffic(socket);
    assert.equal(await ask(socket, "transport"), "polling");
  });
});

describe("where held requests are cut", () => {
  it("drops to short polling, and messages flow", async () => {
    const proxy = await startProxy(URL_, { refuseUpgrade: true, cutAfter: 1200 });
    const socket = connect(proxy.url, { shortPollingInterval: 100 });
    const seen = watch(socket);
    await until(() => rung(socket) === "short polling" && socket.connected, "short polling", 20000);
    // Two cut streams were the evidence (a bare network error weighs 1).
    assert.deepEqual(seen.disconnects, ["transport close", "transport close"]);
    assert.deepEqual(seen.rungs, ["polling", "sse", "polling", "sse", "short polling"]);
    await checkTraffic(socket);
    await sleep(2500); // twice the cut: short polls are never held
    assert.equal(seen.disconnects.length, 2);
    const sid = socket.io.engine.id;
    const gets = proxy.log.filter((r) => r.sid === sid && r.method === "GET");
    assert.ok(gets.length > 5 && gets.every((r) => r.wait === "0"), "every GET asks for wait=0");
    assert.ok(gets.length < 80, `${gets.length} GETs: polls follow the interval, not a loop`);
  });

  it("does not drop to short polling with shortPolling: false", async () => {
    const proxy = await startProxy(URL_, { refuseUpgrade: true, cutAfter: 1200 });
    const socket = connect(proxy.url, { shortPolling: false });
    const seen = watch(socket);
    await until(() => seen.disconnects.length >= 3, "three cuts", 20000);
    assert.ok(!seen.rungs.includes("short polling"), seen.rungs.join(", "));
  });
});
