/**
 * Human units for CLI tables: bytes in binary prefixes, ages like kubectl's.
 *
 * @module
 */

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * `0 B`, `999 B`, `1.5 KiB`, `12 MiB`: one decimal below 10, none above.
 *
 * @example
 * ```ts
 * import { humanBytes } from "./units.ts";
 * console.log(humanBytes(1536)); // "1.5 KiB"
 * ```
 */
export function humanBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${value} B`;
  // 9.96 would round up to "10.0": show it as "10" like the values above.
  const shown = value < 9.95 ? value.toFixed(1) : String(Math.round(value));
  return `${shown} ${BYTE_UNITS[unit]}`;
}

/**
 * The time from `since` (ISO) to `now` in the two largest units: `45s`,
 * `3m12s`, `5h3m`, `2d5h`; `-` without a time. A time in the future (clocks
 * apart) shows as `0s`.
 *
 * @example
 * ```ts
 * import { humanAge } from "./units.ts";
 * console.log(humanAge("2026-01-01T00:00:00Z", Date.parse("2026-01-01T00:03:12Z"))); // "3m12s"
 * ```
 */
export function humanAge(since: string | null | undefined, now: number): string {
  if (!since) return "-";
  const start = Date.parse(since);
  if (Number.isNaN(start)) return "-";
  const s = Math.max(0, Math.floor((now - start) / 1000));
  if (s < 60) return `${s}s`;
  const two = (big: number, bigUnit: string, small: number, smallUnit: string) =>
    small === 0 ? `${big}${bigUnit}` : `${big}${bigUnit}${small}${smallUnit}`;
  if (s < 3600) return two(Math.floor(s / 60), "m", s % 60, "s");
  if (s < 86400) return two(Math.floor(s / 3600), "h", Math.floor((s % 3600) / 60), "m");
  return two(Math.floor(s / 86400), "d", Math.floor((s % 86400) / 3600), "h");
}
