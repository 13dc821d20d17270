/**
 * Free loopback ports. A port found here is free *now*: the client that gets it binds it a moment
 * later, which is fine on a test machine (the kernel hands out ephemeral ports in sequence).
 * @module
 */
import { createSocket } from "node:dgram";
import { createConnection, createServer } from "node:net";

export const LOOPBACK4 = "127.0.0.1";
export const LOOPBACK6 = "::1";

function bindTcp(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen({ host, port, exclusive: true }, () => {
      const addr = srv.address();
      const got = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(got));
    });
  });
}

function bindUdp(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(host.includes(":") ? "udp6" : "udp4");
    sock.unref();
    sock.once("error", (e) => {
      sock.close();
      reject(e);
    });
    sock.bind(port, host, () => {
      const got = sock.address().port;
      sock.close(() => resolve(got));
    });
  });
}

async function isFree(check: (port: number) => Promise<number>, port: number): Promise<boolean> {
  try {
    await check(port);
    return true;
  } catch {
    return false;
  }
}

/**
 * A TCP port free on 127.0.0.1 (bind 0, read, close). `also` lists more checks the same port must
 * pass: "tcp6" (free on ::1 too), "udp4"/"udp6" (free for UDP as well, e.g. for a tracker).
 */
export async function freePort(also: readonly ("tcp6" | "udp4" | "udp6")[] = []): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await bindTcp(LOOPBACK4, 0);
    let ok = true;
    for (const kind of also) {
      const check =
        kind === "tcp6"
          ? (p: number) => bindTcp(LOOPBACK6, p)
          : (p: number) => bindUdp(kind === "udp6" ? LOOPBACK6 : LOOPBACK4, p);
      if (!(await isFree(check, port))) {
        ok = false;
        break;
      }
    }
    if (ok) return port;
  }
  throw new Error("no free loopback port found in 50 attempts");
}

/** A TCP port free on ::1 (bind 0, read, close). */
export function freePort6(): Promise<number> {
  return bindTcp(LOOPBACK6, 0);
}

/** Whether something accepts TCP connections on host:port. */
export function isListening(port: number, host = LOOPBACK4, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}
