/**
 * The container image as deploy/docker/Dockerfile builds it, read from the
 * Dockerfile's final stage: ENTRYPOINT, CMD, USER, WORKDIR, ENV, and the
 * directories it COPYs in with `--chown` (the state directory).
 *
 * There is no container runtime here, so the image's binary
 * (`/usr/local/bin/wormhole`, `deno compile` of mod.ts with the V8 flags and
 * permissions of scripts/lib/wormhole_process.ts) is stood in for by
 * `deno run` of the bundle with the same flags (tests/bundle_test.ts builds
 * it the same way): the same program, permissions and V8 flags.
 *
 * @module
 */

/** What the kubelet takes from the image. */
export interface Image {
  entrypoint: string[];
  cmd: string[];
  uid: number;
  gid: number;
  workdir: string;
  env: Record<string, string>;
  /** Directories of the image owned by the runtime user (mode 0700, from the build stage). */
  ownedDirs: string[];
  /** Where ENTRYPOINT's program lives; the only program a container may run. */
  binary: string;
}

const DOCKERFILE = new URL("../../../deploy/docker/Dockerfile", import.meta.url);
/** PATH of the distroless base image (gcr.io/distroless/cc-debian12). */
const BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Parses the final stage of the Dockerfile. */
export function readImage(text = Deno.readTextFileSync(DOCKERFILE)): Image {
  const lines = text.replace(/\\\n/g, " ").split("\n").map((line) => line.trim());
  const stages = lines.reduce<number[]>(
    (at, line, i) => (/^FROM\s/i.test(line) ? [...at, i] : at),
    [],
  );
  const final = lines.slice(stages.at(-1) ?? 0);
  const image: Image = {
    entrypoint: [],
    cmd: [],
    uid: 0,
    gid: 0,
    workdir: "/",
    env: { PATH: BASE_PATH },
    ownedDirs: [],
    binary: "",
  };
  for (const line of final) {
    const [word, ...rest] = line.split(/\s+/);
    const arg = rest.join(" ");
    switch (word.toUpperCase()) {
      case "ENTRYPOINT":
        image.entrypoint = JSON.parse(arg);
        break;
      case "CMD":
        image.cmd = JSON.parse(arg);
        break;
      case "USER": {
        const [uid, gid] = arg.split(":").map(Number);
        image.uid = uid;
        image.gid = gid ?? uid;
        break;
      }
      case "WORKDIR":
        image.workdir = arg;
        break;
      case "ENV":
        for (const match of arg.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) {
          image.env[match[1]] = match[2];
        }
        break;
      case "COPY": {
        const paths = rest.filter((part) => !part.startsWith("--"));
        const destination = paths.at(-1)!;
        if (rest.some((part) => part.startsWith("--chown="))) image.ownedDirs.push(destination);
        else if (/\/bin\//.test(destination)) image.binary = destination;
        break;
      }
    }
  }
  return image;
}
