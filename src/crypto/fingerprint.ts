/**
 * Fingerprints of identity keys: the first 160 bits of SHA-256 over the
 * SubjectPublicKeyInfo, as 40 lowercase hex digits. One token that is short
 * enough to read out and paste, long enough that nobody can forge a key
 * matching it (second preimage at 2^160).
 *
 * @module
 */

import { sha256, toHex } from "./bytes.ts";

/** Bytes of SHA-256 kept in a fingerprint. */
export const FINGERPRINT_BYTES = 20;

const FORM = /^(?:sha256:)?([0-9a-f]{2}(?::?[0-9a-f]{2}){19})$/i;

/** SHA-256 of the SPKI, first 20 bytes (160 bits), lowercase hex: one copy-pasteable token. */
export async function fingerprintOf(spki: Uint8Array): Promise<string> {
  const digest = await sha256(spki);
  return toHex(digest.subarray(0, FINGERPRINT_BYTES));
}

/**
 * Accepts case-insensitive hex, optional "SHA256:" prefix and ':' separators
 * between bytes, surrounding whitespace; returns the canonical form (40
 * lowercase hex digits) or throws RangeError naming the input.
 */
export function parseFingerprint(text: string): string {
  const match = FORM.exec(text.trim());
  if (!match) {
    const shown = text.length > 100 ? `${text.slice(0, 100)}…` : text;
    throw new RangeError(
      `Cannot parse fingerprint ${
        JSON.stringify(shown)
      }: expected ${FINGERPRINT_BYTES} bytes as hex, optionally prefixed "SHA256:" and separated by ':'`,
    );
  }
  return match[1].replaceAll(":", "").toLowerCase();
}
