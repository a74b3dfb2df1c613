/**
 * PEM armour (RFC 7468) for the identity key file: base64 between
 * `-----BEGIN <label>-----` and `-----END <label>-----` lines.
 *
 * @module
 */

import { IdentityError } from "./errors.ts";

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/;

/** Wraps `der` as a PEM block with `label`, 64 base64 characters a line. */
export function encodePem(label: string, der: Uint8Array): string {
  const base64 = der.toBase64();
  const lines = [`-----BEGIN ${label}-----`];
  for (let at = 0; at < base64.length; at += 64) lines.push(base64.slice(at, at + 64));
  lines.push(`-----END ${label}-----`, "");
  return lines.join("\n");
}

/**
 * Extracts the DER bytes of the first PEM block in `text`, which must carry
 * `label`; throws {@linkcode IdentityError} otherwise. Error messages name
 * labels only, never content.
 */
export function decodePem(text: string, label: string): Uint8Array<ArrayBuffer> {
  const match = BLOCK.exec(text);
  if (!match) {
    throw new IdentityError(`Cannot decode PEM: no "-----BEGIN ${label}-----" block found`);
  }
  if (match[1] !== label) {
    const hint = match[1] === "RSA PRIVATE KEY"
      ? " (PKCS#1; convert with `openssl pkcs8 -topk8 -nocrypt`)"
      : match[1] === "ENCRYPTED PRIVATE KEY"
      ? " (encrypted keys are not supported)"
      : "";
    throw new IdentityError(
      `Cannot decode PEM: found a "${match[1]}" block${hint}, not "${label}"`,
    );
  }
  try {
    return Uint8Array.fromBase64(match[2].replace(/\s+/g, ""));
  } catch {
    // No cause: the platform error could quote the (secret) content.
    throw new IdentityError(`Cannot decode PEM "${label}" block: invalid base64`);
  }
}
