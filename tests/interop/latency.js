// Measures how promptly the server answers, for tests/interop/test_latency.py.
//
// For each client (the official socket.io-client, our realtime.js) and each
// transport (polling, websocket): LATENCY_CONNECTIONS fresh connections to
// LATENCY_URL (the interop app); on each, the time of the first ack after
// "connect", then LATENCY_TRIPS acks one after the other. Prints one JSON
// object: {"<client>/<transport>": {"first": [ms...], "trips": [ms...]}}.
//
// A stock Node server answers each in a few milliseconds. A server whose
// sockets lack TCP_NODELAY makes the second of two back-to-back writes wait
// for the client's delayed ACK (about 40 ms on Linux).
"use strict";
const path = require("node:path");
const { createRequire } = require("node:module");

const fromNodeModules = createRequire(path.resolve(__dirname, "../node/package.json"));
const URL_ = process.env.LATENCY_URL;
const CONNECTIONS = Number(process.env.LATENCY_CONNECTIONS || 6);
const TRIPS = Number(process.env.LATENCY_TRIPS || 10);
if (!URL_) throw new Error("LATENCY_URL is not set (run through tests/interop/test_latency.py)");

const CLIENTS = {
  official: { io: fromNodeModules("socket.io-client").io, options: {} },
  realtime: {
    io: require("../../realtime/static/realtime.js"),
    options: { WebSocket: fromNodeModules("ws") },
  },
};

const elapsed = (start) => Number(process.hrtime.bigint() - start) / 1e6;

function connect(client, transport) {
  const socket = client.io(URL_, { forceNew: true, transports: [transport], reconnection: false,
    ...client.options });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connection over ${transport}`)), 10000);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
  });
}

async function timedAck(socket, value) {
  const start = process.hrtime.bigint();
  const answer = await socket.timeout(10000).emitWithAck("message-with-ack", value);
  if (answer !== value) throw new Error(`ack ${JSON.stringify(answer)} for ${value}`);
  return elapsed(start);
}

async function measure(client, transport) {
  const first = [], trips = [];
  for (let c = 0; c < CONNECTIONS; c++) {
    const socket = await connect(client, transport);
    try {
      first.push(await timedAck(socket, -1));
      for (let i = 0; i < TRIPS; i++) trips.push(await timedAck(socket, i));
    } finally {
      socket.disconnect();
    }
  }
  return { first, trips };
}

(async () => {
  const results = {};
  for (const [name, client] of Object.entries(CLIENTS)) {
    for (const transport of ["polling", "websocket"]) {
      results[`${name}/${transport}`] = await measure(client, transport);
    }
  }
  process.stdout.write(JSON.stringify(results) + "\n");
  process.exit(0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
