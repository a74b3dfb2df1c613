/**
 * What the kubelet derives from a container spec before it starts it: the
 * command line and the identity (securityContext).
 *
 * @module
 */

import { ContainerConfigError, expand } from "./env.ts";
import type { Image } from "./image.ts";

type Obj = Record<string, unknown>;

/** The container's identity and restrictions. */
export interface Security {
  uid: number;
  gid: number;
  fsGroup?: number;
  /** Supplementary groups: the fsGroup and supplementalGroups. */
  groups: number[];
  readOnlyRoot: boolean;
  noNewPrivs: boolean;
  dropAll: boolean;
}

/** The container's argv: `command` replaces the image's ENTRYPOINT, `args` its CMD; `$(VAR)` expanded. */
export function commandLine(container: Obj, image: Image, env: Record<string, string>): string[] {
  const command = container.command as string[] | undefined;
  const args = container.args as string[] | undefined;
  const argv = command
    ? [...command, ...(args ?? [])]
    : [...image.entrypoint, ...(args ?? image.cmd)];
  return argv.map((arg) => expand(arg, env));
}

/**
 * The identity and restrictions of the container from the pod's and the container's
 * securityContext (the container's wins), with the image's USER as the default.
 *
 * @throws {ContainerConfigError} runAsNonRoot with uid 0, or a writable root file system.
 */
export function securityOf(spec: Obj, container: Obj, image: Image): Security {
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
