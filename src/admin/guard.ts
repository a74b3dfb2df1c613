/**
 * The admin API's defence against web pages in the operator's browser.
 *
 * A page on any site can make the browser send requests to
 * `127.0.0.1:8081`: "simple" cross-site requests (a `text/plain` POST with
 * `mode: "no-cors"`) go out without asking, and DNS rebinding makes a name
 * the attacker controls resolve to 127.0.0.1, so that the page is
 * same-origin with the API under that name. On loopback without a token
 * either one could approve an attacker's key. So:
 *
 * - **Host**: the `Host` header must be an IP address, `localhost`, or a name
 *   the operator lists (`--admin-hosts`); a rebound name is none of these.
 * - **Origin**: a write (any method but GET and HEAD) whose `Origin` is not
 *   the API's own (`http://<Host>`) is refused, and so is one whose
 *   `Sec-Fetch-Site` says another site.
 * - **Content type**: a write must say `Content-Type: application/json`,
 *   which a browser sends cross-origin only after a CORS preflight that this
 *   API never grants. The CLI and the dashboard send it; so does
 *   `curl -H 'content-type: application/json'`.
 *
 * @module
 */

/** Why a request is refused before any route sees it. */
export interface Refusal {
  /** HTTP status. */
  status: number;
  /** One line for the `error` field. */
  error: string;
}

const READS = new Set(["GET", "HEAD"]);

/**
 * The refusal of `request`, or `null` when it may go on.
 *
 * @param hosts Names besides IP addresses and `localhost` that the API is
 *   reached by (lower case, without port).
 *
 * @example
 * ```ts
 * import { refusal } from "./guard.ts";
 * const request = new Request("http://evil.example:8081/v1/requests", {
 *   headers: { host: "evil.example:8081" },
 * });
 * console.log(refusal(request, [])?.status); // 403
 * ```
 */
export function refusal(request: Request, hosts: readonly string[]): Refusal | null {
  const host = request.headers.get("host") ?? new URL(request.url).host;
  const name = hostName(host);
  if (!isIpAddress(name) && name !== "localhost" && !hosts.includes(name)) {
    return {
      status: 403,
      error: `Host ${JSON.stringify(host)} is not a name of this admin API ` +
        `(use an IP address or localhost, or list the name with --admin-hosts)`,
    };
  }
  if (READS.has(request.method)) return null;
  const origin = request.headers.get("origin");
  if (origin !== null && origin !== `http://${host.toLowerCase()}`) {
    return { status: 403, error: `Cannot accept a write from origin ${JSON.stringify(origin)}` };
  }
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") {
    return { status: 403, error: `Cannot accept a write from a ${site} page` };
  }
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json") {
    return {
      status: 415,
      error: "Writes need Content-Type: application/json (a guard against cross-site requests)",
    };
  }
  return null;
}

/** The host part of a `Host` header, lower case, without port or IPv6 brackets. */
export function hostName(host: string): string {
  const lower = host.trim().toLowerCase();
  if (lower.startsWith("[")) return lower.slice(1, lower.indexOf("]") >>> 0);
  const colon = lower.lastIndexOf(":");
  return colon >= 0 && lower.indexOf(":") === colon ? lower.slice(0, colon) : lower;
}

/** True for an IPv4 dotted quad or an IPv6 address (as in a URL, without brackets). */
export function isIpAddress(name: string): boolean {
  return isIpv4(name) || (name.includes(":") && URL.canParse(`http://[${name}]/`));
}

function isIpv4(name: string): boolean {
  const parts = name.split(".");
  return parts.length === 4 &&
    parts.every((part) => /^(0|[1-9][0-9]{0,2})$/.test(part) && Number(part) <= 255);
}

/**
 * True for addresses only this machine can reach: `localhost`, `::1`, and
 * exactly the IPv4 addresses 127.0.0.0/8 (not a name that starts with "127.").
 */
export function isLoopback(host: string): boolean {
  const name = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (name === "localhost" || name === "::1") return true;
  return isIpv4(name) && name.startsWith("127.");
}
