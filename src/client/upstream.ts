/**
 * The dialling end of a tunnelled connection: a stream the tunnel peer opened
 * for an app is joined to a fresh TCP connection to the app's upstream. The
 * client does this for its apps (streams from the server's listeners), the
 * server for the apps it offers (streams from a client's listeners).
 *
 * @module
 */

import type { Logger } from "../log/mod.ts";
import type { TrafficLedger } from "../metrics/mod.ts";
import { type MuxStream, pipe, StreamResetError } from "../mux/mod.ts";
import { type AppSpec, ResetCode } from "../protocol/mod.ts";

/**
 * Dials `app`'s upstream and pipes `stream` to it until both directions end,
 * counting the connection in `ledger`. A refused dial resets the stream
 * (`Refused`, with the reason) so the caller's socket closes at once. Never
 * rejects.
 */
export async function carryToUpstream(
  stream: MuxStream,
  app: AppSpec,
  ledger: TrafficLedger,
  log: Logger,
): Promise<void> {
  const upstream = `${app.host}:${app.port}`;
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: app.host, port: app.port });
  } catch (error) {
    log.warn("upstream refused the connection", { upstream, error });
    stream.reset(ResetCode.Refused, `${upstream}: ${(error as Error).message}`);
    return;
  }
  if (stream.error) {
    conn.close();
    return;
  }
  try {
    conn.setNoDelay(true);
  } catch {
    // The upstream already went away; the pipe will see it.
  }
  const counts = ledger.open();
  const result = await pipe(stream, conn, counts);
  ledger.close(counts);
  const fields = { upstream, bytesIn: result.bytesIn, bytesOut: result.bytesOut };
  if (result.error instanceof StreamResetError && result.error.remote) {
    log.debug("stream reset by the tunnel peer", { ...fields, reason: result.error.message });
  } else if (result.error) {
    log.info("upstream connection ended abruptly", { ...fields, error: result.error });
  } else {
    log.debug("upstream connection closed", fields);
  }
}
