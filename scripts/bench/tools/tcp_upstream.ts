// Raw TCP upstream shared by every system, on 127.0.0.1. Each connection starts with one line:
//   "PING\n"         -> replies "P", then holds the connection idle until the peer closes it.
//   "BLAST <bytes>\n" -> writes <bytes> bytes as fast as the socket accepts them, then closes.
// Prints "listening PORT" on stdout once ready. Runs until killed.

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`listening ${(listener.addr as Deno.NetAddr).port}`);

const CHUNK = new Uint8Array(256 * 1024).fill(0x61);

async function readLine(conn: Deno.Conn): Promise<string | null> {
  const buf = new Uint8Array(128);
  let used = 0;
  while (used < buf.length) {
    const n = await conn.read(buf.subarray(used));
    if (n === null) return null;
    used += n;
    const nl = buf.subarray(0, used).indexOf(10);
    if (nl >= 0) return new TextDecoder().decode(buf.subarray(0, nl));
  }
  return null;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array) {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

async function handle(conn: Deno.Conn) {
  try {
    const line = await readLine(conn);
    if (line === "PING") {
      await writeAll(conn, new Uint8Array([0x50]));
      const sink = new Uint8Array(4096);
      while ((await conn.read(sink)) !== null) { /* idle: wait for the peer to close */ }
    } else if (line?.startsWith("BLAST ")) {
      let left = Number(line.slice(6));
      while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        await writeAll(conn, CHUNK.subarray(0, n));
        left -= n;
      }
    }
  } catch {
    // peer reset: fine
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

for await (const conn of listener) handle(conn);
