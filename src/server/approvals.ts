/**
 * The server's record of approved peers: which key may use which name. Kept
 * in the server's state (entry `approved-peers.json`), so a restart needs no
 * re-approval.
 *
 * @module
 */

import { StateStore } from "../state/mod.ts";

/** Entry of the server's state holding the approvals. */
export const APPROVALS_ENTRY = "approved-peers.json";

/** At most one state write per this many ms for "last seen" times alone. */
export const SEEN_WRITE_INTERVAL_MS = 60_000;

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

/** The approvals entry is not what this version writes. */
export class ApprovalsFileError extends SyntaxError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ApprovalsFileError";
  }
}

/** Approved peers, by fingerprint and by name; every change is written through. */
export class ApprovalStore {
  #state: StateStore;
  #parsed: { text: string | undefined; peers: Map<string, ApprovedPeer> } | null = null;
  /** "Last seen" times not written yet, by fingerprint. */
  #seen = new Map<string, string>();
  #lastSeenWrite = -Infinity;

  private constructor(state: StateStore) {
    this.#state = state;
  }

  /** An in-memory store (nothing persisted), for tests and the dummy acceptor. */
  static memory(): ApprovalStore {
    return ApprovalStore.open(StateStore.memory());
  }

  /**
   * The approvals kept in `state`.
   *
   * @throws {ApprovalsFileError} when the entry exists but cannot be understood.
   */
  static open(state: StateStore): ApprovalStore {
    const store = new ApprovalStore(state);
    store.#peers();
    return store;
  }

  /**
   * The approvals as stored now. An entry changed from outside into
   * something unreadable keeps the last good approvals in effect (the
   * next write reports the damage).
   */
  #peers(): Map<string, ApprovedPeer> {
    const text = this.#state.get(APPROVALS_ENTRY);
    if (this.#parsed && this.#parsed.text === text) return this.#parsed.peers;
    try {
      this.#parsed = { text, peers: parseApprovals(text, this.#state.describe(APPROVALS_ENTRY)) };
    } catch (error) {
      if (!this.#parsed) throw error;
    }
    return this.#parsed!.peers;
  }

  /** The approval of `fingerprint`, if any. */
  get(fingerprint: string): ApprovedPeer | undefined {
    return this.#withSeen(this.#peers().get(fingerprint));
  }

  /** The approval that owns `name`, if any. */
  byName(name: string): ApprovedPeer | undefined {
    for (const peer of this.#peers().values()) if (peer.name === name) return this.#withSeen(peer);
    return undefined;
  }

  /** Every approval, sorted by name. */
  list(): ApprovedPeer[] {
    return sorted(this.#peers()).map((peer) => this.#withSeen(peer)!);
  }

  /** Approves `fingerprint` for `name` (replacing an approval of the same key). */
  async approve(fingerprint: string, name: string): Promise<ApprovedPeer> {
    const now = new Date().toISOString();
    let peer!: ApprovedPeer;
    await this.#change((peers) => {
      peer = {
        fingerprint,
        name,
        firstSeen: peers.get(fingerprint)?.firstSeen ?? now,
        lastSeen: now,
      };
      peers.set(fingerprint, peer);
      return true;
    });
    return peer;
  }

  /**
   * Records a completed connection of an approved key. The time is kept in
   * memory at once ({@linkcode get} and {@linkcode list} show it) and
   * written with the next change, or at most once per
   * {@linkcode SEEN_WRITE_INTERVAL_MS}, or by {@linkcode flush}: a busy
   * fleet of reconnecting clients costs one state write a minute, not one
   * each.
   */
  seen(fingerprint: string, now: number = Date.now()): void {
    if (!this.#peers().has(fingerprint)) return;
    this.#seen.set(fingerprint, new Date(now).toISOString());
    if (now - this.#lastSeenWrite >= SEEN_WRITE_INTERVAL_MS) {
      this.#lastSeenWrite = now;
      this.flush().catch(() => {});
    }
  }

  /** Writes the "last seen" times not written yet; resolves when they are stored. */
  async flush(): Promise<void> {
    if (this.#seen.size === 0) return;
    await this.#change(() => true);
  }

  /** Forgets the approval of the peer `name`; resolves with it, or undefined when there was none. */
  async revoke(name: string): Promise<ApprovedPeer | undefined> {
    let removed: ApprovedPeer | undefined;
    await this.#change((peers) => {
      removed = [...peers.values()].find((peer) => peer.name === name);
      if (removed) peers.delete(removed.fingerprint);
      return removed !== undefined;
    });
    return removed;
  }

  /** Applies `edit` to the latest stored approvals (again after a conflict). */
  async #change(edit: (peers: Map<string, ApprovedPeer>) => boolean): Promise<void> {
    const where = this.#state.describe(APPROVALS_ENTRY);
    const seen = new Map(this.#seen);
    await this.#state.update((entries) => {
      const peers = parseApprovals(entries[APPROVALS_ENTRY], where);
      if (!edit(peers)) return undefined;
      for (const [fingerprint, lastSeen] of seen) {
        const peer = peers.get(fingerprint);
        if (peer && peer.lastSeen < lastSeen) peers.set(fingerprint, { ...peer, lastSeen });
      }
      return {
        [APPROVALS_ENTRY]: JSON.stringify({ version: 1, peers: sorted(peers) }, null, 2) + "\n",
      };
    });
    for (const [fingerprint, lastSeen] of seen) {
      if (this.#seen.get(fingerprint) === lastSeen) this.#seen.delete(fingerprint);
    }
  }

  /** `peer` with its unwritten "last seen" time, if any. */
  #withSeen(peer: ApprovedPeer | undefined): ApprovedPeer | undefined {
    const lastSeen = peer && this.#seen.get(peer.fingerprint);
    return lastSeen && lastSeen > peer.lastSeen ? { ...peer, lastSeen } : peer;
  }
}

function sorted(peers: Map<string, ApprovedPeer>): ApprovedPeer[] {
  return [...peers.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Parses the approvals entry; absent means none. */
function parseApprovals(text: string | undefined, where: string): Map<string, ApprovedPeer> {
  const out = new Map<string, ApprovedPeer>();
  if (text === undefined) return out;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new ApprovalsFileError(`Cannot read ${where}: not JSON`, { cause });
  }
  const peers = (data as { peers?: unknown })?.peers;
  if (!Array.isArray(peers)) {
    throw new ApprovalsFileError(`Cannot read ${where}: expected {"peers": [...]}`);
  }
  for (const peer of peers as ApprovedPeer[]) {
    if (typeof peer?.fingerprint !== "string" || typeof peer?.name !== "string") {
      throw new ApprovalsFileError(`Cannot read ${where}: a peer lacks name or key`);
    }
    out.set(peer.fingerprint, { ...peer });
  }
  return out;
}
