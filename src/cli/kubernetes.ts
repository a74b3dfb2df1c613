/**
 * Kubernetes mode of `wormhole server` and `wormhole client`: the flags, and
 * starting and stopping the proxy Service controller (server) or the
 * annotated Service source (client). See docs/kubernetes.md.
 *
 * kubernetes-fluent-client is loaded only when `--kubernetes` is given.
 *
 * @module
 */

import { UsageError } from "./errors.ts";
import { type Command, InvalidArgumentError } from "commander";
import type { AppSpec, OfferSpec } from "../protocol/mod.ts";
import {
  AnnotatedServiceSource,
  KubeServiceSink,
  loadKubeApi,
  parseLabels,
  ProxyServiceController,
  Reflector,
  SERVICES,
  type UpstreamMode,
} from "../k8s/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { PortRange, ServerObserver } from "../server/mod.ts";
import { flag } from "./options.ts";
import { oneOf, parseCount, parseDuration } from "./parse.ts";

/** App listener ports in Kubernetes mode, so that targetPorts stay stable. */
export const KUBERNETES_PORT_RANGE: PortRange = { from: 30000, to: 30499 };

const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const DOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

function parseNamespace(value: string): string {
  const ns = value.trim();
  if (!DNS_LABEL.test(ns)) throw new InvalidArgumentError(`"${ns}" is not a namespace name.`);
  return ns;
}

function parseNamespaces(value: string): string[] {
  const list = value.split(",").map((s) => s.trim()).filter(Boolean).map(parseNamespace);
  if (list.length === 0) throw new InvalidArgumentError("Expected namespaces, e.g. a,b.");
  return [...new Set(list)];
}

