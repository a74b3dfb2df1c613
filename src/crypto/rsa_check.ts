/**
 * Checks that an imported RSA public key can really be used.
 *
 * Web Crypto's `importKey("spki")` in Deno accepts keys that its later
 * `encrypt` and `verify` refuse with an `OperationError` ("failed to decode
 * public key"): an even public exponent (e = 65536), an even modulus, or a
 * modulus over 4096 bits (measured with 4104 and 8192). A peer's key that
 * only fails at use would be shown to the operator, approved, and then break
 * every handshake after the decision, so the handshake checks keys before
 * any decision, and identity files are checked the same way.
 *
 * @module
 */

/** Smallest modulus accepted from a key file or a peer, in bits. */
export const MIN_RSA_BITS = 2048;
/**
 * Largest modulus accepted from a key file or a peer, in bits: the largest
 * Web Crypto can use here (and it bounds the work a peer can cause).
 */
export const MAX_RSA_BITS = 4096;

const OAEP = { name: "RSA-OAEP" } as const;
const PSS = { name: "RSA-PSS", saltLength: 32 } as const;

/**
 * Why `key` (an RSA-OAEP or RSA-PSS public key, imported extractable) cannot
 * be used, or `undefined` when it can.
 *
 * The structural checks name the usual faults; a trial public-key operation
 * then catches anything else Web Crypto would refuse later.
 *
 * @example Refuse a peer's key before approving it
 * ```ts ignore
 * const problem = await rsaKeyProblem(key);
 * if (problem) throw new Error(`Cannot use the client key: ${problem}`);
 * ```
 */
export async function rsaKeyProblem(key: CryptoKey): Promise<string | undefined> {
  const { modulusLength: bits, publicExponent } = key.algorithm as RsaHashedKeyAlgorithm;
  if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
    return `RSA key of ${bits} bits, not in ${MIN_RSA_BITS}..${MAX_RSA_BITS}`;
  }
  const e = publicExponent.reduce((value, byte) => value * 256n + BigInt(byte), 0n);
  if (e < 3n || e % 2n === 0n) return `public exponent ${e} is not an odd number of at least 3`;
  const { n } = await crypto.subtle.exportKey("jwk", key);
  if (n === undefined || (lastByte(n) & 1) === 0) return "the modulus is even";
  try {
    if (key.usages.includes("encrypt")) {
      await crypto.subtle.encrypt(OAEP, key, new Uint8Array(32));
    } else {
      // A wrong signature is `false` for a usable key; an unusable one throws.
      await crypto.subtle.verify(PSS, key, new Uint8Array(bits / 8), new Uint8Array(0));
    }
  } catch {
    return "Web Crypto cannot use it";
  }
  return undefined;
}

/** The last byte of a base64url (JWK) big-endian integer. */
function lastByte(base64url: string): number {
  const base64 = base64url.replaceAll("-", "+").replaceAll("_", "/");
  const binary = atob(base64 + "=".repeat((4 - base64.length % 4) % 4));
  return binary.charCodeAt(binary.length - 1);
}
