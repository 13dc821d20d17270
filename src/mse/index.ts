export * from "./handshake.js";
export { Rc4 } from "./rc4.js";