function parseLabelList(value: string): Record<string, string> {
  try {
    return parseLabels(value);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}.`);
  }
}

function parseDomain(value: string): string {
  const domain = value.trim().toLowerCase().replace(/\.$/, "");
  if (!DOMAIN.test(domain)) throw new InvalidArgumentError(`"${value}" is not a DNS domain.`);
  return domain;
}

/** Values of the server's Kubernetes flags. */
export interface KubernetesServerFlags extends ServiceWatchFlags, ProxyServiceFlags {
  /** `--kubernetes`. */
  kubernetes?: boolean;
}

/**
 * Adds the server's Kubernetes flags. With `--kubernetes`, app listeners
 * bind all interfaces and use ports 30000-30499 unless `--listen-host` or
 * `--port-range` (or their variables) say otherwise.
 */
export function kubernetesServerFlags(command: Command): Command {
  flag(command, "--kubernetes", "create a proxy Service per exposed app (docs/kubernetes.md)");
  proxyServiceFlags(command, "server");
  serviceWatchFlags(command, "--kubernetes-namespace");
  command.hook("preAction", (self) => {
    if (!self.getOptionValue("kubernetes")) return;
    // Checked before anything runs (no state directory or key is created for nothing).
    if (!self.getOptionValue("kubernetesLabels")) throw missingLabels();
    if (self.getOptionValueSource("listenHost") === "default") {
      self.setOptionValueWithSource("listenHost", "0.0.0.0", "default");
    }
    if (self.getOptionValue("portRange") === undefined) {
      self.setOptionValueWithSource("portRange", { ...KUBERNETES_PORT_RANGE }, "default");
    }
  });
  return command;
}

/**
 * Adds the flags of proxy Services, which the server writes for clients'
 * apps and a client for the apps the server offers it: their namespace,
 * the labels of the pod they select, NetworkPolicies and the grace period.
 */
export function proxyServiceFlags(command: Command, role: "server" | "client"): void {
  flag(
    command,
    "--kubernetes-namespace <ns>",
    "namespace of the proxy Services and the state Secret (default: the pod's)",
    {
      parse: parseNamespace,
    },
  );
  flag(
    command,
    "--kubernetes-labels <k=v,...>",
    `labels of the ${role} pod, which proxy Services select`,
    {
      parse: parseLabelList,
    },
  );
  flag(command, "--network-policies", "also create a NetworkPolicy per proxy Service");
  flag(command, "--unexpose-grace <duration>", "how long a gone app keeps its proxy Service", {
    parse: parseDuration,
    default: 10_000,
    defaultText: "10s",
  });
}

/**
 * Adds the flags of watching annotated Services (a client's edge Services,
 * the server's central ones): which namespaces (by default all, or the one
 * `defaultFrom` names), how upstreams are reached, and when to give up.
 */
export function serviceWatchFlags(command: Command, defaultFrom = "all"): void {
  flag(
    command,
    "--kubernetes-namespaces <a,b>",
    `only watch these namespaces for annotated Services (default: ${defaultFrom})`,
    { parse: parseNamespaces },
  );
  flag(command, "--kubernetes-upstream <mode>", "reach Services by dns name or cluster-ip", {
    parse: oneOf(["dns", "cluster-ip"] as const),
    default: "dns",
  });
  flag(command, "--cluster-domain <domain>", "cluster DNS domain for --kubernetes-upstream dns", {
    parse: parseDomain,
    default: "cluster.local",
  });
  flag(command, "--kubernetes-failure-limit <n>", "exit after this many watch failures in a row", {
    parse: parseCount(1, 1000),
    default: 5,
  });
  flag(command, "--kubernetes-failure-window <duration>", "...spanning at least this long", {
    parse: parseDuration,
    default: 30_000,
    defaultText: "30s",
  });
}

/** Values of {@linkcode proxyServiceFlags}. */
export interface ProxyServiceFlags {
  /** `--kubernetes-namespace`. */
  kubernetesNamespace?: string;
  /** `--kubernetes-labels`, parsed. */
  kubernetesLabels?: Record<string, string>;
  /** `--network-policies`. */
  networkPolicies?: boolean;
  /** `--unexpose-grace` in ms. */
  unexposeGrace: number;
}

/**
 * Starts a proxy Service controller (the server's for clients' apps, a
 * client's for the apps offered to it) writing into `--kubernetes-namespace`
 * (default: the pod's), selecting the pod by `selector`.
 *
 * @throws {UsageError} outside a pod without `--kubernetes-namespace`.
 */
export async function startProxyServices(
  flags: ProxyServiceFlags,
  selector: Record<string, string>,
  log: Logger,
): Promise<{ controller: ProxyServiceController; namespace: string }> {
  const namespace = flags.kubernetesNamespace ?? await podNamespace();
  if (!namespace) {
    throw new UsageError(
      "--kubernetes needs --kubernetes-namespace (outside a pod there is no default)",
    );
  }
  const api = await loadKubeApi();
  const controller = new ProxyServiceController({
    sink: new KubeServiceSink(api, namespace),
    selector,
    networkPolicies: flags.networkPolicies,
    graceMs: flags.unexposeGrace,
    logger: log.with({ component: "kubernetes" }),
  });
  controller.start();
  return { controller, namespace };
}

/** The server's Kubernetes mode, running. */
export interface ServerKubernetes {
  /** Observers to pass to `WormholeServer.start`. */
  observers: ServerObserver[];
  /** The controller (its `endpoint()` gives `<service>.<namespace>:<port>`). */
  controller: ProxyServiceController;
  /** The watch of central Services to offer; it gives up like a client's. */
  offers: ServiceWatch | null;
  /** Stops; proxy Services stay (the next start collects orphans). */
  close(): Promise<void>;
}

function missingLabels(): UsageError {
  return new UsageError(
    "--kubernetes needs --kubernetes-labels: the server pod's labels, which proxy Services select",
  );
}

async function podNamespace(): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(SERVICE_ACCOUNT_NAMESPACE)).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Starts the proxy Service controller when `--kubernetes` is given; `null` otherwise. */
export async function startServerKubernetes(
  flags: KubernetesServerFlags,
  log: Logger,
  onOffers?: (offers: OfferSpec[]) => void,
): Promise<ServerKubernetes | null> {
  if (!flags.kubernetes) return null;
  if (!flags.kubernetesLabels) throw missingLabels();
  const { controller, namespace } = await startProxyServices(flags, flags.kubernetesLabels, log);
  log.info("kubernetes: exposing apps as Services", {
    namespace,
    labels: flags.kubernetesLabels,
    networkPolicies: Boolean(flags.networkPolicies),
  });
  const offers = onOffers
    ? await watchAnnotatedServices(flags, log, {
      onApps: onOffers,
      offers: true,
      namespaces: [namespace],
    })
    : null;
  if (offers) {
    log.info("kubernetes: offering Services annotated exposed and peers", {
      namespaces: flags.kubernetesNamespaces ?? [namespace],
      upstream: flags.kubernetesUpstream,
    });
  }
  return {
    observers: [controller],
    controller,
    offers,
    close: async () => {
      await offers?.close();
      await controller.close();
    },
  };
}

/** Values of the client's Kubernetes flags. */
export interface KubernetesClientFlags extends ServiceWatchFlags {
  /** `--kubernetes`. */
  kubernetes?: boolean;
}

/** Values of the flags of watching annotated Services ({@linkcode serviceWatchFlags}). */
export interface ServiceWatchFlags {
  /** `--kubernetes-namespaces`; the default namespaces when absent. */
  kubernetesNamespaces?: string[];
  /** `--kubernetes-upstream`. */
  kubernetesUpstream: UpstreamMode;
  /** `--cluster-domain`. */
  clusterDomain: string;
  /** `--kubernetes-failure-limit`. */
  kubernetesFailureLimit: number;
  /** `--kubernetes-failure-window` in ms. */
  kubernetesFailureWindow: number;
}

/** Adds the client's Kubernetes flags. */
export function kubernetesClientFlags(command: Command): Command {
  flag(command, "--kubernetes", "expose this cluster's annotated Services (docs/kubernetes.md)");
  serviceWatchFlags(command);
  return command;
}

/** The client's Kubernetes mode, running: its watch of edge Services. */
export type ClientKubernetes = ServiceWatch;

/** A watch of annotated Services, running. */
export interface ServiceWatch {
  /** Resolves when watching stopped: closed, or gave up ({@linkcode ServiceWatch.failure}). */
  ended: Promise<void>;
  /** Why watching gave up, if it did; the process should then exit non-zero. */
  readonly failure: Error | null;
  /** Stops watching. */
  close(): Promise<void>;
}

/**
 * Starts watching annotated Services when `--kubernetes` is given (`null`
 * otherwise); `onApps` gets every new app list.
 */
export async function startClientKubernetes(
  flags: KubernetesClientFlags,
  log: Logger,
  onApps: (apps: AppSpec[]) => void,
): Promise<ClientKubernetes | null> {
  if (!flags.kubernetes) return null;
  const watch = await watchAnnotatedServices(flags, log, { onApps });
  log.info("kubernetes: exposing annotated Services", {
    namespaces: flags.kubernetesNamespaces ?? "all",
    upstream: flags.kubernetesUpstream,
  });
  return watch;
}

/**
 * Watches the Services annotated `exposed` (by `flags`: namespaces, upstream
 * mode, failure policy) and hands every new app list to `onApps`; with
 * `offers`, central Services, which need the `peers` annotation.
 * `namespaces` replaces the flag's default of all namespaces.
 */
export async function watchAnnotatedServices(
  flags: ServiceWatchFlags,
  log: Logger,
  options: { onApps(apps: OfferSpec[]): void; offers?: boolean; namespaces?: string[] },
): Promise<ServiceWatch> {
  const api = await loadKubeApi();
  const logger = log.with({ component: "kubernetes" });
  const policy = {
    maxFailures: flags.kubernetesFailureLimit,
    failureWindowMs: flags.kubernetesFailureWindow,
  };
  const feeds = (flags.kubernetesNamespaces ?? options.namespaces ?? [undefined]).map((
    namespace,
  ) => new Reflector(api, SERVICES, { namespace, policy, logger }));
  const source = new AnnotatedServiceSource(feeds, {
    upstream: flags.kubernetesUpstream,
    clusterDomain: flags.clusterDomain,
    offers: options.offers,
    logger,
  });
  source.start(options.onApps);
  let failure: Error | null = null;
  const ended = source.done.catch((error: Error) => {
    failure = error;
    logger.error("watching Services gave up: exiting so that the pod is restarted", { error });
  });
  return {
    ended,
    get failure() {
      return failure;
    },
    close: () => source.close(),
  };
}
