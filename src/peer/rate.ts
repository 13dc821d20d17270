/**
 * Transfer rate over a sliding window, fed with byte counts and the current time (ms). No timers:
 * the caller passes `now`, so simulated clocks work. O(1) per sample.
 */
export class RateMeter {
  readonly #bucketMs: number;
  readonly #buckets: Float64Array;
  #head = 0;
  #headStart = 0;
  #total = 0;
  /** Time of the first sample (-1: none yet). */
  #first = -1;
  /** Bytes ever counted. */
  total = 0;

  /** `windowMs` split into `buckets` slots (default 5 s in 10 slots). */
  constructor(windowMs = 5000, buckets = 10) {
    this.#bucketMs = windowMs / buckets;
    this.#buckets = new Float64Array(buckets);
  }

  add(bytes: number, now: number): void {
    if (this.#first < 0) this.#first = now;
    this.#advance(now);
    this.#buckets[this.#head]! += bytes;
    this.#total += bytes;
    this.total += bytes;
  }

  /** Bytes per second over the window. */
  rate(now: number): number {
    this.#advance(now);
    if (this.#first < 0) return 0;
    const n = this.#buckets.length;
    // Divide by the span the window covers, or by the time since the first sample when that
    // is shorter (a young transfer would otherwise read far too slow); at least one bucket.
    const window = (n - 1) * this.#bucketMs + Math.max(now - this.#headStart, 0);
    const elapsed = Math.max(this.#bucketMs, Math.min(window, now - this.#first));
    return (this.#total * 1000) / elapsed;
  }

  #advance(now: number): void {
    if (this.#headStart === 0) {
      this.#headStart = now;
      return;
    }
    let steps = Math.floor((now - this.#headStart) / this.#bucketMs);
    if (steps <= 0) return;
    const n = this.#buckets.length;
    if (steps >= n) {
      this.#buckets.fill(0);
      this.#total = 0;
      this.#headStart += steps * this.#bucketMs;
      return;
    }
    while (steps-- > 0) {
      this.#head = (this.#head + 1) % n;
      this.#total -= this.#buckets[this.#head]!;
      this.#buckets[this.#head] = 0;
      this.#headStart += this.#bucketMs;
    }
  }
}
