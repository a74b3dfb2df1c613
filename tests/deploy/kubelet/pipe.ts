/**
 * Byte pipes between two connections, with half-close: what one side ends,
 * the other side sees ended, and the pipe is done when both directions are.
 *
 * @module
 */

async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const n = await from.read(buffer);
    if (n === null) break;
    let at = 0;
    while (at < n) at += await to.write(buffer.subarray(at, n));
  }
  await to.closeWrite();
}

/**
 * Pipes `a` and `b` into each other until both directions end, then closes
 * both. A reset on either side ends both at once.
 */
export async function pipeBoth(a: Deno.Conn, b: Deno.Conn): Promise<void> {
  const closeBoth = () => {
    for (const conn of [a, b]) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  };
  try {
    await Promise.all([copy(a, b), copy(b, a)].map((p) =>
      p.catch((error) => {
        closeBoth();
        throw error;
      })
    ));
  } catch {
    // A reset: both sides are closed.
  } finally {
    closeBoth();
  }
}
