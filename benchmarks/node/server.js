// Node's socket.io 4.8 with the same handlers as benchmarks/servers/*.py.
// Usage: node server.js [port]; prints "LISTENING <port>" once bound.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer, { serveClient: false });

io.on("connection", (socket) => {
  socket.on("echo", (data, ack) => {
    if (typeof ack === "function") ack(data);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(true);
  });
  socket.on("bcast", (seq, payload) => {
    io.to("bench").emit("msg", seq, payload);
  });
});

httpServer.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
