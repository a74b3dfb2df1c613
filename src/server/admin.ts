/**
 * What the operator does to a running server through the admin API: join
 * requests (through the acceptor's optional capabilities), approved peers,
 * revocation, the deny list.
 *
 * @module
 */

import type { PeerEntry } from "../admin/mod.ts";
import type { Logger } from "../log/mod.ts";
import { addTraffic, noTraffic, type Traffic } from "../metrics/mod.ts";
import { GoAwayCode } from "../protocol/mod.ts";
import type { ServerAccounting } from "./accounting.ts";
import type { Acceptor, PendingRequest } from "./acceptor.ts";
import type { ApprovalStore } from "./approvals.ts";
import { DEFAULT_DENY_FOR_MS, type DeniedKey, type DenyList } from "./deny_list.ts";
import type { PeerRegistry } from "./peers.ts";
import type { PortAssignments } from "../client/mod.ts";

/** A peer as the admin API lists it ({@linkcode PeerEntry}), with its traffic. */
export interface PeerInfo extends PeerEntry, Traffic {}

/** What the admin facade works on. */
export interface ServerAdminOptions {
  /** Decides who may join; its optional capabilities answer for requests. */
  acceptor: Acceptor;
  /** Approved peers (for listing and revoking). */
  approvals?: ApprovalStore;
  /** Ports kept per (peer, app); a revoked peer's are forgotten. */
  ports?: PortAssignments;
  /** Keys refused by the operator. */
  denied: DenyList;
  /** How long `decline` and `revoke` deny a key, in ms; 0 = for good. */
  denyForMs?: number;
  /** The connected peers. */
  peers: PeerRegistry;
  /** Traffic per (peer, app). */
  accounting: ServerAccounting;
  /** Where to log. */
  log: Logger;
}

/** The operator's view of a server and what the operator may do to it. */
export class ServerAdmin {
  #options: ServerAdminOptions;

  /** A facade over `options`. */
  constructor(options: ServerAdminOptions) {
    this.#options = options;
  }

  /** Join requests waiting for the operator (none when the acceptor does not ask one). */
  requests(): PendingRequest[] {
    return this.#options.acceptor.pending?.() ?? [];
  }

  /** Approves a waiting request; false when there is none for `fingerprint`. */
  accept(fingerprint: string): Promise<boolean> {
    return this.#options.acceptor.accept?.(fingerprint) ?? Promise.resolve(false);
  }

  /**
   * Declines a waiting request and denies its key for `denyForMs`; false
   * when there is no request for `fingerprint`.
   */
  async decline(fingerprint: string): Promise<boolean> {
    const { acceptor } = this.#options;
    const request = this.requests().find((r) => r.fingerprint === fingerprint);
    if (!request || !acceptor.decline) return false;
    // Denied first: the refused client must not slip back in as a new request.
    await this.#deny(fingerprint, request.name, "declined");
    acceptor.decline(fingerprint);
    return true;
  }

  /** Keys denied now, oldest first. */
  denied(): DeniedKey[] {
    return this.#options.denied.list();
  }

  /** Lifts the denial of `fingerprint`; false when it is not denied. */
  async removeDenied(fingerprint: string): Promise<boolean> {
    const removed = await this.#options.denied.remove(fingerprint);
    if (removed) this.#options.log.info("key no longer denied", { fingerprint });
    return removed;
  }

  /** Approved and connected peers, by name. */
  peers(): PeerInfo[] {
    const traffic = new Map<string, Traffic>();
    const accounting = this.#options.accounting;
    for (const t of accounting.traffic()) {
      const sum = traffic.get(t.peer) ?? { ...noTraffic(), ...accounting.retired(t.peer) };
      traffic.set(t.peer, addTraffic(sum, t));
    }
    const out = new Map<string, PeerInfo>();
    for (const approved of this.#options.approvals?.list() ?? []) {
      out.set(approved.name, {
        name: approved.name,
        fingerprint: approved.fingerprint,
        connected: false,
        apps: [],
        lastSeen: approved.lastSeen,
        ...(traffic.get(approved.name) ?? accounting.retired(approved.name) ?? noTraffic()),
      });
    }
    for (const peer of this.#options.peers.values()) {
      out.set(peer.name, {
        name: peer.name,
        fingerprint: peer.fingerprint,
        connected: true,
        apps: [...peer.apps.keys()].sort(),
        lastSeen: out.get(peer.name)?.lastSeen ?? peer.connectedAt.toISOString(),
        remote: peer.remote,
        connectedSince: peer.connectedAt.toISOString(),
        ...(traffic.get(peer.name) ?? accounting.retired(peer.name) ?? noTraffic()),
      });
    }
    return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Forgets a peer's approval, denies its key for `denyForMs` and
   * disconnects it. False when no peer has that name.
   */
  async revoke(name: string): Promise<boolean> {
    const { approvals, peers, ports, log } = this.#options;
    const peer = peers.get(name);
    const fingerprint = approvals?.byName(name)?.fingerprint ?? peer?.fingerprint;
    // Denied first: the disconnected peer must not come back as a new request.
    if (fingerprint) await this.#deny(fingerprint, name, "revoked");
    const approval = await approvals?.revoke(name);
    ports?.forgetPeer(name);
    if (peer) {
      peer.mux.goAway(GoAwayCode.Rejected, "revoked by the operator");
      await peers.remove(peer, "revoked");
    }
    if (approval || peer) log.info("peer revoked", { peer: name });
    return Boolean(approval || peer);
  }

  async #deny(fingerprint: string, name: string, reason: string): Promise<void> {
    const denial = await this.#options.denied.deny(
      fingerprint,
      name,
      reason,
      this.#options.denyForMs ?? DEFAULT_DENY_FOR_MS,
    );
    this.#options.log.info("key denied", {
      peer: name,
      fingerprint,
      reason,
      until: denial.until ?? "forever",
      hint: `wormhole denied remove ${fingerprint}`,
    });
  }
}
