/**
 * A one-node test cluster that runs rendered workloads as a kubelet would,
 * with the fake API server (tests/fake_kube) as its control plane.
 *
 * - Pods: each in its own network namespace (see pod_network.ts) with a pod
 *   IP 127.0.0.x, and each container in its own mount namespace, as the
 *   pod's user, on a read-only root with its volumes (see sandbox.ts).
 * - Service account: token, ca.crt and namespace in
 *   /var/run/secrets/kubernetes.io/serviceaccount, and
 *   KUBERNETES_SERVICE_HOST/PORT, so that the program uses its in-cluster
 *   configuration: HTTPS to the `kubernetes` Service (127.0.1.1:443), whose
 *   TLS this cluster ends with a CA it makes (openssl) before the fake.
 * - Services: a ClusterIP 127.0.1.x each, names in each pod's /etc/hosts
 *   (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`), and a
 *   kube-proxy that routes a Service port to the `targetPort` of a Ready pod
 *   it selects (any selected pod with `publishNotReadyAddresses`): a pod that
 *   never passes its readiness probe gets no traffic, as in a real cluster.
 * - Readiness is what {@linkcode TestCluster.waitForProbe} observed: the
 *   kubelet's HTTP GET without a token, within the probe's bound.
 *
 * Everything the cluster starts is stopped by `close()`; it needs root
 * (namespaces, mounts, setpriv), `unshare`, `nsenter`, `setpriv`, `ip` and
 * `openssl`: {@linkcode clusterUnavailable} says when they are missing.
 *
 * @module
 */

import { startFakeKube } from "../../fake_kube/mod.ts";
import type { FakeKube } from "../../fake_kube/mod.ts";
import type { Manifest } from "../chart.ts";
import { WormholeProcess } from "../../harness/process.ts";
import { ContainerConfigError, containerEnv, type PodFacts, type ServiceAddress } from "./env.ts";
import { expand } from "./env.ts";
import { Forwarder } from "./forward.ts";
import { readImage } from "./image.ts";
import {
  httpProbe,
  listeningSockets,
  type Probe,
  type ProbeResult,
  reachableOnPodIP,
  readinessBoundMs,
} from "./probe.ts";
import { authorized, forbidden, requestAttributes, type ServiceAccountRef } from "./rbac.ts";
import { CONNECTED } from "./pod_network.ts";
import { type Bind, sandboxScript } from "./sandbox.ts";

type Obj = Record<string, unknown>;

const POD_NETWORK = new URL("./pod_network.ts", import.meta.url).pathname;
const ROOT = new URL("../../../", import.meta.url).pathname;
const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const API_IP = "127.0.1.1";

/** Why the test cluster cannot run here, or undefined when it can. */
export function clusterUnavailable(): string | undefined {
  if (Deno.uid() !== 0) return "the kubelet harness needs root (namespaces, mounts, setpriv)";
  for (const tool of ["unshare", "nsenter", "setpriv", "ip", "openssl"]) {
    const found = new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" })
      .outputSync().success;
    if (!found) return `${tool} is not installed`;
  }
  return undefined;
}

/** A Service of the cluster, with its ClusterIP. */
export interface ClusterService extends ServiceAddress {
  selector: Record<string, string>;
  publishNotReadyAddresses: boolean;
  ports: { name?: string; port: number; targetPort: number | string; protocol?: string }[];
}

/** A container port of a pod. */
interface ContainerPort {
  name?: string;
  containerPort: number;
}

/** A running pod (one container). */
export class TestPod {
  ready = false;
  readonly startedAt = performance.now();

  constructor(
    readonly facts: PodFacts,
    readonly container: Obj,
    readonly process: WormholeProcess,
    readonly network: Deno.ChildProcess,
    readonly inbound: string,
  ) {}

  get name(): string {
    return this.facts.name;
  }

  get ip(): string {
    return this.facts.podIP;
  }

  /** The container's ports. */
  get ports(): ContainerPort[] {
    return (this.container.ports ?? []) as ContainerPort[];
  }

  /** The port number of a named or numbered port. */
  resolvePort(port: number | string): number {
    if (typeof port === "number") return port;
    if (/^\d+$/.test(port)) return Number(port);
    const found = this.ports.find((p) => p.name === port);
    if (!found) throw new Error(`pod ${this.name}: no container port named ${port}`);
    return found.containerPort;
  }

