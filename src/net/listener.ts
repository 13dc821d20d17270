/**
 * The listen socket: accepts TCP connections, reads just enough of the BitTorrent handshake
 * (48 bytes: protocol string, reserved bytes, info-hash) to know which torrent the peer wants,
 * and hands the socket, with every byte read so far, to that torrent. A connection whose first
 * 20 bytes are not "\x13BitTorrent protocol" is an MSE/PE initiator (its DH key may well start
 * with byte 19, so the whole prefix decides): the responder runs here, and the torrent its req2
 * names gets the decrypted stream.
 */
import net from "node:net";
import type { MseResponder } from "../mse/index.js";
import { HANDSHAKE_PREFIX } from "../wire/index.js";
import { mseHandshake } from "./mse-transport.js";
import { connectTcp, type Transport, tcpTransport } from "./transport.js";

/** Bytes of the handshake needed to route a connection: prefix (20) + reserved (8) + info-hash (20). */
const ROUTE_BYTES = 48;
/** An incoming connection must say which torrent it wants within this time. */
export const INCOMING_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface ListenerOptions {
  port: number;
  /** Default `::` (IPv4 and IPv6 where the system allows), falling back to `0.0.0.0`. */
  host?: string;
  /** Called with a routed connection; return false to refuse (the socket is then closed). */
  route: (infoHash: Uint8Array, socket: net.Socket, buffered: Uint8Array) => boolean;
  /** Most connections being routed at once (half-open handshakes). */
  maxPending?: number;
  /** Time an incoming connection has to say which torrent it wants; default 10 s. */
  handshakeTimeoutMs?: number;
  /** Accept plaintext BitTorrent handshakes (default true). */
  plaintext?: boolean;
  /**
   * Accept MSE/PE: a fresh responder per connection, and where to route its payload stream
   * (return false to refuse). Without it, MSE connections are dropped.
   */
  mse?: {
    responder: () => MseResponder;
    route: (infoHash: Uint8Array, transport: Transport, socket: net.Socket) => boolean;
  };
}

export class Listener {
  readonly #server: net.Server;
  readonly #o: ListenerOptions;
  #pending = 0;

  private constructor(server: net.Server, o: ListenerOptions) {
    this.#server = server;
    this.#o = o;
  }

  /** Start listening; resolves once bound (port 0 picks a free port). */
  static async listen(o: ListenerOptions): Promise<Listener> {
    const server = net.createServer({ noDelay: true, pauseOnConnect: false });
    const l = new Listener(server, o);
    server.on("connection", (s) => l.#accept(s));
    server.on("error", () => {});
    const tryListen = (host: string) =>
      new Promise<void>((resolve, reject) => {
        const onError = (e: Error) => {
          server.off("listening", onOk);
          reject(e);
        };
        const onOk = () => {
          server.off("error", onError);
          resolve();
        };
        server.once("error", onError);
        server.once("listening", onOk);
        server.listen({ port: o.port, host, ipv6Only: false, exclusive: true });
      });
    const host = o.host ?? "::";
    try {
      await tryListen(host);
    } catch (e) {
      if (o.host !== undefined || (e as NodeJS.ErrnoException).code === "EADDRINUSE") throw e;
      await tryListen("0.0.0.0");
    }
    server.unref();
    return l;
  }

  get port(): number {
    const a = this.#server.address();
    return typeof a === "object" && a !== null ? a.port : 0;
  }

  #accept(socket: net.Socket): void {
    if (this.#pending >= (this.#o.maxPending ?? 200)) {
      socket.destroy();
      return;
    }
    this.#pending++;
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      this.#pending--;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      if (!ok) socket.destroy();
    };
    const onClose = () => finish(false);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      // Check the protocol prefix as soon as it is there: junk is dropped (or is MSE) at once.
      const head = chunks.length === 1 ? chunk : Buffer.concat(chunks);
      const n = Math.min(head.length, HANDSHAKE_PREFIX.length);
      for (let i = 0; i < n; i++) {
        if (head[i] !== HANDSHAKE_PREFIX[i]) {
          this.#acceptMse(socket, head, finish, deadline);
          return;
        }
      }
      if (this.#o.plaintext === false && n === HANDSHAKE_PREFIX.length) {
        finish(false);
        return;
      }
      if (size < ROUTE_BYTES) return;
      socket.pause();
      finish(true);
      const all = new Uint8Array(head.buffer, head.byteOffset, head.length);
      const infoHash = all.slice(28, 48);
      if (!this.#o.route(infoHash, socket, all)) socket.destroy();
    };
    const timeoutMs = this.#o.handshakeTimeoutMs ?? INCOMING_HANDSHAKE_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const timer = setTimeout(() => finish(false), timeoutMs);
    timer.unref();
    socket.on("data", onData);
    socket.on("close", onClose);
    socket.on("error", () => {});
  }

  /** Run the MSE responder on a connection that did not start with the plaintext handshake. */
  #acceptMse(
    socket: net.Socket,
    head: Buffer,
    finish: (ok: boolean) => void,
    deadline: number,
  ): void {
    const mse = this.#o.mse;
    if (!mse) {
      finish(false);
      return;
    }
    // Stop the routing step without giving up the pending slot until the handshake is over.
    socket.removeAllListeners("data");
    socket.pause();
    const raw = tcpTransport(socket, new Uint8Array(head.buffer, head.byteOffset, head.length));
    let responder: MseResponder;
    try {
      responder = mse.responder();
    } catch {
      finish(false);
      return;
    }
    mseHandshake(raw, responder, { timeoutMs: Math.max(1, deadline - Date.now()) }).then(
      (t) => {
        finish(true);
        if (!mse.route(t.result.infoHash, t, socket)) t.close();
      },
      () => finish(false),
    );
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** Dial a peer over TCP, with a timeout. The socket reads into a shared buffer: see connectTcp. */
export function dial(host: string, port: number, timeoutMs = 10_000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("connect timeout"));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    });
  });
}
