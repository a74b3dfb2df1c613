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
import type { PendingBoard, PendingRequest } from "./pending_board.ts";

export type { PendingRequest } from "./pending_board.ts";

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
  #board: PendingBoard | undefined;
  #syncing: Promise<void> = Promise.resolve();
  #renewal: number | undefined;
  /** A publish of the board waits to run; it will take the list as it is then. */
  #publishQueued = false;

  /**
   * Creates a manual acceptor over `store`. At most `maxPending` requests
   * wait at once, and at most `maxPendingPerRemote` from one remote host: a
   * host over its share expires its own oldest request, so one address
   * cycling fresh keys cannot fill the queue and lock out enrollment.
   */
  constructor(
    store: ApprovalStore,
    options?: {
      maxPending?: number;
      maxPendingPerRemote?: number;
      logger?: Logger;
      /**
       * `--ha`: publish waiting requests to the replicas' shared board, list
       * theirs, and answer theirs (an accept approves the key in the shared
       * state; a decline marks their entry).
       */
      board?: PendingBoard;
    },
  ) {
    this.#store = store;
    this.#maxPending = options?.maxPending ?? DEFAULT_MAX_PENDING;
    this.#maxPerRemote = options?.maxPendingPerRemote ?? DEFAULT_MAX_PENDING_PER_REMOTE;
    this.#log = options?.logger ?? silentLogger;
    this.#board = options?.board;
    this.#board?.onChange(() => this.#decidedElsewhere());
  }

  /** Resolves once the board has every change made so far (for tests and shutdown). */
  settled(): Promise<void> {
    return this.#syncing;
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
          this.#sync();
        },
      };
      const onAbort = () => {
        if (this.#pending.get(fingerprint) === waiting) this.#pending.delete(fingerprint);
        waiting.settle({ accepted: false, reason: "connection closed" });
      };
      if (request.signal.aborted) return onAbort();
      request.signal.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(fingerprint, waiting);
      this.#sync();
      this.#log.info("peer waiting for approval", {
        peer: name,
        fingerprint,
        remote: request.remote,
        hint: `wormhole requests accept ${fingerprint}`,
      });
    });
  }

  /** Requests waiting for a decision (with `--ha`, on every replica), oldest first. */
  pending(): PendingRequest[] {
    const board = this.#board;
    const local: PendingRequest[] = [...this.#pending.values()]
      .map(({ fingerprint, name, remote, since }) =>
        board ? { fingerprint, name, remote, since, replica: board.replica } : {
          fingerprint,
          name,
          remote,
          since,
        }
      );
    const elsewhere: PendingRequest[] = (board?.list() ?? [])
      .filter((r) =>
        r.replica !== board?.replica && !r.declined && !this.#pending.has(r.fingerprint)
      )
      .map(({ fingerprint, name, remote, since, replica, expires }) => ({
        fingerprint,
        name,
        remote,
        since,
        replica,
        expires,
      }));
    return [...local, ...elsewhere].sort((a, b) => a.since.localeCompare(b.since));
  }

  /** Publishes the local requests to the board; renews them while any wait. */
  #sync(): void {
    const board = this.#board;
    if (!board) return;
    const local = this.pending().filter((r) => r.replica === board.replica);
    if (local.length > 0 && this.#renewal === undefined) {
      this.#renewal = setInterval(() => this.#sync(), board.ttlMs / 3) as unknown as number;
    } else if (local.length === 0 && this.#renewal !== undefined) {
      clearInterval(this.#renewal);
      this.#renewal = undefined;
    }
    // A burst of changes (a flood of fresh keys waiting, replacing and
    // expiring each other) costs one write of the latest list, not one each.
    if (this.#publishQueued) return;
    this.#publishQueued = true;
    this.#syncing = this.#syncing.then(() => {
      this.#publishQueued = false;
      return board.publish(this.pending().filter((r) => r.replica === board.replica));
    }).catch((error) =>
      this.#log.warn("cannot publish the pending requests to the other replicas", { error })
    );
  }

  /** The shared state changed: settles local requests another replica's operator answered. */
  #decidedElsewhere(): void {
    const declined = new Set(
      (this.#board?.list() ?? []).filter((r) => r.replica === this.#board?.replica && r.declined)
        .map((r) => r.fingerprint),
    );
    for (const waiting of [...this.#pending.values()]) {
      const { fingerprint, name } = waiting;
      if (this.#store.get(fingerprint)?.name === name) {
        this.#pending.delete(fingerprint);
        this.#log.info("peer approved on another replica", { peer: name, fingerprint });
        waiting.settle({ accepted: true });
      } else if (declined.has(fingerprint)) {
        this.#pending.delete(fingerprint);
        this.#log.info("peer declined on another replica", { peer: name, fingerprint });
        waiting.settle({ accepted: false, reason: "declined by the operator" });
      }
    }
  }

  /**
   * Approves a pending request. Returns false when no request has that fingerprint.
   *
   * @throws {ApprovalConflictError} when the name was meanwhile approved for another key.
   */
  async accept(fingerprint: string): Promise<boolean> {
    const waiting = this.#pending.get(fingerprint) ?? this.#board?.elsewhere(fingerprint);
    if (!waiting || ("declined" in waiting && waiting.declined)) return false;
    const owner = this.#store.byName(waiting.name);
    if (owner && owner.fingerprint !== fingerprint) {
      throw new ApprovalConflictError(
        `Cannot accept ${fingerprint}: the name "${waiting.name}" is pinned to ${owner.fingerprint}`,
      );
    }
    await this.#store.approve(fingerprint, waiting.name);
    if (!("settle" in waiting)) {
      // Waiting on another replica: it settles when it sees the approval in the shared state.
      this.#log.info("peer approved for another replica", {
        peer: waiting.name,
        fingerprint,
        replica: waiting.replica,
      });
      return true;
    }
    this.#pending.delete(fingerprint);
    this.#log.info("peer approved", { peer: waiting.name, fingerprint });
    waiting.settle({ accepted: true });
    return true;
  }

  /** Declines a pending request. Returns false when no request has that fingerprint. */
  decline(fingerprint: string): boolean {
    const waiting = this.#pending.get(fingerprint);
    const elsewhere = waiting ? undefined : this.#board?.elsewhere(fingerprint);
    if (elsewhere && !elsewhere.declined) {
      const board = this.#board!;
      this.#log.info("peer declined for another replica", {
        peer: elsewhere.name,
        fingerprint,
        replica: elsewhere.replica,
      });
      this.#syncing = this.#syncing.then(() => board.decline(fingerprint)).then(
        () => {},
        (error) => this.#log.warn("cannot tell the other replicas of a decline", { error }),
      );
      return true;
    }
    if (!waiting) return false;
    this.#pending.delete(fingerprint);
    this.#log.info("peer declined", { peer: waiting.name, fingerprint });
    waiting.settle({ accepted: false, reason: "declined by the operator" });
    return true;
  }
}
