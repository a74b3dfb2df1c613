/**
 * The wormhole handshake, version 1: authenticates the server by its key
 * (pinned, or trusted on first use), lets the server's operator approve the
 * client by its key, and establishes the session keys.
 *
 * ## Messages
 *
 * Each message is one record: `[u8 version = 1][u8 type]` and fields, each a
 * fixed-size byte string or a byte string with a big-endian u16 length prefix
 * (`var`). Text is UTF-8 without control characters. Nothing may follow the
 * last field. Codecs: `messages.ts`.
 *
 * ```text
 * 1 ClientHello    var name, var client SPKI, nonce[32], X25519 share[32]
 * 2 Pending        var message                          (server → client, repeated)
 * 3 ServerHello    var name, var server SPKI, nonce[32], X25519 share[32],
 *                  var wrapped secret, var signature
 * 4 ClientFinished mac[32]
 * 5 ServerFinished mac[32]
 * 6 Rejected       var reason                           (server → client)
 * ```
 *
 * ## Flow
 *
 * ```text
 * client                                         server
 * ClientHello ─────────────────────────────────▶ decode (within helloTimeoutMs)
 *                                                decide(hello) …
 *            ◀───────────────────────────────── Pending (every pendingIntervalMs)
 *            ◀───────────────────────────────── ServerHello | Rejected
 * ClientFinished ──────────────────────────────▶ verify
 *            ◀───────────────────────────────── ServerFinished | Rejected
 * verify
 * ```
 *
 * - The server acts on nothing before the ClientHello decodes (and its SPKI
 *   imports as a usable RSA key of 2048..4096 bits), answers nothing to a message
 *   that does not, and accepts no other message type at any step.
 * - A key the server's `screen` refuses (its deny list) gets a Rejected right
 *   after the ClientHello decodes, before the SPKI is imported or any RSA or
 *   X25519 work is done: only its SHA-256 fingerprint was computed.
 * - ServerHello: the server draws a 32-byte session `secret`, wraps it with
 *   RSA-OAEP/SHA-256 to the client's SPKI, and signs with RSA-PSS/SHA-256
 *   (salt 32) the bytes `"wormhole/1 server signature\0" ‖ SHA-256(ClientHello
 *   ‖ ServerHello up to, not including, the signature field)`.
 * - The client checks, in this order: the server's fingerprint (against
 *   `serverFingerprint`, when given: `server-key-mismatch`), the signature
 *   (`bad-signature`), then unwraps the secret.
 * - Forward secrecy: both hellos carry an ephemeral X25519 share, so
 *   `ikm = secret ‖ X25519(client share, server share)`. A later theft of
 *   the client's key file does not expose recorded sessions.
 * - Keys (`schedule.ts`): HKDF-SHA256 with `salt = TH = SHA-256(ClientHello ‖
 *   ServerHello)` gives the per-direction traffic secrets and the confirm
 *   keys. ClientFinished = HMAC(confirm c, TH); ServerFinished = HMAC(confirm
 *   s, SHA-256(ClientHello ‖ ServerHello ‖ ClientFinished)).
 * - The server returns only after a valid ClientFinished (proof that the
 *   client holds the private key of the SPKI that was approved, and saw the
 *   same transcript); the client only after a valid ServerFinished.
 * - Timeouts: the server waits `helloTimeoutMs` for the ClientHello and
 *   again for the ClientFinished; the client waits `timeoutMs` (if given)
 *   for each server message. A side that fails sends nothing more (the
 *   server a Rejected, where it can say why) and the caller closes the link.
 * - Pending messages are not part of the transcript (the decision may take
 *   minutes); they carry display text only. Unknown versions fail with
 *   `version`, anything else that does not decode with `malformed`.
 *
 * @module
 */

import { concat, randomBytes, sha256, source } from "./bytes.ts";
import { type HandshakeChannel, linkChannel } from "./channel.ts";
import { HandshakeError } from "./errors.ts";
import { fingerprintOf, parseFingerprint } from "./fingerprint.ts";
import type { Identity } from "./keys.ts";
import {
  appendSignature,
  decodeMessage,
  encodeClientHello,
  encodeFinished,
  encodePending,
  encodeRejected,
  encodeServerHelloBody,
  type Message,
  MessageType,
  type ServerHello,
  typeName,
} from "./messages.ts";
import { rsaKeyProblem } from "./rsa_check.ts";
import { deriveHandshakeKeys, type SessionKeys } from "./schedule.ts";

