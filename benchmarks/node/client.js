// The load client of realtime's benchmarks.
//
// Speaks Engine.IO v4 / Socket.IO v5 itself, over `ws` and raw HTTP, with
// no client library in between, so that it stays cheap and is not what
// limits a run. One scenario per process:
//
//   node client.js '{"scenario": "echo", "port": 5000, "serverPid": 123, ...}'
//
// prints progress on stderr and one line `RESULT {...}` (JSON) on stdout.
// It also measures: the server's and its own CPU time (/proc), the server's
// resident memory, and the CPU time other processes took on each core
// during the measured window, so that a noisy machine shows.
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const { performance } = require("node:perf_hooks");
const crypto = require("node:crypto");
const net = require("node:net");
const WebSocket = require("ws");

const spec = JSON.parse(process.argv[2] || "{}");
const HOST = "127.0.0.1";
const PORT = spec.port;
const PATH = "/socket.io/";
const CLK_TCK = spec.clkTck || 100;
const PAYLOAD = "x".repeat(spec.payloadSize || 64);
const SEP = "\x1e";

function log(...args) {
  process.stderr.write(`[client] ${args.join(" ")}\n`);
}

// -- measuring ---------------------------------------------------------------

function procTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : NaN;
}

// Per core: time in processes (user, nice, system, steal) and in interrupts
// (irq, softirq: mostly the loopback traffic of the run itself, which Linux
// does not charge to any process).
function coreTicks() {
  const cores = {};
  for (const line of fs.readFileSync("/proc/stat", "utf8").split("\n")) {
    const match = /^cpu(\d+) (.*)$/.exec(line);
    if (!match) continue;
    const v = match[2].trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal
    cores[match[1]] = { busy: v[0] + v[1] + v[2] + v[7], irq: v[5] + v[6] };
  }
  return cores;
}

function snapshot() {
  return {
    t: performance.now(),
    server: procTicks(spec.serverPid),
    client: procTicks(process.pid),
    cores: coreTicks(),
  };
}

// CPU use between two snapshots, in cores (1.0 = one core busy throughout).
function window(a, b) {
  const seconds = (b.t - a.t) / 1000;
  const cores = (ticks) => ticks / CLK_TCK / seconds;
  const serverCore = String(spec.serverCore ?? 0);
  const clientCore = String(spec.clientCore ?? 1);
  const otherOn = (core, own) =>
    b.cores[core] === undefined
      ? null
      : Math.max(0, cores(b.cores[core].busy - a.cores[core].busy - own));
  const irqOn = (core) =>
    b.cores[core] === undefined ? null : cores(b.cores[core].irq - a.cores[core].irq);
  const server = b.server - a.server;
  const client = b.client - a.client;
  return {
    seconds,
    serverCpu: cores(server),
    clientCpu: cores(client),
    otherCpuServerCore: otherOn(serverCore, server),
    otherCpuClientCore: otherOn(clientCore, client),
    irqServerCore: irqOn(serverCore),
    irqClientCore: irqOn(clientCore),
  };
}

function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

