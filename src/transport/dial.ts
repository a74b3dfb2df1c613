/**
 * The client side of the transport: dial a ws:// or wss:// URL.
 *
 * @module
 */

import { type WatermarkOptions, WebSocketLink } from "./websocket_link.ts";

/** Options of {@linkcode dialTunnel}. */
export interface DialOptions extends WatermarkOptions {
  /** Give up after this many milliseconds (default 10 s). */
  timeoutMs?: number;
  /** Aborting cancels the dial. */
  signal?: AbortSignal;
}

/** The dial did not produce an open WebSocket. */
export class DialError extends Error {
  /** Creates a dial error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DialError";
  }
}

/** Opens a WebSocket to `url` and wraps it as a link. */
export function dialTunnel(url: string, options?: DialOptions): Promise<WebSocketLink> {
  const timeoutMs = options?.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (cause) {
      reject(new DialError(`Cannot dial ${url}: ${(cause as Error).message}`, { cause }));
      return;
    }
    ws.binaryType = "arraybuffer";
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options?.signal?.removeEventListener("abort", onAbort);
      ws.onopen = ws.onerror = ws.onclose = null;
      if (error) {
        reject(error);
        if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) {
          // Wait for the close to finish so no socket outlives the failed dial.
          ws.onclose = () => {};
          ws.close();
        }
      } else {
        resolve(new WebSocketLink(ws, options));
      }
    };
    const onAbort = () => settle(new DialError(`Cannot dial ${url}: aborted`));
    const timer = setTimeout(
      () => settle(new DialError(`Cannot dial ${url}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    options?.signal?.addEventListener("abort", onAbort, { once: true });
    ws.onopen = () => settle();
    ws.onerror = (event) => {
      const message = (event as ErrorEvent).message || "connection failed";
      settle(new DialError(`Cannot dial ${url}: ${message}`));
    };
    ws.onclose = (event) =>
      settle(new DialError(`Cannot dial ${url}: closed with code ${event.code}`));
  });
}