export { HandshakeError, type HandshakeErrorCode } from "./errors.ts";
export { type HandshakeChannel, linkChannel };
export type { SessionKeys };

/** The server operator's verdict on a client. */
export type Decision = { accepted: true } | { accepted: false; reason: string };

/** What the server learns about the client from its hello. */
export interface PeerHello {
  /** The name the client claims (validate it: it is not authenticated beyond the key). */
  name: string;
  /** Fingerprint of the client's key, which the client proves it holds. */
  fingerprint: string;
  /** The client's SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
}

/** Options of {@linkcode clientHandshake}. */
export interface ClientHandshakeOptions {
  /** The client's identity; its private key unwraps the session secret. */
  identity: Identity;
  /** The client's name. */
  name: string;
  /**
   * Expected server fingerprint (pinned or --server-fingerprint), or several
   * during a key rotation: any of them is accepted. Undefined = accept and
   * report (trust on first use).
   */
  serverFingerprint?: string | readonly string[];
  /** Called each time the server says approval is pending (with its message). */
  onPending?: (message: string) => void;
  /** Aborts the handshake; it then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Longest wait for each server message, in ms (Pending messages restart it); default none. */
  timeoutMs?: number;
}

/** Result of {@linkcode clientHandshake}. */
export interface ClientHandshakeResult {
  /** The session keys, for a `SealedLink`. */
  keys: SessionKeys;
  /** Fingerprint of the key the server proved it holds (to pin on first use). */
  serverFingerprint: string;
  /** The name the server gave (signed by its key). */
  serverName: string;
}

/** Options of {@linkcode serverHandshake}. */
export interface ServerHandshakeOptions {
  /** The server's identity; its private key signs the transcript. */
  identity: Identity;
  /** The server's name, shown to clients. */
  name: string;
  /** The ClientHello, and later the ClientFinished, must arrive within this. */
  helloTimeoutMs: number;
  /** While decide() is pending, send a Pending message this often (keeps the connection alive). */
  pendingIntervalMs: number;
  /** How long decide() may run before the first Pending goes out; default min(250, pendingIntervalMs). */
  pendingDelayMs?: number;
  /** Text of the Pending messages; default says the operator must approve the client. */
  pendingMessage?: string | ((hello: PeerHello) => string);
  /**
   * Checked as soon as the ClientHello decodes and its fingerprint is known,
   * before any RSA work: a reason refuses the client at once (a Rejected,
   * error code `denied`), `undefined` goes on to `decide`.
   */
  screen?: (hello: { name: string; fingerprint: string }) => string | undefined;
  /**
   * Approves or rejects the client; may take minutes (operator approval).
   * Its signal aborts when the client goes away or the handshake is aborted.
   */
  decide: (hello: PeerHello, signal: AbortSignal) => Promise<Decision>;
  /** Aborts the handshake; it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Result of {@linkcode serverHandshake}. */
export interface ServerHandshakeResult {
  /** The session keys, for a `SealedLink`. */
  keys: SessionKeys;
  /** The approved client. */
  peer: PeerHello;
}

const SIGNATURE_CONTEXT = new TextEncoder().encode("wormhole/1 server signature\0");
const SECRET_BYTES = 32;
const OAEP = { name: "RSA-OAEP", hash: "SHA-256" } as const;
const PSS_KEY = { name: "RSA-PSS", hash: "SHA-256" } as const;
const PSS = { name: "RSA-PSS", saltLength: 32 } as const;
const DEFAULT_PENDING_MESSAGE = "Waiting for the server operator to approve this client";

/** Runs the client side of the handshake over `ch`. */
export async function clientHandshake(
  ch: HandshakeChannel,
  options: ClientHandshakeOptions,
): Promise<ClientHandshakeResult> {
  const { identity, name, onPending, signal, timeoutMs } = options;
  const expected = options.serverFingerprint === undefined
    ? undefined
    : [options.serverFingerprint].flat().map(parseFingerprint);
  signal?.throwIfAborted();
  const inbox = new Inbox(ch);
  const ephemeral = await generateShare();
  const share = new Uint8Array(await crypto.subtle.exportKey("raw", ephemeral.publicKey));
  const clientHello = encodeClientHello({
    name,
    spki: identity.spki,
    nonce: randomBytes(32),
    share,
  });
  ch.send(clientHello);

  let serverHelloBytes: Uint8Array;
  let serverHello: ServerHello;
  for (;;) {
    serverHelloBytes = await inbox.next("ServerHello", timeoutMs, signal);
    const message = decodeMessage(serverHelloBytes);
    if (message.type === MessageType.ServerHello) {
      serverHello = message;
      break;
    }
    if (message.type === MessageType.Pending) onPending?.(message.message);
    else if (message.type === MessageType.Rejected) throw rejected(message.reason);
    else throw unexpected(message, "ServerHello, Pending or Rejected");
  }

  // 1. Is it the server we expect?
  const actual = await fingerprintOf(serverHello.spki);
  if (expected !== undefined && !expected.includes(actual)) {
    throw new HandshakeError(
      "server-key-mismatch",
      `Cannot trust server "${serverHello.name}": its key fingerprint is ${actual}, expected ${
        expected.join(" or ")
      }`,
      { expected: expected.join(","), actual },
    );
  }
  // 2. Does it hold that key, and did it see our hello?
  const verifyKey = await importRsaPublic(serverHello.spki, PSS_KEY, "verify", "server");
  const signed = concat(
    SIGNATURE_CONTEXT,
    await sha256(clientHello, serverHelloBytes.subarray(0, serverHello.signedLength)),
  );
  let valid = false;
  try {
    valid = await crypto.subtle.verify(PSS, verifyKey, source(serverHello.signature), signed);
  } catch (cause) {
    throw new HandshakeError("bad-signature", "Cannot verify the server's signature", { cause });
  }
  if (!valid) {
    throw new HandshakeError(
      "bad-signature",
      `Cannot trust server "${serverHello.name}": its signature over the handshake does not verify`,
    );
  }
  // 3. The session secret, and the ephemeral exchange.
  let secret: Uint8Array<ArrayBuffer>;
  try {
    secret = new Uint8Array(
      await crypto.subtle.decrypt(OAEP, identity.decryptKey, source(serverHello.wrapped)),
    );
  } catch (cause) {
    throw new HandshakeError("malformed", "Cannot unwrap the session secret", { cause });
  }
  if (secret.length !== SECRET_BYTES) {
    secret.fill(0);
    throw new HandshakeError(
      "malformed",
      `Cannot use the session secret: ${secret.length} bytes, expected ${SECRET_BYTES}`,
    );
  }
  const shared = await exchange(ephemeral.privateKey, serverHello.share, "server");
  const transcript = await sha256(clientHello, serverHelloBytes);
  const { keys, confirmClient, confirmServer } = await keysFrom(secret, shared, transcript);

  const clientFinished = encodeFinished(
    MessageType.ClientFinished,
    new Uint8Array(await crypto.subtle.sign("HMAC", confirmClient, transcript)),
  );
  ch.send(clientFinished);

  const finishedBytes = await inbox.next("ServerFinished", timeoutMs, signal);
  const finished = decodeMessage(finishedBytes);
  if (finished.type === MessageType.Rejected) throw rejected(finished.reason);
  if (finished.type !== MessageType.ServerFinished) {
    throw unexpected(finished, "ServerFinished or Rejected");
  }
  const confirmed = await crypto.subtle.verify(
    "HMAC",
    confirmServer,
    source(finished.mac),
    await sha256(clientHello, serverHelloBytes, clientFinished),
  );
  if (!confirmed) {
    throw new HandshakeError(
      "bad-confirmation",
      "Cannot confirm the session keys: the ServerFinished MAC does not match",
    );
  }
  return { keys, serverFingerprint: actual, serverName: serverHello.name };
}

/** Runs the server side of the handshake over `ch`. */
export async function serverHandshake(
  ch: HandshakeChannel,
  options: ServerHandshakeOptions,
): Promise<ServerHandshakeResult> {
  const { identity, name, helloTimeoutMs, pendingIntervalMs, signal } = options;
  if (!(pendingIntervalMs > 0)) {
    throw new RangeError(`Cannot use pending interval ${pendingIntervalMs} ms: must be positive`);
  }
  // Fails early (RangeError) on a name that cannot be sent.
  encodeServerHelloBody({
    name,
    spki: identity.spki,
    nonce: new Uint8Array(32),
    share: new Uint8Array(32),
    wrapped: new Uint8Array(0),
  });
  signal?.throwIfAborted();
  const inbox = new Inbox(ch);

  const clientHello = await inbox.next("ClientHello", helloTimeoutMs, signal);
  const hello = decodeMessage(clientHello);
  if (hello.type !== MessageType.ClientHello) throw unexpected(hello, "ClientHello");
  const fingerprint = await fingerprintOf(hello.spki);
  const refusal = options.screen?.({ name: hello.name, fingerprint });
  if (refusal !== undefined) {
    ch.send(encodeRejected(refusal));
    throw new HandshakeError(
      "denied",
      `Refused client "${hello.name}" (${fingerprint}) before the key exchange: ${refusal}`,
    );
  }
  const clientKey = await importRsaPublic(hello.spki, OAEP, "encrypt", "client");
  const ephemeral = await generateShare();
  const shared = await exchange(ephemeral.privateKey, hello.share, "client");
  const peer: PeerHello = { name: hello.name, fingerprint, spki: hello.spki.slice() };

  const decision = await awaitDecision(ch, inbox, peer, options);
  if (!decision.accepted) {
    ch.send(encodeRejected(decision.reason));
    throw new HandshakeError(
      "rejected",
      `Rejected client "${peer.name}" (${peer.fingerprint}): ${decision.reason}`,
    );
  }

  const secret = randomBytes(SECRET_BYTES);
  let wrapped: Uint8Array;
  try {
    wrapped = new Uint8Array(await crypto.subtle.encrypt(OAEP, clientKey, secret));
  } catch (cause) {
    // Not expected after importRsaPublic's trial; a peer's bytes must still never escape as a DOMException.
    throw new HandshakeError("malformed", "Cannot wrap the session secret to the client key", {
      cause,
    });
  }
  const share = new Uint8Array(await crypto.subtle.exportKey("raw", ephemeral.publicKey));
  const body = encodeServerHelloBody({
    name,
    spki: identity.spki,
    nonce: randomBytes(32),
    share,
    wrapped,
  });
  const signature = await crypto.subtle.sign(
    PSS,
    identity.signKey,
    concat(SIGNATURE_CONTEXT, await sha256(clientHello, body)),
  );
  const serverHello = appendSignature(body, new Uint8Array(signature));
  const transcript = await sha256(clientHello, serverHello);
  const { keys, confirmClient, confirmServer } = await keysFrom(secret, shared, transcript);
  ch.send(serverHello);

  const clientFinished = await inbox.next("ClientFinished", helloTimeoutMs, signal);
  const finished = decodeMessage(clientFinished);
  if (finished.type !== MessageType.ClientFinished) throw unexpected(finished, "ClientFinished");
  const confirmed = await crypto.subtle.verify(
    "HMAC",
    confirmClient,
    source(finished.mac),
    transcript,
  );
  if (!confirmed) {
    ch.send(encodeRejected("Key confirmation failed"));
    throw new HandshakeError(
      "bad-confirmation",
      `Cannot confirm the session keys of client "${peer.name}": the ClientFinished MAC does not match`,
    );
  }
  const mac = await crypto.subtle.sign(
    "HMAC",
    confirmServer,
    await sha256(clientHello, serverHello, clientFinished),
  );
  ch.send(encodeFinished(MessageType.ServerFinished, new Uint8Array(mac)));
  return { keys, peer };
}

/**
 * Runs `decide` while sending Pending messages, until it settles, the client
 * goes away or sends anything (a protocol violation), or `signal` aborts.
 */
async function awaitDecision(
  ch: HandshakeChannel,
  inbox: Inbox,
  peer: PeerHello,
  options: ServerHandshakeOptions,
): Promise<Decision> {
  const { pendingIntervalMs, signal } = options;
  const text = typeof options.pendingMessage === "function"
    ? options.pendingMessage(peer)
    : options.pendingMessage ?? DEFAULT_PENDING_MESSAGE;
  const pending = encodePending(text);
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = () => {
    ch.send(pending);
    timer = setTimeout(tick, pendingIntervalMs);
  };
  timer = setTimeout(tick, options.pendingDelayMs ?? Math.min(250, pendingIntervalMs));
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<Decision>((resolve, reject) => {
      Promise.resolve().then(() => options.decide(peer, controller.signal)).then(resolve, reject);
      inbox.peek().then(
        (bytes) => {
          try {
            reject(unexpected(decodeMessage(bytes), "nothing while approval is pending"));
          } catch (error) {
            reject(error);
          }
        },
        reject,
      );
      if (signal) {
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      }
    });
  } catch (error) {
    controller.abort(error);
    throw error;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * The next message of a channel, with a timeout and abort. A receive that is
 * outstanding when a wait ends stays outstanding and yields the next message.
 */
class Inbox {
  #channel: HandshakeChannel;
  #pending: Promise<Uint8Array> | null = null;

  constructor(channel: HandshakeChannel) {
    this.#channel = channel;
  }

  /** The next message; its receive starts at most once. */
  peek(): Promise<Uint8Array> {
    if (!this.#pending) {
      this.#pending = Promise.resolve().then(() => this.#channel.receive()).catch((cause) => {
        throw cause instanceof HandshakeError ? cause : new HandshakeError(
          "closed",
          "Cannot receive handshake message: the channel failed",
          { cause },
        );
      });
      this.#pending.catch(() => {});
    }
    return this.#pending;
  }

