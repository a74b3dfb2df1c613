/**
 * The file system and identity of a test container, as a container runtime
 * sets them up: a shell script run as root in the container's new mount
 * namespace (`unshare --mount`, private propagation, so nothing reaches the
 * host) that
 *
 * - adds the image's directories (its `--chown` COPYs) and every missing
 *   mount point, through an overlay on the nearest existing directory (the
 *   host's own files are never written);
 * - bind-mounts each volume on its mountPath (read-only when asked), the
 *   service-account directory, the pod's /etc/hosts, and a private /dev/shm;
 * - makes the root file system read-only (`readOnlyRootFilesystem`), so that
 *   the volumes are the only writable places;
 * - then execs the program as the pod's user with `setpriv`: uid/gid, the
 *   fsGroup as supplementary group, no capabilities, `no_new_privs`, a clean
 *   environment (`env -i`) and the working directory.
 *
 * @module
 */

/** One bind mount of the container. */
export interface Bind {
  source: string;
  target: string;
  readOnly: boolean;
}

/** What {@linkcode sandboxScript} sets up. */
export interface SandboxSpec {
  /** Scratch space of this container (overlay upper and work dirs). */
  scratch: string;
  /** Image directories owned by the image user, created with mode 0700. */
  ownedDirs: string[];
  imageUid: number;
  imageGid: number;
  binds: Bind[];
  readOnlyRoot: boolean;
  uid: number;
  gid: number;
  groups: number[];
  noNewPrivs: boolean;
  dropAllCapabilities: boolean;
  workdir: string;
}

/** Quotes `text` for sh. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The deepest existing ancestor of `path` (on the host, which the new namespace starts as). */
function existingAncestor(path: string): string {
  let dir = path;
  while (!exists(dir)) dir = dir.slice(0, dir.lastIndexOf("/")) || "/";
  return dir;
}

/**
 * The script; run it as `sh -c SCRIPT sh VAR=value… PROGRAM ARGS…` under
 * `unshare --mount --propagation private`.
 */
export function sandboxScript(spec: SandboxSpec): string {
  const q = shellQuote;
  const lines = ["set -eu"];
  const created = [...spec.ownedDirs, ...spec.binds.map((bind) => bind.target)]
    .filter((path) => !exists(path));
  // Real paths: /var/run is a symlink to /run on Debian.
  const overlays = [...new Set(created.map((path) => Deno.realPathSync(existingAncestor(path))))];
  for (const [i, lower] of overlays.entries()) {
    if (lower === "/") throw new Error(`Cannot add ${created.join(", ")}: no overlay on /`);
    const upper = `${spec.scratch}/overlay-${i}/upper`;
    const work = `${spec.scratch}/overlay-${i}/work`;
    lines.push(`mkdir -p ${q(upper)} ${q(work)}`);
    lines.push(
      `mount -t overlay overlay -o ${q(`lowerdir=${lower},upperdir=${upper},workdir=${work}`)} ${
        q(lower)
      }`,
    );
  }
  for (const dir of spec.ownedDirs) {
    lines.push(`mkdir -p ${q(dir)}`);
    lines.push(`chown ${spec.imageUid}:${spec.imageGid} ${q(dir)}`, `chmod 0700 ${q(dir)}`);
  }
  lines.push("mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm");
  for (const bind of spec.binds) {
    if (!exists(bind.target)) lines.push(`mkdir -p ${q(bind.target)}`);
    lines.push(`mount --bind ${q(bind.source)} ${q(bind.target)}`);
    if (bind.readOnly) lines.push(`mount -o remount,bind,ro ${q(bind.target)}`);
  }
  if (spec.readOnlyRoot) {
    lines.push("mount -o remount,bind,ro /");
    for (const lower of overlays) lines.push(`mount -o remount,bind,ro ${q(lower)}`);
  }
  lines.push(`cd ${q(spec.workdir)}`);
  const setpriv = [
    "setpriv",
    `--reuid=${spec.uid}`,
    `--regid=${spec.gid}`,
    spec.groups.length ? `--groups=${spec.groups.join(",")}` : "--clear-groups",
    ...(spec.noNewPrivs ? ["--no-new-privs"] : []),
    ...(spec.dropAllCapabilities ? ["--inh-caps=-all", "--bounding-set=-all"] : []),
    // The container dies with its sandbox, as with a real runtime.
    "--pdeathsig=SIGKILL",
  ];
  lines.push(`exec ${setpriv.join(" ")} -- env -i "$@" </dev/null`);
  return lines.join("\n");
}
