/**
 * The byte-stream edge a {@link Peer} runs on. TCP here; MSE/PE (net/mse-transport.ts) wraps one
 * and uTP will provide the same shape: a duplex stream of bytes and a remote address, nothing more.
 */
import net from "node:net";

/** What a connection's bytes look like on the wire: no MSE, MSE with plaintext, MSE with RC4. */
export type Encryption = "none" | "plaintext" | "rc4";

export interface Transport {
  readonly remoteAddress: string;
  /** Set by MSE/PE transports; absent means "none". */
  readonly encryption?: Encryption;
  readonly remotePort: number;
  /**
   * Write chunks in order as one vectored write. Returns false when the kernel buffer is full.
   * `onWritten`, if given, is called once the transport no longer needs the chunks: written to
   * the kernel, or dropped because the connection closed.
   */
  write(chunks: Uint8Array[], onWritten?: () => void): boolean;
  /** True while writes are backed up (wait for `onDrain`). */
  readonly congested: boolean;
  pause(): void;
  resume(): void;
  close(): void;
  /**
   * Bytes read. A `transient` chunk is a view of a read buffer that is reused once the call
   * returns: consume or copy it before returning.
   */
  onData: (chunk: Uint8Array, transient: boolean) => void;
  onDrain: () => void;
  onClose: (error?: Error) => void;
}

/**
 * Writes (and bytes) that may pile up behind a peer that does not read, counted from the moment
 * the socket's buffer went over its high-water mark until it drains. Past either, the peer is
 * dropped: otherwise a peer that floods requests while choked and never reads our rejects makes
 * us queue them without end (each small write costs ~200 bytes of heap: 64 MiB of requests
 * became 900 MB). Blocks are only sent while the socket is not congested, so honest peers stay
 * far below: some hundreds of small messages (haves, rejects on a choke) and one block.
 */
export const MAX_SEND_BACKLOG_WRITES = 8192;
export const MAX_SEND_BACKLOG_BYTES = 8 * 1024 * 1024;

/** Format an address for display and identity: `1.2.3.4:6881`, `[::1]:6881`. */
export function formatAddress(host: string, port: number): string {
  const h = host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
  return h.includes(":") ? `[${h}]:${port}` : `${h}:${port}`;
}

/** Bytes of the read buffer shared by every socket made with {@link connectTcp}. */
export const READ_BUFFER_SIZE = 256 * 1024;
/** Allocated on first use; shared, since a read is handed on and consumed before the next. */
let sharedReadBuffer: Buffer | undefined;
const kReader = Symbol("tessera.reader");

interface Reader {
  /** Where reads go once {@link tcpTransport} wraps the socket. */
  sink: ((chunk: Uint8Array) => void) | undefined;
  /** Copies of reads that came before (none unless someone resumed the socket early). */
  early: Uint8Array[];
}

type ReaderSocket = net.Socket & { [kReader]?: Reader };

/**
 * `net.connect`, except that the socket reads into one buffer shared by every socket made here
 * (Node's `onread`) instead of a fresh 64 KiB Buffer per read: no allocation, no garbage, no
 * page faults per read. The socket emits no 'data' events and starts paused; {@link tcpTransport}
 * resumes it and hands reads on as transient chunks.
 */
export function connectTcp(opts: net.TcpNetConnectOpts): net.Socket {
  sharedReadBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);
  const reader: Reader = { sink: undefined, early: [] };
  const socket: ReaderSocket = net.connect({
    ...opts,
    onread: {
      buffer: sharedReadBuffer,
      callback: (n: number, buf: Uint8Array) => {
        // A plain Uint8Array view: slice() on it copies, as callers expect (a Buffer's does not).
        const chunk = new Uint8Array(buf.buffer, buf.byteOffset, n);
        if (reader.sink) reader.sink(chunk);
        else reader.early.push(chunk.slice());
        return true;
      },
    },
  });
  socket[kReader] = reader;
  // Read nothing until a transport is wired (bytes wait in the kernel meanwhile).
  socket.pause();
  return socket;
}

/**
 * Wrap a connected TCP socket. `initial` are bytes already read from it (an incoming handshake).
 * A socket from {@link connectTcp} delivers its reads as transient chunks.
 */
export function tcpTransport(socket: net.Socket, initial?: Uint8Array): Transport {
  socket.setNoDelay(true);
  let closed = false;
  let congested = false;
  /** Writes made since the buffer went over its high-water mark. */
  let backlog = 0;
  let closeError: Error | undefined;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  const t: Transport = {
    remoteAddress: normaliseHost(socket.remoteAddress ?? "?"),
    remotePort: socket.remotePort ?? 0,
    write(chunks, onWritten) {
      if (closed) {
        if (onWritten) queueMicrotask(onWritten);
        return false;
      }
      // Writes of one turn of the event loop go out as one vectored write: the socket is corked
      // at the first and uncorked once the turn's synchronous work and microtasks are done. The
      // haves for a batch of verified pieces, the requests of a refill and the rejects of a
      // choke each were a syscall (and a TCP segment, with no Nagle) of their own: with 16 KiB
      // pieces, 65 536 haves per GiB.
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      }
      let ok = true;
      // Node calls a write's callback once it is written or the socket is destroyed.
      const last = chunks.length - 1;
      for (let i = 0; i < last; i++) ok = socket.write(chunks[i]!);
      ok = socket.write(chunks[last]!, onWritten);
      if (!ok) {
        congested = true;
        backlog += chunks.length;
        if (backlog > MAX_SEND_BACKLOG_WRITES || socket.writableLength > MAX_SEND_BACKLOG_BYTES) {
          closeError = new Error(
            `send backlog of ${backlog} writes, ${socket.writableLength} bytes: the peer is not reading`,
          );
          t.close();
        }
      }
      return ok;
    },
    get congested() {
      return congested;
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    close() {
      if (closed) return;
      closed = true;
      // What this turn wrote goes out first (a reject, a last message before we hang up).
      if (corked) uncork();
      socket.destroy();
    },
    onData: () => {},
    onDrain: () => {},
    onClose: () => {},
  };
  const reader = (socket as ReaderSocket)[kReader];
  const pending = initial && initial.length > 0 ? [initial] : [];
  if (reader) {
    pending.push(...reader.early.splice(0));
    reader.sink = (chunk) => t.onData(chunk, true);
  } else {
    socket.on("data", (chunk: Buffer) => t.onData(chunk, false));
  }
  socket.on("drain", () => {
    congested = false;
    backlog = 0;
    t.onDrain();
  });
  socket.on("error", () => {
    /* reported through close */
  });
  socket.on("close", (hadError) => {
    closed = true;
    t.onClose(closeError ?? (hadError ? new Error("connection reset") : undefined));
  });
  socket.resume();
  if (pending.length > 0) {
    // Delivered after the caller has wired onData (and before any later read).
    queueMicrotask(() => {
      for (const chunk of pending) if (!closed) t.onData(chunk, false);
    });
  }
  return t;
}

function normaliseHost(h: string): string {
  return h.startsWith("::ffff:") && h.includes(".") ? h.slice(7) : h;
}
