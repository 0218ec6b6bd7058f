/**
 * Splits one command line the way `sh -c` would for what packages/lvm generates: bare words, single-quoted
 * words (`'\''` inside), and a leading `NAME=value` environment assignment. Anything a fake should not pretend
 * to run (pipes, `;`, `$`, redirections, double quotes) is refused, so a test notices a command it does not model.
 */
export function shellWords(command: string): { env: Record<string, string>; argv: string[] } {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < command.length; i++) {
    const c = command[i] as string;
    if (c === " " || c === "\t") {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in ${JSON.stringify(command)}`);
      word = (word ?? "") + command.slice(i + 1, end);
      i = end;
    } else if (c === "\\" && i + 1 < command.length) {
      word = (word ?? "") + command[++i];
    } else if (/[|;&$<>`"\n(){}*?]/.test(c)) {
      throw new Error(`the fake host runs single commands only, not ${JSON.stringify(command)}`);
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== null) words.push(word);
  const env: Record<string, string> = {};
  while (words[0] && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) {
    const [name, ...value] = (words.shift() as string).split("=");
    env[name as string] = value.join("=");
  }
  return { env, argv: words };
}
