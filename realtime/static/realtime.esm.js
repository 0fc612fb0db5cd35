/*!
 * realtime.js: the JavaScript client of realtime. Engine.IO v4 / Socket.IO v5,
 * with the common API of socket.io-client v4. No dependencies, no build step.
 *
 * Loads as a classic <script> (defines the global `io`) and through require()
 * (module.exports = io). realtime.esm.js, generated from this file by
 * build/build-esm.js, is the same code as an ES module: `import { io }`;
 * realtime.min.js, by build/build-min.js, the same script minified.
 *
 * Specs: https://github.com/socketio/socket.io/tree/main/docs/engine.io-protocol
 *        https://github.com/socketio/socket.io/tree/main/docs/socket.io-protocol
 */
// Generated from realtime.js by realtime/static/build/build-esm.js: edit that file, not this one.

// Layers, bottom up: wire codecs; Transport (polling, long or short;
// websocket; sse and streaming; any registered later); Engine (one Engine.IO
// session: handshake, heartbeat, write buffer, the upgrade ladder); Manager (one connection shared by the
// namespaces: Socket.IO codec, reconnection); Socket (one namespace: the API).

const G = globalThis;
const IS_NODE = typeof process === "object" && !!(process.versions && process.versions.node);
const noop = () => {};

// Engine.IO packet types (engine.io-protocol v4, "Protocol")
const OPEN = 0, CLOSE = 1, PING = 2, PONG = 3, MESSAGE = 4, UPGRADE = 5, NOOP = 6;
// Separator of packets in a polling payload ("Packet encoding")
const RS = "\x1e";
// Socket.IO packet types (socket.io-protocol v5, "Exchange protocol")
const CONNECT = 0, DISCONNECT = 1, EVENT = 2, ACK = 3, CONNECT_ERROR = 4;
const BINARY_EVENT = 5, BINARY_ACK = 6;
// Event names a Socket emits itself; emit() refuses them.
const RESERVED = ["connect", "connect_error", "disconnect", "disconnecting",
  "newListener", "removeListener"];

// An exception in a user's listener must not break the loop that called it
// (a polling payload half dispatched, a namespace left half connected): it is
// reported as uncaught instead.
function call(fn, ctx, args) {
  try { fn.apply(ctx, args); } catch (e) { queueMicrotask(() => { throw e; }); }
}

class Emitter {
  on(ev, fn) {
    const map = this._ev || (this._ev = Object.create(null));
    (map[ev] || (map[ev] = [])).push(fn);
    return this;
  }
  once(ev, fn) {
    const wrap = (...args) => { this.off(ev, wrap); fn.apply(this, args); };
    wrap.fn = fn;
    return this.on(ev, wrap);
  }
  off(ev, fn) {
    const map = this._ev;
    if (!map) return this;
    if (ev === undefined) this._ev = null;
    else if (fn === undefined) delete map[ev];
    else if (map[ev]) {
      const i = map[ev].findIndex((l) => l === fn || l.fn === fn);
      if (i >= 0) map[ev].splice(i, 1);
    }
    return this;
  }
  listeners(ev) { return ((this._ev && this._ev[ev]) || []).slice(); }
  hasListeners(ev) { return this.listeners(ev).length > 0; }
  // Local dispatch. Socket#emit sends to the server, so this has its own name.
  _fire(ev, ...args) {
    for (const fn of this.listeners(ev)) call(fn, this, args);
    return this;
  }
}
Emitter.prototype.removeListener = Emitter.prototype.off;
Emitter.prototype.removeAllListeners = Emitter.prototype.off;

// ---------------------------------------------------------------- binary data

const isBlob = (v) => typeof Blob === "function" && v instanceof Blob;
const isBinary = (v) => v != null && typeof v === "object" && (ArrayBuffer.isView(v) ||
  Object.prototype.toString.call(v) === "[object ArrayBuffer]" || isBlob(v));
const bytesOf = (v) => ArrayBuffer.isView(v)
  ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(v);
// Received binary: an ArrayBuffer in browsers, a Buffer under Node (as
// socket.io-client does).
const received = IS_NODE && typeof Buffer === "function" ? (ab) => Buffer.from(ab) : (ab) => ab;

function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function fromBase64(text) {
  const s = atob(text), bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes.buffer;
}

function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) { n += 4; i++; } // surrogate pair
    else n += 3;
  }
  return n;
}

// ------------------------------------------------------- Engine.IO packets
// A packet is {type, data}; data is a string, or binary for a MESSAGE.

const isBinaryMessage = (p) => p.type === MESSAGE && isBinary(p.data);

function decodeText(s) {
  if (s[0] === "b") return { type: MESSAGE, data: received(fromBase64(s.slice(1))) };
  const type = s.charCodeAt(0) - 48;
  if (!(type >= OPEN && type <= 6)) throw new Error("invalid Engine.IO packet");
  return { type, data: s.length > 1 ? s.slice(1) : undefined };
}

const encodeText = (p) => p.type + (p.data == null ? "" : p.data);

// Polling payload: packets joined by RS, binary as "b" + base64. Async only
// because a Blob must be read first; the caller keeps the order.
function encodePayload(packets) {
  return Promise.all(packets.map((p) => {
    if (!isBinaryMessage(p)) return encodeText(p);
    if (isBlob(p.data)) return p.data.arrayBuffer().then((ab) => "b" + toBase64(new Uint8Array(ab)));
    return "b" + toBase64(bytesOf(p.data));
  })).then((parts) => parts.join(RS));
}

// Bytes a packet takes in a polling payload, to respect maxPayload.
function payloadSize(p) {
  if (!isBinaryMessage(p)) return utf8Length(encodeText(p));
  const n = isBlob(p.data) ? p.data.size : p.data.byteLength;
  return 1 + Math.ceil(n / 3) * 4;
}

// --------------------------------------------------------------- transports
// A transport turns one kind of exchange into Engine.IO packets in and out.
// Its owner (the Engine, or the Engine's upgrade probe) sets the callbacks:
//   onOpen()              the channel is up (used by the probe: websocket
//                         open, or a stream's response headers in)
//   onPacket(packet)      a packet arrived
//   onDrain()             the last send() is written; more may be sent
//   onClose(reason, err)  the transport died ("transport close" / "transport
//                         error" / "parse error"); never called after close().
//                         A held request (long poll, stream) that dies sets
//                         err.held: how long it was held, in ms
// and calls open(), send(packets), fit(packets), pause(cb), resume(), close(silent).
// Register more under io.transports (name -> class): the Engine starts on
// opts.transports[0] and later probes, in opts.transports order, only the
// names the server's handshake lists in `upgrades`. A class with a static
// `upgradeOnly = true` cannot open a session, only take one over.

class Transport {
  constructor(engine, name) {
    this.engine = engine;
    this.name = name;
    this.closed = false;
    this.onOpen = this.onPacket = this.onDrain = this.onClose = noop;
  }
  // How many packets from the front of the buffer one send() may take.
  fit(packets) { return packets.length; }
  // Stop taking requests; cb once nothing is in flight (see upgrade).
  pause(cb) { cb(); }
  // Stop fetching (polling: no new GET), but go on sending.
  hold() {}
  // Undo pause() and hold().
  resume() {}
  _die(reason, err) {
    if (this.closed) return;
    this.close(true);
    this.onClose(reason, err);
  }
}

const transportError = (message, description) => Object.assign(new Error(message),
  { type: "TransportError", description });
