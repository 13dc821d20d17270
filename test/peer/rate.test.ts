import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RateMeter } from "../../src/peer/rate.js";

describe("RateMeter", () => {
  it("measures a steady rate, also while young", () => {
    const m = new RateMeter(5000, 10);
    let t = 1000;
    for (let i = 0; i < 20; i++) {
      m.add(100_000, t);
      t += 100; // 1 MB/s
    }
    const young = m.rate(t);
    assert.ok(young > 0.8e6 && young < 1.25e6, `young rate ${young}`);
    for (let i = 0; i < 100; i++) {
      m.add(100_000, t);
      t += 100;
    }
    const steady = m.rate(t);
    assert.ok(steady > 0.9e6 && steady < 1.1e6, `steady rate ${steady}`);
    assert.equal(m.total, 120 * 100_000);
  });

  it("decays to zero when the transfer stops", () => {
    const m = new RateMeter(5000, 10);
    m.add(1_000_000, 1000);
    assert.ok(m.rate(1200) > 0);
    assert.equal(m.rate(7000), 0);
    assert.equal(new RateMeter().rate(5), 0);
  });
});
