// realtime.js under Node, through a real nginx in front of realtime's server,
// configured as deployments get it right and wrong (tests/support/nginx.py):
// the client lands on the best rung that works there, by itself, and
// messages flow.
//
// Run by tests/proxy/test_client_through_nginx.py, once per profile, with:
//   LADDER_URL      nginx, in front of tests.support.interop_apps:interop
//   LADDER_PROFILE  the nginx profile
"use strict";
const { it, afterEach } = require("node:test");
const {
  assert, env, sleep, once, until, cleanup, connect, rung, watch, ask, checkTraffic,
} = require("../client/helpers");

const URL_ = env("LADDER_URL");
const PROFILE = env("LADDER_PROFILE");

afterEach(cleanup);

// Quick probes and reconnections, so that a bad network shows in seconds.
const QUICK = { probeTimeout: 1500, shortPollingInterval: 200 };

// Connects with `opts`, waits until the client is on `expected` and
// connected, then checks traffic and that it stays there for `stay` ms.
async function lands(expected, opts = {}, stay = 0) {
  const socket = connect(URL_, { ...QUICK, ...opts });
  const seen = watch(socket);
  await until(() => socket.connected && rung(socket) === expected,
    `the client on ${expected} (it is on ${rung(socket)}; upgrade errors: ${seen.upgradeErrors})`, 25000);
  await checkTraffic(socket);
  const disconnects = seen.disconnects.length;
  if (stay) await sleep(stay);
  assert.equal(seen.disconnects.length, disconnects, "no disconnect once settled");
  assert.equal(rung(socket), expected);
  return { socket, seen };
}

const PROFILES = {
  // Upgrade forwarded, buffering off: WebSocket.
  good() {
    it("lands on websocket", async () => {
      const { seen } = await lands("websocket");
      assert.deepEqual(seen.upgradeErrors, []);
      assert.deepEqual(seen.disconnects, []);
    });
  },

  // nginx's defaults: Upgrade not forwarded, buffering on (but turned off by
  // the streams' X-Accel-Buffering: no).
  defaults() {
    it("lands on sse when WebSocket cannot pass", async () => {
      const { socket, seen } = await lands("sse");
      assert.deepEqual(seen.upgradeErrors, ["websocket error"]);
      assert.deepEqual(seen.disconnects, []);
      assert.equal(await ask(socket, "transport"), "sse");
    });

    it("lands on streaming when the transports option puts it first", async () => {
      const { socket } = await lands("streaming", { transports: ["polling", "websocket", "streaming", "sse"] });
      assert.equal(await ask(socket, "transport"), "streaming");
    });

    it("delivers a burst in order over the stream, in time", async () => {
      const { socket } = await lands("sse");
      const got = [];
      socket.on("n", (i) => got.push(i));
      const ended = once(socket, "n-end");
      socket.emit("stream", "n", 500, false);
      const [sent] = await ended;
      await until(() => got.length >= sent, "the burst");
      assert.deepEqual(got, [...Array(sent).keys()]);
    });
  },

  // Buffering forced on even for the streams. nginx still passes each chunk
  // of an HTTP/1.1 chunked response as soon as it is complete, and our
  // streams are chunked: sse works.
  "buffer-everything"() {
    it("lands on sse, whose chunks nginx passes on at once", async () => {
      const { socket, seen } = await lands("sse");
      assert.deepEqual(seen.upgradeErrors, ["websocket error"]);
      assert.equal(await ask(socket, "transport"), "sse");
    });
  },

  // Buffering forced on, and nginx's default HTTP/1.0 to the upstream: a
  // stream has no length and no chunks, and nginx holds it until its buffers
  // fill. The stream probes time out; long polling works.
  "http10-buffer-everything"() {
    it("stays on long polling after the stream probes time out", async () => {
      const { socket, seen } = await lands("polling");
      await until(() => seen.upgradeErrors.length === 3,
        `three failed probes (${JSON.stringify(seen)}, on ${rung(socket)})`, 10000);
      assert.deepEqual(seen.upgradeErrors, ["websocket error", "probe timeout", "probe timeout"]);
      assert.deepEqual(seen.disconnects, []);
      assert.equal(rung(socket), "polling");
      await checkTraffic(socket);
      assert.equal(await ask(socket, "transport"), "polling");
    });
  },

  // Held requests cut after 2 s, and no Upgrade.
  "short-timeouts"() {
    it("drops to short polling, and stays connected", async () => {
      const { socket, seen } = await lands("short polling", {}, 4500);
      assert.ok(seen.disconnects.length >= 1, "cut sessions led there");
      assert.equal(await ask(socket, "transport"), "polling");
    });
  },
};

if (!PROFILES[PROFILE]) throw new Error(`no scenarios for nginx profile ${PROFILE}`);
PROFILES[PROFILE]();