// A DOM Event has a `type` too ("error"): only the client's own errors pass as they are.
const asTransportError = (err, message) => err && err.type === "TransportError" ? err
  : transportError(message, err);

// What every HTTP transport shares: requests that close() aborts, and the
// upstream, POSTs of polling payloads, one at a time, answered "ok"
// (engine.io-protocol v4, "HTTP long-polling / Sending data"). A request the
// server answers at once (a POST, the handshake, a short poll) is given up
// after engine.requestTimeout: a pooled keep-alive connection that a network
// change left dead would otherwise hold it with nothing ever closing it.
class HttpTransport extends Transport {
  constructor(engine, name) {
    super(engine, name);
    this.writing = false;
    this._requests = new Set(); // AbortControllers (and XHRs) of requests in flight
    this._upstream = Promise.resolve();
  }
  fit(packets) {
    const max = this.engine.maxPayload;
    let size = 0;
    for (let i = 0; i < packets.length; i++) {
      size += payloadSize(packets[i]) + (i ? 1 : 0);
      if (i && max && size > max) return i;
    }
    return packets.length;
  }
  // A send() made while a POST is in flight (the probe's "5" after its
  // "2probe") waits for it: the server takes one POST of a session at a time.
  send(packets) {
    this.writing = true;
    const body = encodePayload(packets);
    const done = this._upstream = this._upstream
      .then(() => body)
      .then((text) => this.closed || this._request("POST", text));
    done.then(() => {
      if (this._upstream !== done || this.closed) return; // a later send() drains
      this.writing = false;
      this.onDrain();
      this._written();
    }, (err) => this._die("transport error", err));
  }
  _written() {}
  close(silent) {
    if (this.closed) return;
    this.closed = true;
    const abort = () => this._requests.forEach((r) => r.abort());
    // A close packet ends the session at once on the server, and makes it
    // answer what is pending; only then are the requests cut.
    if (!silent && this.engine.id) this._request("POST", String(CLOSE)).then(abort, abort);
    else abort();
  }
  // -> fetch() of this transport's URL, aborted by `ctl`, and by a timer of
  // engine.requestTimeout unless `held` (a long poll, which the heartbeat
  // bounds); a timeout rejects with a TransportError "... error" whose
  // description is an Error "request timeout".
  _fetch(method, body, query, ctl, held) {
    const ms = held ? 0 : this.engine.requestTimeout;
    let timedOut = false, timer = null;
    if (ms) timer = setTimeout(() => { timedOut = true; ctl.abort(); }, Math.min(ms, 0x7fffffff));
    return fetch(this.engine.url(this.name, false, query), this._init(method, body, ctl.signal))
      .then((res) => res.text().then((text) => {
        if (res.status !== 200) throw transportError(this._errorName, res.status);
        return text;
      }))
      .catch((err) => {
        throw timedOut ? transportError(this._errorName, new Error("request timeout"))
          : asTransportError(err, this._errorName);
      })
      .finally(() => clearTimeout(timer));
  }
  _init(method, body, signal) {
    const opts = this.engine.opts;
    const init = { method, body, signal, credentials: opts.withCredentials ? "include" : "same-origin" };
    if (opts.extraHeaders) init.headers = opts.extraHeaders;
    return init;
  }
  // -> the response text of a 200; anything else rejects with a TransportError
  // whose description is the status, the network error or the timeout.
  _request(method, body, query, held) {
    const ctl = new AbortController();
    this._requests.add(ctl);
    return this._fetch(method, body, query, ctl, held).finally(() => this._requests.delete(ctl));
  }
  get _errorName() { return this.name + " error"; }
}

// HTTP polling: one GET and at most one POST in flight, by construction. Long
// polling by default: the server holds each GET until it has packets or its
// wait ends. Short polling (`short`, for networks that cut held requests):
// each GET asks for `wait=0` and is answered at once; the next one follows
// at once when packets came, else after opts.shortPollingInterval.
class Polling extends HttpTransport {
  constructor(engine, name) {
    super(engine, name);
    this.polling = this.paused = this.held = false;
    this.short = !!engine.short;
    this._timer = null;
  }
  get writable() { return !this.closed && !this.paused && !this.writing && !!this.engine.id; }
  get _errorName() { return "xhr poll error"; }
  open() { this._poll(); }
  pause(cb) {
    this.paused = true;
    this._onPaused = cb;
    this._wait(false);
    this._checkPaused();
  }
  // No new GET until resume(); POSTs go on.
  hold() { this.held = true; }
  resume() {
    this.paused = this.held = false;
    this._onPaused = null;
    if (!this.closed && !this.polling && !this._timer) this._poll();
  }
  close(silent) {
    this._wait(false);
    super.close(silent);
  }
  _written() { this._checkPaused(); }
  _poll() {
    this.polling = true;
    const started = Date.now();
    const held = !this.short && !!this.engine.id;
    const query = this.short && this.engine.id ? { wait: "0" } : undefined;
    this._request("GET", undefined, query, held).then((text) => {
      this.polling = false;
      if (this.closed) return;
      let packets;
      try { packets = text.split(RS).map(decodeText); } catch (e) {
        return this._die("parse error", e);
      }
      for (const p of packets) {
        if (this.closed) return;
        this.onPacket(p);
      }
      if (this.closed) return;
      if (this.paused) this._checkPaused();
      else if (this.held) return;
      else if (this.short && packets.every((p) => p.type === NOOP)) this._wait(true);
      else this._poll();
    }, (err) => {
      if (this.engine.id) err.held = Date.now() - started;
      this._die("transport error", err);
    });
  }
  // Short polling's pause between two GETs (on), or its end (off).
  _wait(on) {
    clearTimeout(this._timer);
    this._timer = null;
    if (!on) return;
    const e = this.engine, ms = Math.min(e.opts.shortPollingInterval, e.pingTimeout / 2);
    this._timer = setTimeout(() => {
      this._timer = null;
      if (!this.closed && !this.paused && !this.held) this._poll();
    }, ms);
  }
  _checkPaused() {
    if (this.paused && !this.polling && !this.writing && this._onPaused) {
      const cb = this._onPaused;
      this._onPaused = null;
      cb();
    }
  }
}

// WebSocket: one packet per frame, binary frames as they are. Under Node 20,
// which has no global WebSocket, pass one: io(url, { WebSocket: require("ws") }).
class WebSocketTransport extends Transport {
  get writable() { return !this.closed && !!this.ws && this.ws.readyState === 1; }
  open() {
    const opts = this.engine.opts, Ctor = opts.WebSocket || G.WebSocket;
    const url = this.engine.url(this.name, true);
    let ws;
    try {
      if (!Ctor) throw new Error("no WebSocket: pass the WebSocket option");
      // The third argument (headers) is understood by Node's `ws`; browsers
      // cannot set headers on a WebSocket and ignore it.
      ws = this.ws = opts.extraHeaders ? new Ctor(url, undefined, { headers: opts.extraHeaders })
        : new Ctor(url);
    } catch (e) {
      return queueMicrotask(() => this._die("transport error", transportError("websocket error", e)));
    }
    ws.binaryType = "arraybuffer";
    let opened = false;
    ws.onopen = () => { opened = true; if (!this.closed) this.onOpen(); };
    ws.onmessage = (ev) => {
      if (this.closed) return;
      let packet;
      try {
        packet = typeof ev.data === "string" ? decodeText(ev.data)
          : { type: MESSAGE, data: received(ev.data) };
      } catch (e) {
        return this._die("parse error", e);
      }
      this.onPacket(packet);
    };
    ws.onclose = (ev) => (opened
      ? this._die("transport close", transportError("websocket connection closed", ev))
      : this._die("transport error", transportError("websocket error", ev)));
    ws.onerror = (ev) => this._die("transport error", transportError("websocket error", ev));
  }
  send(packets) {
    for (const p of packets) this.ws.send(isBinaryMessage(p) ? p.data : encodeText(p));
    this.onDrain();
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    try { if (this.ws) this.ws.close(); } catch (e) { /* closing twice is harmless */ }
  }
}

