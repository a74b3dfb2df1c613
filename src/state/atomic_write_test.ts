import assert from "node:assert/strict";
import { writeFileAtomic } from "./atomic_write.ts";

Deno.test("writeFileAtomic: regression: a failed write leaves no temporary file and the old content", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/state.json`;
    await writeFileAtomic(path, "old\n");
    // Bytes that fail while being written, as a full disk would.
    class Failing extends Uint8Array {
      override subarray(): Uint8Array<ArrayBuffer> {
        throw new Error("No space left on device");
      }
    }
    await assert.rejects(writeFileAtomic(path, new Failing(16)), /No space left/);
    const names = [...Deno.readDirSync(dir)].map((entry) => entry.name);
    assert.deepEqual(names, ["state.json"]);
    assert.equal(await Deno.readTextFile(path), "old\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
