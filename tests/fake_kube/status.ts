/**
 * Kubernetes `Status` objects (meta/v1) as the API server sends them for failures, and the
 * error class the fake server throws internally to produce them.
 *
 * @module
 */

/** The `reason` values of a failure `Status` that the fake server produces. */
export type StatusReason =
  | "BadRequest"
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Expired"
  | "Gone"
  | "Invalid"
  | "MethodNotAllowed"
  | "UnsupportedMediaType"
  | "NotAcceptable"
  | "Timeout"
  | "InternalError";

/** One entry of `Status.details.causes`. */
export interface StatusCause {
  /** Machine-readable cause, e.g. `FieldValueInvalid` or `ResourceVersionTooLarge`. */
  reason?: string;
  /** Human-readable description. */
  message?: string;
  /** The field the cause refers to, e.g. `metadata.name`. */
  field?: string;
}

/** The `details` of a `Status`: which object the failure is about. */
export interface StatusDetails {
  /** Name of the object, when the failure is about one object. */
  name?: string;
  /** API group of the resource (omitted for the core group). */
  group?: string;
  /** Resource (plural, lower case) of the object, e.g. `services`. */
  kind?: string;
  /** Further causes. */
  causes?: StatusCause[];
}

/** A meta/v1 `Status` object with `status: "Failure"`. */
export interface Status {
  /** Always `Status`. */
  kind: "Status";
  /** Always `v1`. */
  apiVersion: "v1";
  /** Always empty. */
  metadata: Record<string, never>;
  /** Always `Failure`. */
  status: "Failure";
  /** Human-readable message. */
  message: string;
  /** Machine-readable reason. */
  reason: StatusReason;
  /** Which object the failure is about, when known. */
  details?: StatusDetails;
  /** The HTTP status code that goes with the reason. */
  code: number;
}

/** An error that carries the `Status` the fake server answers with. */
export class KubeStatusError extends Error {
  /** The `Status` to send. */
  readonly status: Status;

  /**
   * Creates an error carrying `status`.
   *
   * @param status The `Status` body that the server answers with.
   */
  constructor(status: Status) {
    super(status.message);
    this.name = "KubeStatusError";
    this.status = status;
  }
}

/**
 * Builds a failure `Status`.
 *
 * @param code HTTP status code.
 * @param reason Machine-readable reason.
 * @param message Human-readable message.
 * @param details Optional details.
 * @returns The `Status` object.
 */
export function failureStatus(
  code: number,
  reason: StatusReason,
  message: string,
  details?: StatusDetails,
): Status {
  const status: Status = {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
  };
  if (details !== undefined) status.details = details;
  return status;
}

/** The resource an error is about, as `Status` messages and details name it. */
export interface ResourceRef {
  /** API group, `""` for core. */
  group: string;
  /** Plural resource name, e.g. `services`. */
  plural: string;
  /** Kind, e.g. `Service`. */
  kind: string;
}

function qualified(ref: ResourceRef): string {
  return ref.group === "" ? ref.plural : `${ref.plural}.${ref.group}`;
}

function details(ref: ResourceRef, name: string): StatusDetails {
  return ref.group === ""
    ? { name, kind: ref.plural }
    : { name, group: ref.group, kind: ref.plural };
}

/**
 * `404 NotFound` for a missing object, worded as the API server words it.
 *
 * @param ref The resource.
 * @param name The object's name.
 * @returns The error to throw.
 */
export function notFound(ref: ResourceRef, name: string): KubeStatusError {
  return new KubeStatusError(
    failureStatus(404, "NotFound", `${qualified(ref)} "${name}" not found`, details(ref, name)),
  );
}

/**
 * `404 NotFound` for a path the server does not serve.
 *
 * @returns The error to throw.
 */
export function pathNotFound(): KubeStatusError {
  return new KubeStatusError(
    failureStatus(404, "NotFound", "the server could not find the requested resource", {}),
  );
}

/**
 * `409 AlreadyExists` for a create of an existing object.
 *
 * @param ref The resource.
 * @param name The object's name.
 * @returns The error to throw.
 */
export function alreadyExists(ref: ResourceRef, name: string): KubeStatusError {
  return new KubeStatusError(
    failureStatus(
      409,
      "AlreadyExists",
      `${qualified(ref)} "${name}" already exists`,
      details(ref, name),
    ),
  );
}

/**
 * `409 Conflict` for a stale `resourceVersion` or a failed precondition.
 *
 * @param ref The resource.
 * @param name The object's name.
 * @param why What conflicted.
 * @returns The error to throw.
 */
export function conflict(ref: ResourceRef, name: string, why: string): KubeStatusError {
  const d = details(ref, name);
  return new KubeStatusError(
    failureStatus(
      409,
      "Conflict",
      `Operation cannot be fulfilled on ${qualified(ref)} "${name}": ${why}`,
      d,
    ),
  );
}

/**
 * `409 Conflict` of a server-side apply that would change fields owned by other managers.
 *
 * @param ref The resource.
 * @param name The object's name.
 * @param conflicts The contested fields (`.spec.ports`) and their owners.
 * @param apiVersion The apiVersion the owners used.
 * @returns The error to throw.
 */
export function applyConflict(
  ref: ResourceRef,
  name: string,
  conflicts: { manager: string; field: string }[],
  apiVersion: string,
): KubeStatusError {
  const what = (c: { manager: string }) => `conflict with "${c.manager}" using ${apiVersion}`;
  const n = conflicts.length;
  const message = n === 1
    ? `Apply failed with 1 conflict: ${what(conflicts[0])}: ${conflicts[0].field}`
    : `Apply failed with ${n} conflicts: ${
      conflicts.map((c) => `${what(c)}: ${c.field}`).join("\n")
    }`;
  const d = details(ref, name);
  d.causes = conflicts.map((c) => ({
    reason: "FieldManagerConflict",
    message: what(c),
    field: c.field,
  }));
  return new KubeStatusError(failureStatus(409, "Conflict", message, d));
}

/**
 * `410 Expired` for a resourceVersion older than the compacted history.
 *
 * @param message The message (the API server says e.g. `too old resource version: 5 (9)`).
 * @returns The error to throw.
 */
export function expired(message: string): KubeStatusError {
  return new KubeStatusError(failureStatus(410, "Expired", message));
}

/**
 * `422 Invalid` for an object that fails validation.
 *
 * @param ref The resource.
 * @param name The object's name.
 * @param field The invalid field.
 * @param why Why it is invalid.
 * @returns The error to throw.
 */
export function invalid(
  ref: ResourceRef,
  name: string,
  field: string,
  why: string,
): KubeStatusError {
  const d = details(ref, name);
  d.causes = [{ reason: "FieldValueInvalid", message: `Invalid value: ${why}`, field }];
  return new KubeStatusError(
    failureStatus(
      422,
      "Invalid",
      // The real server names the kind qualified by its group: `EndpointSlice.discovery.k8s.io`.
      `${
        ref.group === "" ? ref.kind : `${ref.kind}.${ref.group}`
      } "${name}" is invalid: ${field}: ${why}`,
      d,
    ),
  );
}

/**
 * `400 BadRequest`.
 *
 * @param message What is wrong with the request.
 * @returns The error to throw.
 */
export function badRequest(message: string): KubeStatusError {
  return new KubeStatusError(failureStatus(400, "BadRequest", message));
}
