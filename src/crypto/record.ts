/**
 * The sealed record format of the session (version 1):
 *
 * ```text
 * record = header ‖ AES-256-GCM(key_epoch, nonce, plaintext, aad = header) ‖ tag[16]
 * header = [u8 version = 1][u32 epoch][u64 counter]           13 bytes, big-endian
 * nonce  = [u8 direction][u24 epoch][u64 counter]             12 bytes, big-endian
 * ```
 *
 * `direction` is 0 client → server and 1 server → client, so the two
 * directions never share a nonce even if their keys matched. Within a
 * direction and epoch the counter never repeats, so neither does the nonce.
 *
 * @module
 */

import { collector } from "./collector.ts";
import { LINK_HEADROOM } from "../link/mod.ts";
import { source } from "./bytes.ts";
import { SessionError } from "./errors.ts";

/** Version byte of every sealed record. */
export const RECORD_VERSION = 1;
/** Bytes of the record header. */
export const HEADER_BYTES = 13;
/** Bytes of the AES-GCM tag. */
export const TAG_BYTES = 16;
/** Highest epoch: the nonce holds 24 bits of it. */
export const MAX_EPOCH = 0xffffff;

/** Nonce direction byte values. */
export const Direction = { ClientToServer: 0, ServerToClient: 1 } as const;
/** A direction value. */
export type Direction = typeof Direction[keyof typeof Direction];

const TWO_32 = 2 ** 32;

/** The header of record `counter` of `epoch`. */
export function recordHeader(epoch: number, counter: number): Uint8Array<ArrayBuffer> {
  const header = new Uint8Array(HEADER_BYTES);
  const view = new DataView(header.buffer);
  header[0] = RECORD_VERSION;
  view.setUint32(1, epoch);
  view.setUint32(5, Math.floor(counter / TWO_32));
  view.setUint32(9, counter >>> 0);
  return header;
}

/** The AES-GCM nonce of record `counter` of `epoch` in `direction`. */
export function recordNonce(
  direction: Direction,
  epoch: number,
  counter: number,
): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  view.setUint32(0, (direction << 24) | epoch);
  view.setUint32(4, Math.floor(counter / TWO_32));
  view.setUint32(8, counter >>> 0);
  return nonce;
}

/** Epoch and counter of a sealed record; throws {@linkcode SessionError} `malformed`. */
export function readHeader(record: Uint8Array): { epoch: number; counter: number } {
  if (record.length < HEADER_BYTES + TAG_BYTES) {
    throw new SessionError(
      "malformed",
      `Cannot open record: ${record.length} bytes, shorter than header and tag (${
        HEADER_BYTES + TAG_BYTES
      })`,
    );
  }
  if (record[0] !== RECORD_VERSION) {
    throw new SessionError(
      "malformed",
      `Cannot open record: version ${record[0]} is not the supported ${RECORD_VERSION}`,
    );
  }
  const view = new DataView(record.buffer, record.byteOffset, HEADER_BYTES);
  return {
    epoch: view.getUint32(1),
    counter: view.getUint32(5) * TWO_32 + view.getUint32(9),
  };
}

/** Seals `plaintext` as record `counter` of `epoch`; returns header ‖ ciphertext ‖ tag. */
export async function seal(
  key: CryptoKey,
  direction: Direction,
  epoch: number,
  counter: number,
  plaintext: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const header = recordHeader(epoch, counter);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: recordNonce(direction, epoch, counter), additionalData: header },
    key,
    source(plaintext),
  );
  collector.noted(plaintext.length);
  // Room in front for the link's own framing (LINK_HEADROOM), so the
  // WebSocket layer need not copy the record again.
  const buffer = new Uint8Array(LINK_HEADROOM + HEADER_BYTES + sealed.byteLength);
  const out = buffer.subarray(LINK_HEADROOM);
  out.set(header, 0);
  out.set(new Uint8Array(sealed), HEADER_BYTES);
  return out;
}

/**
 * Opens `record`, whose header says `epoch` and `counter` (see
 * {@linkcode readHeader}); throws {@linkcode SessionError} `authentication`.
 */
export async function open(
  key: CryptoKey,
  direction: Direction,
  record: Uint8Array,
  epoch: number,
  counter: number,
): Promise<Uint8Array<ArrayBuffer>> {
  try {
    const plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: recordNonce(direction, epoch, counter),
        additionalData: source(record.subarray(0, HEADER_BYTES)),
      },
      key,
      source(record.subarray(HEADER_BYTES)),
    );
    collector.noted(plain.byteLength);
    return new Uint8Array(plain);
  } catch (cause) {
    throw new SessionError(
      "authentication",
      `Cannot open record ${counter} of epoch ${epoch}: authentication failed`,
      { cause },
    );
  }
}
