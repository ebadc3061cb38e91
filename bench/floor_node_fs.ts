/**
 * An empty Deno program that imports `node:fs`: what loading Deno's Node
 * compatibility layer costs, which is why nothing on `isolate`'s path
 * imports a `node:` module (core/raw_fs.ts reads names that are not UTF-8
 * through libc instead).
 */

import { existsSync } from "node:fs";

if (typeof existsSync !== "function") throw new Error("node:fs did not load");
