/**
 * The host directories a wrapped container needs (kcm's config directory,
 * its install directory, the host's /proc) and the pod volumes behind
 * them: an existing volume of the same host path is reused, a new one gets
 * a name no other volume of the pod has. Pure.
 */

import { normalizePath } from "../paths.ts";
import { HOST_PROC_MOUNT } from "./names.ts";
import type { Pod } from "./pod.ts";

/**
 * Where kcm lives on the nodes: absolute host paths, normalised (as
 * `injectionSettings()` in settings.ts returns them).
 */
export interface InjectionSettings {
  /** kcm's config directory (`--conf-dir`), mounted at the same path. */
  readonly confDir: string;
  /** Directory holding the `kcm` binary, mounted read-only at the same path. */
  readonly installDir: string;
}

/** One mount every wrapped container needs, and the volume behind it. */
export interface MountSpec {
  readonly volumeBase: string;
  readonly hostPath: string;
  readonly mountPath: string;
  readonly readOnly: boolean;
}

export function mountSpecs(settings: InjectionSettings): MountSpec[] {
  return [
    {
      volumeBase: "kcm-conf-dir",
      hostPath: normalizePath(settings.confDir),
      mountPath: normalizePath(settings.confDir),
      readOnly: false,
    },
    {
      volumeBase: "kcm-install-dir",
      hostPath: normalizePath(settings.installDir),
      mountPath: normalizePath(settings.installDir),
      readOnly: true,
    },
    {
      volumeBase: "kcm-host-proc",
      hostPath: "/proc",
      mountPath: HOST_PROC_MOUNT,
      readOnly: true,
    },
  ];
}

/** Picks volume names: an existing volume of the same host path, else a free name. */
export class VolumePlanner {
  readonly #names: Set<string>;
  readonly #byHostPath = new Map<string, string>();
  readonly #added: { name: string; hostPath: string }[] = [];

  constructor(pod: Pod) {
    this.#names = new Set((pod.volumes ?? []).map((v) => v.name));
    for (const volume of pod.volumes ?? []) {
      if (volume.hostPath === undefined) continue;
      const path = normalizePath(volume.hostPath);
      if (!this.#byHostPath.has(path)) this.#byHostPath.set(path, volume.name);
    }
  }

  /** The volume name for `spec`'s host path, adding a volume when none exists. */
  nameFor(spec: MountSpec): string {
    const existing = this.#byHostPath.get(spec.hostPath);
    if (existing !== undefined) return existing;
    let name = spec.volumeBase;
    for (let i = 1; this.#names.has(name); i++) {
      name = `${spec.volumeBase}-${i}`;
    }
    this.#names.add(name);
    this.#byHostPath.set(spec.hostPath, name);
    this.#added.push({ name, hostPath: spec.hostPath });
    return name;
  }

  /** The volumes to add, in the order they were first needed. */
  get added(): readonly { name: string; hostPath: string }[] {
    return this.#added;
  }
}
