/**
 * The chaos suite's results: named pass/fail checks with their measured
 * figures and their limits, rendered as a table and kept as JSON.
 *
 * @module
 */

/** One named check: what was measured against which limit. */
export interface Check {
  /** Scenario the check belongs to (e.g. "server kill -9"). */
  scenario: string;
  /** What is promised (e.g. "clients back after the restart"). */
  name: string;
  /** Met or not. */
  pass: boolean;
  /** The measured figure, human-readable (e.g. "412 ms"). */
  measured: string;
  /** The limit it is held to (e.g. "≤ 2000 ms"). */
  limit: string;
  /** Raw figures for the JSON report. */
  figures?: Record<string, unknown>;
}

/** Collects checks as scenarios run. */
export class Checks {
  readonly list: Check[] = [];

  /** Records a check and returns whether it passed. */
  add(check: Check): boolean {
    this.list.push(check);
    return check.pass;
  }

  /** Records a check of `value ≤ max` with `unit`. */
  atMost(
    scenario: string,
    name: string,
    value: number,
    max: number,
    unit: string,
    figures?: Record<string, unknown>,
  ): boolean {
    return this.add({
      scenario,
      name,
      pass: Number.isFinite(value) && value <= max,
      measured: `${format(value)} ${unit}`.trim(),
      limit: `≤ ${format(max)} ${unit}`.trim(),
      figures: { value, max, ...figures },
    });
  }

  /** Records a check that failed because the scenario itself threw. */
  error(scenario: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.add({
      scenario,
      name: "scenario ran to the end",
      pass: false,
      measured: oneLine(message),
      limit: "no error",
      figures: { error: message.split("\n").slice(0, 40) },
    });
  }

  /** Checks that passed. */
  get passed(): number {
    return this.list.filter((c) => c.pass).length;
  }

  /** Checks that failed. */
  get failed(): number {
    return this.list.length - this.passed;
  }
}

/** A number with at most one decimal (none for integers or large values). */
export function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) || Math.abs(value) >= 100) return String(Math.round(value));
  return value.toFixed(1);
}

function oneLine(text: string): string {
  const line = text.split("\n")[0];
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/** A markdown table of the checks, one row each, the verdict first. */
export function renderTable(checks: readonly Check[]): string {
  const header = ["", "scenario", "check", "measured", "limit"];
  const rows = checks.map((c) =>
    [
      c.pass ? "pass" : "FAIL",
      c.scenario,
      c.name,
      c.measured,
      c.limit,
    ].map((cell) => cell.replaceAll("|", "\\|"))
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
