// A resolver for tests whose address list the test changes: targets
// `cbtest:<name>`. It answers once per resolution cycle, asynchronously: a
// resolver that answers every updateResolution() at once loops with
// round_robin, which asks for re-resolution whenever a child leaves READY.
// It speaks both listener shapes: a function (grpc-js 1.14) or an object.
import { grpc } from './echo.js';

type Resolver = grpc.experimental.Resolver;
type Listener = grpc.experimental.ResolverListener;
interface OldListener {
  onSuccessfulResolution(
    endpoints: unknown[],
    config: null,
    configError: null,
    selector: null,
    attributes: object,
  ): void;
}

const lists = new Map<string, number[]>();
const live = new Map<string, Set<TestResolver>>();

class TestResolver implements Resolver {
  private scheduled = false;
  private destroyed = false;
  private readonly name: string;

  constructor(
    target: grpc.experimental.GrpcUri,
    private readonly listener: Listener,
  ) {
    this.name = target.path;
    const set = live.get(this.name) ?? new Set<TestResolver>();
    live.set(this.name, set);
    set.add(this);
  }

  updateResolution(): void {
    this.destroyed = false;
    live.get(this.name)?.add(this);
    this.schedule();
  }

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.destroyed) return;
      const ports = lists.get(this.name) ?? [];
      const endpoints = ports.map((port) => ({ addresses: [{ host: '127.0.0.1', port }] }));
      if (typeof this.listener === 'function') {
        this.listener(grpc.experimental.statusOrFromValue(endpoints), {}, null, '');
      } else {
        // grpc-js before 1.14: a listener object.
        (this.listener as unknown as OldListener).onSuccessfulResolution(endpoints, null, null, null, {});
      }
    });
  }

  destroy(): void {
    this.destroyed = true;
    live.get(this.name)?.delete(this);
  }

  static getDefaultAuthority(): string {
    return 'cbtest';
  }
}

let registered = false;

/** Sets the addresses of `cbtest:<name>` and pushes them to every live resolver of that name. */
export function setTestAddresses(name: string, ports: readonly number[]): void {
  if (!registered) {
    grpc.experimental.registerResolver('cbtest', TestResolver);
    registered = true;
  }
  lists.set(name, [...ports]);
  for (const r of live.get(name) ?? []) r.schedule();
}
