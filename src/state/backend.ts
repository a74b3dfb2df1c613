/**
 * The contract between the state layer and where state is kept: a document
 * of named text entries (a key file, the approvals as JSON, …), read whole
 * and written whole, with a version that makes every write conditional.
 *
 * Backends: files in a directory ({@linkcode FileStateBackend}), memory
 * (tests, the dummy acceptor) and, in `src/k8s`, one Kubernetes Secret. The
 * interface lives here, at the bottom of the stack, so that the layers that
 * use state never import Kubernetes.
 *
 * @module
 */

/** The stored document at one version. */
export interface StateSnapshot {
  /** Entry name → text. Absent entries are not stored. */
  readonly entries: Readonly<Record<string, string>>;
  /**
   * Opaque version of the stored document: a write based on this snapshot
   * fails with {@linkcode StateConflictError} once anything else wrote. `""`
   * when nothing is stored yet.
   */
  readonly version: string;
}

/** Where a state document is kept. */
export interface StateBackend {
  /** What and where, for logs and errors: `directory /x`, `Secret ns/name`. */
  readonly name: string;
  /** Names one entry for errors: `/x/approved-peers.json`, `key "k" of Secret ns/name`. */
  describe(key: string): string;
  /**
   * Reads the stored document.
   *
   * @throws {StateDataError} when an entry cannot be read as text.
   */
  read(): Promise<StateSnapshot>;
  /**
   * Stores `entries` (the whole document) if the stored one is still at
   * `base.version`; returns the new snapshot.
   *
   * @throws {StateConflictError} when something else wrote since `base`.
   */
  write(entries: Readonly<Record<string, string>>, base: StateSnapshot): Promise<StateSnapshot>;
  /**
   * Reports documents written by others until `signal` aborts (then
   * resolves). Backends that cannot watch resolve when `signal` aborts.
   */
  watch(onChange: (snapshot: StateSnapshot) => void, signal: AbortSignal): Promise<void>;
}

/** Something else wrote the document since it was read: read again, re-apply the change. */
export class StateConflictError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StateConflictError";
  }
}

/** An entry of the stored document cannot be understood. The message names where it is. */
export class StateDataError extends SyntaxError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StateDataError";
  }
}
