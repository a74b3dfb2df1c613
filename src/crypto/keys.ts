/**
 * Identity keys: one RSA-2048 key pair per server and per client, kept in a
 * PKCS#8 PEM file. The client's key unwraps the session secret (RSA-OAEP);
 * the server's key signs the handshake transcript (RSA-PSS). The same key
 * material is imported once per use, as Web Crypto binds a key to one
 * algorithm. Private keys are imported non-extractable.
 *
 * @module
 */

import { IdentityError } from "./errors.ts";
import { fingerprintOf } from "./fingerprint.ts";
import { decodePem, encodePem } from "./pem.ts";
import { randomBytes, source, toHex } from "./bytes.ts";
import type { StateStore } from "../state/mod.ts";
import { rsaKeyProblem } from "./rsa_check.ts";

export { MAX_RSA_BITS, MIN_RSA_BITS } from "./rsa_check.ts";

/** Modulus size of generated identity keys, in bits. */
export const IDENTITY_BITS = 2048;

const PEM_LABEL = "PRIVATE KEY";
const OAEP = { name: "RSA-OAEP", hash: "SHA-256" } as const;
const PSS = { name: "RSA-PSS", hash: "SHA-256" } as const;

/** A peer's long-term key pair, ready for the handshake. */
export interface Identity {
  /** RSA-2048 key pair, RSA-OAEP/SHA-256 (client: unwraps the session secret). */
  decryptKey: CryptoKey;
  /** Public half of {@linkcode decryptKey}. */
  encryptKey: CryptoKey;
  /** Same key material imported as RSA-PSS/SHA-256 (server: signs the transcript). */
  signKey: CryptoKey;
  /** Public half of {@linkcode signKey}. */
  verifyKey: CryptoKey;
  /** SubjectPublicKeyInfo DER of the public key. */
  spki: Uint8Array;
  /** fingerprintOf(spki). */
  fingerprint: string;
}

/** Generates a fresh identity (kept in memory only). */
export async function generateIdentity(): Promise<Identity> {
  return identityFromPkcs8(await generatePkcs8());
}

/** Imports an identity from PKCS#8 PEM text (`-----BEGIN PRIVATE KEY-----`). */
export async function importIdentity(pkcs8Pem: string): Promise<Identity> {
  return await identityFromPkcs8(decodePem(pkcs8Pem, PEM_LABEL));
}

/**
 * Reads `<dir>/<file>` (PKCS#8 PEM) or creates it: written atomically (temp
 * file + rename), mode 0600, dir created 0700. When two processes create the
 * file at once, both end up with the same key (the first one written wins).
 */
export async function loadOrCreateIdentity(
  dir: string,
  file: string,
): Promise<Identity & { created: boolean }> {
  const path = joinPath(dir, file);
  const existing = await readKeyFile(path);
  if (existing !== null) return { ...await identityFromFile(existing, path), created: false };

  await ensureDirectory(dir);
  const pkcs8 = await generatePkcs8();
  const identity = await identityFromPkcs8(pkcs8);
  const won = await writeExclusive(path, encodePem(PEM_LABEL, pkcs8));
  pkcs8.fill(0);
  if (won) return { ...identity, created: true };
  // Another process created the file first: use its key, as it does.
  const winner = await readKeyFile(path);
  if (winner === null) throw new IdentityError(`Cannot load identity from ${path}: file vanished`);
  return { ...await identityFromFile(winner, path), created: false };
}

/**
 * Reads entry `key` (PKCS#8 PEM) of a state document or creates it. When
 * two processes create it at once, both end up with the key stored first.
 *
 * @throws {IdentityError} naming the entry when it holds no usable key.
 */
export async function loadOrCreateIdentityIn(
  store: StateStore,
  key: string,
): Promise<Identity & { created: boolean }> {
  let created = false;
  if (store.get(key) === undefined) {
    const pkcs8 = await generatePkcs8();
    const pem = encodePem(PEM_LABEL, pkcs8);
    pkcs8.fill(0);
    await store.update((entries) => entries[key] === undefined ? { [key]: pem } : undefined);
    created = store.get(key) === pem;
  }
  return { ...await identityFromFile(store.get(key) ?? "", store.describe(key)), created };
}

