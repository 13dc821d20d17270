import { TesseraError } from "../errors.js";

export type MetainfoErrorCode =
  | "METAINFO_BENCODE"
  | "METAINFO_TOO_LARGE"
  | "METAINFO_MISSING_FIELD"
  | "METAINFO_WRONG_TYPE"
  | "METAINFO_INVALID_VALUE"
  | "METAINFO_PIECE_LENGTH"
  | "METAINFO_PIECES"
  | "METAINFO_LENGTH"
  | "METAINFO_TOO_MANY_PIECES"
  | "METAINFO_TOO_MANY_FILES"
  | "METAINFO_EMPTY"
  | "METAINFO_UNSUPPORTED";

/** A .torrent that cannot be used. `field` is the dotted path of the offending key, e.g. `info.files[3].length`. */
export class MetainfoError extends TesseraError {
  declare readonly code: MetainfoErrorCode;
  readonly field: string;

  constructor(
    code: MetainfoErrorCode,
    field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, field ? `${field}: ${message}` : message, options);
    this.field = field;
  }
}
