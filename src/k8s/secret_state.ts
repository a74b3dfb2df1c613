/**
 * A state document kept in one Kubernetes Secret (`--state kubernetes`): each
 * entry is a key of the Secret's `data`. Writes are conditional on the
 * resourceVersion that was read (PUT with `metadata.resourceVersion`, or
 * POST when the Secret does not exist yet), so a concurrent writer makes
 * them fail with 409 Conflict, which the state layer answers by reading
 * again and re-applying its change. Edits made by others (`kubectl edit`,
 * another process) arrive through a watch of that one Secret, by field
 * selector, which is what RBAC `resourceNames` allows for list and watch.
 *
 * @module
 */

import { type Logger, silentLogger } from "../log/mod.ts";
import {
  type StateBackend,
  StateConflictError,
  StateDataError,
  type StateSnapshot,
} from "../state/mod.ts";
import { getObject, type KubeApi } from "./api.ts";
import { KubernetesApiError } from "./errors.ts";
import { LABEL_MANAGED_BY, MANAGER, resourcePath, type Secret, SECRETS } from "./objects.ts";
import { Reflector, type WatchPolicy } from "./reflector.ts";

/** Default Secret of the server's state. */
export const SERVER_STATE_SECRET = "wormhole-server-state";
/** Default Secret of a client's state. */
export const CLIENT_STATE_SECRET = "wormhole-client-state";

const EMPTY: StateSnapshot = { entries: {}, version: "" };

/** A {@linkcode StateBackend} on one Secret. */
export class SecretStateBackend implements StateBackend {
  /** What and where, for logs and errors. */
  readonly name: string;
  #api: KubeApi;
  #namespace: string;
  #secret: string;
  #log: Logger;
  #policy: WatchPolicy;
  /** Labels and annotations others put on the Secret, kept on every write. */
  #metadata: Pick<Secret["metadata"], "labels" | "annotations"> = {};
  /** The newest resourceVersion seen, so that a late watch event never rolls the state back. */
  #newest = -1n;

  /** Keeps the state in Secret `namespace/secret`. */
  constructor(
    api: KubeApi,
    namespace: string,
    secret: string,
    options?: { logger?: Logger; policy?: WatchPolicy },
  ) {
    this.#api = api;
    this.#namespace = namespace;
    this.#secret = secret;
    this.name = `Secret ${namespace}/${secret}`;
    this.#log = options?.logger ?? silentLogger;
    // The state must keep following edits for the life of the process: never give up.
    this.#policy = { maxFailures: Number.MAX_SAFE_INTEGER, ...options?.policy };
  }

  /** Names one entry for errors. */
  describe(key: string): string {
    return `key "${key}" of ${this.name}`;
  }

  /** Reads the stored document; see {@linkcode StateBackend.read}. */
  async read(): Promise<StateSnapshot> {
    let secret: Secret | undefined;
    try {
      secret = await getObject<Secret>(this.#api, SECRETS, this.#namespace, this.#secret);
    } catch (error) {
      throw this.#failed("read", error);
    }
    return secret ? this.#decode(secret) : EMPTY;
  }

  /** Stores the document if unchanged since `base`; see {@linkcode StateBackend.write}. */
  async write(
    entries: Readonly<Record<string, string>>,
    base: StateSnapshot,
  ): Promise<StateSnapshot> {
    const data: Record<string, string> = {};
    for (const [key, value] of Object.entries(entries)) {
      data[key] = new TextEncoder().encode(value).toBase64();
    }
    const body: Secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: this.#secret,
        namespace: this.#namespace,
        ...this.#metadata,
        labels: { ...this.#metadata.labels, [LABEL_MANAGED_BY]: MANAGER },
      },
      type: "Opaque",
      data,
    };
    let stored: Secret;
    try {
      if (base.version === "") {
        stored = await this.#api.request<Secret>({
          method: "POST",
          path: resourcePath(SECRETS, this.#namespace),
          body,
        });
      } else {
        body.metadata.resourceVersion = base.version;
        stored = await this.#api.request<Secret>({
          method: "PUT",
          path: resourcePath(SECRETS, this.#namespace, this.#secret),
          body,
        });
      }
    } catch (error) {
      // 409: changed (or created) by someone else since `base`; 404: deleted since.
      if (error instanceof KubernetesApiError && (error.status === 409 || error.notFound)) {
        throw new StateConflictError(`Cannot write ${this.name}: ${error.message}`, {
          cause: error,
        });
      }
      throw this.#failed("write", error);
    }
    return this.#decode(stored);
  }

  /** Reports documents written by others until `signal` aborts. */
  async watch(onChange: (snapshot: StateSnapshot) => void, signal: AbortSignal): Promise<void> {
    const emit = (secret: Secret, deleted = false) => {
      const version = numeric(secret.metadata.resourceVersion);
      if (version !== null && version <= this.#newest) return;
      if (deleted) {
        if (version !== null) this.#newest = version;
        this.#log.warn("the state Secret was deleted: it is created again at the next change", {
          secret: this.name,
        });
        onChange(EMPTY);
        return;
      }
      try {
        onChange(this.#decode(secret));
      } catch (error) {
        this.#log.error("cannot use the edited state Secret: keeping the state I have", { error });
      }
    };
    const reflector = new Reflector(this.#api, SECRETS, {
      namespace: this.#namespace,
      fieldSelector: `metadata.name=${this.#secret}`,
      policy: this.#policy,
      logger: this.#log.with({ component: "state" }),
    });
    await reflector.run({
      // A list without the Secret says nothing new: it was never written, or a
      // later write creates it again (a write after a deletion gets 404 and re-reads).
      replace: (items) => {
        const secret = items.find((item) => item.metadata.name === this.#secret);
        if (secret) emit(secret);
      },
      upsert: (item) => emit(item),
      remove: (item) => emit(item, true),
    }, signal);
  }

  /**
   * The entries of `secret`.
   *
   * @throws {StateDataError} naming the Secret and key that cannot be read.
   */
  #decode(secret: Secret): StateSnapshot {
    const entries: Record<string, string> = {};
    for (const [key, value] of Object.entries(secret.data ?? {})) {
      let bytes: Uint8Array;
      try {
        bytes = Uint8Array.fromBase64(String(value));
      } catch (cause) {
        throw new StateDataError(`Cannot read ${this.describe(key)}: not base64`, { cause });
      }
      try {
        entries[key] = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch (cause) {
        throw new StateDataError(`Cannot read ${this.describe(key)}: not UTF-8 text`, { cause });
      }
    }
    const { labels, annotations } = secret.metadata;
    this.#metadata = { labels, annotations };
    const version = secret.metadata.resourceVersion ?? "";
    const newest = numeric(version);
    if (newest !== null && newest > this.#newest) this.#newest = newest;
    return { entries, version };
  }

  #failed(what: "read" | "write", error: unknown): Error {
    const reason = error instanceof Error ? error.message : String(error);
    return new KubernetesApiError(
      error instanceof KubernetesApiError ? error.status : 0,
      error instanceof KubernetesApiError ? error.reason : "Unknown",
      `Cannot ${what} ${this.name}: ${reason}`,
      { cause: error },
    );
  }
}

/**
 * A resourceVersion as a number, or null. They are opaque in general; every
 * API server in use returns etcd revisions, which only grow, and comparing
 * them is the only way to tell a late watch event from a newer write.
 */
function numeric(version: string | undefined): bigint | null {
  return version && /^\d{1,30}$/.test(version) ? BigInt(version) : null;
}
