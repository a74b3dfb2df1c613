import assert from "node:assert/strict";
import {
  MemoryStateBackend,
  type StateBackend,
  type StateSnapshot,
  StateStore,
} from "../state/mod.ts";
import { PIN_FILE, ServerPin } from "./server_pin.ts";

const FP = "ab".repeat(20);

Deno.test("server pin: a pin deleted from the state is seen at the next read; a damaged one names where", async () => {
  const backend = new MemoryStateBackend();
  const pin = new ServerPin(await StateStore.open(backend));
  assert.equal(await pin.read(), undefined);
  await pin.write(FP);
  assert.equal(await pin.read(), FP);
  backend.external({ [PIN_FILE]: null });
  assert.equal(await pin.read(), undefined, "re-pin without a restart");
  backend.external({ [PIN_FILE]: "not a fingerprint" });
  await assert.rejects(pin.read(), /Cannot read entry "server-fingerprint" in memory/);
});

Deno.test("server pin: when the state cannot be read, the pin read last still holds", async () => {
  const memory = new MemoryStateBackend();
  let down = false;
  const flaky: StateBackend = {
    name: "flaky",
    describe: (key) => memory.describe(key),
    read: (): Promise<StateSnapshot> =>
      down ? Promise.reject(new Error("API server unreachable")) : memory.read(),
    write: (entries, base) => memory.write(entries, base),
    watch: (onChange, signal) => memory.watch(onChange, signal),
  };
  const pin = new ServerPin(await StateStore.open(flaky));
  await pin.write(FP);
  down = true;
  assert.equal(await pin.read(), FP);
});