  /**
   * A connection to `podIP:port`, through the pod's network.
   *
   * @throws {Deno.errors.ConnectionRefused} When nothing listens there.
   */
  async dial(port: number): Promise<Deno.Conn> {
    const conn = await Deno.connect({ transport: "unix", path: this.inbound });
    const answer = new Uint8Array(1);
    try {
      await conn.write(new Uint8Array([port >> 8, port & 255]));
      if (await conn.read(answer) === 1 && answer[0] === CONNECTED) return conn;
    } catch {
      // The pod's network is gone: refused as well.
    }
    conn.close();
    throw new Deno.errors.ConnectionRefused(
      `dial tcp ${this.ip}:${port}: connect: connection refused`,
    );
  }

  /** Container ports nothing listens on at the pod IP. */
  async unlistenedPorts(): Promise<ContainerPort[]> {
    const sockets = await listeningSockets(this.process.pid);
    return this.ports.filter((port) => !reachableOnPodIP(sockets, this.ip, port.containerPort));
  }

  /** Stops the container (SIGTERM, as on deletion), then the pod's network. */
  async stop(): Promise<void> {
    // A deleted pod leaves the Services' endpoints first, as the endpoints controller does.
    this.ready = false;
    await this.process.stop();
    try {
      this.network.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await this.network.status;
  }
}

function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

function randomName(length: number): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}

async function run(program: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${program} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Builds the bundle the image's binary stands for (see image.ts) into `dir`. */
async function buildBundle(dir: string): Promise<string> {
  const bundle = `${dir}/wormhole.js`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--keep-names", "-o", bundle, "mod.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`deno bundle failed: ${new TextDecoder().decode(out.stderr)}`);
  await Deno.chmod(bundle, 0o644);
  return bundle;
}

/** A CA and a certificate of the API server for `kubernetes.default.svc` and its ClusterIP. */
async function apiServerCertificate(
  dir: string,
): Promise<{ ca: string; cert: string; key: string }> {
  const p = (name: string) => `${dir}/${name}`;
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.crt"),
    "-days",
    "1",
    "-subj",
    "/CN=test-cluster-ca",
  ]);
  await run("openssl", [
    "req",
    ...ec,
    "-keyout",
    p("api.key"),
    "-out",
    p("api.csr"),
    "-subj",
    "/CN=kube-apiserver",
  ]);
  await Deno.writeTextFile(
    p("api.ext"),
    `subjectAltName=IP:${API_IP},DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n`,
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    p("api.csr"),
    "-CA",
    p("ca.crt"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-out",
    p("api.crt"),
    "-days",
    "1",
    "-extfile",
    p("api.ext"),
  ]);
  return {
    ca: await Deno.readTextFile(p("ca.crt")),
    cert: await Deno.readTextFile(p("api.crt")),
    key: await Deno.readTextFile(p("api.key")),
  };
}

/** Options of {@linkcode TestCluster.start}. */
export interface ClusterOptions {
  /** The rendered manifests and the objects the user created before (e.g. a Secret). */
  objects: Manifest[];
}

/** See the module documentation. */
export class TestCluster implements AsyncDisposable {
  readonly pods: TestPod[] = [];
  readonly services: ClusterService[] = [];
  readonly #forwarders: Forwarder[] = [];
  /** Service-account tokens handed out, by bearer token. */
  readonly #accounts = new Map<string, ServiceAccountRef>();
  #nextPodIP = 10;
  #ca = "";

  private constructor(
    readonly dir: string,
    readonly kube: FakeKube,
    readonly objects: Manifest[],
    readonly bundle: string,
  ) {}

  /** Starts the control plane and kube-proxy for `objects`. */
  static async start(options: ClusterOptions): Promise<TestCluster> {
    // Not under /tmp: containers get their own /tmp, and they must reach these sockets' paths.
    const dir = await Deno.makeTempDir({ dir: "/var/tmp", prefix: "wormhole-kubelet-" });
    await Deno.chmod(dir, 0o711);
    const namespaces = [
      ...new Set([
        "default",
        "kube-system",
        ...options.objects.map((o) => o.metadata.namespace ?? "default"),
      ]),
    ];
    const kube = await startFakeKube({ namespaces, bookmarkIntervalMs: 0 });
    let cluster: TestCluster | undefined;
    try {
      const bundle = await buildBundle(dir);
      cluster = new TestCluster(dir, kube, options.objects, bundle);
      await cluster.#startControlPlane();
      return cluster;
    } catch (error) {
      if (cluster) await cluster.close();
      else {
        await kube.close();
        await Deno.remove(dir, { recursive: true });
      }
      throw error;
    }
  }

