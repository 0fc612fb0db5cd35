/*
 * realtime-sw.js: the service worker of realtime's Web Push (docs/push.md).
 *
 * Served by the server beside the client, at <path>/realtime-sw.js, and
 * registered by io.push.subscribe() (realtime.js). It shows each push as a
 * notification and, on a click, focuses a tab of the application or opens
 * one. A push message is the JSON the server sent:
 *
 *   {"title": "...", "body": "...", "url": "/chat#ada",   shown / opened on click
 *    "tag": "...", "icon": "...", "badge": "...", "image": "...",
 *    "requireInteraction": false, "silent": false, "renotify": false,
 *    "data": {...}}                                         for the application
 *
 * Open tabs of the application also get it as a message event on
 * navigator.serviceWorker: {type: "realtime:push", message}; a click is
 * {type: "realtime:notificationclick", url, data}. A click opens the
 * message's url, or the worker's scope without one.
 *
 * When the browser replaces the push subscription (pushsubscriptionchange),
 * the worker subscribes again with the same application server key (unless
 * the browser made the new one already) and tells the server: a POST of
 *
 *   {"oldEndpoint": "..." or null, "subscription": PushSubscription.toJSON()}
 *
 * as JSON, with the page's cookies, to the URL the application configures:
 * the "resubscribe" parameter of this script's URL
 * (register("/socket.io/realtime-sw.js?resubscribe=/push/resubscribe")), or
 * self.realtimePush = {resubscribe: "/push/resubscribe"} in a worker of the
 * application's that imports this one (importScripts). The server's side is
 * WebPush.resubscribe(user, subscription, old_endpoint). Open tabs get
 * {type: "realtime:pushsubscriptionchange", oldEndpoint, subscription, error}
 * as well, to hand it over on their socket
 * (socket.emit("realtime:push", {op: "resubscribe", oldEndpoint, subscription})).
 */
"use strict";

const DEFAULT_TITLE = "New notification";
const OPTIONS = ["body", "tag", "icon", "badge", "image", "requireInteraction", "silent",
  "renotify", "lang", "dir", "timestamp", "vibrate"];

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function readMessage(data) {
  if (!data) return {};
  let message;
  try {
    message = data.json();
  } catch (e) {
    return { body: data.text() };
  }
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    return { body: String(message) };
  }
  return message;
}

async function windows() {
  return self.clients.matchAll({ type: "window", includeUncontrolled: true });
}

self.addEventListener("push", (event) => {
  const message = readMessage(event.data);
  const options = {};
  for (const name of OPTIONS) if (message[name] !== undefined) options[name] = message[name];
  if (options.renotify && !options.tag) delete options.renotify; // a tag is required for it
  options.data = { url: message.url || null, data: message.data === undefined ? null : message.data };
  event.waitUntil(Promise.all([
    self.registration.showNotification(String(message.title || DEFAULT_TITLE), options),
    windows().then((tabs) => {
      for (const tab of tabs) tab.postMessage({ type: "realtime:push", message });
    }),
  ]));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  const target = new URL(data.url || self.registration.scope, self.location.origin).href;
  event.waitUntil((async () => {
    const tabs = (await windows()).filter((tab) => new URL(tab.url).origin === self.location.origin);
    // A tab already at the URL, else any tab of the application (told where
    // to go), else a new one.
    const tab = tabs.find((t) => t.url === target) || tabs[0];
    if (tab) {
      tab.postMessage({ type: "realtime:notificationclick", url: target, data: data.data });
      return tab.focus();
    }
    return self.clients.openWindow(target);
  })());
});

function resubscribeUrl() {
  const configured = self.realtimePush && self.realtimePush.resubscribe;
  return configured || new URL(self.location.href).searchParams.get("resubscribe");
}

async function resubscribe(event) {
  const old = event.oldSubscription || null;
  const oldEndpoint = old ? old.endpoint : null;
  let subscription = event.newSubscription || null;
  let error = null;
  try {
    if (!subscription) {
      const current = await self.registration.pushManager.getSubscription();
      const options = (old && old.options) || (current && current.options);
      const key = options && options.applicationServerKey;
      if (!key) throw new Error("no application server key to subscribe with again");
      subscription = await self.registration.pushManager.subscribe({
        userVisibleOnly: true, applicationServerKey: key,
      });
    }
    const json = typeof subscription.toJSON === "function" ? subscription.toJSON() : subscription;
    const url = resubscribeUrl();
    if (url) {
      const response = await fetch(new URL(url, self.location.origin).href, {
        method: "POST",
        credentials: "include",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ oldEndpoint, subscription: json }),
      });
      if (!response.ok) throw new Error("the server answered " + response.status);
    }
    subscription = json;
  } catch (e) {
    error = String(e && e.message || e);
    subscription = subscription && typeof subscription.toJSON === "function"
      ? subscription.toJSON() : subscription;
  }
  for (const tab of await windows()) {
    tab.postMessage({ type: "realtime:pushsubscriptionchange", oldEndpoint, subscription, error });
  }
}

self.addEventListener("pushsubscriptionchange", (event) => {
  // Started before waitUntil, which an event made by hand (a test's) refuses.
  event.waitUntil(resubscribe(event));
});
