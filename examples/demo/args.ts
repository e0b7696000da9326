/** What the command line asks for. */
export type Command =
  | { readonly kind: 'embedded' | 'fleet'; readonly quick: boolean; readonly report: string | undefined }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

export const DEFAULT_REPORT = 'demo-report.html';
/** The fleet demo's report has a name of its own, so that it does not overwrite the other's. */
export const DEFAULT_FLEET_REPORT = 'demo-fleet-report.html';

export const USAGE = `Usage: pnpm demo [--quick] [--report <path> | --no-report]
       pnpm demo:fleet [--quick] [--report <path> | --no-report]

  --quick            the same script compressed to about 14 s (default: about 50 s)
  --report <path>    where to write the HTML report
                     (default: ${DEFAULT_REPORT}; with --fleet, ${DEFAULT_FLEET_REPORT})
  --no-report        do not write the report
  --fleet            four client processes sharing their breakers through Redis
                     (REDIS_URL, else 127.0.0.1:6379, else a redis-server of its own)
  --help             this text`;

/** Parses the demo's arguments (after the script name). */
export function parseArgs(argv: readonly string[]): Command {
  let quick = false;
  // null: not given, so the mode's default.
  let report: string | undefined | null = null;
  let fleet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') continue;
    if (a === '--help' || a === '-h') return { kind: 'help' };
    if (a === '--quick') quick = true;
    else if (a === '--fleet') fleet = true;
    else if (a === '--no-report') report = undefined;
    else if (a === '--report' || a.startsWith('--report=')) {
      const value = a === '--report' ? argv[++i] : a.slice('--report='.length);
      if (value === undefined || value === '' || value.startsWith('--')) {
        return { kind: 'error', message: '--report needs a path' };
      }
      report = value;
    } else return { kind: 'error', message: `unknown argument ${JSON.stringify(a)}` };
  }
  if (report === null) report = fleet ? DEFAULT_FLEET_REPORT : DEFAULT_REPORT;
  return { kind: fleet ? 'fleet' : 'embedded', quick, report };
}