// The rungs below WebSocket (realtime servers only, offered to clients that
// send ext=ladder): packets come down one long-lived GET and go up in POSTs.
// A session never opens on them; it moves there from polling with the same
// probe as WebSocket: the stream's GET, "2probe" POSTed, "3probe" down the
// stream, "5" POSTed. Every packet down is in its polling form (binary as
// "b" + base64).
class StreamTransport extends HttpTransport {
  constructor(engine, name) {
    super(engine, name);
    this._up = false;
  }
  get writable() { return !this.closed && this._up && !this.writing; }
  open() {
    this._startedAt = Date.now();
    this._openStream(this.engine.url(this.name));
  }
  // The Engine gives this probe up (it timed out): any packet but "2probe"
  // and "5" on a probed stream makes the server drop the probe at once, which
  // the stream's abort alone may never do through a proxy that holds it.
  abandon() {
    if (this.closed) return;
    this._fetch("POST", String(NOOP), undefined, new AbortController()).catch(noop);
  }
  // The response headers are in: the stream is up.
  _opened() {
    if (this.closed || this._up) return;
    this._up = true;
    this.onOpen();
  }
  _text(text) {
    if (this.closed) return;
    let packet;
    try { packet = decodeText(text); } catch (e) {
      return this._die("parse error", e);
    }
    this.onPacket(packet);
  }
  // The stream ended (a network cut, the server, an error status). Only a
  // close packet ends a session cleanly, so this is always a failure.
  _ended(cause) {
    if (this.closed) return;
    const err = asTransportError(cause, this._errorName);
    if (!this._up) return this._die("transport error", err);
    err.held = Date.now() - this._startedAt;
    this._die("transport close", err);
  }
  // Reads a fetch() response body as text, chunk by chunk, into `onText`.
  _fetchStream(url, onText) {
    const ctl = new AbortController();
    this._requests.add(ctl);
    fetch(url, this._init("GET", undefined, ctl.signal))
      .then((res) => {
        if (res.status !== 200) throw transportError(this._errorName, res.status);
        const reader = res.body.getReader(), decoder = new TextDecoder();
        this._opened();
        const pump = () => reader.read().then(({ done, value }) => {
          if (this.closed) return undefined;
          onText(done ? decoder.decode() : decoder.decode(value, { stream: true }));
          return done ? this._ended(null) : pump();
        });
        return pump();
      })
      .catch((err) => this._ended(err))
      .finally(() => this._requests.delete(ctl));
  }
}

// Whether fetch() exposes response bodies as streams.
function fetchStreams() {
  try {
    const body = new Response("").body;
    return !!body && typeof body.getReader === "function";
  } catch (e) {
    return false;
  }
}

// Server-Sent Events: a text/event-stream read by the browser's EventSource;
// one event per packet, of type "json" (data: the packet as a JSON string)
// when the packet holds a line break. Without EventSource (Node), or with
// extraHeaders (which EventSource cannot send), the stream is read with
// fetch and parsed here. opts.EventSource overrides the global one.
class Sse extends StreamTransport {
  _openStream(url) {
    const opts = this.engine.opts, ES = opts.EventSource || G.EventSource;
    if (ES && !opts.extraHeaders) return this._eventSource(ES, url);
    this._fetchStream(url, sseParser((type, data) => this._event(type, data)));
  }
  _eventSource(ES, url) {
    const es = new ES(url, { withCredentials: !!this.engine.opts.withCredentials });
    this._requests.add({ abort: () => es.close() });
    es.onopen = () => this._opened();
    es.onmessage = (ev) => this._event("message", ev.data);
    es.addEventListener("json", (ev) => this._event("json", ev.data));
    // EventSource would reconnect by itself, to a stream the session no
    // longer has: it is closed instead, and the transport dies.
    es.onerror = (ev) => {
      es.close();
      this._ended(ev);
    };
  }
  _event(type, data) {
    if (type === "message") return this._text(data);
    if (type !== "json") return undefined;
    let text;
    try { text = JSON.parse(data); } catch (e) {
      return this._die("parse error", e);
    }
    return typeof text === "string" ? this._text(text) : this._die("parse error", new Error("bad json event"));
  }
}

// An event-stream parser (WHATWG HTML, "Parsing an event stream"), enough for
// what the server sends: data and event fields; comments, ids and retry
// ignored. Returns a function taking text as it arrives.
function sseParser(onEvent) {
  let buf = "", data = null, type = "";
  return (text) => {
    buf += text;
    const eol = /\r\n|\r|\n/g;
    let start = 0, m;
    while ((m = eol.exec(buf))) {
      if (m[0] === "\r" && m.index === buf.length - 1) break; // maybe half of "\r\n"
      const line = buf.slice(start, m.index);
      start = eol.lastIndex;
      if (line === "") {
        if (data !== null) onEvent(type || "message", data);
        data = null;
        type = "";
        continue;
      }
      if (line[0] === ":") continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value[0] === " ") value = value.slice(1);
      if (field === "data") data = data === null ? value : data + "\n" + value;
      else if (field === "event") type = value;
    }
    buf = buf.slice(start);
  };
}

// HTTP streaming: one long chunked text/plain response, each packet followed
// by the record separator; a record of only whitespace is padding. Read with
// fetch streams, or XMLHttpRequest's progress events where fetch has none
// (responseText then grows for the life of the session).
class Streaming extends StreamTransport {
  _openStream(url) {
    const onText = recordSplitter((record) => this._text(record));
    if (fetchStreams()) return this._fetchStream(url, onText);
    const xhr = new XMLHttpRequest(), opts = this.engine.opts;
    this._requests.add(xhr);
    xhr.open("GET", url);
    xhr.withCredentials = !!opts.withCredentials;
    for (const k in opts.extraHeaders || {}) xhr.setRequestHeader(k, opts.extraHeaders[k]);
    let seen = 0;
    const progress = () => {
      const text = xhr.responseText;
      if (text.length > seen) onText(text.slice(seen));
      seen = text.length;
    };
    xhr.onreadystatechange = () => {
      if (xhr.readyState >= 2 && xhr.status === 200) this._opened();
    };
    xhr.onprogress = progress;
    xhr.onload = () => {
      if (xhr.status === 200) progress();
      this._ended(xhr.status === 200 ? null : xhr.status);
    };
    xhr.onerror = (ev) => this._ended(ev);
    xhr.send();
    return undefined;
  }
}
Sse.upgradeOnly = Streaming.upgradeOnly = true;

// -> a function taking text as it arrives and calling onRecord(record) for
// each complete record that is not padding.
function recordSplitter(onRecord) {
  let buf = "";
  return (text) => {
    buf += text;
    let start = 0, end;
    while ((end = buf.indexOf(RS, start)) >= 0) {
      const record = buf.slice(start, end);
      start = end + 1;
      if (record.trim()) onRecord(record);
    }
    buf = buf.slice(start);
  };
}

