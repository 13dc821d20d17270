import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AnnounceContext, Announcer, DEFAULT_INTERVALS } from "../../src/tracker/announcer.js";
import { TrackerError } from "../../src/tracker/errors.js";
import type { AnnounceResponse } from "../../src/tracker/types.js";

const LEECH: AnnounceContext = { done: false, thin: false };
const THIN: AnnounceContext = { done: false, thin: true };
const DONE: AnnounceContext = { done: true, thin: false };
const S = 1000;
const T0 = 1_000_000;
const P = DEFAULT_INTERVALS;

/** A random source the test steers; 0.99999 keeps the shuffle from moving anything. */
class Rand {
  value = 0.99999;
  readonly fn = () => this.value;
}

function make(tiers: string[][], policy = {}) {
  const rand = new Rand();
  const a = new Announcer(tiers, { random: rand.fn, policy });
  return { a, rand };
}

const reply = (over: Partial<AnnounceResponse> = {}): AnnounceResponse => ({
  interval: 1800,
  peers: [{ host: "10.0.0.1", port: 1 }],
  ...over,
});

const fail = new TrackerError("TRACKER_TIMEOUT", "no reply");

function urls(a: Announcer): string[] {
  return a.status().map((s) => s.url);
}

function statusOf(a: Announcer, url: string) {
  const s = a.status().find((x) => x.url === url);
  assert.ok(s, url);
  return s;
}

/** Run `due` and answer every announce with `r`. */
function answerAll(a: Announcer, now: number, ctx: AnnounceContext, r = reply()) {
  const acts = a.due(now, ctx);
  for (const x of acts) a.succeeded(x.tracker, x.event, r, now, ctx);
  return acts.map((x) => [x.tracker.url, x.event]);
}

describe("Announcer: starting", () => {
  it("sends started to the first tracker of every tier at once", () => {
    const { a } = make([["a1", "a2"], ["b1"], ["c1", "c2", "c3"]]);
    const acts = a.due(T0, LEECH);
    assert.deepEqual(
      acts.map((x) => [x.tracker.url, x.event]),
      [
        ["a1", "started"],
        ["b1", "started"],
        ["c1", "started"],
      ],
    );
    assert.deepEqual(
      a.status().map((s) => s.status),
      ["announcing", "idle", "announcing", "announcing", "idle", "idle"],
    );
  });

  it("has only one announce in flight per tier", () => {
    const { a } = make([["a1", "a2"], ["b1"]]);
    const [x, y] = a.due(T0, LEECH);
    assert.deepEqual(a.due(T0, LEECH), []);
    assert.deepEqual(a.due(T0 + 3600 * S, LEECH), []);
    a.succeeded(y!.tracker, "started", reply(), T0, LEECH);
    // Tier a still waits for a1; tier b is answered and not due.
    assert.deepEqual(a.due(T0 + S, LEECH), []);
    a.failed(x!.tracker, fail, T0 + S);
    assert.deepEqual(
      a.due(T0 + S, LEECH).map((z) => [z.tracker.url, z.event]),
      [["a2", "started"]],
    );
  });

  it("drops duplicate URLs and empty tiers, and shuffles each tier with the random source", () => {
    const { a } = make([["a", "b"], [], ["a", "c"]]);
    assert.equal(a.size, 3);
    assert.deepEqual(
      a.status().map((s) => [s.url, s.tier]),
      [
        ["a", 0],
        ["b", 0],
        ["c", 1],
      ],
    );
    const shuffled = new Announcer([["a", "b", "c"]], { random: () => 0 });
    // Fisher-Yates with j = 0 each time: [a,b,c] → [c,b,a] → [b,c,a].
    assert.deepEqual(urls(shuffled), ["b", "c", "a"]);
  });
});

