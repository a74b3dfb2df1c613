import assert from "node:assert/strict";
import { IdentityError } from "./errors.ts";
import { fingerprintOf } from "./fingerprint.ts";
import {
  generateIdentity,
  importIdentity,
  loadOrCreateIdentity,
  loadOrCreateIdentityIn,
} from "./keys.ts";
import { MemoryStateBackend, StateStore } from "../state/mod.ts";
import { encodePem } from "./pem.ts";

Deno.test("generateIdentity: RSA-2048, fingerprint of its SPKI, private keys not extractable", async () => {
  const identity = await generateIdentity();
  assert.equal(identity.fingerprint, await fingerprintOf(identity.spki));
  assert.equal((identity.decryptKey.algorithm as RsaHashedKeyAlgorithm).modulusLength, 2048);
  assert.equal(identity.decryptKey.extractable, false);
  assert.equal(identity.signKey.extractable, false);
  assert.equal(identity.signKey.algorithm.name, "RSA-PSS");
  assert.equal(identity.encryptKey.algorithm.name, "RSA-OAEP");
  // Both imports are one key pair.
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const wrapped = await crypto.subtle.encrypt({ name: "RSA-OAEP" }, identity.encryptKey, secret);
  const unwrapped = await crypto.subtle.decrypt({ name: "RSA-OAEP" }, identity.decryptKey, wrapped);
  assert.deepEqual(new Uint8Array(unwrapped), secret);
  const signature = await crypto.subtle.sign(
    { name: "RSA-PSS", saltLength: 32 },
    identity.signKey,
    secret,
  );
  assert.ok(
    await crypto.subtle.verify(
      { name: "RSA-PSS", saltLength: 32 },
      identity.verifyKey,
      signature,
      secret,
    ),
  );
});

Deno.test("loadOrCreateIdentity creates the key file 0600 in a 0700 dir, then reuses it", async () => {
  const root = await Deno.makeTempDir();
  try {
    const dir = `${root}/state/keys`;
    const first = await loadOrCreateIdentity(dir, "identity.pem");
    assert.equal(first.created, true);
    assert.equal((await Deno.stat(`${dir}/identity.pem`)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    assert.match(await Deno.readTextFile(`${dir}/identity.pem`), /^-----BEGIN PRIVATE KEY-----\n/);

    const second = await loadOrCreateIdentity(dir, "identity.pem");
    assert.equal(second.created, false);
    assert.equal(second.fingerprint, first.fingerprint);
    assert.deepEqual(second.spki, first.spki);

    // Atomic write: no temp file left behind.
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names, ["identity.pem"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadOrCreateIdentity: concurrent creators end up with the same key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const results = await Promise.all([
      loadOrCreateIdentity(dir, "id.pem"),
      loadOrCreateIdentity(dir, "id.pem"),
      loadOrCreateIdentity(dir, "id.pem"),
    ]);
    const onDisk = await importIdentity(await Deno.readTextFile(`${dir}/id.pem`));
    for (const result of results) assert.equal(result.fingerprint, onDisk.fingerprint);
    assert.equal(results.filter((r) => r.created).length, 1);
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names, ["id.pem"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("importIdentity reads back the PEM it was created from", async () => {
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSA-OAEP",
      hash: "SHA-256",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
    },
    true,
    ["encrypt", "decrypt"],
  );
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const identity = await importIdentity(encodePem("PRIVATE KEY", pkcs8));
  assert.deepEqual(identity.spki, spki);
  assert.equal(identity.fingerprint, await fingerprintOf(spki));
});

Deno.test("importIdentity rejects what is not a usable PKCS#8 RSA key, without quoting it", async () => {
  const secretLooking = "c2VjcmV0c2VjcmV0";
  const cases: [string, RegExp][] = [
    ["no pem here", /no "-----BEGIN PRIVATE KEY-----" block/],
    [
      `-----BEGIN RSA PRIVATE KEY-----\n${secretLooking}\n-----END RSA PRIVATE KEY-----`,
      /PKCS#1/,
    ],
    [`-----BEGIN PRIVATE KEY-----\n${secretLooking}\n-----END PRIVATE KEY-----`, /not a PKCS#8/],
    [`-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----`, /invalid base64/],
  ];
  for (const [pem, message] of cases) {
    await assert.rejects(importIdentity(pem), (error: unknown) => {
      assert.ok(error instanceof IdentityError);
      assert.match(error.message, message);
      assert.ok(!error.message.includes(secretLooking));
      return true;
    });
  }
  // An RSA key below 2048 bits.
  const small = await crypto.subtle.generateKey(
    {
      name: "RSA-OAEP",
      hash: "SHA-256",
      modulusLength: 1024,
      publicExponent: new Uint8Array([1, 0, 1]),
    },
    true,
    ["encrypt", "decrypt"],
  );
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", small.privateKey));
  await assert.rejects(importIdentity(encodePem("PRIVATE KEY", pkcs8)), /1024 bits/);
});

Deno.test("loadOrCreateIdentity names the file when it holds no usable key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/id.pem`, "garbage");
    await assert.rejects(
      loadOrCreateIdentity(dir, "id.pem"),
      (error: unknown) => error instanceof IdentityError && error.message.includes(`${dir}/id.pem`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadOrCreateIdentityIn: created once in the state, reused; a key stored first by another writer wins", async () => {
  const backend = new MemoryStateBackend();
  const stale = await StateStore.open(backend);
  const first = await loadOrCreateIdentityIn(await StateStore.open(backend), "id.pem");
  assert.equal(first.created, true);
  const again = await loadOrCreateIdentityIn(await StateStore.open(backend), "id.pem");
  assert.deepEqual([again.created, again.fingerprint], [false, first.fingerprint]);
  // Read before the key existed: its write conflicts, and the stored key is used.
  const late = await loadOrCreateIdentityIn(stale, "id.pem");
  assert.deepEqual([late.created, late.fingerprint], [false, first.fingerprint]);
});

Deno.test("loadOrCreateIdentityIn names the entry when it holds no usable key", async () => {
  const backend = new MemoryStateBackend();
  backend.external({ "id.pem": "garbage" });
  await assert.rejects(
    loadOrCreateIdentityIn(await StateStore.open(backend), "id.pem"),
    /Cannot load identity from entry "id.pem" in memory/,
  );
});
