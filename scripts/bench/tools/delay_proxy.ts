// Delay proxy (see lib/delay_proxy.ts): forwards 127.0.0.1:<any port> to 127.0.0.1:TARGET_PORT,
// delaying each direction by DELAY_MS (one way). Prints "listening PORT" once ready; runs until
// killed; every 2 s it prints "late {bytes, meanMs, maxMs}": how late bytes left beyond their
// delay. Usage: delay_proxy.ts TARGET_PORT DELAY_MS [QUEUE_MIB]

import { DEFAULT_QUEUE_BYTES, startDelayProxy } from "../lib/delay_proxy.ts";

const [targetPort, delayMs, queueMiB] = Deno.args.map(Number);
if (!Number.isInteger(targetPort) || !(delayMs >= 0)) {
  console.error("usage: delay_proxy.ts TARGET_PORT DELAY_MS [QUEUE_MIB]");
  Deno.exit(2);
}
const proxy = startDelayProxy({
  targetPort,
  delayMs,
  queueBytes: queueMiB ? queueMiB * 1024 * 1024 : DEFAULT_QUEUE_BYTES,
});
console.log(`listening ${proxy.port}`);
setInterval(() => console.log(`late ${JSON.stringify(proxy.lateness())}`), 2000);
