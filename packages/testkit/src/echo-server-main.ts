// Echo servers in a process of their own, so that a test, a benchmark or the
// demo can kill them for real. Usage: echo-server-main.ts [count=1] [delayMs=0] [port=0]
// (the port of the first server; 0, and the others, take free ones).
// Prints {"ports": [...]} once listening, or {"error": "..."} and exits 1;
// then serves until killed. Over its IPC channel it is told how to behave
// (see child-server.ts); with one, it leaves when its parent goes and ignores
// Ctrl-C, which reaches the whole process group: its parent stops it.
import { answerer, type Behaviour, IMMEDIATE } from './behaviour.js';
import type { FromServer, ToServer } from './child-server.js';
import { startEchoServer } from './echo.js';

const count = Number(process.argv[2] ?? 1);
const port = Number(process.argv[4] ?? 0);
let behaviour: Behaviour = { ...IMMEDIATE, delayMs: Number(process.argv[3] ?? 0) };

const send = (m: FromServer) => process.send?.(m);
process.on('message', (m: ToServer) => {
  if (m.type !== 'behave') return;
  behaviour = m.behaviour;
  send({ type: 'behaving', seq: m.seq });
});
if (process.send !== undefined) {
  process.on('disconnect', () => process.exit(0));
  process.on('SIGINT', () => undefined);
}

const started = await Promise.all(
  Array.from({ length: count }, (_, i) =>
    startEchoServer(
      answerer(() => behaviour, Math.random),
      i === 0 ? port : 0,
    ),
  ),
).catch((err: unknown) => err as Error);
if (started instanceof Error) {
  process.stdout.write(`${JSON.stringify({ error: started.message })}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ ports: started.map((s) => s.port) })}\n`);
