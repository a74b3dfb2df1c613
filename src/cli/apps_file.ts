/**
 * The first read of `--apps-file`, at start.
 *
 * @module
 */

import type { AppsFileWatcher } from "../client/mod.ts";
import type { OfferSpec } from "../protocol/mod.ts";
import { UsageError } from "./errors.ts";

/**
 * Reads the apps file of `watcher` once. A file that is missing, unreadable
 * or not a list of apps names something unusable: a {@linkcode UsageError}
 * (exit 2, one line), like a missing `--ca-file`. Later edits that break it
 * only warn: the process keeps the apps it has.
 */
export async function loadAppsFile(watcher: AppsFileWatcher, path: string): Promise<OfferSpec[]> {
  try {
    return await watcher.load();
  } catch (error) {
    // The parser's messages name the file and the item already.
    if (error instanceof SyntaxError) throw new UsageError(error.message, { cause: error });
    throw new UsageError(`Cannot read --apps-file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
