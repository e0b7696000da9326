// Echo servers in a process of their own, so that a test or a benchmark can
// kill them for real. Usage: echo-server-main.ts [count=1] [delayMs=0]
// Prints {"ports": [...]} once listening, then serves until killed.
import { startEchoServer } from './echo.js';

const count = Number(process.argv[2] ?? 1);
const delayMs = Number(process.argv[3] ?? 0);
const servers = await Promise.all(
  Array.from({ length: count }, () => startEchoServer(() => (delayMs > 0 ? { delayMs } : undefined))),
);
process.stdout.write(`${JSON.stringify({ ports: servers.map((s) => s.port) })}\n`);
