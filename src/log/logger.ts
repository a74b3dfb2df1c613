/**
 * The structured logger: levels, text or JSON lines, escaped fields.
 *
 * Never pass keys, tokens or session secrets as fields: log lines are meant
 * to be shipped and shared.
 *
 * @module
 */

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Output shape. */
export type LogFormat = "text" | "json";

/** The accepted log levels, lowest first. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Extra key/value context attached to a line. */
export type LogFields = Record<string, unknown>;

/** Where finished lines go; stderr by default. */
export type LogSink = (line: string) => void;

/**
 * Characters that must not reach a terminal or a log viewer raw: C0 and C1
 * controls (escape sequences, carriage returns that overwrite a line), DEL,
 * bidirectional overrides and isolates (text that reads differently from
 * what it is), and the Unicode line and paragraph separators. Peers choose
 * some of what is logged (names, reasons), so every line is escaped.
 */
// deno-lint-ignore no-control-regex -- matching control characters is the point.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** `text` with every {@linkcode UNSAFE} character as a `\uXXXX` escape. */
function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const encoder = new TextEncoder();
const stderrSink: LogSink = (line) => {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stderr closed: nothing sensible left to do with a log line.
  }
};

/** A logger with fixed context fields; {@linkcode Logger.with} derives children. */
export class Logger {
  #level: number;
  #format: LogFormat;
  #fields: LogFields;
  #sink: LogSink;

  /** Creates a logger. */
  constructor(
    options: { level?: LogLevel; format?: LogFormat; fields?: LogFields; sink?: LogSink } = {},
  ) {
    this.#level = LOG_LEVELS.indexOf(options.level ?? "info");
    this.#format = options.format ?? "text";
    this.#fields = options.fields ?? {};
    this.#sink = options.sink ?? stderrSink;
  }

  /** A logger that adds `fields` to every line. */
  with(fields: LogFields): Logger {
    const child = new Logger({
      level: LOG_LEVELS[this.#level],
      format: this.#format,
      fields: { ...this.#fields, ...fields },
      sink: this.#sink,
    });
    return child;
  }

  /** True when lines at `level` are written. */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#level;
  }

  /** Logs at debug level. */
  debug(msg: string, fields?: LogFields): void {
    this.#log("debug", msg, fields);
  }
  /** Logs at info level. */
  info(msg: string, fields?: LogFields): void {
    this.#log("info", msg, fields);
  }
  /** Logs at warn level. */
  warn(msg: string, fields?: LogFields): void {
    this.#log("warn", msg, fields);
  }
  /** Logs at error level. */
  error(msg: string, fields?: LogFields): void {
    this.#log("error", msg, fields);
  }

  #log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LOG_LEVELS.indexOf(level) < this.#level) return;
    const all = { ...this.#fields, ...fields };
    for (const [key, value] of Object.entries(all)) {
      if (value instanceof Error) all[key] = value.message;
    }
    const time = new Date().toISOString();
    if (this.#format === "json") {
      // Inside JSON strings a \uXXXX escape means the same character.
      this.#sink(escapeUnsafe(JSON.stringify({ time, level, msg, ...all })));
      return;
    }
    let line = `${time} ${level.toUpperCase().padEnd(5)} ${escapeUnsafe(msg)}`;
    for (const [key, value] of Object.entries(all)) {
      if (value === undefined) continue;
      const text = typeof value === "string" ? value : JSON.stringify(value);
      const quote = /[\s"=\\]/.test(text) || escapeUnsafe(text) !== text;
      line += ` ${escapeUnsafe(key)}=${escapeUnsafe(quote ? JSON.stringify(text) : text)}`;
    }
    this.#sink(line);
  }
}

/** A logger that discards everything, for tests and library use. */
export const silentLogger: Logger = new Logger({ level: "error", sink: () => {} });
