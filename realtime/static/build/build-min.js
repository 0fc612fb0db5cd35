#!/usr/bin/env node
// Writes realtime/static/realtime.min.js and its source map: realtime.js
// through terser (the version pinned in package-lock.json beside this file),
// the same classic script / require() module, smaller. Run it after editing
// realtime.js:
//   node realtime/static/build/build-min.js   (or: npm run build --prefix realtime/static/build)
// tests/node/loading.test.mjs fails while the generated files are stale. The
// map points at realtime.js, served beside it.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { minify } = require("terser");

const STATIC = path.join(__dirname, "..");
const SOURCE = path.join(STATIC, "realtime.js");
const TARGET = path.join(STATIC, "realtime.min.js");
const MAP = TARGET + ".map";

const PREAMBLE = "/*! realtime.min.js: realtime.js (the JavaScript client of realtime, " +
  "Engine.IO v4 / Socket.IO v5) minified by realtime/static/build/build-min.js */";

// -> { code, map } for the text of realtime.js.
async function render(source) {
  const out = await minify({ "realtime.js": source }, {
    ecma: 2020,
    compress: { passes: 2 },
    mangle: true,
    format: { comments: false, preamble: PREAMBLE },
    sourceMap: { filename: "realtime.min.js", url: "realtime.min.js.map" },
  });
  return { code: out.code + "\n", map: out.map + "\n" };
}

module.exports = { render, SOURCE, TARGET, MAP };

if (require.main === module) {
  render(fs.readFileSync(SOURCE, "utf8")).then(({ code, map }) => {
    fs.writeFileSync(TARGET, code);
    fs.writeFileSync(MAP, map);
    for (const f of [TARGET, MAP]) console.log("wrote " + path.relative(process.cwd(), f));
  });
}
