/**
 * The server's record of approved peers: which key may use which name.
 * Persisted in the state directory, so a restart needs no re-approval.
 *
 * @module
 */

import { writeFileAtomic } from "../state/mod.ts";

/** One approved peer. */
export interface ApprovedPeer {
  /** Key fingerprint. */
  fingerprint: string;
  /** The name this key may use. */
  name: string;
  /** ISO time of approval. */
  firstSeen: string;
  /** ISO time of the last accepted connection. */
  lastSeen: string;
}

/** The approvals file is not what this version writes. */
export class ApprovalsFileError extends SyntaxError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ApprovalsFileError";
  }
}

/** Approved peers, by fingerprint and by name; every change is written through. */
export class ApprovalStore {
  #path: string | null;
  #byFingerprint = new Map<string, ApprovedPeer>();
  #writes: Promise<void> = Promise.resolve();

  private constructor(path: string | null) {
    this.#path = path;
  }

  /** An in-memory store (nothing persisted), for tests and the dummy acceptor. */
  static memory(): ApprovalStore {
    return new ApprovalStore(null);
  }

  /**
   * Opens `<dir>/approved-peers.json`, creating nothing until the first approval.
   *
   * @throws {ApprovalsFileError} when the file exists but cannot be understood.
   */
  static async open(dir: string): Promise<ApprovalStore> {
    const store = new ApprovalStore(`${dir}/approved-peers.json`);
    let text: string;
    try {
      text = await Deno.readTextFile(store.#path!);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return store;
      throw error;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (cause) {
      throw new ApprovalsFileError(`Cannot read ${store.#path}: not JSON`, { cause });
    }
    const peers = (data as { peers?: unknown })?.peers;
    if (!Array.isArray(peers)) {
      throw new ApprovalsFileError(`Cannot read ${store.#path}: expected {"peers": [...]}`);
    }
    for (const peer of peers as ApprovedPeer[]) {
      if (typeof peer?.fingerprint !== "string" || typeof peer?.name !== "string") {
        throw new ApprovalsFileError(`Cannot read ${store.#path}: a peer lacks name or key`);
      }
      store.#byFingerprint.set(peer.fingerprint, peer);
    }
    return store;
  }

  /** The approval of `fingerprint`, if any. */
  get(fingerprint: string): ApprovedPeer | undefined {
    return this.#byFingerprint.get(fingerprint);
  }

  /** The approval that owns `name`, if any. */
  byName(name: string): ApprovedPeer | undefined {
    for (const peer of this.#byFingerprint.values()) if (peer.name === name) return peer;
    return undefined;
  }

  /** Every approval, sorted by name. */
  list(): ApprovedPeer[] {
    return [...this.#byFingerprint.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Approves `fingerprint` for `name` (replacing an approval of the same key). */
  async approve(fingerprint: string, name: string): Promise<ApprovedPeer> {
    const now = new Date().toISOString();
    const previous = this.#byFingerprint.get(fingerprint);
    const peer = { fingerprint, name, firstSeen: previous?.firstSeen ?? now, lastSeen: now };
    this.#byFingerprint.set(fingerprint, peer);
    await this.#save();
    return peer;
  }

  /** Records a connection of an approved key. */
  async seen(fingerprint: string): Promise<void> {
    const peer = this.#byFingerprint.get(fingerprint);
    if (!peer) return;
    peer.lastSeen = new Date().toISOString();
    await this.#save();
  }

  /** Removes the approval of `name`; returns it, or undefined when there was none. */
  async revoke(name: string): Promise<ApprovedPeer | undefined> {
    const peer = this.byName(name);
    if (!peer) return undefined;
    this.#byFingerprint.delete(peer.fingerprint);
    await this.#save();
    return peer;
  }

  /** Writes are serialized so the file always holds the latest state. */
  #save(): Promise<void> {
    if (!this.#path) return Promise.resolve();
    const path = this.#path;
    const write = this.#writes.then(() =>
      writeFileAtomic(path, JSON.stringify({ version: 1, peers: this.list() }, null, 2) + "\n")
    );
    this.#writes = write.catch(() => {});
    return write;
  }
}
