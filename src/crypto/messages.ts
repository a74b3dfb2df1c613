/**
 * Codecs of the handshake messages, protocol version 1. Every message is
 * `[u8 version][u8 type]` followed by its fields: fixed-size byte strings, or
 * byte strings with a big-endian u16 length prefix. Decoding is strict: each
 * field is bounded, text is valid UTF-8 without control characters, and no
 * byte may follow the last field. See `handshake.ts` for the protocol.
 *
 * `decodeMessage` throws only {@linkcode HandshakeError} (`version` or
 * `malformed`).
 *
 * @module
 */

import { HandshakeError } from "./errors.ts";
import { FieldReader, FieldWriter } from "../protocol/mod.ts";
import { concat } from "./bytes.ts";

/** Version byte of every handshake message. */
export const HANDSHAKE_VERSION = 1;

/** Handshake message types. */
export const MessageType = {
  /** Client → server: name, client SPKI, nonce, key share. */
  ClientHello: 1,
  /** Server → client: approval is pending (repeats; keeps the connection alive). */
  Pending: 2,
  /** Server → client: name, SPKI, nonce, key share, wrapped secret, signature. */
  ServerHello: 3,
  /** Client → server: MAC over the transcript with the client confirm key. */
  ClientFinished: 4,
  /** Server → client: MAC over the transcript with the server confirm key. */
  ServerFinished: 5,
  /** Server → client: the client is refused. */
  Rejected: 6,
} as const;
/** A handshake message type value. */
export type MessageType = typeof MessageType[keyof typeof MessageType];

const TYPE_NAMES: Record<number, string> = {
  1: "ClientHello",
  2: "Pending",
  3: "ServerHello",
  4: "ClientFinished",
  5: "ServerFinished",
  6: "Rejected",
};

/** Bytes of a hello nonce. */
export const NONCE_BYTES = 32;
/** Bytes of an X25519 public key share. */
export const SHARE_BYTES = 32;
/** Bytes of a Finished MAC (HMAC-SHA256). */
export const MAC_BYTES = 32;
/** Longest name in a hello, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 253;
/** Longest Pending message or Rejected reason, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 256;
/** Longest SPKI accepted (an 8192-bit RSA key needs about 1.1 KB). */
export const MAX_SPKI_BYTES = 2048;
/** Longest RSA output accepted (wrapped secret, signature): 8192 bits. */
export const MAX_RSA_OUTPUT_BYTES = 1024;

/** Client → server: who the client is and its fresh randomness. */
export interface ClientHello {
  type: typeof MessageType.ClientHello;
  name: string;
  spki: Uint8Array;
  nonce: Uint8Array;
  share: Uint8Array;
}

/** Server → client: the decision is still pending. */
export interface Pending {
  type: typeof MessageType.Pending;
  message: string;
}

/** Server → client: the server's key and the wrapped session secret, signed. */
export interface ServerHello {
  type: typeof MessageType.ServerHello;
  name: string;
  spki: Uint8Array;
  nonce: Uint8Array;
  share: Uint8Array;
  wrapped: Uint8Array;
  signature: Uint8Array;
  /** Bytes of the encoded message before the signature field (what was signed). */
  signedLength: number;
}

/** Either side's key confirmation. */
export interface Finished {
  type: typeof MessageType.ClientFinished | typeof MessageType.ServerFinished;
  mac: Uint8Array;
}

/** Server → client: the client is refused. */
export interface Rejected {
  type: typeof MessageType.Rejected;
  reason: string;
}

/** Any handshake message. */
export type Message = ClientHello | Pending | ServerHello | Finished | Rejected;

