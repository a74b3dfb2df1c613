/**
 * Where a client listens for the apps the server offers it: `--listen-host`
 * (127.0.0.1, or 0.0.0.0 with `--kubernetes` so that the proxy Services can
 * reach the pod), `--port-range` and `--server-name` (how the offers are
 * listed, and the prefix of their proxy Services). With `--kubernetes` and
 * `--kubernetes-labels`, each offer also gets a proxy Service
 * `<server-name>-<app>` selecting the client pod, written by the same
 * controller as the server's proxy Services.
 *
 * @module
 */

import type { Command } from "commander";
import {
  OFFERED_PORTS_ENTRY,
  type OfferedAppsOptions,
  PortAssignments,
  type PortRange,
  type ReceivedOffer,
} from "../client/mod.ts";
import type { ExposedAppEvent, ProxyServiceController } from "../k8s/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { StateStore } from "../state/mod.ts";
import { type ProxyServiceFlags, proxyServiceFlags, startProxyServices } from "./kubernetes.ts";
import { flag } from "./options.ts";
import { parseHost, parseName, parsePortRange } from "./parse.ts";

/** The flags of the offered apps' listeners and proxy Services. */
export interface OfferedFlags extends ProxyServiceFlags {
  /** `--listen-host`; by mode when absent. */
  listenHost?: string;
  /** `--port-range`; OS-chosen ports when absent. */
  portRange?: PortRange;
  /** `--server-name`. */
  serverName: string;
  /** `--kubernetes`, which changes the default listen host. */
  kubernetes?: boolean;
}

/** Adds `--listen-host`, `--port-range` and `--server-name` to the client command. */
export function offeredFlags(command: Command): void {
  flag(
    command,
    "--listen-host <host>",
    "interface the listeners of apps the server offers bind (default: 127.0.0.1; " +
      "0.0.0.0 with --kubernetes)",
    { parse: parseHost },
  );
  flag(command, "--port-range <from-to>", "ports for those listeners (default: OS-chosen)", {
    parse: parsePortRange,
  });
  flag(command, "--server-name <name>", "the server's name in lists and proxy Service names", {
    parse: parseName,
    default: "central",
  });
  proxyServiceFlags(command, "client");
}

/**
 * The client's settings for the apps the server offers it; `services` follow
 * them, and their ports are kept in `state` (a restart gets them back).
 */
export function offeredOptions(
  flags: OfferedFlags,
  services: OfferedServices | null,
  state: StateStore,
  log: Logger,
): Omit<OfferedAppsOptions, "track" | "log"> {
  return {
    ports: new PortAssignments(state, { entry: OFFERED_PORTS_ENTRY, logger: log }),
    listenHost: flags.listenHost ?? (flags.kubernetes ? "0.0.0.0" : "127.0.0.1"),
    portRange: flags.portRange,
    serverName: flags.serverName,
    onChange: services ? (offers) => services.update(offers) : undefined,
  };
}

/** Proxy Services of the apps offered to this client, following its listeners. */
export class OfferedServices {
  #controller: ProxyServiceController;
  #current = new Map<string, ExposedAppEvent>();

  /** Feeds `controller` (started) with the offers' listeners. */
  constructor(controller: ProxyServiceController) {
    this.#controller = controller;
  }

  /**
   * Starts the controller when `--kubernetes` and `--kubernetes-labels` are
   * given; `null` otherwise (without labels a Service could not select the
   * pod: offers are then only listened for).
   */
  static async start(flags: OfferedFlags, log: Logger): Promise<OfferedServices | null> {
    if (!flags.kubernetes) return null;
    if (!flags.kubernetesLabels) {
      log.info("kubernetes: no --kubernetes-labels, so apps the server offers get no Services");
      return null;
    }
    const { controller, namespace } = await startProxyServices(flags, flags.kubernetesLabels, log);
    log.info("kubernetes: apps the server offers become Services", {
      namespace,
      labels: flags.kubernetesLabels,
      networkPolicies: Boolean(flags.networkPolicies),
    });
    return new OfferedServices(controller);
  }

  /** The offers listened for now: Services for new ones, and the grace period for gone ones. */
  update(offers: ReceivedOffer[]): void {
    const next = new Map(offers.map((offer) => [offer.app, {
      peer: offer.peer,
      app: { name: offer.app, port: offer.port },
      port: offer.listenPort,
      endpoint: offer.endpoint,
    }]));
    for (const [name, event] of this.#current) {
      if (!same(next.get(name), event)) this.#controller.appWithdrawn(event);
    }
    for (const [name, event] of next) {
      if (!same(this.#current.get(name), event)) this.#controller.appExposed(event);
    }
    this.#current = next;
  }

  /** Stops the controller (Services stay; the next start collects orphans). */
  close(): Promise<void> {
    return this.#controller.close();
  }
}

function same(a: ExposedAppEvent | undefined, b: ExposedAppEvent): boolean {
  return a !== undefined && a.port === b.port && a.app.port === b.app.port;
}
