/**
 * Callers waiting for a sync to be ready: each waits at most `timeoutMs`,
 * then gets the error `timedOut` makes. The timer keeps the process alive
 * while someone waits (unlike the sync's own timers and sockets).
 */
export class Readiness {
  private waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(private readonly timeoutMs: number) {}

  wait(timedOut: () => unknown): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(timedOut());
      }, this.timeoutMs);
      this.waiters.push(waiter);
    });
  }

  resolve(): void {
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  reject(err: unknown): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}