describe("Announcer: failover and tier order (BEP 12)", () => {
  it("fails over to the next tracker of the tier, which then stays first", () => {
    const { a } = make([["a1", "a2", "a3"]]);
    const [x] = a.due(T0, LEECH);
    a.failed(x!.tracker, fail, T0 + S);
    assert.deepEqual(urls(a), ["a2", "a3", "a1"]);
    const s1 = statusOf(a, "a1");
    assert.equal(s1.status, "error");
    assert.equal(s1.failures, 1);
    assert.equal(s1.errorCode, "TRACKER_TIMEOUT");
    assert.equal(s1.error, "no reply");

    const [y] = a.due(T0 + S, LEECH);
    assert.equal(y!.tracker.url, "a2");
    a.failed(y!.tracker, new Error("plain"), T0 + 2 * S);
    assert.equal(statusOf(a, "a2").errorCode, "TRACKER_NETWORK");
    const [z] = a.due(T0 + 2 * S, LEECH);
    assert.equal(z!.tracker.url, "a3");
    a.succeeded(z!.tracker, "started", reply(), T0 + 3 * S, LEECH);
    assert.equal(urls(a)[0], "a3");

    // Long after every backoff has expired, regular announces still go to a3 only.
    const later = T0 + 1801 * S + 3 * S;
    assert.deepEqual(
      a.due(later, LEECH).map((w) => [w.tracker.url, w.event]),
      [["a3", "none"]],
    );
  });

  it("moves the tracker that answered to the front of its tier", () => {
    const { a } = make([["a1", "a2"]]);
    const a1 = a.due(T0, LEECH)[0]!.tracker;
    a.succeeded(a1, "started", reply(), T0, LEECH);
    // a2 gets used only if a1 fails; make a1 fail, then a2 answer.
    const again = a.due(T0 + 1800 * S, LEECH)[0]!;
    assert.equal(again.tracker.url, "a1");
    a.failed(again.tracker, fail, T0 + 1800 * S);
    const a2 = a.due(T0 + 1800 * S, LEECH)[0]!;
    assert.deepEqual([a2.tracker.url, a2.event], ["a2", "started"]);
    a.succeeded(a2.tracker, "started", reply(), T0 + 1801 * S, LEECH);
    assert.deepEqual(urls(a), ["a2", "a1"]);
    assert.deepEqual(
      a.status().map((s) => s.status),
      ["working", "error"],
    );
  });

  it("succeeded() on a tracker behind others moves it to the front", () => {
    const { a } = make([["a1", "a2", "a3"]]);
    const a1 = a.due(T0, LEECH)[0]!.tracker;
    a.failed(a1, fail, T0);
    assert.deepEqual(urls(a), ["a2", "a3", "a1"]);
    // a1's (late) answer arrives: it goes first, ahead of the untried a2 and a3.
    a.succeeded(a1, "started", reply(), T0 + S, LEECH);
    assert.deepEqual(urls(a), ["a1", "a2", "a3"]);
    assert.equal(statusOf(a, "a1").failures, 0);
    assert.deepEqual(a.due(T0 + 2 * S, LEECH), []);
  });

  it("retries the whole tier from the start when every tracker failed, in backoff order", () => {
    const { a, rand } = make([["a1", "a2"]]);
    rand.value = 0.5;
    a.failed(a.due(T0, LEECH)[0]!.tracker, fail, T0);
    a.failed(a.due(T0, LEECH)[0]!.tracker, fail, T0 + S);
    assert.deepEqual(a.due(T0 + 2 * S, LEECH), []);
    const first = statusOf(a, "a1").nextAnnounce!;
    assert.deepEqual(a.due(first - 1, LEECH), []);
    const acts = a.due(first, LEECH);
    assert.deepEqual(
      acts.map((x) => [x.tracker.url, x.event]),
      [["a1", "started"]],
    );
  });
});

