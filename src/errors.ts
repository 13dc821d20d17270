/**
 * Base class of every error Tessera throws on purpose. Each subclass carries a stable string
 * `code` (for scripts and tests) and says in its message which input or field is at fault.
 */
export class TesseraError extends Error {
  /** Stable machine-readable code, e.g. `BENCODE_LEADING_ZERO`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
