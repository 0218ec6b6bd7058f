import { createConnection } from "node:net";

/**
 * Sends QMP commands to a qemu's socket one after the other and resolves once each has returned; a QMP error
 * rejects with its description. Lines other than answers (the greeting, events) are skipped.
 */
export function qmp(socketPath: string, commands: object[], timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    const pending = [...commands];
    let buffered = "";
    let greeted = false;
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`QMP ${socketPath}: no answer in ${timeoutMs} ms`)), timeoutMs);
    const sendNext = () => {
      const next = pending.shift();
      if (next) socket.write(`${JSON.stringify(next)}\n`);
      else done();
    };
    socket.on("error", (err) => done(err));
    socket.on("data", (chunk) => {
      buffered += chunk.toString("utf8");
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc?: string } };
        if (msg.error) return done(new Error(`QMP ${socketPath}: ${msg.error.desc ?? JSON.stringify(msg.error)}`));
        if (msg.QMP !== undefined && !greeted) {
          greeted = true;
          sendNext();
        } else if (msg.return !== undefined) sendNext();
      }
    });
  });
}
