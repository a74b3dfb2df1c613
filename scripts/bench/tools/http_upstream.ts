// HTTP upstream shared by every system: a fixed short body on 127.0.0.1, keep-alive capable.
// Usage: deno run -A http_upstream.ts  -> prints "listening PORT" on stdout once ready.

const body = new TextEncoder().encode("hello from the wormhole bench\n");
const headers = { "content-type": "text/plain" };

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, () => new Response(body, { headers }));