// Tells the harness a measured window starts (it may attach a profiler).
function phase(name) {
  process.stdout.write(`PHASE ${name}\n`);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// -- HTTP --------------------------------------------------------------------

// Remembers every socket it opens, to count the bytes on the wire.
class TrackingAgent extends http.Agent {
  constructor() {
    super({ keepAlive: true, maxSockets: Infinity });
    this.tracked = [];
  }
  createConnection(options, callback) {
    const socket = super.createConnection(options, callback);
    this.tracked.push(socket);
    return socket;
  }
  wireBytes() {
    return this.tracked.reduce((sum, s) => sum + s.bytesRead + s.bytesWritten, 0);
  }
}

const sharedAgent = new TrackingAgent();

// HTTP/1.1 over plain kept-alive sockets, for the scenario where node:http
// made the load client the bottleneck (polling then upgrade: about 1.1 ms of
// the client's CPU per connection, as much as the server's). It writes a
// request and reads one response (Content-Length, chunked, or up to the
// close), nothing more: enough for Engine.IO polling, which every server
// under test answers plainly.
class RawAgent {
  constructor() {
    this.idle = [];
    this.tracked = [];
  }
  wireBytes() {
    return this.tracked.reduce((sum, s) => sum + s.bytesRead + s.bytesWritten, 0);
  }
  connect() {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: HOST, port: PORT });
      socket.setNoDelay(true);
      this.tracked.push(socket);
      socket.on("close", () => {
        socket.gone = true;
      });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.removeListener("error", reject);
        socket.on("error", () => {}); // reported through the exchange, if any
        resolve(socket);
      });
    });
  }
  async request(method, path, body, timeoutMs) {
    let socket = null;
    while (this.idle.length && !socket) {
      const candidate = this.idle.pop();
      if (!candidate.gone) socket = candidate;
    }
    const reused = socket !== null;
    if (!socket) socket = await this.connect();
    try {
      return await this.exchange(socket, method, path, body, timeoutMs);
    } catch (err) {
      // A kept-alive socket the server closed as it was reused: once more, anew.
      if (reused && err.closedEarly) return this.exchange(await this.connect(), method, path, body, timeoutMs);
      throw err;
    }
  }
  exchange(socket, method, path, body, timeoutMs) {
    return new Promise((resolve, reject) => {
      let buffer = Buffer.alloc(0);
      let status = 0;
      let length = -1;
      let chunked = false;
      let close = false;
      let headed = false;
      let settled = false;
      const settle = (err, text) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.removeListener("data", onData);
        socket.removeListener("close", onClose);
        if (err || close) socket.destroy();
        else this.idle.push(socket);
        if (err) reject(err);
        else if (status !== 200) reject(new Error(`${method} ${path}: ${status} ${text}`));
        else resolve(text);
      };
      const chunks = () => {
        // The body, once all of its chunks are in; null while some are missing.
        const parts = [];
        let at = 0;
        for (;;) {
          const eol = buffer.indexOf("\r\n", at);
          if (eol < 0) return null;
          const size = parseInt(buffer.subarray(at, eol).toString("latin1"), 16);
          if (size === 0) return Buffer.concat(parts);
          if (buffer.length < eol + 2 + size + 2) return null;
          parts.push(buffer.subarray(eol + 2, eol + 2 + size));
          at = eol + 2 + size + 2;
        }
      };
      const onData = (chunk) => {
        buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
        if (!headed) {
          const end = buffer.indexOf("\r\n\r\n");
          if (end < 0) return;
          const lines = buffer.subarray(0, end).toString("latin1").split("\r\n");
          buffer = buffer.subarray(end + 4);
          headed = true;
          status = Number(lines[0].split(" ")[1]);
          for (const line of lines.slice(1)) {
            const colon = line.indexOf(":");
            const name = line.slice(0, colon).trim().toLowerCase();
            const value = line.slice(colon + 1).trim().toLowerCase();
            if (name === "content-length") length = Number(value);
            else if (name === "transfer-encoding") chunked = value.includes("chunked");
            else if (name === "connection") close = value.includes("close");
          }
          if (length < 0 && !chunked) close = true; // the body ends with the connection
        }
        if (chunked) {
          const whole = chunks();
          if (whole !== null) settle(null, whole.toString("utf8"));
        } else if (length >= 0 && buffer.length >= length) {
          settle(null, buffer.subarray(0, length).toString("utf8"));
        }
      };
      const onClose = () => {
        if (headed && length < 0 && !chunked) {
          settle(null, buffer.toString("utf8"));
          return;
        }
        const err = new Error(`${method} ${path}: the connection closed before the answer`);
        err.closedEarly = !headed;
        settle(err);
      };
      const timer = setTimeout(
        () => settle(new Error(`${method} ${path}: timed out`)),
        timeoutMs,
      );
      socket.on("data", onData);
      socket.on("close", onClose);
      const head = [`${method} ${path} HTTP/1.1`, `Host: ${HOST}:${PORT}`];
      if (body !== undefined) {
        head.push("Content-Type: text/plain;charset=UTF-8", `Content-Length: ${Buffer.byteLength(body)}`);
      }
      socket.write(`${head.join("\r\n")}\r\n\r\n${body ?? ""}`);
    });
  }
}

function query(params) {
  const parts = ["EIO=4"];
  for (const [key, value] of Object.entries(params)) parts.push(`${key}=${encodeURIComponent(value)}`);
  return `${PATH}?${parts.join("&")}`;
}