// ------------------------------------------------------------------- Engine
// One Engine.IO session. Events: "handshake" (the open packet's data),
// "open", "message" (string or binary), "ping", "upgrading" and "upgrade"
// (with the new transport, as engine.io-client passes it), and
// "upgradeError" (a probe failed or timed out; the session stays where it
// is), "drain", "error" (could not open), "close" (reason, err) once it was
// open.

let stampSeq = 0;
// A held request cut sooner than this is not taken for a network's rule.
const MIN_CUT = 1000;

class Engine extends Emitter {
  // `short`: poll without waiting (the Manager learned that held requests are cut).
  constructor(origin, opts, short) {
    super();
    this.origin = origin;
    this.opts = opts;
    this.readyState = "opening"; // -> open -> closing -> closed
    this.id = null;
    this.writeBuffer = [];
    this.upgrading = false;
    this._probing = null;
    // The rungs below WebSocket are asked for (ext=ladder in the handshake)
    // only when opts.transports names one; otherwise not a byte differs
    // from socket.io-client.
    this.ladder = opts.transports.some((n) => Engine.transports[n] && Engine.transports[n].upgradeOnly);
    this.short = !!short || opts.shortPolling === true;
  }

  open() {
    const name = this.opts.transports[0];
    if (!Engine.transports[name]) {
      return this._onTransportClose("transport error", new Error("unknown transport " + name));
    }
    this._use(this._create(name)).open();
  }

  url(name, ws, extra) {
    const opts = this.opts, q = new URLSearchParams(opts.query || "");
    q.set("EIO", "4");
    q.set("transport", name);
    if (this.id) q.set("sid", this.id);
    else if (this.ladder && !ws) q.set("ext", q.has("ext") ? q.get("ext") + ",ladder" : "ladder");
    for (const k in extra || {}) q.set(k, extra[k]);
    if (!ws) q.set("t", Date.now().toString(36) + (stampSeq++).toString(36)); // defeats HTTP caches
    return (ws ? this.origin.replace(/^http/, "ws") : this.origin) +
      opts.path.replace(/\/?$/, "/") + "?" + q;
  }

  write(data) { this._send(MESSAGE, data); }

  // Whether the transport takes a write right now (volatile emits need it).
  get writable() { return this.readyState === "open" && !this.upgrading && !!this.transport.writable; }

  // Timers sleep in background tabs and suspended machines: the clock is
  // checked too, so a write never goes to a connection already given up on.
  alive() {
    if (this.readyState === "open" && Date.now() > this._pingDeadline) this._close("ping timeout");
    return this.readyState === "open";
  }

  // The longest wait, in ms (0: none), for an HTTP request the server
  // answers at once: opts.requestTimeout, or by default, in a session, the
  // heartbeat (pingInterval + pingTimeout). A POST held that long holds back
  // a pong the server has given up waiting for: the session is over anyway.
  // The handshake is bounded by the Manager's `timeout` unless the option is set.
  get requestTimeout() {
    const ms = this.opts.requestTimeout;
    if (ms === false) return 0;
    if (ms !== undefined) return ms;
    return this.id ? this.pingInterval + this.pingTimeout : 0;
  }

  // Sends what is buffered, then closes the session. A write in flight is
  // waited for, at most requestTimeout: one stuck on a dead connection then
  // fails, and the session closes with "transport error".
  close() {
    if (this.readyState === "opening") return this._close("forced close");
    if (this.readyState === "open") {
      this.readyState = "closing";
      this._maybeClose();
    }
  }

  _create(name) { return new Engine.transports[name](this, name); }

  _use(t) {
    this.transport = t;
    t.onOpen = noop;
    t.onPacket = (p) => this._onPacket(p);
    t.onDrain = () => this._onDrain();
    t.onClose = (reason, err) => this._onTransportClose(reason, err);
    return t;
  }

  _onPacket(p) {
    if (this.readyState === "opening") {
      return p.type === OPEN ? this._onHandshake(p.data)
        : this._onTransportClose("transport error", new Error("expected an open packet"));
    }
    if (this.readyState === "closed") return;
    if (p.type === PING) {
      this._heartbeat();
      this._send(PONG);
      this._fire("ping");
    } else if (p.type === MESSAGE) {
      this._fire("message", p.data);
    } else if (p.type === CLOSE) {
      this._close("transport close", new Error("transport closed by the server"));
    }
  }

  _onHandshake(json) {
    let hs;
    try { hs = JSON.parse(json); } catch (e) { hs = null; }
    if (!hs || typeof hs.sid !== "string") {
      return this._onTransportClose("transport error", new Error("invalid handshake"));
    }
    this.id = hs.sid;
    this.upgrades = Array.isArray(hs.upgrades) ? hs.upgrades : [];
    this.pingInterval = +hs.pingInterval || 25000;
    this.pingTimeout = +hs.pingTimeout || 20000;
    this.maxPayload = +hs.maxPayload || 0;
    this.readyState = "open";
    this.openedAt = Date.now();
    this._fire("handshake", hs);
    this._heartbeat();
    this._fire("open");
    this._flush();
    // Short polling is for networks that cut held requests: every rung above
    // it holds one, so none is probed.
    if (this.readyState === "open" && this.opts.upgrade !== false && !this.short) {
      this._probe(this.opts.transports.filter((n) =>
        n !== this.transport.name && this.upgrades.includes(n) && Engine.transports[n]));
    }
  }

  // The server pings every pingInterval; silence past pingInterval +
  // pingTimeout means the connection is gone ("Heartbeat").
  _heartbeat() {
    clearTimeout(this._pingTimer);
    const ms = this.pingInterval + this.pingTimeout;
    this._pingDeadline = Date.now() + ms;
    this._pingTimer = setTimeout(() => this._close("ping timeout"), ms);
  }

  _send(type, data) {
    if (this.readyState === "closed") return;
    this.writeBuffer.push({ type, data });
    this._flush();
  }

  _flush() {
    const t = this.transport;
    if (this.readyState !== "closed" && this.id && !this.upgrading && t.writable && this.writeBuffer.length) {
      t.send(this.writeBuffer.splice(0, t.fit(this.writeBuffer)));
    }
  }

  _onDrain() {
    this._flush();
    if (!this.writeBuffer.length) {
      this._fire("drain");
      this._maybeClose();
    }
  }

  _maybeClose() {
    if (this.readyState === "closing" && !this.upgrading && !this.writeBuffer.length &&
      this.transport.writable) this._close("forced close");
  }

