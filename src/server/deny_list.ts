/**
 * Keys the operator refused (`requests decline`, `peers revoke`): kept in the
 * server's state (entry `denied.json`) for `--deny-for` (or for good), and
 * checked right after a ClientHello decodes, before any RSA work, so a
 * refused client costs the server a hash per attempt and nothing else.
 *
 * @module
 */

import { StateStore } from "../state/mod.ts";

/** Entry of the server's state holding the deny list. */
export const DENIED_ENTRY = "denied.json";

/** Default time a refused key stays denied: 24 h. */
export const DEFAULT_DENY_FOR_MS = 24 * 3_600_000;

/** One denied key. */
export interface DeniedKey {
  /** Key fingerprint. */
  fingerprint: string;
  /** The name it used. */
  name: string;
  /** Why: `declined` or `revoked`. */
  reason: string;
  /** ISO time it was denied. */
  since: string;
  /** ISO time the denial ends; null: never. */
  until: string | null;
}

/** The deny list entry cannot be understood. */
export class DenyListError extends SyntaxError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DenyListError";
  }
}

/** Denied keys, by fingerprint; every change is written through, expired denials dropped. */
export class DenyList {
  #state: StateStore;
  #parsed: { text: string | undefined; keys: Map<string, DeniedKey> } | null = null;

  private constructor(state: StateStore) {
    this.#state = state;
  }

  /**
   * The deny list kept in `state`.
   *
   * @throws {DenyListError} when the entry exists but cannot be understood.
   */
  static open(state: StateStore): DenyList {
    const list = new DenyList(state);
    list.#keys();
    return list;
  }

  /** A deny list in memory (nothing persisted). */
  static memory(): DenyList {
    return new DenyList(StateStore.memory());
  }

  /** The list as stored now; an outside edit that cannot be read keeps the last good list. */
  #keys(): Map<string, DeniedKey> {
    const text = this.#state.get(DENIED_ENTRY);
    if (this.#parsed && this.#parsed.text === text) return this.#parsed.keys;
    try {
      this.#parsed = { text, keys: parseDenied(text, this.#state.describe(DENIED_ENTRY)) };
    } catch (error) {
      if (!this.#parsed) throw error;
    }
    return this.#parsed!.keys;
  }

  /** The denial of `fingerprint` in force at `now`, if any. */
  check(fingerprint: string, now: number = Date.now()): DeniedKey | undefined {
    const denied = this.#keys().get(fingerprint);
    return denied && active(denied, now) ? denied : undefined;
  }

  /** Denials in force, oldest first. */
  list(now: number = Date.now()): DeniedKey[] {
    return [...this.#keys().values()].filter((key) => active(key, now))
      .sort((a, b) => a.since.localeCompare(b.since) || a.fingerprint.localeCompare(b.fingerprint));
  }

  /** Denies `fingerprint` for `forMs` (0: for good), replacing an earlier denial. */
  async deny(fingerprint: string, name: string, reason: string, forMs: number): Promise<DeniedKey> {
    const now = Date.now();
    const key: DeniedKey = {
      fingerprint,
      name,
      reason,
      since: new Date(now).toISOString(),
      until: forMs > 0 ? new Date(now + forMs).toISOString() : null,
    };
    await this.#change((keys) => {
      keys.set(fingerprint, key);
      return true;
    });
    return key;
  }

  /** Lifts the denial of `fingerprint`; false when it was not denied. */
  async remove(fingerprint: string): Promise<boolean> {
    let removed = false;
    await this.#change((keys) => {
      // Expired denials were dropped before this runs.
      removed = keys.delete(fingerprint);
      return removed;
    });
    return removed;
  }

  async #change(edit: (keys: Map<string, DeniedKey>) => boolean): Promise<void> {
    const where = this.#state.describe(DENIED_ENTRY);
    await this.#state.update((entries) => {
      const keys = parseDenied(entries[DENIED_ENTRY], where);
      const now = Date.now();
      let pruned = false;
      for (const [fingerprint, key] of keys) {
        if (!active(key, now)) pruned = keys.delete(fingerprint) || pruned;
      }
      if (!edit(keys) && !pruned) return undefined;
      const list = [...keys.values()].sort((a, b) => a.since.localeCompare(b.since));
      return { [DENIED_ENTRY]: JSON.stringify({ version: 1, denied: list }, null, 2) + "\n" };
    });
  }
}

function active(key: DeniedKey, now: number): boolean {
  return key.until === null || Date.parse(key.until) > now;
}

function parseDenied(text: string | undefined, where: string): Map<string, DeniedKey> {
  const out = new Map<string, DeniedKey>();
  if (text === undefined) return out;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new DenyListError(`Cannot read ${where}: not JSON`, { cause });
  }
  const denied = (data as { denied?: unknown })?.denied;
  if (!Array.isArray(denied)) {
    throw new DenyListError(`Cannot read ${where}: expected {"denied": [...]}`);
  }
  for (const key of denied as DeniedKey[]) {
    const until = key?.until;
    if (
      typeof key?.fingerprint !== "string" || typeof key.since !== "string" ||
      !(until === null || (typeof until === "string" && !Number.isNaN(Date.parse(until))))
    ) {
      throw new DenyListError(`Cannot read ${where}: a denial lacks fingerprint, since or until`);
    }
    out.set(key.fingerprint, {
      fingerprint: key.fingerprint,
      name: String(key.name ?? ""),
      reason: String(key.reason ?? ""),
      since: key.since,
      until,
    });
  }
  return out;
}