// One HTTP exchange; resolves with the body as text.
function request(method, path, body, agent, timeoutMs = 30000) {
  if (agent instanceof RawAgent) return agent.request(method, path, body, timeoutMs);
  return new Promise((resolve, reject) => {
    const headers = {};
    if (body !== undefined) {
      headers["Content-Type"] = "text/plain;charset=UTF-8";
      headers["Content-Length"] = Buffer.byteLength(body);
    }
    const req = http.request({ host: HOST, port: PORT, method, path, agent, headers }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode !== 200) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
        else resolve(text);
      });
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on("error", reject);
    req.end(body);
  });
}

// -- Socket.IO over any transport --------------------------------------------

// One Socket.IO client on namespace "/". A transport object moves Engine.IO
// packets (text); this class does the Engine.IO and Socket.IO logic above.
class Client {
  constructor() {
    this.nextId = 0;
    this.acks = new Map();
    this.onEvent = null;
    this.connected = false;
    this.onConnect = null;
    this.transport = null;
    this.sid = null;
  }

  // Handles one Engine.IO packet from the server.
  packet(text) {
    const type = text.charCodeAt(0);
    if (type === 0x34 /* 4 message */) {
      const sioType = text.charCodeAt(1);
      if (sioType === 0x32 /* 2 event */) {
        if (this.onEvent) this.onEvent(text);
      } else if (sioType === 0x33 /* 3 ack */) {
        let id = 0;
        let i = 2;
        for (let c = text.charCodeAt(i); c >= 0x30 && c <= 0x39; c = text.charCodeAt(++i)) {
          id = id * 10 + (c - 0x30);
        }
        const callback = this.acks.get(id);
        if (callback) {
          this.acks.delete(id);
          callback(text, i);
        }
      } else if (sioType === 0x30 /* 0 connect */) {
        this.connected = true;
        if (this.onConnect) this.onConnect(null);
      } else if (sioType === 0x34 /* 4 connect_error */) {
        if (this.onConnect) this.onConnect(new Error(`refused: ${text}`));
      }
    } else if (type === 0x32 /* 2 ping */) {
      this.transport.send("3");
    } else if (type === 0x30 /* 0 open */ && this.transport.sendsConnect) {
      this.transport.send("40");
    }
  }

  // Emits `event` with JSON `argsJson` (the arguments, comma separated) and
  // calls `callback(text, offset)` with the ack packet.
  call(event, argsJson, callback) {
    const id = this.nextId++;
    this.acks.set(id, callback);
    this.transport.send(`42${id}["${event}",${argsJson}]`);
  }

  emit(event, argsJson) {
    this.transport.send(`42["${event}",${argsJson}]`);
  }

  close() {
    if (this.transport) this.transport.close();
  }
}

// A minimal RFC 6455 client over a plain TCP socket: the load client's own
// WebSocket, several times cheaper per connection and per message than `ws`
// (which stays available with "wsImpl": "ws", to cross-check). Text frames
// only go up, masked; whatever comes down is unmasked, possibly fragmented.
const WS_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
let socketReads = 0; // reads from every RawWebSocket: how well the server coalesces

