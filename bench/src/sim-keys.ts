// The keys a simulated node calls, picked so that they fall evenly on the
// masters of a Cluster, as a real service's many methods do on average.

/**
 * The key group redis-sync gives (scope, key) among `groups`: FNV-1a of
 * "scope\nkey", as its `Keys.groupOf` (sim-keys.test.ts holds the two equal).
 */
export function groupOf(scope: string, key: string, groups: number): number {
  let h = 0x811c9dc5;
  const s = `${scope}\n${key}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % groups;
}

/**
 * `count` method keys whose service breakers spread over `masters` equal
 * shares of redis-sync's 12 key groups (group g of 12 lies in the g-th
 * twelfth of the slots, so on a Cluster whose masters split the slots evenly
 * group g is on master ⌊g × masters / 12⌋): each master gets ⌊count / masters⌋
 * keys or one more, each in a group of its own while `count` allows (a group
 * is one script call per flush, so calls spread as evenly as keys). The
 * first ten plain names, `sim/pkg.Svc/M0` to `M9`, fell 2, 3 and 5 on three
 * masters, so per-key work alone gave one master half.
 */
export function simKeys(count: number, masters = 3, groups = 12): string[] {
  const floor = Math.floor(count / masters);
  let extras = count % masters;
  const per = new Array<number>(masters).fill(0);
  const keys: string[] = [];
  const used = new Set<number>();
  for (let i = 0; keys.length < count; i++) {
    const key = `sim/pkg.Svc/M${i}`;
    const g = groupOf('service', key, groups);
    const m = Math.floor((g * masters) / groups);
    const has = per[m] as number;
    if (has > floor || (has === floor && extras === 0)) continue;
    // A group of its own while there are groups left: a group is one script call per flush.
    if (count <= groups && used.has(g)) continue;
    used.add(g);
    if (has === floor) extras--;
    per[m] = has + 1;
    keys.push(key);
  }
  return keys;
}