describe("Announcer: backoff", () => {
  it("grows exponentially from backoffBase, within ±25% jitter, and is capped", () => {
    for (const r of [0, 0.5, 0.99999]) {
      const { a, rand } = make([["a"]]);
      rand.value = r;
      let now = T0;
      let prevBase = 0;
      for (let n = 1; n <= 12; n++) {
        const x = a.due(now, LEECH)[0];
        assert.ok(x, `due after backoff ${n}`);
        a.failed(x.tracker, fail, now);
        const s = statusOf(a, "a");
        assert.equal(s.failures, n);
        const delay = (s.nextAnnounce! - now) / S;
        const base = Math.min(P.backoffMax, P.backoffBase * 2 ** (n - 1));
        assert.ok(delay >= 0.75 * base - 1e-6, `n=${n} r=${r}: ${delay} < 0.75×${base}`);
        assert.ok(delay <= 1.25 * base + 1e-6, `n=${n} r=${r}: ${delay} > 1.25×${base}`);
        assert.ok(delay <= 1.25 * P.backoffMax + 1e-6);
        assert.ok(base >= prevBase);
        prevBase = base;
        // Not due a moment before, due at the time.
        assert.deepEqual(a.due(s.nextAnnounce! - 1, LEECH), []);
        now = s.nextAnnounce!;
      }
      // 15 s × 2^11 is far past the cap: the cap applies.
      assert.equal(prevBase, P.backoffMax);
    }
  });

  it("uses the jitter: the delay follows the random source", () => {
    const delays: number[] = [];
    for (const r of [0, 0.99999]) {
      const { a, rand } = make([["a"]]);
      rand.value = r;
      a.failed(a.due(T0, LEECH)[0]!.tracker, fail, T0);
      delays.push((statusOf(a, "a").nextAnnounce! - T0) / S);
    }
    assert.ok(Math.abs(delays[0]! - 0.75 * P.backoffBase) < 0.01, String(delays[0]));
    assert.ok(Math.abs(delays[1]! - 1.25 * P.backoffBase) < 0.01, String(delays[1]));
  });

  it("resets the failure count on success", () => {
    const { a } = make([["a"]]);
    a.failed(a.due(T0, LEECH)[0]!.tracker, fail, T0);
    const t = statusOf(a, "a").nextAnnounce!;
    const x = a.due(t, LEECH)[0]!;
    a.succeeded(x.tracker, x.event, reply(), t, LEECH);
    const s = statusOf(a, "a");
    assert.equal(s.failures, 0);
    assert.equal(s.error, undefined);
    assert.equal(s.errorCode, undefined);
    assert.equal(s.status, "working");
  });

  it("never retries sooner than the tracker's min interval", () => {
    const { a, rand } = make([["a"]]);
    const x = a.due(T0, LEECH)[0]!;
    a.succeeded(x.tracker, "started", reply({ interval: 1800, minInterval: 600 }), T0, LEECH);
    const y = a.due(T0 + 1800 * S, LEECH)[0]!;
    rand.value = 0;
    a.failed(y.tracker, fail, T0 + 1800 * S);
    assert.ok(statusOf(a, "a").nextAnnounce! >= T0 + (1800 + 600) * S);
  });
});

describe("Announcer: intervals", () => {
  function intervalAfter(r: AnnounceResponse, ctx = LEECH, policy = {}) {
    const { a } = make([["a"]], policy);
    const x = a.due(T0, ctx)[0]!;
    a.succeeded(x.tracker, x.event, r, T0, ctx);
    return { a, s: statusOf(a, "a") };
  }

  it("uses the tracker's interval when in bounds", () => {
    const { a, s } = intervalAfter(reply({ interval: 900 }));
    assert.equal(s.interval, 900);
    assert.equal(s.nextAnnounce, T0 + 900 * S);
    assert.equal(s.warning, undefined);
    assert.deepEqual(a.due(T0 + 899 * S, LEECH), []);
    assert.equal(a.due(T0 + 900 * S, LEECH)[0]?.event, "none");
  });

  it("clamps interval 0 to the policy's minInterval, with a warning", () => {
    const { a, s } = intervalAfter(reply({ interval: 0 }));
    assert.equal(s.interval, P.minInterval);
    assert.match(s.warning!, /interval 0 s is out of bounds; using 60 s/);
    assert.deepEqual(a.due(T0 + 59 * S, LEECH), []);
    assert.equal(a.due(T0 + 60 * S, LEECH).length, 1);
  });

  it("clamps a years-long interval to maxInterval, with a warning", () => {
    const { s } = intervalAfter(reply({ interval: 10 ** 9 }));
    assert.equal(s.interval, P.maxInterval);
    assert.match(s.warning!, /out of bounds/);
    assert.equal(s.nextAnnounce, T0 + P.maxInterval * S);
  });

  it("honours a custom policy", () => {
    const { s } = intervalAfter(reply({ interval: 5 }), LEECH, {
      minInterval: 10,
      maxInterval: 20,
    });
    assert.equal(s.interval, 10);
    const big = intervalAfter(reply({ interval: 50 }), LEECH, { minInterval: 10, maxInterval: 20 });
    assert.equal(big.s.interval, 20);
  });

  it("uses defaultInterval when the reply has none, without a warning", () => {
    const { s } = intervalAfter({ peers: [] });
    assert.equal(s.interval, P.defaultInterval);
    assert.equal(s.warning, undefined);
  });

  it("keeps the tracker's own warning next to ours", () => {
    const { s } = intervalAfter(reply({ interval: 0, warning: "old client" }));
    assert.match(s.warning!, /^old client; interval 0 s/);
    const ok = intervalAfter(reply({ warning: "hi" }));
    assert.equal(ok.s.warning, "hi");
  });

  it("clears an old warning after a clean reply", () => {
    const { a } = make([["a"]]);
    const x = a.due(T0, LEECH)[0]!;
    a.succeeded(x.tracker, x.event, reply({ interval: 0 }), T0, LEECH);
    assert.ok(statusOf(a, "a").warning);
    const y = a.due(T0 + 60 * S, LEECH)[0]!;
    a.succeeded(y.tracker, y.event, reply(), T0 + 60 * S, LEECH);
    assert.equal(statusOf(a, "a").warning, undefined);
  });

  it("re-announces sooner while the swarm is thin", () => {
    const { a, s } = intervalAfter(reply({ interval: 1800 }), THIN);
    assert.equal(s.nextAnnounce, T0 + P.thinInterval * S);
    assert.deepEqual(a.due(T0 + (P.thinInterval - 1) * S, THIN), []);
    assert.equal(a.due(T0 + P.thinInterval * S, THIN)[0]?.event, "none");
    // Not thin: back to the regular interval.
    const b = intervalAfter(reply({ interval: 1800 }), THIN);
    assert.deepEqual(b.a.due(T0 + 121 * S, LEECH), []);
    // Thin but done (seeding): no hurry.
    const c = intervalAfter(reply({ interval: 1800 }), THIN);
    assert.deepEqual(
      c.a.due(T0 + 121 * S, { done: true, thin: true }).map((x) => x.event),
      // done and started incomplete: completed is due, but no regular announce.
      ["completed"],
    );
  });

  it("thin swarm: never sooner than the tracker's min interval", () => {
    const { a, s } = intervalAfter(reply({ interval: 1800, minInterval: 900 }), THIN);
    assert.equal(s.nextAnnounce, T0 + 900 * S);
    assert.deepEqual(a.due(T0 + 899 * S, THIN), []);
    assert.equal(a.due(T0 + 900 * S, THIN).length, 1);
  });

  it("thin swarm: never sooner than the policy's minInterval, even with tiny intervals", () => {
    const { a } = intervalAfter(reply({ interval: 1, minInterval: 1 }), THIN);
    assert.deepEqual(a.due(T0 + (P.minInterval - 1) * S, THIN), []);
    assert.equal(a.due(T0 + P.minInterval * S, THIN).length, 1);
  });

  it("a min interval above the interval is cut to it, and clamped from below", () => {
    const { s } = intervalAfter(reply({ interval: 300, minInterval: 5000 }));
    assert.equal(s.interval, 300);
    const z = intervalAfter(reply({ interval: 300, minInterval: 0 }), THIN);
    assert.ok(z.s.nextAnnounce! >= T0 + P.minInterval * S);
  });
});

