/**
 * The non-apply PATCH formats: JSON merge patch (RFC 7386), an approximation of strategic merge
 * patch, and JSON patch (RFC 6902).
 *
 * @module
 */

import { clone, isRecord, jsonEqual } from "./object.ts";
import { failureStatus, KubeStatusError } from "./status.ts";

/** Content types of the PATCH formats the fake server accepts. */
export const PATCH_TYPES = {
  /** RFC 7386 JSON merge patch (kubectl annotate/label, `kubectl patch --type merge`). */
  merge: "application/merge-patch+json",
  /** Strategic merge patch (`kubectl patch` default); approximated, see {@linkcode strategicMergePatch}. */
  strategic: "application/strategic-merge-patch+json",
  /** RFC 6902 JSON patch (kubernetes-fluent-client `Patch`). */
  json: "application/json-patch+json",
  /** Server-side apply (kubectl `apply --server-side`, kubernetes-fluent-client `Apply`). */
  apply: "application/apply-patch+yaml",
} as const;

function patchError(message: string): KubeStatusError {
  return new KubeStatusError(failureStatus(422, "Invalid", message));
}

/**
 * Applies an RFC 7386 JSON merge patch: objects merge recursively, `null` removes a key,
 * anything else (lists included) replaces.
 *
 * @param target The current value (not modified).
 * @param patch The patch.
 * @returns The patched value.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const result: Record<string, unknown> = isRecord(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/**
 * Applies a strategic merge patch, approximated as a JSON merge patch that honours the
 * `$patch: replace|delete` directive and drops the other `$`-directives (`$setElementOrder/…`,
 * `$retainKeys`, `$deleteFromPrimitiveList/…`). Lists are replaced whole rather than merged by
 * their merge key.
 *
 * @param target The current value (not modified).
 * @param patch The patch.
 * @returns The patched value, or `undefined` when the patch deletes it.
 */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const directive = patch["$patch"];
  if (directive === "delete") return undefined;
  const base: Record<string, unknown> = directive !== "replace" && isRecord(target)
    ? clone(target)
    : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$")) continue;
    if (value === null) {
      delete base[key];
      continue;
    }
    const merged = strategicMergePatch(base[key], value);
    if (merged === undefined) delete base[key];
    else base[key] = merged;
  }
  return base;
}

function decodePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw patchError(`invalid JSON pointer "${pointer}"`);
  return pointer.slice(1).split("/").map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function parentOf(doc: unknown, tokens: string[], pointer: string): unknown {
  let node = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isRecord(node)) node = node[token];
    else node = undefined;
    if (node === undefined) throw patchError(`doc is missing path: "${pointer}"`);
  }
  return node;
}

function getAt(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const token of decodePointer(pointer)) {
    if (Array.isArray(node)) node = node[Number(token)];
    else if (isRecord(node)) node = node[token];
    else node = undefined;
    if (node === undefined) throw patchError(`doc is missing path: "${pointer}"`);
  }
  return node;
}

function arrayIndex(token: string, length: number, allowEnd: boolean, pointer: string): number {
  if (allowEnd && token === "-") return length;
  const index = Number(token);
  if (!/^\d+$/.test(token) || index > length || (!allowEnd && index === length)) {
    throw patchError(`invalid array index in path "${pointer}"`);
  }
  return index;
}

function removeAt(doc: unknown, pointer: string): unknown {
  const tokens = decodePointer(pointer);
  const parent = parentOf(doc, tokens, pointer);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    return parent.splice(arrayIndex(last, parent.length, false, pointer), 1)[0];
  }
  if (isRecord(parent) && last in parent) {
    const old = parent[last];
    delete parent[last];
    return old;
  }
  throw patchError(`unable to remove nonexistent key: "${pointer}"`);
}

function addAt(doc: unknown, pointer: string, value: unknown, replace: boolean): unknown {
  const tokens = decodePointer(pointer);
  if (tokens.length === 0) return clone(value);
  const parent = parentOf(doc, tokens, pointer);
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    const index = arrayIndex(last, parent.length, !replace, pointer);
    parent.splice(index, replace ? 1 : 0, clone(value));
  } else if (isRecord(parent)) {
    if (replace && !(last in parent)) {
      throw patchError(`replace operation does not apply: doc is missing key: "${pointer}"`);
    }
    parent[last] = clone(value);
  } else {
    throw patchError(`doc is missing path: "${pointer}"`);
  }
  return doc;
}

/**
 * Applies an RFC 6902 JSON patch (`add`, `remove`, `replace`, `move`, `copy`, `test`).
 *
 * @param target The current document (not modified).
 * @param operations The patch operations.
 * @returns The patched document.
 * @throws {KubeStatusError} 422 when an operation does not apply.
 */
export function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw patchError("a JSON patch must be a list of operations");
  let doc = clone(target);
  for (const raw of operations) {
    if (!isRecord(raw) || typeof raw.op !== "string" || typeof raw.path !== "string") {
      throw patchError(`invalid JSON patch operation ${JSON.stringify(raw)}`);
    }
    const { op, path } = raw;
    switch (op) {
      case "add":
        doc = addAt(doc, path, raw.value, false);
        break;
      case "replace":
        doc = addAt(doc, path, raw.value, true);
        break;
      case "remove":
        removeAt(doc, path);
        break;
      case "move":
      case "copy": {
        if (typeof raw.from !== "string") throw patchError(`"${op}" needs "from"`);
        const value = op === "move" ? removeAt(doc, raw.from) : clone(getAt(doc, raw.from));
        doc = addAt(doc, path, value, false);
        break;
      }
      case "test":
        if (!jsonEqual(getAt(doc, path), raw.value)) {
          throw patchError(`testing value ${path} failed`);
        }
        break;
      default:
        throw patchError(`unexpected JSON patch operation "${op}"`);
    }
  }
  return doc;
}
