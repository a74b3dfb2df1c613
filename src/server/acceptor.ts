/**
 * Acceptors decide whether a peer that completed its hello may use the
 * tunnel: `dummy` accepts everyone, `server` waits for an operator.
 *
 * @module
 */

import type { Logger } from "../log/mod.ts";
import { silentLogger } from "../log/mod.ts";
import type { Decision } from "../crypto/mod.ts";
import type { ApprovalStore } from "./approvals.ts";
import { hostOf } from "./handshake_limits.ts";

/** What an acceptor knows about a peer asking to join. */
export interface JoinRequest {
  /** The name the peer gave in its hello. */
  name: string;
  /** Fingerprint of the peer's public key. */
  fingerprint: string;
  /** The peer's remote address, `host:port`. */
  remote: string;
  /** Aborted when the peer goes away before a decision. */
  signal: AbortSignal;
}

/**
 * Decides on join requests; may take as long as an operator needs. An
 * acceptor that keeps requests waiting for someone (the operator) offers the
 * optional capabilities; the server's admin API answers through them.
 */
export interface Acceptor {
  /** A short name for logs: `dummy` or `server`. */
  readonly kind: string;
  /** Decides on `request`. */
  decide(request: JoinRequest): Promise<Decision>;
  /** Requests waiting for a decision, oldest first. */
  pending?(): PendingRequest[];
  /** Approves a waiting request; false when none has that fingerprint. */
  accept?(fingerprint: string): Promise<boolean>;
  /** Refuses a waiting request; false when none has that fingerprint. */
  decline?(fingerprint: string): boolean;
}

/** Accepts every peer. For local development and trusted networks only. */
export class DummyAcceptor implements Acceptor {
  /** Shown in logs. */
  readonly kind = "dummy";
  /** Accepts. */
  decide(): Promise<Decision> {
    return Promise.resolve({ accepted: true });
  }
}

/** A join request waiting for the operator. */
export interface PendingRequest {
  /** Fingerprint of the peer's key: what the operator accepts or declines. */
  fingerprint: string;
  /** The name the peer asks for. */
  name: string;
  /** Where it connects from. */
  remote: string;
  /** When it started waiting (ISO time). */
  since: string;
}

/** Default limit of requests waiting at once. */
export const DEFAULT_MAX_PENDING = 32;
/** Default limit of requests waiting at once from one remote address (host, any port). */
export const DEFAULT_MAX_PENDING_PER_REMOTE = 4;

/** The operator's answer could not be applied. */
export class ApprovalConflictError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ApprovalConflictError";
  }
}

interface Waiting extends PendingRequest {
  settle(decision: Decision): void;
}

/**
 * Manual approval: a key is accepted once an operator approved its
 * fingerprint (`wormhole requests accept <FP>`). Approvals are persisted; a
 * name is pinned to the key it was approved with.
 */
export class ManualAcceptor implements Acceptor {
  /** Shown in logs. */
  readonly kind = "server";
  #store: ApprovalStore;
  #maxPending: number;
  #maxPerRemote: number;
  #log: Logger;
  #pending = new Map<string, Waiting>();

  /**
   * Creates a manual acceptor over `store`. At most `maxPending` requests
   * wait at once, and at most `maxPendingPerRemote` from one remote host: a
   * host over its share expires its own oldest request, so one address
   * cycling fresh keys cannot fill the queue and lock out enrollment.
   */
  constructor(
    store: ApprovalStore,
    options?: { maxPending?: number; maxPendingPerRemote?: number; logger?: Logger },
  ) {
    this.#store = store;
    this.#maxPending = options?.maxPending ?? DEFAULT_MAX_PENDING;
    this.#maxPerRemote = options?.maxPendingPerRemote ?? DEFAULT_MAX_PENDING_PER_REMOTE;
    this.#log = options?.logger ?? silentLogger;
  }

