import assert from "node:assert/strict";
import { MAX_RSA_BITS, rsaKeyProblem } from "./rsa_check.ts";
import { identities } from "./testing.ts";

const OAEP = { name: "RSA-OAEP", hash: "SHA-256" } as const;
const PSS = { name: "RSA-PSS", hash: "SHA-256" } as const;

/** The SPKI's last byte is the exponent's (e = 65537: `02 03 01 00 01`), the modulus ends 6 before. */
function spkiWith(spki: Uint8Array, fromEnd: number, mask: number): Uint8Array<ArrayBuffer> {
  const altered = new Uint8Array(spki);
  altered[altered.length - fromEnd] ^= mask;
  return altered;
}

async function problemOf(spki: Uint8Array<ArrayBuffer>, usage: "encrypt" | "verify") {
  const key = await crypto.subtle.importKey("spki", spki, usage === "encrypt" ? OAEP : PSS, true, [
    usage,
  ]);
  return await rsaKeyProblem(key);
}

Deno.test("rsa check: an identity's public key is usable for both algorithms", async () => {
  const { client } = await identities();
  assert.equal(await problemOf(new Uint8Array(client.spki), "encrypt"), undefined);
  assert.equal(await problemOf(new Uint8Array(client.spki), "verify"), undefined);
});

Deno.test("rsa check: an even exponent or modulus is named, for both algorithms", async () => {
  const { client } = await identities();
  for (const usage of ["encrypt", "verify"] as const) {
    assert.match(
      (await problemOf(spkiWith(client.spki, 1, 1), usage))!,
      /public exponent 65536 is not an odd number/,
    );
    assert.equal(await problemOf(spkiWith(client.spki, 6, 1), usage), "the modulus is even");
  }
});

Deno.test("rsa check: a key larger than Web Crypto can use is refused by size", async () => {
  const pair = await crypto.subtle.generateKey(
    { ...OAEP, modulusLength: MAX_RSA_BITS + 8, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ["encrypt", "decrypt"],
  );
  assert.match((await rsaKeyProblem(pair.publicKey))!, /RSA key of 4104 bits, not in 2048\.\.4096/);
  // What the size limit stands for: Web Crypto imports such a key and then refuses it.
  await assert.rejects(crypto.subtle.encrypt(OAEP, pair.publicKey, new Uint8Array(32)));
});