class RawWebSocket {
  constructor(path) {
    this.handlers = { open: [], message: [], error: [], close: [] };
    this.open = false;
    this.closed = false;
    this.head = "";
    this.buffer = null;
    this.fragments = null;
    this.mask = crypto.randomBytes(4);
    // Reads land in one buffer shared by every connection (`onread`): no
    // allocation and no stream machinery per read. Everything kept beyond
    // the callback is copied out of it.
    const socket = net.connect({
      host: HOST,
      port: PORT,
      onread: {
        buffer: READ_BUFFER,
        callback: (n, buf) => {
          socketReads++;
          this.data(buf.subarray(0, n));
        },
      },
    });
    socket.setNoDelay(true);
    this._socket = socket;
    socket.on("connect", () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on("error", (err) => this.emit("error", err));
    socket.on("close", () => {
      this.closed = true;
      if (!this.open) this.emit("error", new Error("closed during the handshake"));
      this.emit("close");
    });
  }
  on(event, handler) {
    this.handlers[event].push(handler);
  }
  emit(event, value) {
    for (const handler of this.handlers[event]) handler(value);
  }
  data(chunk) {
    if (!this.open) {
      this.head += chunk.toString("latin1");
      const end = this.head.indexOf("\r\n\r\n");
      if (end === -1) return;
      const head = this.head.slice(0, end);
      if (!head.startsWith("HTTP/1.1 101") || !head.includes(WS_ACCEPT)) {
        this.emit("error", new Error(`handshake refused: ${head.split("\r\n")[0]}`));
        this._socket.destroy();
        return;
      }
      this.open = true;
      const rest = Buffer.from(this.head.slice(end + 4), "latin1");
      this.head = "";
      this.emit("open");
      if (rest.length === 0) return;
      chunk = rest;
    }
    let buf = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk;
    let pos = 0;
    while (buf.length - pos >= 2) {
      const b0 = buf[pos];
      const b1 = buf[pos + 1];
      let length = b1 & 0x7f;
      let offset = pos + 2;
      if (length === 126) {
        if (buf.length - pos < 4) break;
        length = buf.readUInt16BE(pos + 2);
        offset = pos + 4;
      } else if (length === 127) {
        if (buf.length - pos < 10) break;
        length = Number(buf.readBigUInt64BE(pos + 2));
        offset = pos + 10;
      }
      const masked = b1 & 0x80;
      if (masked) offset += 4;
      if (buf.length < offset + length) break;
      let payload = buf.subarray(offset, offset + length);
      if (masked) {
        const key = buf.subarray(offset - 4, offset);
        payload = Buffer.from(payload);
        for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
      }
      pos = offset + length;
      this.frame(b0 & 0x80, b0 & 0x0f, payload);
    }
    this.buffer = pos < buf.length ? Buffer.from(buf.subarray(pos)) : null;
  }
  frame(fin, opcode, payload) {
    if (opcode === 0x1 || opcode === 0x2 || opcode === 0x0) {
      if (!fin) {
        (this.fragments ||= []).push(Buffer.from(payload));
        return;
      }
      if (this.fragments) {
        this.fragments.push(payload);
        payload = Buffer.concat(this.fragments);
        this.fragments = null;
      }
      for (const handler of this.handlers.message) handler(payload);
    } else if (opcode === 0x8) {
      this.writeFrame(0x8, Buffer.alloc(0));
      this._socket.end();
    } else if (opcode === 0x9) {
      this.writeFrame(0xa, Buffer.from(payload));
    }
  }
  writeFrame(opcode, payload) {
    const length = payload.length;
    const headSize = length < 126 ? 6 : length < 65536 ? 8 : 14;
    const frame = Buffer.allocUnsafe(headSize + length);
    frame[0] = 0x80 | opcode;
    if (length < 126) {
      frame[1] = 0x80 | length;
    } else if (length < 65536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(length), 2);
    }
    const mask = this.mask;
    mask.copy(frame, headSize - 4);
    for (let i = 0; i < length; i++) frame[headSize + i] = payload[i] ^ mask[i & 3];
    this._socket.write(frame);
  }
  send(text) {
    if (!this.closed) this.writeFrame(0x1, Buffer.from(text, "utf8"));
  }
  terminate() {
    this.closed = true;
    this._socket.destroy();
  }
}

function openWebSocket(params) {
  if (spec.wsImpl === "ws") return new WebSocket(wsUrl(params), WS_OPTIONS);
  return new RawWebSocket(query(params));
}

// WebSocket from the start (transports: ["websocket"]).
class WsTransport {
  constructor(client, ws) {
    this.client = client;
    this.ws = ws;
    this.sendsConnect = true;
  }
  send(text) {
    this.ws.send(text);
  }
  close() {
    this.ws.terminate();
  }
  wireBytes() {
    const socket = this.ws._socket;
    return socket ? socket.bytesRead + socket.bytesWritten : 0;
  }
}

function wsUrl(params) {
  return `ws://${HOST}:${PORT}${query(params)}`;
}

const WS_OPTIONS = { perMessageDeflate: false, skipUTF8Validation: true };

// Connects a client over WebSocket and joins namespace "/".
function connectWebSocket(timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const ws = openWebSocket({ transport: "websocket" });
    client.transport = new WsTransport(client, ws);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error("connect timed out"));
    }, timeoutMs);
    client.onConnect = (err) => {
      clearTimeout(timer);
      client.onConnect = null;
      if (err) reject(err);
      else resolve(client);
    };
    ws.on("message", (data) => {
      if (!(client.onFrame && client.onFrame(data))) client.packet(data.toString());
    });
    ws.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

