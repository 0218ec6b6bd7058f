// Bundles the CLI and server into dist/ so `blockferry serve` starts without transpiling hundreds of modules
// (startup drops from seconds to well under one). Native addons stay external: they load from node_modules.
import { build } from "esbuild";

await build({
  entryPoints: ["src/main.ts"],
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  external: ["better-sqlite3", "ssh2", "cpu-features", "@node-rs/argon2", "pino", "thread-stream"],
  // Some CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __bfCreateRequire } from 'node:module'; const require = __bfCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
});
