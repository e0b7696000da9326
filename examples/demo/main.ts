// The cbsuite demo: `pnpm demo` (embedded: no Redis needed) and
// `pnpm demo:fleet` (four client processes sharing a Redis). See README.md.
import { resolve } from 'node:path';
import { NoRedisError } from '@cbsuite/testkit/redis-server.js';
import { parseArgs, USAGE } from './args.js';
import { runEmbedded } from './embedded.js';
import { runFleet } from './fleet.js';
import { DEFAULT_PROFILE, QUICK_PROFILE } from './profile.js';

const command = parseArgs(process.argv.slice(2));
switch (command.kind) {
  case 'help':
    process.stdout.write(`${USAGE}\n`);
    break;
  case 'error':
    process.stderr.write(`demo: ${command.message}\n${USAGE}\n`);
    process.exitCode = 2;
    break;
  case 'embedded':
  case 'fleet': {
    // The first Ctrl-C ends the run early, with its summary and report; one
    // more, a second later, leaves at once. (Ctrl-C reaches tsx too, which
    // may relay it: a repeat within the second is that relay.)
    const stop = new AbortController();
    let firstMs = 0;
    const interrupted = () => {
      if (!stop.signal.aborted) {
        firstMs = performance.now();
        process.exitCode = 130;
        stop.abort();
      } else if (performance.now() - firstMs > 1000) process.exit(130);
    };
    process.on('SIGINT', interrupted);
    process.on('SIGTERM', interrupted);
    const options = {
      profile: command.quick ? QUICK_PROFILE : DEFAULT_PROFILE,
      // pnpm runs the script in examples/: a relative path is taken from where `pnpm demo` was typed.
      reportPath:
        command.report === undefined ? undefined : resolve(process.env.INIT_CWD ?? process.cwd(), command.report),
      out: process.stdout,
      signal: stop.signal,
    };
    try {
      if (command.kind === 'embedded') await runEmbedded(options);
      else await runFleet({ ...options, redis: { url: process.env.REDIS_URL } });
    } catch (err) {
      if (err instanceof NoRedisError) process.stderr.write(`demo: ${err.message}\n`);
      else process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    } finally {
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
    }
    // Whatever grpc-js still holds must not keep the demo alive.
    setTimeout(() => process.exit(), 2000).unref();
    break;
  }
}
