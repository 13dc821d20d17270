/**
 * A small LRU of open file handles, keyed by file index. Torrents can have 100k files, so only
 * `max` handles stay open; a handle in use is never closed under its user (reference counted),
 * and the cache may briefly exceed `max` while every handle is busy.
 */
import type { FileHandle } from "node:fs/promises";

interface Entry {
  key: number;
  writable: boolean;
  opening: Promise<FileHandle>;
  users: number;
  /** Out of the map: close as soon as the last user releases it. */
  retired: boolean;
  closed: boolean;
}

export class HandleCache {
  readonly #max: number;
  readonly #open: (key: number, writable: boolean) => Promise<FileHandle>;
  /** Insertion order = least recently used first. */
  readonly #entries = new Map<number, Entry>();
  readonly #closing = new Set<Promise<void>>();
  #closeError: unknown = null;

  constructor(max: number, open: (key: number, writable: boolean) => Promise<FileHandle>) {
    this.#max = max;
    this.#open = open;
  }

  /** Open handles (and opens in progress). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Runs `fn` with the file's handle, opening it if needed. A read may use a writable handle; a
   * write replaces a read-only handle with a writable one.
   */
  async use<T>(key: number, writable: boolean, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    const e = this.#acquire(key, writable);
    try {
      const fh = await e.opening;
      return await fn(fh);
    } finally {
      this.#release(e);
    }
  }

  /** datasync every writable handle. */
  async syncAll(): Promise<void> {
    const keys = [...this.#entries.values()].filter((e) => e.writable).map((e) => e.key);
    for (const key of keys) await this.use(key, true, (fh) => fh.datasync());
  }

  /** Closes every handle (waits for their users) and reports the first close failure. */
  async closeAll(): Promise<void> {
    for (const e of [...this.#entries.values()]) this.#retire(e);
    while (this.#closing.size > 0) await Promise.all([...this.#closing]);
    const err = this.#closeError;
    this.#closeError = null;
    if (err !== null) throw err;
  }

  #acquire(key: number, writable: boolean): Entry {
    let e = this.#entries.get(key);
    if (e !== undefined && writable && !e.writable) {
      this.#retire(e);
      e = undefined;
    }
    if (e === undefined) {
      const entry: Entry = {
        key,
        writable,
        opening: this.#open(key, writable),
        users: 0,
        retired: false,
        closed: false,
      };
      // A failed open leaves the cache, so the next use tries again.
      entry.opening.catch(() => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
        entry.retired = true;
        entry.closed = true;
      });
      this.#entries.set(key, entry);
      e = entry;
    } else {
      this.#entries.delete(key);
      this.#entries.set(key, e);
    }
    e.users++;
    this.#evict();
    return e;
  }

  #release(e: Entry) {
    e.users--;
    if (e.retired) this.#maybeClose(e);
    else this.#evict();
  }

  #retire(e: Entry) {
    if (this.#entries.get(e.key) === e) this.#entries.delete(e.key);
    e.retired = true;
    this.#maybeClose(e);
  }

  #evict() {
    if (this.#entries.size <= this.#max) return;
    for (const e of this.#entries.values()) {
      if (this.#entries.size <= this.#max) break;
      if (e.users === 0) this.#retire(e);
    }
  }

  #maybeClose(e: Entry) {
    if (e.users > 0 || e.closed) return;
    e.closed = true;
    const p = e.opening.then(
      (fh) =>
        fh.close().catch((err: unknown) => {
          this.#closeError ??= err;
        }),
      () => {},
    );
    this.#closing.add(p);
    p.finally(() => this.#closing.delete(p));
  }
}
