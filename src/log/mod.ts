/**
 * Structured logging to stderr as text or JSON lines ({@linkcode Logger}),
 * and tallies that turn floods of one warning into a line per interval
 * ({@linkcode LogTally}).
 *
 * Never pass keys, tokens or session secrets as fields: log lines are meant
 * to be shipped and shared.
 *
 * @module
 */

export * from "./logger.ts";
export * from "./tally.ts";
