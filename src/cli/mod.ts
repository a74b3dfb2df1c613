/**
 * The command line: flag parsing and the sub-commands.
 *
 * @module
 */

export * from "./errors.ts";
export * from "./main.ts";
export * from "./parse.ts";