  // Upgrade ("Upgrade" in the spec): probe the next rung with "2probe"; on
  // "3probe" pause the current transport, wait for its GET and POST in
  // flight, send "5" on the new one, then flush the write buffer there. A
  // packet is written on exactly one transport, and everything the old one
  // carried is delivered first, so nothing is lost, doubled or reordered.
  // A probe that fails, or has not switched within opts.probeTimeout (a
  // proxy that buffers the stream, a WebSocket that opens but never
  // answers), is dropped and the next rung in `names` is tried; the session
  // goes on meanwhile where it is.
  _probe(names) {
    const name = names.shift();
    if (!name || this.readyState !== "open") return;
    const t = this._probing = this._create(name);
    let held = false;
    this._probeTimer = setTimeout(() => fail(transportError("probe timeout", name)),
      Math.min(this.opts.probeTimeout, 0x7fffffff));
    const fail = (err) => {
      if (this._probing !== t) return;
      const paused = this.upgrading;
      if (t.abandon) t.abandon();
      this._dropProbe();
      this._fire("upgradeError", err);
      if (paused || held) {
        this.transport.resume();
        this._flush();
        this._maybeClose();
      }
      this._probe(names);
    };
    t.onClose = (reason, err) => fail(err || new Error(reason));
    t.onOpen = () => t.send([{ type: PING, data: "probe" }]);
    // An HTTP probe's "2probe" POST was answered: the server is upgrading
    // now, and answers every poll at once until "5" or the probe's end. So
    // polling holds its GETs until "3probe" comes down the stream (which a
    // buffering proxy may keep from coming at all), not to spin.
    t.onDrain = () => {
      if (t instanceof HttpTransport && this._probing === t && !this.upgrading && !held) {
        held = true;
        this.transport.hold();
      }
    };
    // A stream is probed twice: a buffering proxy may let the first small
    // write after the response's start through and hold every later one.
    let pongs = Engine.transports[name].upgradeOnly ? 2 : 1;
    t.onPacket = (p) => {
      if (p.type !== PONG || p.data !== "probe" || this.upgrading) return fail(new Error("probe error"));
      if (--pongs) return t.send([{ type: PING, data: "probe" }]);
      this.upgrading = true;
      this._fire("upgrading", t);
      this.transport.pause(() => {
        if (this._probing !== t || this.readyState === "closed") return;
        clearTimeout(this._probeTimer);
        this._probing = null;
        t.send([{ type: UPGRADE }]);
        this.transport.close(true);
        this._use(t);
        this.upgrading = false;
        this._fire("upgrade", t);
        this._flush();
        this._maybeClose();
      });
    };
    t.open();
  }

  _dropProbe() {
    const t = this._probing;
    if (!t) return;
    clearTimeout(this._probeTimer);
    this._probing = null;
    this.upgrading = false;
    t.onClose = t.onPacket = noop;
    t.close(true);
  }

  _onTransportClose(reason, err) {
    if (this.readyState !== "opening") {
      if (err && err.held !== undefined) this._cut(err);
      return this._close(reason, err);
    }
    this._stop(true);
    this._fire("error", err || new Error(reason));
  }

  // A held request (long poll, stream) that the network ends before the
  // server's next ping could have ended it (pingInterval) looks like a proxy
  // or network that cuts held requests: err.cut weighs the evidence, 2 for a
  // status that says so (504 Gateway Timeout, 408 Request Timeout), 1 for a
  // bare network error (a server restart looks the same). The Manager drops
  // to short polling at 2 (see Manager#_learn).
  _cut(err) {
    // Only a server that offered a rung below WebSocket understood
    // ext=ladder, and so answers wait=0 at once.
    const ladderServer = this.upgrades.some((n) => Engine.transports[n] && Engine.transports[n].upgradeOnly);
    if (!ladderServer || this.short || this.opts.shortPolling === false) return;
    if (err.held < MIN_CUT || err.held >= this.pingInterval) return;
    err.cut = err.description === 504 || err.description === 408 ? 2 : 1;
  }

  _close(reason, err) {
    if (this.readyState === "closed") return;
    // Only a close the client chose tells the server; otherwise the session
    // is already over on its side, or unreachable.
    this._stop(reason !== "forced close");
    this._fire("close", reason, err);
  }

  _stop(silent) {
    this.readyState = "closed";
    clearTimeout(this._pingTimer);
    this._dropProbe();
    if (this.transport) this.transport.close(silent);
    this.writeBuffer = [];
  }
}

Engine.transports = { polling: Polling, websocket: WebSocketTransport, sse: Sse, streaming: Streaming };

// --------------------------------------------------------- Socket.IO codec
// <type>[<attachments>-][<nsp>,][<ack id>][JSON]; binary values become
// {"_placeholder":true,"num":i} and travel as the next i binary messages.

