/**
 * The dashboard: one page, one script, one style sheet, served from the
 * program itself (string modules, so `deno bundle` and `deno compile` carry
 * them; nothing to build).
 *
 * The page talks to the admin API like the CLI does: same-origin `fetch`
 * with `Authorization: Bearer <token>` (the token lives in sessionStorage,
 * never in a URL or a cookie, so a cross-site request carries nothing) and
 * `Content-Type: application/json` on writes, which the cross-site guard
 * (`../guard.ts`) requires. Changes and traffic arrive over `/v1/events`.
 *
 * @module
 */

import { DASHBOARD_CSS } from "./style.ts";
import { DASHBOARD_HTML } from "./page.ts";
import { DASHBOARD_JS } from "./script.ts";

/**
 * The Content-Security-Policy of the dashboard's files: scripts and styles
 * only from the admin API's own origin (no inline script or style), data
 * only from it, and no framing.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const FILES = new Map<string, [body: string, type: string]>([
  ["/", [DASHBOARD_HTML, "text/html; charset=utf-8"]],
  ["/index.html", [DASHBOARD_HTML, "text/html; charset=utf-8"]],
  ["/dashboard.js", [DASHBOARD_JS, "text/javascript; charset=utf-8"]],
  ["/dashboard.css", [DASHBOARD_CSS, "text/css; charset=utf-8"]],
]);

/** The responder of the dashboard file at `pathname`, or undefined when there is none. */
export function dashboardAsset(pathname: string): (() => Response) | undefined {
  const file = FILES.get(pathname);
  if (!file) return undefined;
  return () =>
    new Response(file[0], {
      headers: {
        "content-type": file[1],
        "content-security-policy": DASHBOARD_CSP,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
      },
    });
}
