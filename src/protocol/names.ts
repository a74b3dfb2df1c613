/**
 * Rules for peer and app names. Names end up in listener logs, admin API
 * output and Kubernetes object names, so they are kept to a safe alphabet.
 *
 * @module
 */

/** Longest peer or app name accepted. */
export const MAX_NAME_LENGTH = 63;

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;

/**
 * Returns why `name` is not a valid peer or app name, or `null` when it is.
 * Valid: 1 to 63 letters, digits, `.`, `_` or `-`, starting and ending with
 * a letter or digit.
 */
export function nameProblem(name: string): string | null {
  if (name.length === 0) return "is empty";
  if (name.length > MAX_NAME_LENGTH) {
    return `is ${name.length} characters long, the limit is ${MAX_NAME_LENGTH}`;
  }
  if (!NAME.test(name)) {
    return "may only hold letters, digits, '.', '_' and '-', and must start and end with a letter or digit";
  }
  return null;
}
