import { EventEmitter } from "node:events";

/** A small typed wrapper over EventEmitter: `on`/`off`/`emit` checked against an event map. */
export class TypedEmitter<E extends { [K in keyof E]: (...args: never[]) => void }> {
  readonly #ee = new EventEmitter();

  constructor() {
    this.#ee.setMaxListeners(100);
  }

  on<K extends keyof E & string>(event: K, fn: E[K]): this {
    this.#ee.on(event, fn as unknown as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, fn: E[K]): this {
    this.#ee.once(event, fn as unknown as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, fn: E[K]): this {
    this.#ee.off(event, fn as unknown as (...args: unknown[]) => void);
    return this;
  }

  protected emit<K extends keyof E & string>(event: K, ...args: Parameters<E[K]>): void {
    this.#ee.emit(event, ...args);
  }

  protected listenerCount(event: keyof E & string): number {
    return this.#ee.listenerCount(event);
  }
}