// Returns the messages to write: the text packet, then its attachments.
function encodePacket(p) {
  const attachments = [];
  let json = "";
  if (p.data !== undefined) {
    json = p.type === EVENT || p.type === ACK
      ? JSON.stringify(p.data, function (key, value) {
        // `this[key]` is the value before toJSON() (Node's Buffer has one).
        const raw = this[key];
        if (!isBinary(raw)) return value;
        attachments.push(raw);
        return { _placeholder: true, num: attachments.length - 1 };
      })
      : JSON.stringify(p.data);
  }
  let type = p.type;
  if (attachments.length) type = type === EVENT ? BINARY_EVENT : BINARY_ACK;
  let s = String(type);
  if (attachments.length) s += attachments.length + "-";
  if (p.nsp && p.nsp !== "/") s += p.nsp + ",";
  if (p.id != null) s += p.id;
  return [s + json, ...attachments];
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

function decodePacket(s) {
  const p = { type: s.charCodeAt(0) - 48, nsp: "/" };
  let i = 1;
  if (!(p.type >= CONNECT && p.type <= BINARY_ACK)) throw new Error("unknown packet type");
  if (p.type === BINARY_EVENT || p.type === BINARY_ACK) {
    const dash = s.indexOf("-");
    const n = s.slice(1, dash);
    if (dash < 0 || !/^\d+$/.test(n)) throw new Error("illegal attachments");
    p.attachments = +n;
    i = dash + 1;
  }
  if (s[i] === "/") {
    const comma = s.indexOf(",", i);
    p.nsp = comma < 0 ? s.slice(i) : s.slice(i, comma);
    i = comma < 0 ? s.length : comma + 1;
  }
  const start = i;
  while (i < s.length && s[i] >= "0" && s[i] <= "9") i++;
  if (i > start) p.id = +s.slice(start, i);
  if (i < s.length) p.data = JSON.parse(s.slice(i));
  const d = p.data;
  const valid = [
    isObject(d), // CONNECT
    d === undefined, // DISCONNECT
    Array.isArray(d) && d.length > 0 && (typeof d[0] === "number" ||
      (typeof d[0] === "string" && !RESERVED.includes(d[0]))), // EVENT
    Array.isArray(d), // ACK
    typeof d === "string" || isObject(d), // CONNECT_ERROR
  ][p.type === BINARY_EVENT ? EVENT : p.type === BINARY_ACK ? ACK : p.type];
  if (!valid) throw new Error("invalid payload");
  return p;
}

function reconstruct(v, attachments) {
  if (v === null || typeof v !== "object") return v;
  if (v._placeholder === true) {
    if (!(Number.isInteger(v.num) && v.num >= 0 && v.num < attachments.length)) {
      throw new Error("illegal attachments");
    }
    return attachments[v.num];
  }
  for (const k of Object.keys(v)) v[k] = reconstruct(v[k], attachments);
  return v;
}

// ------------------------------------------------------------------ Manager
// One connection (an Engine, replaced on each reconnection) shared by the
// Sockets of its namespaces. Events: "open", "error", "close" (reason),
// "ping", "packet", "reconnect_attempt", "reconnect", "reconnect_error",
// "reconnect_failed".

const DEFAULTS = {
  path: "/socket.io",
  // The ladder, best rung first after the one the session opens on. The
  // rungs below WebSocket are only tried against a server that offers them.
  transports: ["polling", "websocket", "sse", "streaming"],
  upgrade: true,
  probeTimeout: 5000,
  shortPolling: undefined, // true: from the start; false: never; else when held requests are cut
  shortPollingInterval: 1000,
  reconnection: true,
  reconnectionAttempts: Infinity,
  reconnectionDelay: 1000,
  reconnectionDelayMax: 5000,
  randomizationFactor: 0.5,
  timeout: 20000,
  requestTimeout: undefined, // by default the heartbeat, once the server has given it
  autoConnect: true,
};

class Manager extends Emitter {
  constructor(uri, opts) {
    super();
    if (uri && typeof uri === "object") { opts = uri; uri = undefined; }
    this.opts = Object.assign({}, DEFAULTS);
    for (const k in opts || {}) if (opts[k] !== undefined) this.opts[k] = opts[k];
    checkOptions(this.opts);
    this.uri = parseUri(uri).origin;
    this.nsps = Object.create(null);
    this.engine = null;
    this._readyState = "closed";
    this._attempts = 0;
    this._reconnecting = false;
    this._skipReconnect = false;
    this._pending = null; // a binary packet waiting for its attachments
    this._cuts = 0; // evidence that held requests are cut (see _learn)
    this._short = false;
    if (this.opts.autoConnect) this.open();
  }

  socket(nsp, opts) {
    let s = this.nsps[nsp];
    if (!s) s = this.nsps[nsp] = new Socket(this, nsp, opts);
    else if (this.opts.autoConnect && !s.active) s.connect();
    return s;
  }

  open(cb) {
    if (this._readyState !== "closed") return this;
    this._readyState = "opening";
    this._skipReconnect = false;
    const e = this.engine = new Engine(this.uri, this.opts, this._short);
    const current = () => this.engine === e;
    const fail = (err) => {
      clearTimeout(this._openTimer);
      if (!current() || this._readyState !== "opening") return;
      this._readyState = "closed";
      e.close();
      this._fire("error", err);
      if (cb) cb(err);
      else if (!this._reconnecting && this.opts.reconnection && this._attempts === 0) this._reconnect();
    };
    e.on("open", () => {
      clearTimeout(this._openTimer);
      if (!current()) return;
      this._readyState = "open";
      this._pending = null;
      this._fire("open");
      if (cb) cb();
    });
    e.on("error", fail);
    e.on("message", (data) => current() && this._onData(data));
    e.on("ping", () => current() && this._fire("ping"));
    e.on("close", (reason, err) => current() && this._readyState === "open" && this._onClose(reason, err));
    if (this.opts.timeout !== false) {
      this._openTimer = setTimeout(() => fail(new Error("timeout")), this.opts.timeout);
    }
    e.open();
    return this;
  }

  connect(cb) { return this.open(cb); }

  _onData(data) {
    try {
      if (typeof data === "string") {
        if (this._pending) throw new Error("expected a binary attachment");
        const p = decodePacket(data);
        if (p.attachments) this._pending = { p, bins: [] };
        else this._fire("packet", p);
      } else {
        const pend = this._pending;
        if (!pend) throw new Error("unexpected binary data");
        pend.bins.push(data);
        if (pend.bins.length === pend.p.attachments) {
          this._pending = null;
          pend.p.data = reconstruct(pend.p.data, pend.bins);
          this._fire("packet", pend.p);
        }
      }
    } catch (err) {
      this._onClose("parse error", err);
    }
  }

  _packet(p) {
    if (this.engine) for (const m of encodePacket(p)) this.engine.write(m);
  }

  _alive() { return this._readyState === "open" && this.engine.alive(); }

  // A Socket left; the connection closes with the last one.
  _destroy() {
    for (const nsp in this.nsps) if (this.nsps[nsp].active) return;
    this._close();
  }

  _close() {
    this._skipReconnect = true;
    this._reconnecting = false;
    clearTimeout(this._timer);
    if (this._readyState !== "closed") this._onClose("forced close");
  }

  _onClose(reason, err) {
    clearTimeout(this._openTimer);
    this._readyState = "closed";
    this._pending = null;
    this._attempts = 0;
    if (this.engine) {
      this._learn(this.engine, err);
      this.engine.close();
    }
    this._fire("close", reason, err);
    if (this.opts.reconnection && !this._skipReconnect) this._reconnect();
  }

  // Where held requests keep being cut (a proxy's short read timeout, a
  // network that kills idle connections), every session on a long poll or a
  // stream dies within seconds; from then on this Manager's sessions use
  // short polling. The evidence adds up over consecutive sessions (see
  // Engine#_cut); a session that outlived a heartbeat cycle clears it.
  _learn(engine, err) {
    if (engine.openedAt && Date.now() - engine.openedAt > engine.pingInterval + engine.pingTimeout) {
      this._cuts = 0;
    }
    if (!err || !err.cut) return;
    this._cuts += err.cut;
    if (this._cuts >= 2) this._short = true;
  }

  // Exponential backoff: reconnectionDelay * 2^attempt, capped at
  // reconnectionDelayMax, spread by +/- randomizationFactor so that clients
  // dropped together do not come back together.
  _delay() {
    const o = this.opts;
    let ms = Math.min(o.reconnectionDelay * Math.pow(2, this._attempts++), o.reconnectionDelayMax);
    ms += ms * o.randomizationFactor * (Math.random() * 2 - 1);
    return Math.max(0, Math.min(ms, o.reconnectionDelayMax));
  }

  _reconnect() {
    if (this._reconnecting || this._skipReconnect) return;
    if (this._attempts >= this.opts.reconnectionAttempts) {
      this._attempts = 0;
      this._fire("reconnect_failed");
      return;
    }
    this._reconnecting = true;
    this._timer = setTimeout(() => {
      if (this._skipReconnect) return;
      this._fire("reconnect_attempt", this._attempts);
      if (this._skipReconnect) return;
      this.open((err) => {
        this._reconnecting = false;
        if (err) {
          this._reconnect();
          this._fire("reconnect_error", err);
        } else {
          const attempts = this._attempts;
          this._attempts = 0;
          this._fire("reconnect", attempts);
        }
      });
    }, this._delay());
  }
}

// ------------------------------------------------------------------- Socket

class Socket extends Emitter {
  constructor(io, nsp, opts) {
    super();
    this.io = io;
    this.nsp = nsp;
    this.id = undefined;
    this.connected = false;
    this.recovered = false;
    this.auth = opts && opts.auth;
    this._opts = Object.assign({}, opts);
    this.receiveBuffer = [];
    this.sendBuffer = [];
    this.acks = {};
    this.flags = {};
    this._ids = 0;
    this._endRecovery();
    this._subs = null;
    this._any = [];
    this._anyOut = [];
    if (io.opts.autoConnect) this.open();
  }

  get disconnected() { return !this.connected; }
  // Whether the Socket reconnects along with its Manager.
  get active() { return !!this._subs; }

  connect() {
    if (this.connected) return this;
    const io = this.io;
    if (!this._subs) {
      const handlers = {
        open: () => this._onOpen(),
        packet: (p) => this._onPacket(p),
        error: (err) => this.connected || this._fire("connect_error", err),
        close: (reason, err) => this._onClose(reason, err),
      };
      for (const ev in handlers) io.on(ev, handlers[ev]);
      this._subs = () => { for (const ev in handlers) io.off(ev, handlers[ev]); };
    }
    if (!io._reconnecting) io.open();
    if (io._readyState === "open") this._onOpen();
    return this;
  }
  open() { return this.connect(); }

  disconnect() {
    if (this.connected) this._packet({ type: DISCONNECT });
    this._destroy();
    if (this.connected) this._onClose("io client disconnect");
    else {
      this._endRecovery();
      this._dropAcks();
    }
    return this;
  }
  close() { return this.disconnect(); }

  send(...args) { return this.emit("message", ...args); }

  emit(ev, ...args) {
    const flags = this.flags;
    this.flags = {};
    if (RESERVED.includes(ev)) throw new Error('"' + ev + '" is a reserved event name');
    args.unshift(ev);
    const p = { type: EVENT, data: args, volatile: flags.volatile };
    if (typeof args[args.length - 1] === "function") {
      p.id = this._ids++;
      const timeout = flags.timeout !== undefined ? flags.timeout : this._opts.ackTimeout;
      this._registerAck(p.id, args.pop(), timeout);
    }
    this.io._alive(); // may find the connection dead, and close it first
    const engine = this.io.engine;
    if (flags.volatile && !(this.connected && engine && engine.writable)) return this;
    if (this.connected) this._send(p);
    else this.sendBuffer.push(p);
    return this;
  }

  emitWithAck(ev, ...args) {
    return new Promise((resolve, reject) => {
      const fn = (err, value) => (err ? reject(err) : resolve(value));
      fn.withError = true;
      this.emit(ev, ...args, fn);
    });
  }

  timeout(ms) { this.flags.timeout = ms; return this; }
  get volatile() { this.flags.volatile = true; return this; }
  compress() { return this; } // per-message compression is the server's choice

  onAny(fn) { this._any.push(fn); return this; }
  prependAny(fn) { this._any.unshift(fn); return this; }
  offAny(fn) { this._any = fn ? this._any.filter((l) => l !== fn) : []; return this; }
  listenersAny() { return this._any.slice(); }
  onAnyOutgoing(fn) { this._anyOut.push(fn); return this; }
  offAnyOutgoing(fn) { this._anyOut = fn ? this._anyOut.filter((l) => l !== fn) : []; return this; }
  listenersAnyOutgoing() { return this._anyOut.slice(); }

  // Connection state recovery (socket.io-protocol v5; docs/client.md). The
  // server has it on iff its CONNECT reply carries a `pid`; until then
  // nothing here changes a byte on the wire. State: _pid and _sid (the
  // session to ask back), _offset (of the last server event), _seq (client
  // events sent since the session began, counted as the server counts them),
  // _sent (the last of them, kept for replay), _lost (how many were pushed
  // out of _sent: a server that got fewer cannot have them replayed).
  _connectData(auth) {
    if (!this._pid) return auth;
    const data = Object.assign({}, auth, { pid: this._pid });
    if (this._offset !== undefined) data.offset = this._offset;
    return data;
  }

  // The CONNECT reply. Returns the packets to send again: on a recovery, the
  // kept ones the server says it did not get (`received` is realtime's
  // extension; a stock server does not send it, and nothing is replayed).
  _onConnected(data) {
    const recovered = this.recovered = !!this._pid && data.sid === this._sid;
    const got = data.received;
    let replay = [];
    if (!recovered) this._endRecovery();
    else if (Number.isInteger(got)) {
      // Counted the same way, the server's events are a prefix of ours.
      if (got >= this._lost) replay = this._sent.filter((p) => p.seq >= got);
      this._seq = got;
    }
    this._sent = [];
    this._lost = this._seq;
    this._pid = data.pid;
    this._sid = data.sid;
    this._dropAcks(replay);
    return replay;
  }

  _endRecovery() {
    this._pid = this._offset = undefined;
    this._sent = [];
    this._seq = this._lost = 0;
  }

  // A server event's arguments, its offset taken off (events that ask for an
  // ack have none).
  _incoming(p) {
    const args = p.data, last = args[args.length - 1];
    if (this._pid && p.id == null && args.length > 1 && typeof last === "string") {
      this._offset = args.pop();
    }
    return args;
  }

  // A client event going out: counted, and kept unless volatile.
  _outgoing(p) {
    if (!this._pid || p.type !== EVENT) return p;
    p.seq = this._seq++;
    if (p.volatile) return p;
    const sent = this._sent, max = this._opts.replayBuffer;
    sent.push(p);
    if (sent.length > (max >= 0 ? max : 1000)) this._lost = sent.shift().seq + 1;
    return p;
  }

  _registerAck(id, fn, timeout) {
    if (timeout === undefined) { this.acks[id] = fn; return; }
    const timer = setTimeout(() => {
      delete this.acks[id];
      this.sendBuffer = this.sendBuffer.filter((p) => p.id !== id);
      this._sent = this._sent.filter((p) => p.id !== id);
      call(fn, this, [new Error("operation has timed out")]);
    }, timeout);
    const wrap = (...args) => { clearTimeout(timer); fn.apply(this, args); };
    wrap.withError = true;
    this.acks[id] = wrap;
  }

  _send(p) {
    for (const fn of this._anyOut.slice()) call(fn, this, p.data);
    this._packet(this._outgoing(p));
  }

  _packet(p) {
    p.nsp = this.nsp;
    this.io._packet(p);
  }

  _onOpen() {
    if (typeof this.auth === "function") this.auth((data) => this._sendConnect(data));
    else this._sendConnect(this.auth);
  }

  _sendConnect(auth) { this._packet({ type: CONNECT, data: this._connectData(auth) }); }

  _onPacket(p) {
    if (p.nsp !== this.nsp) return;
    switch (p.type) {
      case CONNECT:
        if (p.data && p.data.sid) return this._onConnect(p.data);
        return this._fire("connect_error", new Error("CONNECT without a sid: a Socket.IO v2 server?"));
      case EVENT:
      case BINARY_EVENT:
        return this._onEvent(p);
      case ACK:
      case BINARY_ACK:
        return this._onAck(p);
      case DISCONNECT:
        this._destroy();
        return this._onClose("io server disconnect");
      case CONNECT_ERROR: {
        this._destroy();
        this._endRecovery();
        this._dropAcks();
        const d = p.data, err = new Error(typeof d === "string" ? d : d.message);
        err.data = d.data;
        return this._fire("connect_error", err);
      }
    }
  }

  _onConnect(data) {
    const replay = this._onConnected(data);
    this.id = data.sid;
    this.connected = true;
    for (const args of this.receiveBuffer.splice(0)) this._dispatch(args);
    for (const p of replay) this._packet(this._outgoing(p));
    for (const p of this.sendBuffer.splice(0)) this._send(p);
    this._fire("connect");
  }

  _onEvent(p) {
    const args = this._incoming(p);
    if (p.id != null) args.push(this._ack(p.id));
    if (this.connected) this._dispatch(args);
    else this.receiveBuffer.push(args);
  }

  _dispatch(args) {
    for (const fn of this._any.slice()) call(fn, this, args);
    this._fire(...args);
  }

  _ack(id) {
    let sent = false;
    return (...args) => {
      if (sent) return;
      sent = true;
      this._packet({ type: ACK, id, data: args });
    };
  }

  _onAck(p) {
    const fn = this.acks[p.id];
    if (typeof fn !== "function") return;
    // The server got this event, so every one before it: no replay for them.
    const i = this._sent.findIndex((s) => s.id === p.id);
    if (i >= 0) this._sent.splice(0, i + 1);
    delete this.acks[p.id];
    call(fn, this, fn.withError ? [null, ...p.data] : p.data);
  }

  _onClose(reason, err) {
    this.connected = false;
    this.id = undefined;
    // Only a connection lost, not closed on purpose by either side, recovers.
    if (reason === "io client disconnect" || reason === "io server disconnect") this._endRecovery();
    this._fire("disconnect", reason, err);
    this._dropAcks(this._sent);
  }

  // No ack can come for what was sent; what is still buffered, or kept for
  // replay (`also`), may be sent after a reconnection and keeps its callback.
  _dropAcks(also) {
    const kept = (also || []).concat(this.sendBuffer);
    for (const id of Object.keys(this.acks)) {
      if (kept.some((p) => String(p.id) === id)) continue;
      const fn = this.acks[id];
      delete this.acks[id];
      if (fn.withError) call(fn, this, [new Error("socket has been disconnected")]);
    }
  }

  _destroy() {
    if (this._subs) {
      this._subs();
      this._subs = null;
    }
    this.io._destroy(this);
  }
}

// ---------------------------------------------------------------------- io()

// Options that cannot work are refused at once, not at the first connection.
function checkOptions(o) {
  const names = o.transports;
  if (!Array.isArray(names) || !names.length) {
    throw new TypeError("the transports option must be a non-empty array of names");
  }
  for (const n of names) {
    if (!Engine.transports[n]) {
      throw new TypeError('unknown transport "' + n + '"; known: ' + Object.keys(Engine.transports).join(", "));
    }
  }
  if (Engine.transports[names[0]].upgradeOnly) {
    throw new TypeError('a session cannot open on "' + names[0] +
      '", only move there from polling: list "polling" first');
  }
  for (const k of ["probeTimeout", "shortPollingInterval"]) {
    if (!(o[k] > 0)) throw new TypeError("the " + k + " option must be a positive number of ms");
  }
  const rt = o.requestTimeout;
  if (rt !== undefined && rt !== false && !(typeof rt === "number" && rt > 0)) {
    throw new TypeError("the requestTimeout option must be a positive number of ms, or false");
  }
}

// -> {origin, nsp, query}. A relative URL is resolved against the page.
function parseUri(uri) {
  const loc = typeof location !== "undefined" ? location : null;
  if (uri == null || uri === "") uri = loc ? loc.protocol + "//" + loc.host : "";
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && uri[0] !== "/") {
    uri = (loc ? loc.protocol : "https:") + "//" + uri;
  }
  const url = new URL(uri, loc ? loc.href : undefined);
  return {
    origin: url.protocol.replace(/^ws/, "http") + "//" + url.host,
    nsp: url.pathname || "/",
    query: url.search.slice(1),
  };
}