  /** Accepts an approved key at once; else waits for the operator's decision. */
  decide(request: JoinRequest): Promise<Decision> {
    const { name, fingerprint } = request;
    const approved = this.#store.get(fingerprint);
    if (approved) {
      if (approved.name !== name) {
        this.#log.warn("refusing peer: its key is approved for another name", {
          peer: name,
          fingerprint,
          approvedName: approved.name,
        });
        return Promise.resolve({
          accepted: false,
          reason: `this key is approved for the name "${approved.name}", not "${name}"`,
        });
      }
      // "Last seen" is recorded once the handshake completes (the server), not here: a
      // replayed hello gets this far and must not cost a state write.
      return Promise.resolve({ accepted: true });
    }
    const owner = this.#store.byName(name);
    if (owner) {
      this.#log.warn("refusing peer: the name is pinned to another key", {
        peer: name,
        fingerprint,
        pinnedFingerprint: owner.fingerprint,
      });
      return Promise.resolve({
        accepted: false,
        reason: `the name "${name}" is pinned to another key (${owner.fingerprint})`,
      });
    }
    const host = hostOf(request.remote);
    const older = this.#pending.get(fingerprint);
    if (older && hostOf(older.remote) !== host) {
      // The hello proves nothing yet (the key is public): a copy of a waiting
      // client's hello from elsewhere must not push the real one out.
      this.#log.warn("refusing peer: a request of this key is already waiting", {
        peer: name,
        fingerprint,
        waitingFrom: older.remote,
      });
      return Promise.resolve({
        accepted: false,
        reason: "a request of this key is already waiting from another address",
      });
    }
    if (older) {
      this.#pending.delete(fingerprint);
      older.settle({ accepted: false, reason: "replaced by a newer connection of the same key" });
    }
    const fromHost = [...this.#pending.values()].filter((w) => hostOf(w.remote) === host);
    if (fromHost.length >= this.#maxPerRemote) {
      const oldest = fromHost.reduce((a, b) => (b.since < a.since ? b : a));
      this.#pending.delete(oldest.fingerprint);
      this.#log.warn("expiring the oldest pending request of a remote address", {
        remote: host,
        fingerprint: oldest.fingerprint,
        limit: this.#maxPerRemote,
      });
      oldest.settle({
        accepted: false,
        reason: `expired: more than ${this.#maxPerRemote} requests from ${host}`,
      });
    }
    if (this.#pending.size >= this.#maxPending) {
      this.#log.warn("refusing peer: too many pending requests", {
        peer: name,
        fingerprint,
        limit: this.#maxPending,
      });
      return Promise.resolve({
        accepted: false,
        reason: `too many pending requests (${this.#maxPending}); try again later`,
      });
    }
    return new Promise<Decision>((resolve) => {
      const waiting: Waiting = {
        fingerprint,
        name,
        remote: request.remote,
        since: new Date().toISOString(),
        settle: (decision) => {
          request.signal.removeEventListener("abort", onAbort);
          resolve(decision);
        },
      };
      const onAbort = () => {
        if (this.#pending.get(fingerprint) === waiting) this.#pending.delete(fingerprint);
        waiting.settle({ accepted: false, reason: "connection closed" });
      };
      if (request.signal.aborted) return onAbort();
      request.signal.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(fingerprint, waiting);
      this.#log.info("peer waiting for approval", {
        peer: name,
        fingerprint,
        remote: request.remote,
        hint: `wormhole requests accept ${fingerprint}`,
      });
    });
  }

  /** Requests waiting for a decision, oldest first. */
  pending(): PendingRequest[] {
    return [...this.#pending.values()]
      .map(({ fingerprint, name, remote, since }) => ({ fingerprint, name, remote, since }))
      .sort((a, b) => a.since.localeCompare(b.since));
  }

  /**
   * Approves a pending request. Returns false when no request has that fingerprint.
   *
   * @throws {ApprovalConflictError} when the name was meanwhile approved for another key.
   */
  async accept(fingerprint: string): Promise<boolean> {
    const waiting = this.#pending.get(fingerprint);
    if (!waiting) return false;
    const owner = this.#store.byName(waiting.name);
    if (owner && owner.fingerprint !== fingerprint) {
      throw new ApprovalConflictError(
        `Cannot accept ${fingerprint}: the name "${waiting.name}" is pinned to ${owner.fingerprint}`,
      );
    }
    await this.#store.approve(fingerprint, waiting.name);
    this.#pending.delete(fingerprint);
    this.#log.info("peer approved", { peer: waiting.name, fingerprint });
    waiting.settle({ accepted: true });
    return true;
  }

  /** Declines a pending request. Returns false when no request has that fingerprint. */
  decline(fingerprint: string): boolean {
    const waiting = this.#pending.get(fingerprint);
    if (!waiting) return false;
    this.#pending.delete(fingerprint);
    this.#log.info("peer declined", { peer: waiting.name, fingerprint });
    waiting.settle({ accepted: false, reason: "declined by the operator" });
    return true;
  }
}
