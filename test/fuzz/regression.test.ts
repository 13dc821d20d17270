/**
 * Replays every saved fuzz finding under test/fixtures/fuzz/<target>/: each must now pass the
 * target's checks (typed error only, within the time bound).
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { checkOne } from "./engine.js";
import { TARGETS } from "./targets/index.js";

/** test/fixtures/fuzz in the source tree (tests run from dist/test/fuzz). */
export const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/fuzz/", import.meta.url));

describe("fuzz regressions", () => {
  for (const target of TARGETS) {
    const dir = `${FIXTURES}${target.name}`;
    const files = existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => !f.startsWith("."))
          .sort()
      : [];
    for (const file of files) {
      it(`${target.name}/${file}`, () => {
        const input = target.codec.load(readFileSync(`${dir}/${file}`));
        const bad = checkOne(target, input);
        assert.equal(bad, undefined, bad && `${bad.kind}: ${bad.message}`);
      });
    }
  }
});