const managers = Object.create(null);

// io(url?, opts?): the Socket for url's namespace. Namespaces of one server
// share a Manager (one connection), unless forceNew or multiplex: false, or
// that namespace already has a Socket there.
function io(uri, opts) {
  if (uri && typeof uri === "object") { opts = uri; uri = undefined; }
  opts = opts || {};
  const parsed = parseUri(uri);
  if (parsed.query && !opts.query) opts.query = parsed.query;
  const key = parsed.origin + "|" + (opts.path || DEFAULTS.path);
  const cached = managers[key];
  let manager;
  if (opts.forceNew || opts.multiplex === false || (cached && parsed.nsp in cached.nsps)) {
    manager = new Manager(parsed.origin, opts);
  } else {
    manager = cached || (managers[key] = new Manager(parsed.origin, opts));
  }
  return manager.socket(parsed.nsp, opts);
}

// Web Push (docs/push.md): the service worker the server serves beside this
// client (<path>/realtime-sw.js) shows pushes as notifications. subscribe()
// registers it, asks the notifications permission, subscribes with the
// server's key and hands the subscription to the server over the socket; the
// server keeps it for the user it tied the socket to (set_user). Pushes then
// reach that user when no tab is open.
const PUSH_EVENT = "realtime:push";

function pushPath(socket, opts) {
  const path = (opts && opts.path) || (socket && socket.io && socket.io.opts.path) || DEFAULTS.path;
  return path.replace(/\/+$/, "");
}

