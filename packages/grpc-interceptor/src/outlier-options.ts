import { checkInteger, checkKeys, checkNumber, OptionTypeError } from '@cbsuite/core';

/** gRPC's success-rate ejection (gRFC A50). */
export interface SuccessRateEjectionOptions {
  /**
   * An instance is ejected when its success rate is below
   * `mean − stdevFactor × stdev` of the candidates' rates. Default 1.9. (gRPC's
   * service config writes it in thousandths, 1900; this is the plain factor.)
   */
  readonly stdevFactor?: number;
  /** Percent chance an instance found an outlier is ejected. Default 100. */
  readonly enforcementPercentage?: number;
  /** Fewest candidates (instances with `requestVolume` calls in the interval) for the rule to run. Default 5. */
  readonly minimumHosts?: number;
  /** Fewest calls in the interval for an instance to be a candidate. Default 100. */
  readonly requestVolume?: number;
}

/** gRPC's failure-percentage ejection (gRFC A50). */
export interface FailurePercentageEjectionOptions {
  /** An instance is ejected when more than this percent of its calls in the interval failed. Default 85. */
  readonly threshold?: number;
  /** Percent chance an instance found an outlier is ejected. Default 100. */
  readonly enforcementPercentage?: number;
  /** Fewest candidates for the rule to run. Default 5. */
  readonly minimumHosts?: number;
  /** Fewest calls in the interval for an instance to be a candidate. Default 50. */
  readonly requestVolume?: number;
}

/** Latency ejection, an addition to gRPC's rules: a slow instance among fast peers. */
export interface LatencyEjectionOptions {
  /** An instance is ejected when its mean attempt latency in the interval exceeds `factor` × the candidates' median. Default 3. */
  readonly factor?: number;
  /** …and exceeds that median by at least this much, so that sub-millisecond noise ejects nothing. Default 5. */
  readonly minGapMs?: number;
  /** Percent chance an instance found an outlier is ejected. Default 100. */
  readonly enforcementPercentage?: number;
  /** Fewest candidates for the rule to run. Default 3. */
  readonly minimumHosts?: number;
  /** Fewest calls ended in the interval for an instance to be a candidate. Default 10. */
  readonly requestVolume?: number;
}

/**
 * Outlier ejection at the instance level, as gRPC defines it (gRFC A50), plus
 * a latency rule. Each rule runs only when given (`{}` takes its defaults).
 */
export interface OutlierDetectionOptions {
  /** How often the rules run, lazily, when an attempt ends. Default 10_000. */
  readonly intervalMs?: number;
  /** An ejection lasts this × the instance's ejection count. Default 30_000. */
  readonly baseEjectionTimeMs?: number;
  /** Longest ejection (at least `baseEjectionTimeMs`). Default 300_000. */
  readonly maxEjectionTimeMs?: number;
  /** Most instances ejected at once, in percent; one may always be. Default 10. */
  readonly maxEjectionPercent?: number;
  readonly successRateEjection?: SuccessRateEjectionOptions;
  readonly failurePercentageEjection?: FailurePercentageEjectionOptions;
  readonly latencyEjection?: LatencyEjectionOptions;
}

/** A rule with its defaults applied. */
export interface ResolvedRule {
  /** stdevFactor, threshold (percent) or latency factor. */
  readonly limit: number;
  readonly minGapMs: number;
  readonly enforcementPercentage: number;
  readonly minimumHosts: number;
  readonly requestVolume: number;
}

export interface ResolvedOutlierDetection {
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  readonly successRate: ResolvedRule | undefined;
  readonly failurePercentage: ResolvedRule | undefined;
  readonly latency: ResolvedRule | undefined;
}

const DAY_MS = 86_400_000;
const TOP = ['intervalMs', 'baseEjectionTimeMs', 'maxEjectionTimeMs', 'maxEjectionPercent'];
const RULES = ['successRateEjection', 'failurePercentageEjection', 'latencyEjection'];

/** Validates `outlierDetection`; errors name the path written (`outlierDetection.intervalMs`). */
export function resolveOutlierDetection(name: string, value: unknown): ResolvedOutlierDetection | undefined {
  if (value === undefined) return undefined;
  const o = checkKeys(name, value, [...TOP, ...RULES], name) as OutlierDetectionOptions;
  const ms = (k: keyof OutlierDetectionOptions, d: number) =>
    o[k] === undefined ? d : checkNumber(`${name}.${k}`, o[k], 1, DAY_MS);
  const baseEjectionTimeMs = ms('baseEjectionTimeMs', 30_000);
  return {
    intervalMs: ms('intervalMs', 10_000),
    baseEjectionTimeMs,
    maxEjectionTimeMs: Math.max(baseEjectionTimeMs, ms('maxEjectionTimeMs', 300_000)),
    maxEjectionPercent:
      o.maxEjectionPercent === undefined ? 10 : checkNumber(`${name}.maxEjectionPercent`, o.maxEjectionPercent, 0, 100),
    successRate: rule(`${name}.successRateEjection`, o.successRateEjection, 'stdevFactor', [1.9, 0, 5, 100]),
    failurePercentage: rule(
      `${name}.failurePercentageEjection`,
      o.failurePercentageEjection,
      'threshold',
      [85, 0, 5, 50],
    ),
    latency: rule(`${name}.latencyEjection`, o.latencyEjection, 'factor', [3, 5, 3, 10]),
  };
}

// defaults: [limit, minGapMs, minimumHosts, requestVolume]
function rule(
  path: string,
  value: unknown,
  limitName: 'stdevFactor' | 'threshold' | 'factor',
  [limit, gap, hosts, volume]: [number, number, number, number],
): ResolvedRule | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OptionTypeError(path, value, 'must be an object of rule options');
  }
  const fields = [limitName, 'enforcementPercentage', 'minimumHosts', 'requestVolume'];
  if (limitName === 'factor') fields.push('minGapMs');
  const o = checkKeys(path, value, fields, path);
  const at = (k: string) => `${path}.${k}`;
  const limitMax = limitName === 'threshold' ? 100 : 1_000;
  const limitMin = limitName === 'factor' ? 1 : 0;
  return {
    limit: o[limitName] === undefined ? limit : checkNumber(at(limitName), o[limitName], limitMin, limitMax),
    minGapMs: o.minGapMs === undefined ? gap : checkNumber(at('minGapMs'), o.minGapMs, 0, DAY_MS),
    enforcementPercentage:
      o.enforcementPercentage === undefined
        ? 100
        : checkNumber(at('enforcementPercentage'), o.enforcementPercentage, 0, 100),
    minimumHosts: o.minimumHosts === undefined ? hosts : checkInteger(at('minimumHosts'), o.minimumHosts, 1, 100_000),
    requestVolume:
      o.requestVolume === undefined ? volume : checkInteger(at('requestVolume'), o.requestVolume, 1, 1_000_000_000),
  };
}