describe("Announcer: completed and stopped", () => {
  it("sends completed once, to trackers started while incomplete", () => {
    const { a, rand } = make([["a"], ["b"]]);
    rand.value = 0;
    const [x, y] = a.due(T0, LEECH);
    a.succeeded(x!.tracker, "started", reply(), T0, LEECH);
    // b's first started fails; its retry goes out (and is answered) after the download is done.
    a.failed(y!.tracker, fail, T0);
    const retry = statusOf(a, "b").nextAnnounce!;
    assert.deepEqual(
      a.due(retry, DONE).map((z) => [z.tracker.url, z.event]),
      [
        ["a", "completed"],
        ["b", "started"],
      ],
    );
    const byUrl = (u: string) => a.stopTargets().find((t) => t.url === u);
    assert.equal(byUrl("b"), undefined);
    a.succeeded(x!.tracker, "completed", reply(), retry, DONE);
    assert.equal(statusOf(a, "a").status, "working");
    assert.deepEqual(a.due(retry + S, DONE), []);
    // b: started acknowledged with the torrent complete.
    a.succeeded(y!.tracker, "started", reply(), retry + S, DONE);
    assert.deepEqual(a.due(retry + 2 * S, DONE), []);
    // Never again, not even after the next interval.
    const later = a.due(retry + 4000 * S, DONE).map((z) => [z.tracker.url, z.event]);
    assert.deepEqual(later, [
      ["a", "none"],
      ["b", "none"],
    ]);
  });

  it("retries completed after a failure, still once it succeeds", () => {
    const { a } = make([["a"]]);
    answerAll(a, T0, LEECH);
    const x = a.due(T0 + S, DONE)[0]!;
    assert.equal(x.event, "completed");
    a.failed(x.tracker, fail, T0 + S);
    const t = statusOf(a, "a").nextAnnounce!;
    assert.deepEqual(a.due(t - 1, DONE), []);
    assert.deepEqual(answerAll(a, t, DONE), [["a", "completed"]]);
    assert.deepEqual(a.due(t + S, DONE), []);
  });

  it("a torrent complete from the start never sends completed", () => {
    const { a } = make([["a"], ["b", "c"]]);
    assert.deepEqual(answerAll(a, T0, DONE), [
      ["a", "started"],
      ["b", "started"],
    ]);
    let now = T0;
    for (let i = 0; i < 5; i++) {
      now += 1801 * S;
      for (const [, ev] of answerAll(a, now, DONE)) assert.notEqual(ev, "completed");
    }
  });

  it("a tracker that failed over sends started, not completed, when it first answers", () => {
    const { a } = make([["a1", "a2"]]);
    answerAll(a, T0, LEECH);
    const x = a.due(T0 + 1800 * S, LEECH)[0]!;
    a.failed(x.tracker, fail, T0 + 1800 * S);
    // a2 is told started while we are done: no completed for it later.
    assert.deepEqual(answerAll(a, T0 + 1800 * S, DONE), [["a2", "started"]]);
    assert.deepEqual(a.due(T0 + 1801 * S, DONE), []);
  });

  it("sends completed to a tracker whose started went out while incomplete, even if the reply came after completion", () => {
    const { a } = make([["a"]]);
    const x = a.due(T0, LEECH)[0]!; // started with left > 0
    // The download finishes while the announce is in flight; the reply arrives afterwards.
    a.succeeded(x.tracker, "started", reply(), T0 + S, DONE);
    assert.deepEqual(
      a.due(T0 + 2 * S, DONE).map((z) => z.event),
      ["completed"],
    );
  });

  it("stopTargets lists only trackers that acknowledged started", () => {
    const { a } = make([["a1", "a2"], ["b"], ["c"]]);
    const acts = a.due(T0, LEECH);
    const byUrl = new Map(acts.map((x) => [x.tracker.url, x.tracker]));
    assert.deepEqual(a.stopTargets(), []);
    a.succeeded(byUrl.get("a1")!, "started", reply(), T0, LEECH);
    a.failed(byUrl.get("b")!, fail, T0);
    // c is still in flight.
    assert.deepEqual(
      a.stopTargets().map((t) => t.url),
      ["a1"],
    );
    // After a stopped is acknowledged, the tracker needs started again.
    const t = a.stopTargets()[0]!;
    a.succeeded(t, "stopped", reply(), T0 + S, LEECH);
    assert.deepEqual(
      a.stopTargets().map((x) => x.url),
      [],
    );
    assert.deepEqual(
      a.due(T0 + 2 * S, LEECH).map((x) => [x.tracker.url, x.event]),
      [["a1", "started"]],
    );
  });
});