  /** Takes the next message, which should be `what`. */
  async next(what: string, timeoutMs?: number, signal?: AbortSignal): Promise<Uint8Array> {
    signal?.throwIfAborted();
    const message = this.peek();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const result = await new Promise<Uint8Array>((resolve, reject) => {
        message.then(resolve, reject);
        if (timeoutMs !== undefined) {
          timer = setTimeout(
            () => reject(new HandshakeError("timeout", `No ${what} within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }
        if (signal) {
          onAbort = () => reject(signal.reason);
          signal.addEventListener("abort", onAbort, { once: true });
        }
      });
      this.#pending = null;
      return result;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }
}

function generateShare(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]) as Promise<
    CryptoKeyPair
  >;
}

/**
 * Imports a peer's SPKI for `usage`, and refuses a key Web Crypto would
 * refuse later (see `rsa_check.ts`): an unusable key must fail here, before
 * the decision, or it could be approved and then break every handshake.
 */
async function importRsaPublic(
  spki: Uint8Array,
  algorithm: RsaHashedImportParams,
  usage: KeyUsage,
  whose: string,
): Promise<CryptoKey> {
  let key: CryptoKey;
  try {
    // Extractable: rsaKeyProblem reads the modulus (public data only).
    key = await crypto.subtle.importKey("spki", source(spki), algorithm, true, [usage]);
  } catch (cause) {
    throw new HandshakeError("malformed", `Cannot import the ${whose} key: not an RSA SPKI`, {
      cause,
    });
  }
  const problem = await rsaKeyProblem(key);
  if (problem) throw new HandshakeError("malformed", `Cannot use the ${whose} key: ${problem}`);
  return key;
}

/** X25519 between our private key and the peer's share. */
async function exchange(
  privateKey: CryptoKey,
  share: Uint8Array,
  whose: string,
): Promise<Uint8Array<ArrayBuffer>> {
  try {
    const peer = await crypto.subtle.importKey("raw", source(share), { name: "X25519" }, false, []);
    return new Uint8Array(
      await crypto.subtle.deriveBits({ name: "X25519", public: peer }, privateKey, 256),
    );
  } catch (cause) {
    throw new HandshakeError("malformed", `Cannot use the ${whose}'s key share`, { cause });
  }
}

async function keysFrom(
  secret: Uint8Array<ArrayBuffer>,
  shared: Uint8Array<ArrayBuffer>,
  transcript: Uint8Array<ArrayBuffer>,
) {
  const ikm = concat(secret, shared);
  secret.fill(0);
  shared.fill(0);
  try {
    return await deriveHandshakeKeys(ikm, transcript);
  } finally {
    ikm.fill(0);
  }
}

function rejected(reason: string): HandshakeError {
  return new HandshakeError("rejected", `Rejected by the server: ${reason}`);
}

function unexpected(message: Message, expected: string): HandshakeError {
  return new HandshakeError(
    "malformed",
    `Cannot accept ${typeName(message.type)}: expected ${expected}`,
  );
}
