/**
 * The key schedule. From the handshake's input keying material and
 * transcript hash, HKDF-SHA256 derives:
 *
 * ```text
 * c2s secret₀   = HKDF(ikm, salt = transcript hash, info = "wormhole/1 c2s")
 * s2c secret₀   = HKDF(ikm, salt = transcript hash, info = "wormhole/1 s2c")
 * confirm key c = HKDF(ikm, salt = transcript hash, info = "wormhole/1 confirm c")  (HMAC-SHA256)
 * confirm key s = HKDF(ikm, salt = transcript hash, info = "wormhole/1 confirm s")  (HMAC-SHA256)
 * key_e         = HKDF(secret_e, info = "wormhole/1 key")     (AES-256-GCM key of epoch e)
 * secret_e+1    = HKDF(secret_e, info = "wormhole/1 rekey")   (next epoch's traffic secret)
 * ```
 *
 * Every output is 32 bytes. Traffic secrets and keys live only as
 * non-extractable `CryptoKey`s; the raw bytes that pass through JavaScript
 * on the way from `deriveBits` to `importKey` are zeroed at once.
 *
 * @module
 */

/** Info labels of the key schedule. */
export const Label = {
  ClientToServer: "wormhole/1 c2s",
  ServerToClient: "wormhole/1 s2c",
  ConfirmClient: "wormhole/1 confirm c",
  ConfirmServer: "wormhole/1 confirm s",
  Key: "wormhole/1 key",
  Rekey: "wormhole/1 rekey",
} as const;

/**
 * The outcome of a handshake: per-direction traffic secrets from which the
 * session derives its AES-GCM keys, epoch by epoch. Opaque to callers; the
 * secrets are non-extractable.
 */
export interface SessionKeys {
  /**
   * Identifies the session in logs: the first 8 bytes of the transcript hash
   * as hex. Equal on both ends, not secret.
   */
  readonly id: string;
  /** @internal Epoch-0 traffic secret, client to server (HKDF key). */
  readonly c2s: CryptoKey;
  /** @internal Epoch-0 traffic secret, server to client (HKDF key). */
  readonly s2c: CryptoKey;
}

/** Session keys plus the handshake's confirm keys. */
export interface HandshakeKeys {
  keys: SessionKeys;
  /** HMAC-SHA256 key of ClientFinished. */
  confirmClient: CryptoKey;
  /** HMAC-SHA256 key of ServerFinished. */
  confirmServer: CryptoKey;
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
const HMAC = { name: "HMAC", hash: "SHA-256", length: 256 } as const;

function hkdf(salt: Uint8Array<ArrayBuffer>, info: string): HkdfParams {
  return { name: "HKDF", hash: "SHA-256", salt, info: encoder.encode(info) };
}

function importSecret(raw: ArrayBuffer): Promise<CryptoKey> {
  const promise = crypto.subtle.importKey("raw", raw, "HKDF", false, ["deriveBits", "deriveKey"]);
  return promise.finally(() => new Uint8Array(raw).fill(0));
}

async function expandSecret(
  base: CryptoKey,
  salt: Uint8Array<ArrayBuffer>,
  info: string,
): Promise<CryptoKey> {
  return importSecret(await crypto.subtle.deriveBits(hkdf(salt, info), base, 256));
}

/** Derives the session and confirm keys from `ikm` and the transcript hash. */
export async function deriveHandshakeKeys(
  ikm: Uint8Array<ArrayBuffer>,
  transcriptHash: Uint8Array<ArrayBuffer>,
): Promise<HandshakeKeys> {
  const base = await crypto.subtle.importKey("raw", ikm, "HKDF", false, [
    "deriveBits",
    "deriveKey",
  ]);
  const confirm = (info: string) =>
    crypto.subtle.deriveKey(hkdf(transcriptHash, info), base, HMAC, false, ["sign", "verify"]);
  const [c2s, s2c, confirmClient, confirmServer] = await Promise.all([
    expandSecret(base, transcriptHash, Label.ClientToServer),
    expandSecret(base, transcriptHash, Label.ServerToClient),
    confirm(Label.ConfirmClient),
    confirm(Label.ConfirmServer),
  ]);
  let id = "";
  for (const byte of transcriptHash.subarray(0, 8)) id += byte.toString(16).padStart(2, "0");
  return { keys: { id, c2s, s2c }, confirmClient, confirmServer };
}

/** The AES-256-GCM key of the epoch whose traffic secret is `secret`. */
export function epochKey(secret: CryptoKey): Promise<CryptoKey> {
  return crypto.subtle.deriveKey(
    hkdf(EMPTY, Label.Key),
    secret,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** The traffic secret of the epoch after the one whose secret is `secret`. */
export function nextSecret(secret: CryptoKey): Promise<CryptoKey> {
  return expandSecret(secret, EMPTY, Label.Rekey);
}
