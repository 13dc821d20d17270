#!/usr/bin/env node
import v8 from "node:v8";

// Favour memory over speed in V8's heap sizing (a smaller young generation, old space grown
// in smaller steps). A download churns through many short-lived objects; without this V8 lets
// tens of MiB of garbage build up before collecting it. Measured in bench/README.md: peak
// anonymous memory 100 -> 66 MiB with 16 KiB pieces, 78 -> 72 MiB with 1 MiB pieces, for
// about 0.2 CPU-s per GiB with 16 KiB pieces. Set before anything else is loaded, so the
// hash worker threads start with it too.
v8.setFlagsFromString("--optimize-for-size");
const { main } = await import("../dist/src/cli/main.js");

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`tessera: internal error: ${err?.stack ?? err}\n`);
    process.exitCode = 70;
  },
);
