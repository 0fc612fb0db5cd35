#!/usr/bin/env node
// Prints the sizes of the client, plain and gzipped (zlib level 9, as
// `gzip -9`), beside the official client's minified bundle, for the Size
// table of docs/client.md, with the packages of package.json installed:
//   node realtime/static/build/measure-size.js   (or: npm run size --prefix realtime/static/build)
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const zlib = require("node:zlib");

const STATIC = path.join(__dirname, "..");
const CLIENT = path.join(__dirname, "node_modules", "socket.io-client");
const official = path.join(CLIENT, "dist", "socket.io.min.js");
const { version } = JSON.parse(fs.readFileSync(path.join(CLIENT, "package.json"), "utf8"));

const rows = [
  ["realtime.js", path.join(STATIC, "realtime.js")],
  ["realtime.min.js", path.join(STATIC, "realtime.min.js")],
  [`socket.io-client ${version} socket.io.min.js`, official],
];
const kB = (n) => (n / 1000).toFixed(1) + " kB";
for (const [name, file] of rows) {
  const body = fs.readFileSync(file);
  const gz = zlib.gzipSync(body, { level: 9 }).length;
  console.log(`${name}\t${body.length} B (${kB(body.length)})\tgzip ${gz} B (${kB(gz)})`);
}
