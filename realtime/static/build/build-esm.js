#!/usr/bin/env node
// Writes realtime/static/realtime.esm.js: the "body" region of realtime.js
// (everything but the classic-script wrapper) followed by ES exports, so the
// two files can never differ in behaviour. Run it after editing realtime.js:
//   node realtime/static/build/build-esm.js   (or: npm run build --prefix realtime/static/build)
// tests/node/loading.test.mjs fails while the generated file is stale.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const STATIC = path.join(__dirname, "..");
const SOURCE = path.join(STATIC, "realtime.js");
const TARGET = path.join(STATIC, "realtime.esm.js");

function render(source) {
  const open = source.indexOf("// #region body");
  const close = source.indexOf("// #endregion body");
  const wrapper = source.indexOf("(function () {");
  if (open < 0 || close < open || wrapper < 0) throw new Error("realtime.js: region markers not found");
  const banner = source.slice(0, wrapper);
  const body = source.slice(source.indexOf("\n", open) + 1, close);
  return banner +
    "// Generated from realtime.js by realtime/static/build/build-esm.js: edit that file, not this one.\n" +
    body +
    "export { io, Manager, Socket };\nexport default io;\n";
}

module.exports = { render, SOURCE, TARGET };

if (require.main === module) {
  fs.writeFileSync(TARGET, render(fs.readFileSync(SOURCE, "utf8")));
  console.log("wrote " + path.relative(process.cwd(), TARGET));
}
