import { afterEach, describe, expect, it, vi } from 'vitest';
import { isCBConfigError } from './cb-config.js';
import { CBSuite } from './cb-suite.js';
import type { CBConfigChangeEvent } from './events.js';

const suites: CBSuite[] = [];
afterEach(() => {
  for (const s of suites.splice(0)) s.close();
});

/** A suite and the config changes it reports, as `level key: from -> to (source)`. */
function watched(): { cbs: CBSuite; changes: string[] } {
  const cbs = new CBSuite();
  suites.push(cbs);
  const changes: string[] = [];
  const show = (c: CBConfigChangeEvent['from']) => `${c.enable ? 'on' : 'off'}/${c.errRate}/${c.minSample}`;
  cbs.onConfigChange((e) =>
    changes.push(`${e.level} ${e.key ?? '(default)'}: ${show(e.from)} -> ${show(e.to)} (${e.source})`),
  );
  return { cbs, changes };
}

describe('CBSuite.onConfigChange', () => {
  it('reports every change of a config in force, at both levels, and nothing for updates that change nothing', () => {
    const { cbs, changes } = watched();
    cbs.updateServiceCBConfig('a/b/c', { minSample: 10 });
    cbs.updateServiceCBConfig('a/b/c', { minSample: 10 });
    cbs.updateDefaultServiceCBConfig({ errRate: 0.2 });
    cbs.removeServiceCBConfig('a/b/c');
    cbs.removeServiceCBConfig('never/set/here');
    cbs.updateInstanceCBConfig({ enable: false });
    cbs.updateInstanceCBConfigFor('10.0.0.1:80', { enable: true, minSample: 5 });
    cbs.removeInstanceCBConfigFor('10.0.0.1:80');
    expect(changes).toEqual([
      'service a/b/c: on/0.5/200 -> on/0.5/10 (local)',
      'service (default): on/0.5/200 -> on/0.2/200 (local)',
      'service a/b/c: on/0.5/10 -> on/0.2/200 (local)',
      'instance (default): on/0.5/200 -> off/0.5/200 (local)',
      'instance 10.0.0.1:80: off/0.5/200 -> on/0.5/5 (local)',
      'instance 10.0.0.1:80: on/0.5/5 -> off/0.5/200 (local)',
    ]);
  });

  it('reports nothing for a bad config, which changes nothing', () => {
    const { cbs, changes } = watched();
    const thrown = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    expect(isCBConfigError(thrown(() => cbs.updateServiceCBConfig('a/b/c', { errRate: 2 })))).toBe(true);
    expect(isCBConfigError(thrown(() => cbs.updateInstanceCBConfig({ minSample: -1 })))).toBe(true);
    expect(changes).toEqual([]);
    expect(cbs.serviceCBConfig('a/b/c').errRate).toBe(0.5);
  });

  it('keeps reporting to the other listeners when one throws, warns once, and stops after unsubscribe or close', () => {
    const warned = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const { cbs, changes } = watched();
      const stop = cbs.onConfigChange(() => {
        throw new Error('listener bug');
      });
      cbs.updateServiceCBConfig('k/s/m', { minSample: 3 });
      cbs.updateServiceCBConfig('k/s/m', { minSample: 5 });
      stop();
      cbs.close();
      cbs.updateServiceCBConfig('k/s/m', { minSample: 4 });
      expect(changes).toEqual([
        'service k/s/m: on/0.5/200 -> on/0.5/3 (local)',
        'service k/s/m: on/0.5/3 -> on/0.5/5 (local)',
      ]);
      // The throwing listener is reported as a process warning, once; the test keeps it off the output.
      expect(warned.mock.calls).toEqual([['cbsuite (listener): listener bug', { code: 'CBSUITE_FAULT' }]]);
    } finally {
      warned.mockRestore();
    }
  });
});
