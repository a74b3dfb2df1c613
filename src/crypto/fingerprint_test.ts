import assert from "node:assert/strict";
import fc from "fast-check";
import { fingerprintOf, parseFingerprint } from "./fingerprint.ts";
import { identities } from "./testing.ts";

Deno.test("fingerprintOf is 40 lowercase hex digits, stable for a key", async () => {
  const { server, client } = await identities();
  const first = await fingerprintOf(server.spki);
  assert.match(first, /^[0-9a-f]{40}$/);
  assert.equal(await fingerprintOf(server.spki.slice()), first);
  assert.equal(server.fingerprint, first);
  assert.notEqual(client.fingerprint, first);
});

Deno.test("fingerprintOf is the first 20 bytes of SHA-256 over the SPKI", async () => {
  const spki = new TextEncoder().encode("abc");
  // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
  assert.equal(await fingerprintOf(spki), "ba7816bf8f01cfea414140de5dae2223b00361a3");
});

Deno.test("parseFingerprint accepts the documented forms", () => {
  const canonical = "ba7816bf8f01cfea414140de5dae2223b00361a3";
  const grouped = canonical.match(/../g)!.join(":");
  for (
    const form of [
      canonical,
      canonical.toUpperCase(),
      `SHA256:${canonical}`,
      `sha256:${canonical.toUpperCase()}`,
      grouped,
      `SHA256:${grouped.toUpperCase()}`,
      `  ${canonical}\n`,
    ]
  ) {
    assert.equal(parseFingerprint(form), canonical, form);
  }
});

Deno.test("parseFingerprint rejects bad input with a RangeError naming it", () => {
  const canonical = "ba7816bf8f01cfea414140de5dae2223b00361a3";
  for (
    const bad of [
      "",
      canonical.slice(0, 38),
      `${canonical}00`,
      `${canonical.slice(0, 39)}g`,
      `MD5:${canonical}`,
      `:${canonical}`,
      `${canonical}:`,
      canonical.replace("ba78", "ba::78"),
      canonical.replace("ba78", "b:a78"),
      `sha256:sha256:${canonical}`,
    ]
  ) {
    assert.throws(
      () => parseFingerprint(bad),
      (error: unknown) =>
        error instanceof RangeError && error.message.includes(JSON.stringify(bad)),
      bad,
    );
  }
});

Deno.test("parseFingerprint: property: canonical forms round-trip, other text throws RangeError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), (bytes) => {
      const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      assert.equal(parseFingerprint(hex), hex);
      assert.equal(parseFingerprint(hex.toUpperCase().match(/../g)!.join(":")), hex);
    }),
  );
  fc.assert(
    fc.property(fc.string(), (text) => {
      try {
        assert.match(parseFingerprint(text), /^[0-9a-f]{40}$/);
      } catch (error) {
        assert.ok(error instanceof RangeError);
      }
    }),
  );
});
