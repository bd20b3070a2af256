// One line describing where the numbers came from; results without it are not comparable.

function cpuModel(): string {
  try {
    const line = Deno.readTextFileSync("/proc/cpuinfo").split("\n").find((l) =>
      l.startsWith("model name")
    );
    return line?.split(":")[1].trim() ?? "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

/** Filesystem type of the mount holding `path` (longest matching mount point wins). */
function fsType(path: string): string {
  try {
    const real = Deno.realPathSync(path);
    let best = { mount: "", type: "unknown" };
    for (const line of Deno.readTextFileSync("/proc/mounts").split("\n")) {
      const [, mount, type] = line.split(" ");
      const inside = mount === "/" || real === mount || real.startsWith(`${mount}/`);
      if (mount && inside && mount.length > best.mount.length) best = { mount, type };
    }
    return `${best.type} (${best.mount})`;
  } catch {
    return "unknown";
  }
}

/**
 * 1-minute load average: the machine is shared, and a reader needs to know whether an
 * engine's run competed with other work.
 */
export function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  } catch {
    return "?";
  }
}

export function describeMachine(tempDir: string): string {
  const gib = (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0);
  return [
    cpuModel(),
    `${navigator.hardwareConcurrency} cores`,
    `${gib} GiB RAM`,
    `${Deno.build.os} ${Deno.osRelease()}`,
    `Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`,
    `temp dir fs: ${fsType(tempDir)}`,
  ].join(", ");
}