/** The name of message type `type`, for error messages. */
export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `unknown type ${type}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// deno-lint-ignore no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

function header(type: MessageType): FieldWriter {
  return new FieldWriter().u8(HANDSHAKE_VERSION).u8(type);
}

function encodeName(name: string): Uint8Array {
  const bytes = encoder.encode(name);
  if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES || CONTROL.test(name)) {
    throw new RangeError(
      `Cannot encode name ${
        JSON.stringify(name)
      }: must be 1..${MAX_NAME_BYTES} UTF-8 bytes without control characters`,
    );
  }
  return bytes;
}

/** Control characters become spaces and the text is cut to the limit on a character boundary. */
function encodeText(text: string): Uint8Array {
  const bytes = encoder.encode(text.replace(CONTROLS, " "));
  if (bytes.length <= MAX_TEXT_BYTES) return bytes;
  let end = MAX_TEXT_BYTES;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

function decodeText(reader: FieldReader, field: string, min: number, max: number): string {
  const bytes = reader.var(field, min, max);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (cause) {
    throw reader.error(`${field} is not valid UTF-8`, { cause });
  }
  if (CONTROL.test(text)) throw reader.error(`${field} holds control characters`);
  return text;
}

function checkFixed(bytes: Uint8Array, size: number, what: string): Uint8Array {
  if (bytes.length !== size) {
    throw new RangeError(`Cannot encode ${what} of ${bytes.length} bytes: must be ${size}`);
  }
  return bytes;
}

/** Encodes a ClientHello. */
export function encodeClientHello(hello: Omit<ClientHello, "type">): Uint8Array<ArrayBuffer> {
  return header(MessageType.ClientHello)
    .var(encodeName(hello.name))
    .var(hello.spki)
    .fixed(checkFixed(hello.nonce, NONCE_BYTES, "nonce"))
    .fixed(checkFixed(hello.share, SHARE_BYTES, "key share"))
    .bytes();
}

/** Encodes a Pending message; the text is cut to {@linkcode MAX_TEXT_BYTES}. */
export function encodePending(message: string): Uint8Array<ArrayBuffer> {
  return header(MessageType.Pending).var(encodeText(message)).bytes();
}

/** Encodes a Rejected message; the reason is cut to {@linkcode MAX_TEXT_BYTES}. */
export function encodeRejected(reason: string): Uint8Array<ArrayBuffer> {
  return header(MessageType.Rejected).var(encodeText(reason)).bytes();
}

/** Encodes a Finished message of either side. */
export function encodeFinished(
  type: Finished["type"],
  mac: Uint8Array,
): Uint8Array<ArrayBuffer> {
  return header(type).fixed(checkFixed(mac, MAC_BYTES, "MAC")).bytes();
}

/** Encodes the part of a ServerHello that the server signs: all but the signature. */
export function encodeServerHelloBody(
  hello: Omit<ServerHello, "type" | "signature" | "signedLength">,
): Uint8Array<ArrayBuffer> {
  return header(MessageType.ServerHello)
    .var(encodeName(hello.name))
    .var(hello.spki)
    .fixed(checkFixed(hello.nonce, NONCE_BYTES, "nonce"))
    .fixed(checkFixed(hello.share, SHARE_BYTES, "key share"))
    .var(hello.wrapped)
    .bytes();
}

/** Completes a ServerHello: the signed body followed by the signature field. */
export function appendSignature(body: Uint8Array, signature: Uint8Array): Uint8Array<ArrayBuffer> {
  return concat(body, new FieldWriter().var(signature).bytes());
}

/** Decodes any handshake message; throws {@linkcode HandshakeError} `version` or `malformed`. */
export function decodeMessage(bytes: Uint8Array): Message {
  if (bytes.length < 2) {
    throw new HandshakeError(
      "malformed",
      `Cannot decode handshake message: ${bytes.length} bytes, too short for a header`,
    );
  }
  if (bytes[0] !== HANDSHAKE_VERSION) {
    throw new HandshakeError(
      "version",
      `Cannot decode handshake message: version ${
        bytes[0]
      } is not the supported ${HANDSHAKE_VERSION}`,
    );
  }
  const type = bytes[1];
  const reader = new FieldReader(
    bytes,
    typeName(type),
    (_code, message, options) => new HandshakeError("malformed", message, options),
  );
  reader.fixed(2, "the header");
  let message: Message;
  switch (type) {
    case MessageType.ClientHello:
      message = {
        type,
        name: decodeText(reader, "name", 1, MAX_NAME_BYTES),
        spki: reader.var("SPKI", 1, MAX_SPKI_BYTES),
        nonce: reader.fixed(NONCE_BYTES, "nonce"),
        share: reader.fixed(SHARE_BYTES, "key share"),
      };
      break;
    case MessageType.Pending:
      message = { type, message: decodeText(reader, "message", 0, MAX_TEXT_BYTES) };
      break;
    case MessageType.Rejected:
      message = { type, reason: decodeText(reader, "reason", 0, MAX_TEXT_BYTES) };
      break;
    case MessageType.ServerHello: {
      const name = decodeText(reader, "name", 1, MAX_NAME_BYTES);
      const spki = reader.var("SPKI", 1, MAX_SPKI_BYTES);
      const nonce = reader.fixed(NONCE_BYTES, "nonce");
      const share = reader.fixed(SHARE_BYTES, "key share");
      const wrapped = reader.var("wrapped secret", 1, MAX_RSA_OUTPUT_BYTES);
      const signedLength = reader.offset;
      const signature = reader.var("signature", 1, MAX_RSA_OUTPUT_BYTES);
      message = { type, name, spki, nonce, share, wrapped, signature, signedLength };
      break;
    }
    case MessageType.ClientFinished:
    case MessageType.ServerFinished:
      message = { type, mac: reader.fixed(MAC_BYTES, "MAC") };
      break;
    default:
      throw new HandshakeError(
        "malformed",
        `Cannot decode handshake message: unknown type ${type}`,
      );
  }
  reader.end();
  return message;
}