// HTTP long polling (and short polling with `short`): a GET always waiting,
// POSTs for what goes up, one at a time, batched as the protocol allows.
class PollingTransport {
  constructor(client, sid, agent, { short = false, postTransport = "polling" } = {}) {
    this.client = client;
    this.sid = sid;
    this.agent = agent;
    this.short = short;
    this.postTransport = postTransport;
    this.outbox = [];
    this.posting = false;
    this.polling = false;
    this.paused = false;
    this.onPollDone = null;
    this.closed = false;
    this.sendsConnect = false;
    this.onError = (err) => log("polling error:", err.message);
  }
  send(text) {
    this.outbox.push(text);
    if (!this.posting) this.flush();
  }
  flush() {
    if (this.closed || this.outbox.length === 0) return;
    const body = this.outbox.join(SEP);
    this.outbox = [];
    this.posting = true;
    request("POST", query({ transport: this.postTransport, sid: this.sid }), body, this.agent)
      .then(() => {
        this.posting = false;
        this.flush();
      })
      .catch((err) => {
        this.posting = false;
        if (!this.closed) this.onError(err);
      });
  }
  poll() {
    if (this.closed || this.polling || this.paused) return;
    this.polling = true;
    const params = { transport: "polling", sid: this.sid };
    if (this.short) params.wait = "0";
    request("GET", query(params), undefined, this.agent)
      .then((body) => {
        this.polling = false;
        for (const text of body.split(SEP)) this.client.packet(text);
        if (this.onPollDone) {
          const done = this.onPollDone;
          this.onPollDone = null;
          done();
        }
        this.poll();
      })
      .catch((err) => {
        this.polling = false;
        if (!this.closed) this.onError(err);
      });
  }
  // Stops polling; `then` runs once no GET is waiting any more.
  pause(then) {
    this.paused = true;
    if (this.polling) this.onPollDone = then;
    else then();
  }
  close() {
    this.closed = true;
  }
  wireBytes() {
    return this.agent.wireBytes();
  }
}

