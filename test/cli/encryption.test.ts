import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tessera } from "./run.js";

describe("tessera --encryption", () => {
  it("refuses an unknown policy with exit code 2, on download and seed", async () => {
    const d = await tessera(["download", "x.torrent", "--encryption", "maybe"]);
    assert.equal(d.code, 2);
    assert.match(d.stderr, /--encryption maybe: one of prefer, allow, require, off/);
    const s = await tessera(["seed", "x.torrent", "dir", "--encryption", "rc4"]);
    assert.equal(s.code, 2);
  });

  it("documents the flag in both help texts", async () => {
    for (const cmd of ["download", "seed"]) {
      const h = await tessera([cmd, "--help"]);
      assert.equal(h.code, 0);
      assert.match(h.stdout, /--encryption P/);
    }
  });
});