describe("Announcer: nextDue", () => {
  it("is now before anything was sent, Infinity while all tiers are in flight", () => {
    const { a } = make([["a"], ["b"]]);
    assert.equal(a.nextDue(T0, LEECH), T0);
    const acts = a.due(T0, LEECH);
    assert.equal(a.nextDue(T0, LEECH), Number.POSITIVE_INFINITY);
    a.succeeded(acts[0]!.tracker, "started", reply({ interval: 900 }), T0, LEECH);
    assert.equal(a.nextDue(T0, LEECH), T0 + 900 * S);
    a.succeeded(acts[1]!.tracker, "started", reply({ interval: 600 }), T0 + S, LEECH);
    assert.equal(a.nextDue(T0 + S, LEECH), T0 + S + 600 * S);
  });

  it("follows backoff, the next tracker of a tier, and a pending completed", () => {
    const { a } = make([["a1", "a2"]]);
    const x = a.due(T0, LEECH)[0]!;
    a.failed(x.tracker, fail, T0);
    // a2 has not been tried: due now.
    assert.equal(a.nextDue(T0, LEECH), T0);
    const y = a.due(T0, LEECH)[0]!;
    a.failed(y.tracker, fail, T0);
    const expect = Math.min(statusOf(a, "a1").nextAnnounce!, statusOf(a, "a2").nextAnnounce!);
    assert.equal(a.nextDue(T0, LEECH), expect);
    // nextDue agrees with due.
    assert.deepEqual(a.due(expect - 1, LEECH), []);
    assert.equal(a.due(expect, LEECH).length, 1);
  });

  it("is now when completed is owed, and agrees with due", () => {
    const { a } = make([["a"]]);
    answerAll(a, T0, LEECH);
    assert.equal(a.nextDue(T0 + S, DONE), T0 + S);
    assert.equal(a.due(T0 + S, DONE)[0]?.event, "completed");
  });

  it("reflects thin-swarm re-announces", () => {
    const { a } = make([["a"]]);
    answerAll(a, T0, THIN, reply({ interval: 1800 }));
    assert.equal(a.nextDue(T0, THIN), T0 + P.thinInterval * S);
    assert.equal(a.nextDue(T0, LEECH), T0 + 1800 * S);
  });
});