/** Imports `text` read from `path`, naming the file on failure. */
async function identityFromFile(text: string, path: string): Promise<Identity> {
  try {
    return await importIdentity(text);
  } catch (cause) {
    const reason = cause instanceof IdentityError ? cause.message : "invalid key";
    throw new IdentityError(`Cannot load identity from ${path}: ${reason}`, { cause });
  }
}

async function readKeyFile(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) return null;
    throw new IdentityError(`Cannot read identity key file ${path}`, { cause });
  }
}

async function ensureDirectory(dir: string): Promise<void> {
  try {
    await Deno.stat(dir);
    return;
  } catch (cause) {
    if (!(cause instanceof Deno.errors.NotFound)) {
      throw new IdentityError(`Cannot inspect identity directory ${dir}`, { cause });
    }
  }
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.chmod(dir, 0o700);
  } catch (cause) {
    throw new IdentityError(`Cannot create identity directory ${dir}`, { cause });
  }
}

/**
 * Writes `text` to a private temp file beside `path`, then moves it into
 * place without replacing an existing file (hard link, falling back to
 * rename where links are unsupported). Returns false when `path` already
 * existed. No temp file is left behind.
 */
async function writeExclusive(path: string, text: string): Promise<boolean> {
  const temp = `${path}.${toHex(randomBytes(6))}.tmp`;
  try {
    const handle = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
    try {
      await Deno.chmod(temp, 0o600); // in case the umask took more bits away
      const bytes = new TextEncoder().encode(text);
      for (let at = 0; at < bytes.length;) at += await handle.write(bytes.subarray(at));
      await handle.syncData();
    } finally {
      handle.close();
    }
    try {
      await Deno.link(temp, path);
      return true;
    } catch (cause) {
      if (cause instanceof Deno.errors.AlreadyExists) return false;
      await Deno.rename(temp, path);
      return true;
    }
  } catch (cause) {
    throw new IdentityError(`Cannot write identity key file ${path}`, { cause });
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
}

function joinPath(dir: string, file: string): string {
  if (dir === "") return file;
  return dir.endsWith("/") ? dir + file : `${dir}/${file}`;
}

async function generatePkcs8(): Promise<Uint8Array<ArrayBuffer>> {
  const pair = await crypto.subtle.generateKey(
    { ...OAEP, modulusLength: IDENTITY_BITS, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ["encrypt", "decrypt"],
  );
  return new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
}

/** Builds an identity from PKCS#8 DER of an RSA private key. */
async function identityFromPkcs8(pkcs8: Uint8Array<ArrayBuffer>): Promise<Identity> {
  let probe: CryptoKey;
  try {
    // Extractable only long enough to read the public components.
    probe = await crypto.subtle.importKey("pkcs8", pkcs8, OAEP, true, ["decrypt"]);
  } catch {
    // No cause: a parser error could quote key bytes.
    throw new IdentityError("Cannot import identity: not a PKCS#8 RSA private key");
  }
  const { n, e } = await crypto.subtle.exportKey("jwk", probe);
  const encryptKey = await crypto.subtle.importKey("jwk", { kty: "RSA", n, e }, OAEP, true, [
    "encrypt",
  ]);
  const problem = await rsaKeyProblem(encryptKey);
  if (problem) throw new IdentityError(`Cannot import identity: ${problem}`);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", encryptKey));
  const [decryptKey, signKey, verifyKey, fingerprint] = await Promise.all([
    crypto.subtle.importKey("pkcs8", pkcs8, OAEP, false, ["decrypt"]),
    crypto.subtle.importKey("pkcs8", pkcs8, PSS, false, ["sign"]),
    crypto.subtle.importKey("spki", source(spki), PSS, true, ["verify"]),
    fingerprintOf(spki),
  ]);
  return { decryptKey, encryptKey, signKey, verifyKey, spki, fingerprint };
}
