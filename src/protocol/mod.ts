/**
 * Wormhole protocol v1: frames, records and control payloads. Pure code, no I/O.
 *
 * @module
 */

export * from "./frame.ts";
export * from "./errors.ts";
export * from "./codec.ts";
export * from "./control.ts";
export * from "./names.ts";
export * from "./fields.ts";
export * from "./app_spec.ts";
