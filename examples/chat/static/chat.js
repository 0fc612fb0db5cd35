// The chat demo's page: one Socket.IO connection (the bundled client's `io`),
// rooms, nicknames, a typing indicator, and acknowledged messages.
(() => {
  "use strict";

  const LOBBY = "lobby";
  const $ = (selector) => document.querySelector(selector);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const state = {
    nick: localStorage.getItem("realtime-chat-nick") || "",
    rooms: [], // [{name, members}] for every room on the server
    joined: new Map(), // room -> {messages, unread, members}
    wanted: new Set(JSON.parse(localStorage.getItem("realtime-chat-rooms") || "[]")),
    active: LOBBY,
    typing: new Map(), // room -> Map(nick -> expiry timer)
  };

  // The auth function runs on every (re)connection, so the nickname survives them.
  const socket = io({ auth: (cb) => cb({ nick: state.nick }) });

  // -- connection and transport ---------------------------------------------

  function setStatus(status, text) {
    const node = $("#status");
    node.dataset.status = status;
    node.textContent = text;
  }

  // The rung of the transport ladder the page is on: polling, websocket, sse,
  // streaming, or "short polling" (polling that never holds a request, where
  // the network cuts held ones).
  function transportName() {
    const engine = socket.io.engine;
    const transport = engine && engine.transport;
    if (!transport) return "";
    return transport.name === "polling" && transport.short ? "short polling" : transport.name;
  }

  function showTransport() {
    const name = transportName();
    const node = $("#transport");
    node.dataset.transport = name;
    node.textContent = name || "…";
    if (name) socket.emit("transport", name);
  }

  // Each connection is a new Engine.IO session: it opens on polling (or on
  // short polling, once held requests were seen cut) and may move up the
  // ladder later ("upgrade").
  socket.io.on("open", () => {
    socket.io.engine.on("upgrade", showTransport);
    showTransport();
  });
  socket.on("connect", () => {
    setStatus("connected", "connected");
    showTransport();
    resubscribe();
  });

  // Notifications already allowed: hand the (same, or renewed) subscription
  // over again, for this connection's nick.
  function resubscribe() {
    if (io.push.supported() && Notification.permission === "granted") {
      io.push.subscribe(socket).catch(() => {});
    }
  }
  socket.on("disconnect", (reason) => setStatus("disconnected", `disconnected (${reason})`));
  socket.on("connect_error", (err) => setStatus("error", `cannot connect: ${err.message}`));

  // -- what the server says -------------------------------------------------

  socket.on("welcome", ({ nick, room, history }) => {
    setNick(nick);
    state.joined.clear();
    state.joined.set(room, { messages: history, unread: 0, members: [] });
    for (const name of state.wanted) if (name !== LOBBY) join(name, false);
    if (!state.joined.has(state.active)) state.active = LOBBY;
    render();
  });

  socket.on("rooms", (rooms) => {
    state.rooms = rooms;
    renderRooms();
  });

  socket.on("members", ({ room, members }) => {
    const joined = state.joined.get(room);
    if (joined) {
      joined.members = members;
      if (room === state.active) renderMembers();
    }
  });

  socket.on("chat", (message) => addMessage(message.room, message));
  // Someone wrote @you: a note in the room you are looking at. (With every tab
  // closed, the server sends it as a Web Push notification instead.)
  socket.on("mention", (message) => addMessage(state.active, {
    system: true, time: message.time, text: `${message.nick} mentioned you in #${message.room}: ${message.text}`,
  }));
  socket.on("system", (notice) => addMessage(notice.room, { ...notice, system: true }));

  socket.on("typing", ({ room, nick, typing }) => {
    if (!state.typing.has(room)) state.typing.set(room, new Map());
    const typists = state.typing.get(room);
    clearTimeout(typists.get(nick));
    if (typing) typists.set(nick, setTimeout(() => forgetTypist(room, nick), 6000));
    else typists.delete(nick);
    renderTyping();
  });

  function forgetTypist(room, nick) {
    const typists = state.typing.get(room);
    if (typists) typists.delete(nick);
    renderTyping();
  }

  // -- what the user does ---------------------------------------------------

  function setNick(nick) {
    state.nick = nick;
    localStorage.setItem("realtime-chat-nick", nick);
    $("#nick").value = nick;
  }

  function remember() {
    localStorage.setItem("realtime-chat-rooms", JSON.stringify([...state.wanted]));
  }

  function join(room, activate = true) {
    socket.emit("join", room, (answer) => {
      if (answer.error) return alert(answer.error);
      state.joined.set(room, { messages: answer.history, unread: 0, members: answer.members });
      state.wanted.add(room);
      remember();
      if (activate || room === state.pending) {
        state.active = room;
        state.pending = null;
      }
      render();
    });
  }

  function leave(room) {
    socket.emit("leave", room, (answer) => {
      if (answer.error) return alert(answer.error);
      state.joined.delete(room);
      state.wanted.delete(room);
      remember();
      if (state.active === room) state.active = LOBBY;
      render();
    });
  }

  $("#nick-form").addEventListener("submit", (event) => {
    event.preventDefault();
    socket.emit("nick", $("#nick").value, (answer) => {
      setNick(answer.nick);
      resubscribe();
    });
  });

  $("#join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const room = $("#new-room").value.trim();
    if (room) join(room);
    $("#new-room").value = "";
  });

  let typingTimer = null;
  function stopTyping() {
    if (typingTimer === null) return;
    clearTimeout(typingTimer);
    typingTimer = null;
    socket.emit("typing", { room: state.active, typing: false });
  }
  $("#text").addEventListener("input", () => {
    if (typingTimer === null) socket.emit("typing", { room: state.active, typing: true });
    else clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 2000);
  });

  $("#message-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("#text");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    stopTyping();
    const room = state.active;
    const mine = { room, nick: state.nick, text, time: Date.now(), own: true, status: "pending" };
    addMessage(room, mine);
    // Error-first callback: an error when no acknowledgement came in time.
    socket.timeout(8000).emit("chat", { room, text }, (err, answer) => {
      if (err || answer.error) {
        mine.status = "failed";
        mine.problem = err ? err.message : answer.error;
      } else {
        Object.assign(mine, answer.message, { status: "delivered" });
      }
      if (room === state.active) renderMessages();
    });
  });

  // -- notifications (Web Push) ---------------------------------------------

  // io.push registers the service worker the server serves beside the client,
  // asks for the permission, and hands the subscription to the server for this
  // nick. Browsers allow it on https pages and on http://localhost.
  const notify = $("#notify");
  if (io.push.supported()) {
    notify.hidden = false;
    if (Notification.permission === "granted") notify.textContent = "🔔 on";
    notify.addEventListener("click", async () => {
      notify.disabled = true;
      try {
        await io.push.subscribe(socket);
        notify.textContent = "🔔 on";
      } catch (err) {
        notify.textContent = "🔕 unavailable";
        notify.title = err.message;
      } finally {
        notify.disabled = false;
      }
    });
  }

  // A click on a notification opens /#room, or tells this tab to go there.
  function goToHashRoom(hash) {
    const room = decodeURIComponent((hash || "").replace(/^#/, ""));
    if (!room) return;
    if (state.joined.has(room)) {
      state.active = room;
      render();
    } else if (socket.connected) join(room);
    else {
      state.wanted.add(room); // joined on welcome, and shown then
      state.pending = room;
    }
  }
  goToHashRoom(location.hash);
  if (navigator.serviceWorker) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "realtime:notificationclick") {
        goToHashRoom(new URL(event.data.url).hash);
      }
    });
  }

  // -- rendering ------------------------------------------------------------

  function addMessage(room, message) {
    const joined = state.joined.get(room);
    if (!joined) return;
    joined.messages.push(message);
    if (joined.messages.length > 200) joined.messages.shift();
    if (room === state.active) renderMessages();
    else {
      joined.unread += 1;
      renderRooms();
    }
  }

  function render() {
    const joined = state.joined.get(state.active);
    if (joined) joined.unread = 0;
    $("#room-title").textContent = `#${state.active}`;
    const here = `${location.protocol}//${location.host}/rooms/${state.active}/messages`;
    $("#curl").textContent =
      `curl -X POST -H 'Content-Type: application/json' ` +
      `-d '{"nick": "curl", "text": "hello"}' ${here}`;
    renderRooms();
    renderMessages();
    renderMembers();
    renderTyping();
  }

  function renderRooms() {
    const list = $("#rooms");
    list.replaceChildren();
    const names = new Set([...state.rooms.map((r) => r.name), ...state.joined.keys()]);
    const counts = new Map(state.rooms.map((r) => [r.name, r.members]));
    for (const name of [...names].sort()) {
      const joined = state.joined.get(name);
      const item = el("li", joined ? "joined" : "");
      if (name === state.active) item.classList.add("active");
      const link = el("button", "room", `#${name}`);
      link.addEventListener("click", () => {
        if (joined) {
          state.active = name;
          render();
        } else join(name);
      });
      item.append(link, el("span", "count", String(counts.get(name) || 0)));
      if (joined && joined.unread) item.append(el("span", "unread", String(joined.unread)));
      if (joined && name !== LOBBY) {
        const out = el("button", "leave", "×");
        out.title = `leave #${name}`;
        out.addEventListener("click", () => leave(name));
        item.append(out);
      }
      list.append(item);
    }
  }

  function time(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function renderMessages() {
    const list = $("#messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren();
    const joined = state.joined.get(state.active);
    for (const message of joined ? joined.messages : []) {
      const item = el("li", message.system ? "system" : "message");
      item.append(el("time", "", time(message.time)));
      if (message.system) item.append(el("span", "text", message.text));
      else {
        item.append(el("b", "nick", message.nick), el("span", "text", message.text));
        if (message.via === "http") item.append(el("span", "via", "via HTTP"));
        if (message.own) {
          item.classList.add("own");
          item.dataset.status = message.status;
          const mark = { pending: "…", delivered: "✓", failed: "!" }[message.status];
          const tick = el("span", "tick", mark);
          tick.title = message.problem || message.status;
          item.append(tick);
        }
      }
      list.append(item);
    }
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function renderMembers() {
    const list = $("#members");
    list.replaceChildren();
    const joined = state.joined.get(state.active);
    for (const member of joined ? joined.members : []) {
      const item = el("li", member.nick === state.nick ? "me" : "");
      const badge = el("span", "badge", member.transport);
      badge.dataset.transport = member.transport;
      item.append(el("span", "", member.nick), badge);
      list.append(item);
    }
  }

  function renderTyping() {
    const typists = [...(state.typing.get(state.active) || new Map()).keys()];
    $("#typing").textContent =
      typists.length === 0
        ? ""
        : typists.length === 1
          ? `${typists[0]} is typing…`
          : `${typists.slice(0, -1).join(", ")} and ${typists.at(-1)} are typing…`;
  }

  render();
})();