// SSE or HTTP streaming (realtime's ladder): one long GET down, POSTs up.
class StreamTransport extends PollingTransport {
  constructor(client, sid, agent, name) {
    super(client, sid, agent, { postTransport: name });
    this.name = name;
    this.buffer = "";
    this.response = null;
    this.onPacket = (text) => this.client.packet(text);
  }
  open() {
    return new Promise((resolve, reject) => {
      const path = query({ transport: this.name, sid: this.sid });
      const req = http.get({ host: HOST, port: PORT, path, agent: this.agent }, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET ${path}: ${res.statusCode}`));
          return;
        }
        this.response = res;
        res.setEncoding("utf8");
        res.on("data", (chunk) => this.data(chunk));
        resolve();
      });
      req.on("error", (err) => (this.closed ? undefined : reject(err)));
      this.request = req;
    });
  }
  data(chunk) {
    this.buffer += chunk;
    const separator = this.name === "sse" ? "\n\n" : SEP;
    let end = this.buffer.indexOf(separator);
    while (end !== -1) {
      const record = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + separator.length);
      const text = this.name === "sse" ? sseData(record) : record.trim() ? record : null;
      if (text !== null) this.onPacket(text);
      end = this.buffer.indexOf(separator);
    }
  }
  close() {
    super.close();
    if (this.request) this.request.destroy();
  }
}

function sseData(record) {
  let event = "message";
  const data = [];
  for (const line of record.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  const text = data.join("\n");
  return event === "json" ? JSON.parse(text) : text;
}

function waitConnected(client, timeoutMs = 30000) {
  if (client.connected) return Promise.resolve(client);
  return withTimeout(
    new Promise((resolve, reject) => {
      client.onConnect = (err) => (err ? reject(err) : resolve(client));
    }),
    timeoutMs,
    "namespace connect",
  );
}

// Opens a session on long polling and joins namespace "/" over it.
async function connectPolling(agent, { ladder = false, short = false } = {}) {
  const client = new Client();
  const params = { transport: "polling" };
  if (ladder) params.ext = "ladder";
  const open = await request("GET", query(params), undefined, agent);
  const handshake = JSON.parse(open.slice(1));
  client.sid = handshake.sid;
  client.handshake = handshake;
  const transport = new PollingTransport(client, handshake.sid, agent, { short });
  client.transport = transport;
  const connected = waitConnected(client);
  transport.send("40");
  transport.poll();
  await connected;
  return client;
}

// The upgrade dance to WebSocket, as socket.io-client does it: probe, wait
// for the waiting GET to come back (the server answers it with a noop),
// then upgrade.
function upgradeToWebSocket(client, timeoutMs = 30000) {
  const polling = client.transport;
  return withTimeout(
    new Promise((resolve, reject) => {
      const ws = openWebSocket({ transport: "websocket", sid: client.sid });
      ws.on("error", reject);
      ws.on("open", () => ws.send("2probe"));
      let probing = true;
      ws.on("message", (data) => {
        const text = data.toString();
        if (probing) {
          if (text !== "3probe") {
            reject(new Error(`probe answered with ${text}`));
            return;
          }
          probing = false;
          polling.pause(() => {
            const transport = new WsTransport(client, ws);
            transport.sendsConnect = false;
            client.transport = transport;
            polling.close();
            ws.send("5");
            for (const text of polling.outbox) ws.send(text);
            polling.outbox = [];
            resolve(client);
          });
          return;
        }
        client.packet(text);
      });
    }),
    timeoutMs,
    "upgrade",
  );
}

// The same dance to one of realtime's stream rungs ("sse" or "streaming").
async function upgradeToStream(client, name, agent) {
  const polling = client.transport;
  const stream = new StreamTransport(client, client.sid, agent, name);
  let probed;
  const probeSeen = new Promise((resolve) => {
    probed = resolve;
  });
  stream.onPacket = (text) => (text === "3probe" ? probed() : client.packet(text));
  await stream.open();
  await request("POST", query({ transport: name, sid: client.sid }), "2probe", agent);
  await withTimeout(probeSeen, 10000, "stream probe");
  await new Promise((resolve) => polling.pause(resolve));
  polling.close();
  await request("POST", query({ transport: name, sid: client.sid }), "5", agent);
  stream.onPacket = (text) => client.packet(text);
  client.transport = stream;
  return client;
}

// Starts `n` connections, at most `concurrency` at once, each with `open()`.
// Gives up (gaveUp: true) once 2 % of them, and at least 100, have failed:
// a server that cannot take them all would otherwise keep the run waiting
// for every attempt's timeout.
async function connectMany(n, concurrency, open) {
  const clients = new Array(n);
  const latencies = new Float64Array(n);
  const maxFailures = Math.max(100, Math.ceil(n * 0.02));
  let started = 0;
  let failures = 0;
  let firstError = null;
  const worker = async () => {
    while (started < n && failures < maxFailures) {
      const i = started++;
      const t0 = performance.now();
      try {
        clients[i] = await open();
        latencies[i] = performance.now() - t0;
      } catch (err) {
        failures++;
        latencies[i] = NaN;
        if (!firstError) firstError = err.message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  const ok = Array.from(latencies.subarray(0, started)).filter((v) => !Number.isNaN(v));
  const gaveUp = failures >= maxFailures && started < n;
  return { clients: clients.filter(Boolean), latencies: ok, failures, firstError, gaveUp };
}

function closeAll(clients) {
  for (const client of clients) if (client) client.close();
}

// -- scenarios ---------------------------------------------------------------

// N WebSocket clients connect (and join "/"), at most `concurrency` at once.
async function scenarioConnect() {
  const n = spec.clients;
  const warm = await connectMany(20, 20, () => connectWebSocket());
  closeAll(warm.clients);
  await sleep(500);
  // With holdMs (the memory profile), the harness snapshots the server's
  // allocations at these two phases, while the client waits.
  phase("baseline");
  if (spec.holdMs) await sleep(spec.holdMs);
  const rssBefore = rssBytes(spec.serverPid);
  const a = snapshot();
  const result = await connectMany(n, spec.concurrency, () => connectWebSocket());
  if (result.gaveUp) {
    closeAll(result.clients);
    throw new Error(
      `gave up after ${result.failures} clients failed to connect ` +
        `(${result.clients.length} of ${n} connected): ${result.firstError}`,
    );
  }
  const b = snapshot();
  await sleep(spec.settleMs ?? 1000);
  const rssAfter = rssBytes(spec.serverPid);
  phase("connected");
  if (spec.holdMs) await sleep(spec.holdMs);
  const connected = result.clients.length;
  const cpu = window(a, b);
  return {
    ...cpu,
    connected,
    failures: result.failures,
    firstError: result.firstError,
    connectsPerSecond: connected / cpu.seconds,
    connectP50Ms: percentile(result.latencies, 50),
    connectP99Ms: percentile(result.latencies, 99),
    rssBefore,
    rssAfter,
    bytesPerConnection: connected ? (rssAfter - rssBefore) / connected : null,
  };
}

// N clients connect over polling, join "/", then upgrade to WebSocket.
async function scenarioUpgrade() {
  const n = spec.clients;
  // Plain sockets rather than node:http, which made this client, not the
  // server, the bottleneck (RawAgent).
  const agent = new RawAgent();
  const open = async () => upgradeToWebSocket(await connectPolling(agent));
  const warm = await connectMany(10, 10, open);
  closeAll(warm.clients);
  await sleep(300);
  // The profiler (benchmarks/profiled_runs.py) starts sampling here.
  phase("baseline");
  const a = snapshot();
  const result = await connectMany(n, spec.concurrency, open);
  const b = snapshot();
  const cpu = window(a, b);
  return {
    ...cpu,
    connected: result.clients.length,
    failures: result.failures,
    firstError: result.firstError,
    connectsPerSecond: result.clients.length / cpu.seconds,
    connectP50Ms: percentile(result.latencies, 50),
    connectP99Ms: percentile(result.latencies, 99),
  };
}

// C clients, each emitting `echo` and waiting for its ack before the next.
async function scenarioEcho() {
  const conn = await connectMany(spec.clients, 100, () => connectWebSocket());
  if (conn.failures) throw new Error(`${conn.failures} clients failed to connect: ${conn.firstError}`);
  const clients = conn.clients;
  const args = JSON.stringify(PAYLOAD);
  let measuring = false;
  let stopping = false;
  let acks = 0;
  const latencies = [];
  const loop = (client) =>
    new Promise((resolve) => {
      const once = () => {
        if (stopping) {
          resolve();
          return;
        }
        const t0 = performance.now();
        client.call("echo", args, () => {
          if (measuring) {
            acks++;
            latencies.push(performance.now() - t0);
          }
          once();
        });
      };
      once();
    });
  const loops = Promise.all(clients.map(loop));
  await sleep(spec.warmupMs);
  phase("measure");
  let a = snapshot();
  measuring = true;
  await sleep(spec.durationMs);
  measuring = false;
  const b = snapshot();
  stopping = true;
  await withTimeout(loops, 30000, "echo loops");
  closeAll(clients);
  const cpu = window(a, b);
  a = null;
  return {
    ...cpu,
    clients: clients.length,
    acks,
    acksPerSecond: acks / cpu.seconds,
    latencyP50Ms: percentile(latencies, 50),
    latencyP99Ms: percentile(latencies, 99),
  };
}

// N clients in a room; one of them broadcasts through the server, keeping at
// most `window` broadcasts on the way (it paces itself on its own copies).
async function scenarioFanout() {
  const n = spec.clients;
  const conn = await connectMany(n, 200, () => connectWebSocket());
  if (conn.failures) throw new Error(`${conn.failures} clients failed to connect: ${conn.firstError}`);
  const clients = conn.clients;
  await withTimeout(
    Promise.all(clients.map((c) => new Promise((resolve) => c.call("join", '"bench"', resolve)))),
    30000,
    "joining the room",
  );
  // Each delivery is `42["msg",SEQ,"..."]`; read SEQ straight from the frame.
  const PREFIX = Buffer.from('42["msg",');
  const expected = new Int32Array(n);
  const orderHash = new Int32Array(n);
  let received = 0;
  let orderErrors = 0;
  let firstOrderError = null;
  let lastDelivery = 0;
  let sent = 0;
  let sending = true;
  let done = null;
  const sender = clients[0];
  const args = `,${JSON.stringify(PAYLOAD)}`;
  const pump = () => {
    while (sending && sent - expected[0] < spec.window) sender.emit("bcast", `${sent++}${args}`);
  };
  const deliver = (index, seq) => {
    if (seq !== expected[index]) {
      orderErrors++;
      if (!firstOrderError) firstOrderError = `client ${index} got ${seq} after ${expected[index] - 1}`;
    }
    expected[index] = seq + 1;
    orderHash[index] = (Math.imul(orderHash[index], 31) + seq) | 0;
    received++;
    lastDelivery = performance.now();
    if (index === 0) pump();
    if (!sending && done && received === sent * n) done();
  };
  clients.forEach((client, index) => {
    client.onFrame = (buf) => {
      if (buf.length <= PREFIX.length || buf.compare(PREFIX, 0, PREFIX.length, 0, PREFIX.length) !== 0) {
        return false;
      }
      let seq = 0;
      for (let i = PREFIX.length, c = buf[i]; c >= 0x30 && c <= 0x39; c = buf[++i]) seq = seq * 10 + (c - 0x30);
      deliver(index, seq);
      return true;
    };
    client.onEvent = (text) => {
      if (text.startsWith('42["msg",')) deliver(index, JSON.parse(text.slice(2))[1]);
    };
  });
  phase("measure");
  const readsBefore = socketReads;
  const a = snapshot();
  pump();
  await sleep(spec.durationMs);
  sending = false;
  const drained = new Promise((resolve) => {
    done = resolve;
    if (received === sent * n) resolve();
  });
  let drainTimedOut = false;
  await withTimeout(drained, spec.drainMs ?? 20000, "fan-out drain").catch(() => {
    drainTimedOut = true;
  });
  const b = snapshot();
  b.t = lastDelivery || b.t;
  const cpu = window(a, b);
  closeAll(clients);
  return {
    ...cpu,
    clients: n,
    broadcasts: sent,
    deliveries: received,
    missing: sent * n - received,
    orderErrors,
    firstOrderError,
    // Clients that saw the broadcasts in another order than the sender did.
    clientsDisagreeing: orderHash.reduce((count, h) => count + (h !== orderHash[0] ? 1 : 0), 0),
    drainTimedOut,
    deliveriesPerSecond: received / cpu.seconds,
    // Deliveries per read on the receiving sockets: above 1 when the server
    // writes several messages to a socket at once (or the client fell behind).
    deliveriesPerRead: received / Math.max(1, socketReads - readsBefore),
  };
}

// One client per transport, sequential echoes: latency and bytes per message.
async function openOn(transport, agent) {
  if (transport === "websocket") return connectWebSocket();
  if (transport === "polling") return connectPolling(agent);
  if (transport === "short-polling") return connectPolling(agent, { short: true });
  const client = await connectPolling(agent, { ladder: true });
  if (!client.handshake.upgrades.includes(transport)) {
    throw new Error(`${transport} not offered (upgrades: ${client.handshake.upgrades})`);
  }
  return upgradeToStream(client, transport, agent);
}

async function scenarioTransport() {
  const agent = new TrackingAgent();
  const client = await openOn(spec.transport, agent);
  const wire = () => agent.wireBytes() + (client.transport.ws ? client.transport.wireBytes() : 0);
  const args = JSON.stringify(PAYLOAD);
  const echo = () =>
    withTimeout(new Promise((resolve) => client.call("echo", args, resolve)), 10000, "echo");
  for (let i = 0; i < spec.warmup; i++) await echo();
  const latencies = [];
  const bytesBefore = wire();
  const a = snapshot();
  const deadline = performance.now() + spec.durationMs;
  while (latencies.length < spec.messages && performance.now() < deadline) {
    const t0 = performance.now();
    await echo();
    latencies.push(performance.now() - t0);
  }
  const b = snapshot();
  const bytes = wire() - bytesBefore;
  client.close();
  return {
    ...window(a, b),
    transport: spec.transport,
    messages: latencies.length,
    latencyP50Ms: percentile(latencies, 50),
    latencyP99Ms: percentile(latencies, 99),
    bytesPerMessage: bytes / latencies.length,
  };
}

const SCENARIOS = {
  connect: scenarioConnect,
  upgrade: scenarioUpgrade,
  echo: scenarioEcho,
  fanout: scenarioFanout,
  transport: scenarioTransport,
};

async function main() {
  const run = SCENARIOS[spec.scenario];
  if (!run) throw new Error(`unknown scenario ${spec.scenario}`);
  const result = await run();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

const deadline = setTimeout(() => {
  log(`gave up after ${spec.timeoutMs} ms`);
  process.exit(3);
}, spec.timeoutMs || 120000);
deadline.unref();

main().then(
  () => process.exit(0),
  (err) => {
    process.stdout.write(`FAILED ${JSON.stringify(String(err && err.stack ? err.stack : err))}\n`);
    process.exit(2);
  },
);
