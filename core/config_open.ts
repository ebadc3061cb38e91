/**
 * A config directory held open for one step under its lock: the directory
 * itself and its `pools/`, each opened once (core/confined_dir.ts), so that
 * reading a pool, writing its `tasks` and creating or removing a claim file
 * in the same step reach the same directories without walking down to them
 * again.
 *
 * Side effects: opens and closes two directory descriptors.
 */

import { ConfinedDir, EntryError } from "./confined_dir.ts";
import { ConfigError } from "./errors.ts";

const INIT_HINT = "run `kcm init` to create the config directory";

/** The config directory and its `pools/`, open; close with `using`. */
export class OpenConfig implements Disposable {
  /** The config directory. */
  readonly root: ConfinedDir;
  /** Its `pools/`. */
  readonly pools: ConfinedDir;

  private constructor(root: ConfinedDir, pools: ConfinedDir) {
    this.root = root;
    this.pools = pools;
  }

  /**
   * Opens `confDir` and its `pools/`; a missing or unusable one is a
   * {@linkcode ConfigError} with a hint to run `init`.
   */
  static open(confDir: string): OpenConfig {
    let root: ConfinedDir | undefined;
    try {
      root = ConfinedDir.openRoot(confDir);
      return new OpenConfig(root, root.openDir("pools", "config directory"));
    } catch (error) {
      root?.close();
      if (!(error instanceof EntryError)) throw error;
      throw new ConfigError(error.message, 1, {
        cause: error,
        hint: INIT_HINT,
      });
    }
  }

  /** Closes both directories. */
  [Symbol.dispose](): void {
    this.pools.close();
    this.root.close();
  }
}
