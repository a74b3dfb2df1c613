/**
 * Writing state files so that a crash never leaves a half-written file and
 * secrets are never readable by others.
 *
 * @module
 */

/**
 * Writes `data` to `path` atomically: a temporary file in the same
 * directory (created with `mode`, 0600 by default) is written, synced and
 * renamed over `path`. The directory is created (0700) when missing. A
 * failure (a full disk…) leaves the old file and no temporary one.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  const temp = await writeTemp(path, data, mode);
  try {
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/**
 * Creates `path` with `data` unless it exists: a private temporary file is
 * written, synced and hard-linked into place (falling back to a rename where
 * links are unsupported). Returns false, leaving `path` alone, when it
 * already existed. No temporary file is left behind.
 */
export async function createFileExclusive(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<boolean> {
  const temp = await writeTemp(path, data, mode);
  try {
    await Deno.link(temp, path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    await Deno.rename(temp, path);
    return true;
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
}

/**
 * A synced temporary file beside `path` holding `data`, with exactly `mode`
 * (creation honours the umask). Removed again when anything fails.
 */
async function writeTemp(path: string, data: string | Uint8Array, mode: number): Promise<string> {
  const slash = path.lastIndexOf("/");
  const dir = slash > 0 ? path.slice(0, slash) : ".";
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const file = await Deno.open(temp, { write: true, createNew: true, mode });
  try {
    try {
      let at = 0;
      while (at < bytes.length) at += await file.write(bytes.subarray(at));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.chmod(temp, mode);
    return temp;
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