async function pushAsk(socket, question) {
  const answer = await socket.timeout(10000).emitWithAck(PUSH_EVENT, question);
  if (!answer || answer.error) throw new Error("Web Push: " + ((answer && answer.error) || "no answer"));
  return answer;
}

function activated(registration) {
  if (registration.active) return Promise.resolve(registration);
  const worker = registration.installing || registration.waiting;
  return new Promise((resolve, reject) => {
    worker.addEventListener("statechange", () => {
      if (worker.state === "activated") resolve(registration);
      else if (worker.state === "redundant") reject(new Error("Web Push: the service worker failed"));
    });
  });
}

function sameKey(subscription, key) {
  const own = subscription.options && subscription.options.applicationServerKey;
  if (!own) return true;
  const a = new Uint8Array(own);
  return a.length === key.length && a.every((b, i) => b === key[i]);
}

const push = {
  // True where service workers, the Push API and notifications all exist
  // (a secure context: https, or http://localhost).
  supported() {
    return typeof navigator === "object" && "serviceWorker" in navigator &&
      typeof PushManager === "function" && typeof Notification === "function";
  },
  // Registers the service worker (scope: <path>/, or opts.scope); its
  // registration. opts.resubscribe: the URL the worker POSTs a replaced
  // subscription to (pushsubscriptionchange).
  async register(socket, opts) {
    if (!push.supported()) throw new Error("Web Push is not supported here (https and a browser with service workers)");
    const path = pushPath(socket, opts);
    const scope = (opts && opts.scope) || path + "/";
    const query = opts && opts.resubscribe ? "?resubscribe=" + encodeURIComponent(opts.resubscribe) : "";
    return activated(await navigator.serviceWorker.register(path + "/realtime-sw.js" + query, { scope }));
  },
  // The server's application server key (base64url).
  async publicKey(socket) {
    return (await pushAsk(socket, { op: "key" })).publicKey;
  },
  // Subscribes this browser and hands the subscription to the server; its JSON.
  async subscribe(socket, opts) {
    const registration = await push.register(socket, opts);
    const permission = await Notification.requestPermission();
    if (permission !== "granted") throw new Error("Web Push: notifications are " + permission);
    const key = new Uint8Array(fromBase64((await push.publicKey(socket)).replace(/-/g, "+").replace(/_/g, "/")));
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameKey(subscription, key)) {
      await subscription.unsubscribe();
      subscription = null;
    }
    subscription = subscription ||
      await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    const json = subscription.toJSON();
    await pushAsk(socket, { op: "subscribe", subscription: json });
    return json;
  },
  // Tells the server to forget this browser's subscription, and ends it; false if none.
  async unsubscribe(socket, opts) {
    if (!push.supported()) return false;
    const path = pushPath(socket, opts);
    const registration = await navigator.serviceWorker.getRegistration((opts && opts.scope) || path + "/");
    const subscription = registration && await registration.pushManager.getSubscription();
    if (!subscription) return false;
    await pushAsk(socket, { op: "unsubscribe", endpoint: subscription.endpoint });
    return subscription.unsubscribe();
  },
};

Object.assign(io, {
  io, connect: io, protocol: 5, Manager, Socket, Engine, Transport, HttpTransport,
  transports: Engine.transports, push,
});

export { io, Manager, Socket };
export default io;