  async #startControlPlane(): Promise<void> {
    const tls = await apiServerCertificate(this.dir);
    this.#ca = tls.ca;
    const kubeUrl = new URL(this.kube.url);
    const front = new Forwarder(
      Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key }),
      () => Deno.connect({ hostname: kubeUrl.hostname, port: Number(kubeUrl.port) }),
    );
    this.#forwarders.push(front);
    this.services.push({
      name: "kubernetes",
      namespace: "default",
      clusterIP: API_IP,
      selector: {},
      publishNotReadyAddresses: false,
      ports: [{ name: "https", port: 443, targetPort: 443, protocol: "TCP" }],
    });
    let next = 2;
    for (const object of this.objects.filter((o) => o.kind === "Service")) {
      const spec = object.spec as Obj;
      if (spec.clusterIP === "None") continue;
      this.services.push({
        name: object.metadata.name,
        namespace: object.metadata.namespace ?? "default",
        clusterIP: `127.0.1.${next++}`,
        selector: (spec.selector ?? {}) as Record<string, string>,
        publishNotReadyAddresses: spec.publishNotReadyAddresses === true,
        ports: ((spec.ports ?? []) as Obj[]).map((port) => ({
          name: port.name as string | undefined,
          port: Number(port.port),
          targetPort: (port.targetPort ?? port.port) as number | string,
          protocol: port.protocol as string | undefined,
        })),
      });
    }
    // What `helm install` / `kubectl apply` creates, as far as the fake API server serves the kind.
    for (const object of this.objects) {
      try {
        this.kube.put(structuredClone(object) as never);
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
      }
    }
    for (const service of this.services) {
      for (const port of service.ports) {
        const path = this.#serviceSocket(service, port.port);
        const route = service.name === "kubernetes" && service.namespace === "default"
          ? () => Deno.connect({ hostname: "127.0.0.1", port: front.port })
          : () => this.#toEndpoint(service, port.targetPort);
        this.#forwarders.push(new Forwarder(Deno.listen({ transport: "unix", path }), route));
      }
    }
  }

  #serviceSocket(service: ClusterService, port: number): string {
    return `${this.dir}/svc-${service.clusterIP}-${port}.sock`;
  }

  /** The pods `service` sends traffic to now. */
  endpoints(service: ClusterService): TestPod[] {
    return this.pods.filter((pod) =>
      pod.facts.namespace === service.namespace &&
      labelsMatch(service.selector, pod.facts.labels) &&
      (pod.ready || service.publishNotReadyAddresses)
    );
  }

  async #toEndpoint(
    service: ClusterService,
    targetPort: number | string,
  ): Promise<Deno.Conn | null> {
    const [pod] = this.endpoints(service);
    if (!pod) return null;
    return await pod.dial(pod.resolvePort(targetPort));
  }

  /** The Service `name` in `namespace`. */
  service(namespace: string, name: string): ClusterService {
    const found = this.services.find((s) => s.namespace === namespace && s.name === name);
    if (!found) throw new Error(`no Service ${namespace}/${name}`);
    return found;
  }

  /** `kubectl port-forward service/NAME :PORT`: a 127.0.0.1 port of this process routed like the Service. */
  portForward(namespace: string, name: string, port: number): number {
    const service = this.service(namespace, name);
    const entry = service.ports.find((p) => p.port === port);
    if (!entry) throw new Error(`Service ${namespace}/${name} has no port ${port}`);
    const forwarder = new Forwarder(
      Deno.listen({ hostname: "127.0.0.1", port: 0 }),
      () => this.#toEndpoint(service, entry.targetPort),
    );
    this.#forwarders.push(forwarder);
    return forwarder.port;
  }

  /** How many connections reached Service `name` so far. */
  connectionsTo(namespace: string, name: string): number {
    const service = this.service(namespace, name);
    const paths = new Set(service.ports.map((port) => this.#serviceSocket(service, port.port)));
    return this.#forwarders
      .filter((f) =>
        f.listener.addr.transport === "unix" && paths.has((f.listener.addr as Deno.UnixAddr).path)
      )
      .reduce((sum, f) => sum + f.accepted, 0);
  }

  /**
   * What is wrong with the Services' routing: a Service that selects no running pod, or a
   * `targetPort` that is no containerPort of a pod it selects. Empty when every Service port
   * reaches a declared container port.
   */
  serviceProblems(): string[] {
    const problems: string[] = [];
    for (const service of this.services) {
      if (service.name === "kubernetes" && service.namespace === "default") continue;
      const selected = this.pods.filter((pod) =>
        pod.facts.namespace === service.namespace && labelsMatch(service.selector, pod.facts.labels)
      );
      const where = `Service ${service.namespace}/${service.name}`;
      if (selected.length === 0) problems.push(`${where} selects no pod`);
      for (const pod of selected) {
        for (const port of service.ports) {
          const target = port.targetPort;
          const declared = pod.ports.some((p) =>
            typeof target === "number" ? p.containerPort === target : p.name === target
          );
          if (!declared) {
            problems.push(
              `${where} port ${port.port}: targetPort ${target} is no port of ${pod.name}`,
            );
          }
        }
      }
    }
    return problems;
  }

  /**
   * The requests the API server would have refused (403) under the rendered RBAC, as its
   * messages; a request without a service-account token is listed too. Empty when RBAC allows
   * everything the pods did.
   */
  rbacProblems(): string[] {
    const problems = new Set<string>();
    for (const request of this.kube.requests) {
      const attrs = requestAttributes(request.method, request.path, request.query);
      if (!attrs) continue;
      const token = /^Bearer (.+)$/.exec(request.authorization ?? "")?.[1] ?? "";
      const account = this.#accounts.get(token);
      if (!account) {
        problems.add(`${request.method} ${request.path} without a service-account token`);
      } else if (!authorized(this.objects, account, attrs)) {
        problems.add(forbidden(account, attrs));
      }
    }
    return [...problems];
  }

  #find(kind: string, namespace: string, name: string): Manifest | undefined {
    return this.objects.find((o) =>
      o.kind === kind && o.metadata.name === name &&
      (o.metadata.namespace ?? "default") === namespace
    );
  }

  /**
   * Starts the pod of Deployment `name` as the kubelet would, once its Service account,
   * PVCs, Secrets and ConfigMaps exist.
   *
   * @throws {ContainerConfigError} When the kubelet could not start it either.
   */
  async runDeployment(namespace: string, name: string): Promise<TestPod> {
    const deployment = this.#find("Deployment", namespace, name);
    if (!deployment) throw new Error(`no Deployment ${namespace}/${name}`);
    const template = (deployment.spec as Obj).template as Obj;
    const spec = template.spec as Obj;
    const containers = spec.containers as Obj[];
    if (containers.length !== 1 || spec.initContainers) {
      throw new Error(`${name}: the harness runs pods of exactly one container`);
    }
    const metadata = (template.metadata ?? {}) as Obj;
    const podName = `${name}-${randomName(10)}-${randomName(5)}`;
    const serviceAccountName = String(spec.serviceAccountName ?? "default");
    if (
      serviceAccountName !== "default" &&
      !this.#find("ServiceAccount", namespace, serviceAccountName)
    ) {
      throw new ContainerConfigError(`serviceaccount "${serviceAccountName}" not found`);
    }
    const facts: PodFacts = {
      name: podName,
      namespace,
      uid: crypto.randomUUID(),
      podIP: `127.0.0.${this.#nextPodIP++}`,
      nodeName: "test-node",
      serviceAccountName,
      labels: (metadata.labels ?? {}) as Record<string, string>,
      annotations: (metadata.annotations ?? {}) as Record<string, string>,
    };
    const podDir = `${this.dir}/pods/${podName}`;
    await Deno.mkdir(podDir, { recursive: true });
    const image = readImage();
    const container = containers[0];
    const env = containerEnv({
      container,
      podSpec: spec,
      pod: facts,
      objects: this.objects,
      services: this.services,
      imageEnv: {
        ...image.env,
        // The image runs a compiled binary; its stand-in, deno, must not look for a cache
        // (the path does not exist and the root is read-only).
        DENO_DIR: "/nonexistent/deno",
        DENO_NO_UPDATE_CHECK: "1",
      },
    });
    const security = this.#security(spec, container, image);
    const binds = await this.#volumes(spec, container, facts, podDir, security.fsGroup);
    const inbound = `${podDir}/inbound.sock`;
    const ownPorts = ((container.ports ?? []) as ContainerPort[]).map((p) => p.containerPort);
    const network = await this.#startNetwork(facts, inbound, ownPorts);
    try {
      const [program, ...args] = this.#commandLine(container, image, env);
      if (program !== "wormhole" && program !== image.binary) {
        throw new ContainerConfigError(`${name}: the image has no executable ${program}`);
      }
      const script = sandboxScript({
        scratch: podDir,
        ownedDirs: image.ownedDirs,
        imageUid: image.uid,
        imageGid: image.gid,
        binds,
        readOnlyRoot: security.readOnlyRoot,
        uid: security.uid,
        gid: security.gid,
        groups: security.groups,
        noNewPrivs: security.noNewPrivs,
        dropAllCapabilities: security.dropAll,
        workdir: String(container.workingDir ?? image.workdir),
      });
      const launcher = [
        "nsenter",
        `--target=${network.pid}`,
        "--net",
        "--",
        "unshare",
        "--mount",
        "--propagation=private",
        "--",
        "sh",
        "-c",
        script,
        "sh",
        ...Object.entries(env).map(([key, value]) => `${key}=${value}`),
      ];
      const process = new WormholeProcess(args, {}, this.bundle, launcher);
      const pod = new TestPod(facts, container, process, network, inbound);
      this.pods.push(pod);
      return pod;
    } catch (error) {
      network.kill("SIGTERM");
      await network.status;
      throw error;
    }
  }

  #commandLine(container: Obj, image: ReturnType<typeof readImage>, env: Record<string, string>) {
    const command = container.command as string[] | undefined;
    const args = container.args as string[] | undefined;
    const argv = command
      ? [...command, ...(args ?? [])]
      : [...image.entrypoint, ...(args ?? image.cmd)];
    return argv.map((arg) => expand(arg, env));
  }

  #security(spec: Obj, container: Obj, image: ReturnType<typeof readImage>) {
    const pod = (spec.securityContext ?? {}) as Obj;
    const own = (container.securityContext ?? {}) as Obj;
    const pick = (key: string) => own[key] ?? pod[key];
    const uid = Number(pick("runAsUser") ?? image.uid);
    const gid = Number(pick("runAsGroup") ?? image.gid);
    if (pick("runAsNonRoot") === true && uid === 0) {
      throw new ContainerConfigError("container has runAsNonRoot and image will run as root");
    }
    if (own.readOnlyRootFilesystem !== true) {
      throw new ContainerConfigError(
        "the harness emulates readOnlyRootFilesystem: true only (a writable root would be the host's)",
      );
    }
    const fsGroup = pod.fsGroup === undefined ? undefined : Number(pod.fsGroup);
    const supplemental = ((pod.supplementalGroups ?? []) as number[]).map(Number);
    const drop = ((own.capabilities as Obj | undefined)?.drop ?? []) as string[];
    return {
      uid,
      gid,
      fsGroup,
      groups: [...new Set([...(fsGroup === undefined ? [] : [fsGroup]), ...supplemental])],
      readOnlyRoot: true,
      noNewPrivs: own.allowPrivilegeEscalation === false,
      dropAll: drop.includes("ALL"),
    };
  }

  /** Creates the pod's volumes and the bind mounts of its container. */
  async #volumes(
    spec: Obj,
    container: Obj,
    pod: PodFacts,
    podDir: string,
    fsGroup: number | undefined,
  ): Promise<Bind[]> {
    const sources = new Map<string, string>();
    // The kubelet gives emptyDir and block-backed volumes to the fsGroup (setgid, group rwx);
    // without one, an emptyDir is world-writable.
    const own = async (path: string) => {
      if (fsGroup === undefined) return await Deno.chmod(path, 0o777);
      await Deno.chown(path, 0, fsGroup);
      await Deno.chmod(path, 0o2775);
    };
    for (const volume of (spec.volumes ?? []) as Obj[]) {
      const name = String(volume.name);
      if (volume.emptyDir) {
        const path = `${podDir}/volumes/${name}`;
        await Deno.mkdir(path, { recursive: true });
        await own(path);
        sources.set(name, path);
      } else if (volume.persistentVolumeClaim) {
        const claim = String((volume.persistentVolumeClaim as Obj).claimName);
        if (!this.#find("PersistentVolumeClaim", pod.namespace, claim)) {
          throw new ContainerConfigError(
            `persistentvolumeclaim "${claim}" not found (pod Pending)`,
          );
        }
        // One directory per claim, kept across pods: what a bound volume is.
        const path = `${this.dir}/pv/${pod.namespace}/${claim}`;
        await Deno.mkdir(path, { recursive: true });
        await own(path);
        sources.set(name, path);
      } else if (volume.secret || volume.configMap) {
        const ref = (volume.secret ?? volume.configMap) as Obj;
        const kind = volume.secret ? "Secret" : "ConfigMap";
        const refName = String(ref.secretName ?? ref.name);
        const object = this.#find(kind, pod.namespace, refName);
        if (!object) throw new ContainerConfigError(`${kind.toLowerCase()} "${refName}" not found`);
        const path = `${podDir}/volumes/${name}`;
        await Deno.mkdir(path, { recursive: true });
        for (const [key, value] of Object.entries((object.data ?? {}) as Record<string, string>)) {
          const bytes = kind === "Secret"
            ? Uint8Array.from(atob(value), (c) => c.charCodeAt(0))
            : new TextEncoder().encode(value);
          await Deno.writeFile(`${path}/${key}`, bytes, { mode: Number(ref.defaultMode ?? 0o644) });
          if (fsGroup !== undefined) await Deno.chown(`${path}/${key}`, 0, fsGroup);
        }
        sources.set(name, path);
      } else {
        throw new ContainerConfigError(`volume ${name}: only emptyDir, PVC, Secret and ConfigMap`);
      }
    }
    const binds: Bind[] = [];
    for (const mount of (container.volumeMounts ?? []) as Obj[]) {
      const source = sources.get(String(mount.name));
      if (!source) throw new ContainerConfigError(`volumeMount ${mount.name}: no such volume`);
      binds.push({ source, target: String(mount.mountPath), readOnly: mount.readOnly === true });
    }
    if (spec.automountServiceAccountToken !== false) {
      const path = `${podDir}/serviceaccount`;
      await Deno.mkdir(path);
      const token = `test-token-${pod.namespace}-${pod.serviceAccountName}`;
      this.#accounts.set(token, { namespace: pod.namespace, name: pod.serviceAccountName });
      await Deno.writeTextFile(`${path}/token`, token);
      await Deno.writeTextFile(`${path}/ca.crt`, this.#ca);
      await Deno.writeTextFile(`${path}/namespace`, pod.namespace);
      for (const file of ["token", "ca.crt", "namespace"]) {
        await Deno.chmod(`${path}/${file}`, 0o644);
      }
      binds.push({ source: path, target: SA_DIR, readOnly: true });
    }
    const hosts = `${podDir}/hosts`;
    await Deno.writeTextFile(hosts, this.#hostsFile(pod));
    await Deno.chmod(hosts, 0o644);
    binds.push({ source: hosts, target: "/etc/hosts", readOnly: true });
    return binds;
  }

  /** The kubelet's /etc/hosts plus cluster DNS: every Service's names, short ones for its namespace. */
  #hostsFile(pod: PodFacts): string {
    const lines = [
      "127.0.0.1\tlocalhost",
      "::1\tlocalhost ip6-localhost ip6-loopback",
      `${pod.podIP}\t${pod.name}`,
    ];
    for (const service of this.services) {
      const fqdn = `${service.name}.${service.namespace}.svc`;
      const names = [`${fqdn}.cluster.local`, fqdn, `${service.name}.${service.namespace}`];
      if (service.namespace === pod.namespace) names.push(service.name);
      lines.push(`${service.clusterIP}\t${names.join(" ")}`);
    }
    return `${lines.join("\n")}\n`;
  }

  /**
   * Starts the pod's network. Without iptables here, Service addresses are real listeners in the
   * pod's namespace, which would take the port from the pod's own `0.0.0.0` listeners: a pod
   * cannot reach Services on the ports it listens on itself (`ownPorts`).
   */
  async #startNetwork(
    pod: PodFacts,
    inbound: string,
    ownPorts: number[],
  ): Promise<Deno.ChildProcess> {
    const config = {
      podIP: pod.podIP,
      inbound,
      outbound: this.services.flatMap((service) =>
        service.ports.filter((port) => !ownPorts.includes(port.port)).map((port) => ({
          host: service.clusterIP,
          port: port.port,
          socket: this.#serviceSocket(service, port.port),
        }))
      ),
    };
    // setpriv only sets the parent-death signal here: the network goes with this process.
    const child = new Deno.Command("setpriv", {
      args: [
        "--pdeathsig=SIGKILL",
        "--",
        "unshare",
        "--net",
        "--",
        Deno.execPath(),
        "run",
        "-A",
        POD_NETWORK,
        JSON.stringify(config),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("ready\n")) {
      const { value, done } = await reader.read();
      if (done) {
        await child.status;
        throw new Error(`the network of pod ${pod.name} did not start: ${text}`);
      }
      text += value;
    }
    // Drain the rest so that the process never blocks on a full pipe.
    (async () => {
      while (!(await reader.read()).done) { /* nothing */ }
    })();
    return child;
  }

  /** One probe of `pod`, now, as the kubelet runs it. */
  async probe(pod: TestPod, probe: Probe): Promise<ProbeResult> {
    if (probe.tcpSocket) {
      const port = pod.resolvePort(probe.tcpSocket.port);
      const listening = await listeningSockets(pod.process.pid);
      const success = reachableOnPodIP(listening, pod.ip, port);
      return {
        success,
        detail: `dial tcp ${pod.ip}:${port}: ${success ? "ok" : "connection refused"}`,
      };
    }
    if (!probe.httpGet) throw new Error(`pod ${pod.name}: exec probes are not supported`);
    const port = pod.resolvePort(probe.httpGet.port);
    let conn: Deno.Conn;
    try {
      conn = await pod.dial(port);
    } catch (error) {
      const path = probe.httpGet.path ?? "/";
      return {
        success: false,
        detail: `Get "http://${pod.ip}:${port}${path}": ${(error as Error).message}`,
      };
    }
    return await httpProbe(conn, probe, `${pod.ip}:${port}`);
  }

  /**
   * Probes until a probe succeeds with status 200, within the probe's bound from the container's
   * start (or from `since`); marks the pod Ready for a readiness probe.
   *
   * @returns The last result.
   * @throws {Error} With every distinct failure and the container's logs, past the bound.
   */
  async waitForProbe(
    pod: TestPod,
    kind: "readinessProbe" | "livenessProbe" | "startupProbe",
    since = pod.startedAt,
  ): Promise<ProbeResult> {
    const probe = pod.container[kind] as Probe | undefined;
    if (!probe) throw new Error(`pod ${pod.name} has no ${kind}`);
    const deadline = since + readinessBoundMs(probe);
    const failures = new Set<string>();
    let exited = false;
    pod.process.exited().then(() => (exited = true));
    while (true) {
      const result = await this.probe(pod, probe);
      if (result.success && (result.status === undefined || result.status === 200)) {
        if (kind === "readinessProbe") pod.ready = true;
        return result;
      }
      failures.add(result.detail);
      if (exited || performance.now() > deadline) {
        throw new Error(
          `${kind} of pod ${pod.name} never passed within ${readinessBoundMs(probe)} ms ` +
            `(${exited ? "the container exited" : "still running"}): ${
              [...failures].join("; ")
            }\n` +
            `container output:\n${pod.process.dump()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /**
   * Deletes `pod` as the API server's delete does: SIGTERM, then its network; its emptyDirs go
   * with it, PVC volumes stay for the next pod. Run the Deployment again for its replacement.
   */
  async deletePod(pod: TestPod): Promise<void> {
    const at = this.pods.indexOf(pod);
    if (at < 0) throw new Error(`no pod ${pod.name}`);
    this.pods.splice(at, 1);
    await pod.stop();
  }

  /** Stops every pod, kube-proxy, the API server; removes the cluster's directory. */
  async close(): Promise<void> {
    await Promise.all(this.pods.map((pod) => pod.stop()));
    await Promise.all(this.#forwarders.map((f) => f.close()));
    await this.kube.close();
    await Deno.remove(this.dir, { recursive: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
