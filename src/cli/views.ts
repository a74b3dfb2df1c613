/**
 * What the admin commands print: one view per list, its columns for
 * `-o table` and the extra ones `-o wide` adds. Pure functions of the data
 * and the time, so that golden files pin the output (`views_test.ts`).
 *
 * Traffic columns use the API's vocabulary: IN and OUT are `bytesIn` and
 * `bytesOut` from the server's point of view, STREAMS and CONNS are
 * `streamsOpen` (tunnelled connections open now), TOTAL is `streamsTotal`;
 * IN/S, OUT/S and CONNS/S are the rates over the last second.
 *
 * @module
 */

import type {
  AppDetail,
  DeniedEntry,
  OfferEntry,
  PeerDetail,
  RequestDetail,
} from "../admin/mod.ts";
import { formatTable } from "./table.ts";
import { humanAge, humanBytes } from "./units.ts";

/** The formats every printing command takes with `-o`. */
export const OUTPUT_FORMATS = ["table", "wide", "json"] as const;
/** One of {@linkcode OUTPUT_FORMATS}. */
export type OutputFormat = typeof OUTPUT_FORMATS[number];

/** One column: its header, whether only `-o wide` shows it, and its cell. */
interface Column<T> {
  header: string;
  wide?: boolean;
  /** Shown only when some item has it (`--ha`'s replica: absent on a lone server). */
  present?(item: T): boolean;
  cell(item: T, now: number): string;
}

/** The columns of one list. */
export type View<T> = Column<T>[];

/** Renders `items` as a table (`wide`: with the wide columns). */
export function renderTable<T>(view: View<T>, items: T[], wide: boolean, now: number): string {
  const columns = view.filter((column) =>
    (wide || !column.wide) && (!column.present || items.some((item) => column.present!(item)))
  );
  return formatTable(
    columns.map((column) => column.header),
    items.map((item) => columns.map((column) => column.cell(item, now))),
  );
}

/** Renders `items` in `format`; JSON is the API's objects as they are. */
export function render<T>(view: View<T>, items: T[], format: OutputFormat, now: number): string {
  return format === "json"
    ? JSON.stringify(items, null, 2)
    : renderTable(view, items, format === "wide", now);
}

/** `requests list`. */
export const REQUESTS_VIEW: View<RequestDetail> = [
  { header: "NAME", cell: (r) => r.name || "-" },
  { header: "ADDRESS", cell: (r) => r.remote || "-" },
  { header: "WAITING", cell: (r, now) => humanAge(r.waitingSince, now) },
  { header: "FINGERPRINT", cell: (r) => r.fingerprint },
  { header: "WAITING SINCE", wide: true, cell: (r) => r.waitingSince || "-" },
  {
    header: "REPLICA",
    wide: true,
    present: (r) => r.replica !== undefined,
    cell: (r) => r.replica ?? "-",
  },
];

/** `peers list`. */
export const PEERS_VIEW: View<PeerDetail> = [
  { header: "NAME", cell: (p) => p.name },
  { header: "STATUS", cell: (p) => p.status },
  { header: "ADDRESS", cell: (p) => p.remote ?? "-" },
  { header: "SINCE", cell: (p, now) => humanAge(p.connectedSince, now) },
  { header: "IN", cell: (p) => humanBytes(p.bytesIn) },
  { header: "OUT", cell: (p) => humanBytes(p.bytesOut) },
  { header: "STREAMS", cell: (p) => String(p.streamsOpen) },
  { header: "TOTAL", wide: true, cell: (p) => String(p.streamsTotal) },
  { header: "IN/S", wide: true, cell: (p) => humanBytes(p.bytesInPerSecond) },
  { header: "OUT/S", wide: true, cell: (p) => humanBytes(p.bytesOutPerSecond) },
  { header: "CONNS/S", wide: true, cell: (p) => String(p.connectionsPerSecond) },
  { header: "APPS", wide: true, cell: (p) => p.apps.join(",") || "-" },
  { header: "LAST SEEN", wide: true, cell: (p) => p.lastSeen || "-" },
  { header: "FINGERPRINT", wide: true, cell: (p) => p.fingerprint || "-" },
  {
    header: "REPLICA",
    wide: true,
    present: (p) => p.replica !== undefined,
    cell: (p) => p.replica ?? "-",
  },
];

/** `apps list`. */
export const APPS_VIEW: View<AppDetail> = [
  { header: "PEER", cell: (a) => a.peer },
  { header: "APP", cell: (a) => a.app },
  { header: "ENDPOINT", cell: (a) => a.endpoint },
  { header: "IN", cell: (a) => humanBytes(a.bytesIn) },
  { header: "OUT", cell: (a) => humanBytes(a.bytesOut) },
  { header: "CONNS", cell: (a) => String(a.streamsOpen) },
  { header: "TOTAL", wide: true, cell: (a) => String(a.streamsTotal) },
  { header: "IN/S", wide: true, cell: (a) => humanBytes(a.bytesInPerSecond) },
  { header: "OUT/S", wide: true, cell: (a) => humanBytes(a.bytesOutPerSecond) },
  { header: "CONNS/S", wide: true, cell: (a) => String(a.connectionsPerSecond) },
  { header: "BYTES IN", wide: true, cell: (a) => String(a.bytesIn) },
  { header: "BYTES OUT", wide: true, cell: (a) => String(a.bytesOut) },
  {
    header: "REPLICA",
    wide: true,
    present: (a) => a.replica !== undefined,
    cell: (a) => a.replica ?? "-",
  },
];

/** `offers list`: apps the server offers its clients. */
export const OFFERS_VIEW: View<OfferEntry> = [
  { header: "APP", cell: (o) => o.app },
  { header: "UPSTREAM", cell: (o) => o.upstream },
  { header: "OFFERED TO", cell: (o) => o.peers?.join(",") || "every peer" },
  { header: "IN", cell: (o) => humanBytes(o.bytesIn) },
  { header: "OUT", cell: (o) => humanBytes(o.bytesOut) },
  { header: "CONNS", cell: (o) => String(o.streamsOpen) },
  { header: "TOTAL", wide: true, cell: (o) => String(o.streamsTotal) },
  { header: "BYTES IN", wide: true, cell: (o) => String(o.bytesIn) },
  { header: "BYTES OUT", wide: true, cell: (o) => String(o.bytesOut) },
];

/** `denied list`. */
export const DENIED_VIEW: View<DeniedEntry> = [
  { header: "FINGERPRINT", cell: (d) => d.fingerprint },
  { header: "NAME", cell: (d) => d.name || "-" },
  { header: "REASON", cell: (d) => d.reason },
  { header: "SINCE", cell: (d, now) => humanAge(d.since, now) },
  { header: "UNTIL", cell: (d) => d.until ?? "forever" },
];

/** What `requests accept|decline`, `peers revoke` and `denied remove` did. */
export interface Outcome {
  /** `accepted`, `declined`, `revoked` or `removed`. */
  result: string;
  /** The fingerprint or peer name acted on. */
  subject: string;
  /** The sentence `-o table|wide` prints. */
  text: string;
}

/** Renders an action's outcome: its sentence, or `{ result, subject }` as JSON. */
export function renderOutcome(outcome: Outcome, format: OutputFormat): string {
  return format === "json"
    ? JSON.stringify({ result: outcome.result, subject: outcome.subject }, null, 2)
    : outcome.text;
}
