#!/usr/bin/env node
// `blockferry <command> ...`: each command lives in its own module and is loaded only when used,
// so `blockferry changes` stays fast and works without a server.
const commands: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  serve: () => import("./commands/serve.ts"),
  changes: () => import("./commands/changes.ts"),
  hosts: () => import("./commands/hosts.ts"),
  migrate: () => import("./commands/migrate.ts"),
  decommission: () => import("./commands/decommission.ts"),
  secrets: () => import("./commands/secrets.ts"),
  users: () => import("./commands/users.ts"),
  login: () => import("./commands/login.ts"),
  logout: async () => ({ run: (await import("./commands/login.ts")).logout }),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const load = name ? commands[name] : undefined;
  if (!load) {
    process.stderr.write(
      `usage: blockferry <command>\n\ncommands:\n${Object.keys(commands)
        .map((c) => `  ${c}`)
        .join("\n")}\n`,
    );
    return name ? 2 : 0;
  }
  const command = await load();
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`blockferry: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
