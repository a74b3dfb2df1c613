/**
 * The server's offers to its clients, from the command line: `--expose`
 * (offered to every approved peer), `--apps-file` (items may name `peers`;
 * re-read when it changes) and, in Kubernetes mode, annotated central
 * Services. The lists are merged in that order, as the client merges its
 * apps.
 *
 * @module
 */

import type { Command } from "commander";
import { AppsFileWatcher, mergeApps } from "../client/mod.ts";
import { loadAppsFile } from "./apps_file.ts";
import type { Logger } from "../log/mod.ts";
import type { AppSpec, OfferSpec } from "../protocol/mod.ts";
import { flag } from "./options.ts";
import { collectExpose } from "./parse.ts";

/** The flags of the server's offers. */
export interface OfferFlags {
  /** `--expose`: offered to every approved peer. */
  expose?: AppSpec[];
  /** `--apps-file`: YAML or JSON list; items may have `peers`. */
  appsFile?: string;
}

/** Adds `--expose` and `--apps-file` to the server command. */
export function offerFlags(command: Command): void {
  flag(command, "--expose <app>", "name=host:port to offer to every client (repeatable)", {
    parse: collectExpose,
  });
  flag(
    command,
    "--apps-file <file>",
    "YAML or JSON list of apps to offer (items may list peers), re-read when it changes",
  );
}

/** The merged offers, kept up to date as their sources change. */
export class OfferSources {
  #fixed: readonly OfferSpec[];
  #fromFile: readonly OfferSpec[] = [];
  #fromKube: readonly OfferSpec[] = [];
  #watcher: AppsFileWatcher | null = null;
  #apply: (offers: OfferSpec[]) => void = () => {};

  private constructor(fixed: readonly OfferSpec[]) {
    this.#fixed = fixed;
  }

  /**
   * Reads the apps file once (an unreadable or invalid one is an error now)
   * and watches it from then on.
   */
  static async open(flags: OfferFlags, log: Logger): Promise<OfferSources> {
    const sources = new OfferSources(flags.expose ?? []);
    if (flags.appsFile) {
      const path = flags.appsFile;
      const watcher = new AppsFileWatcher(path, {
        peers: true,
        onChange: (offers) => {
          log.info("apps file changed", { file: path, apps: offers.map((offer) => offer.name) });
          sources.#fromFile = offers;
          sources.#changed();
        },
        onError: (error) => log.warn("cannot use apps file, keeping the offers I have", { error }),
      });
      sources.#fromFile = await loadAppsFile(watcher, path);
      sources.#watcher = watcher;
      watcher.start();
    }
    return sources;
  }

  /** The offers now. */
  get offers(): OfferSpec[] {
    return mergeApps(this.#fixed, this.#fromFile, this.#fromKube);
  }

  /**
   * Sends the offers to `apply` (the server's `setOffers`) now and after
   * every change (changes while the server started are not lost).
   */
  onChange(apply: (offers: OfferSpec[]) => void): void {
    this.#apply = apply;
    apply(this.offers);
  }

  /** The offers from annotated central Services changed. */
  setKubernetes(offers: readonly OfferSpec[]): void {
    this.#fromKube = offers;
    this.#changed();
  }

  #changed(): void {
    this.#apply(this.offers);
  }

  /** Stops watching the apps file. */
  async stop(): Promise<void> {
    await this.#watcher?.stop();
  }
}
