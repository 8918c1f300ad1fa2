import type { NodeThermal } from './types';

/**
 * The firmware's get_throttled bits 0-3 (conditions that hold now), in bit
 * order; bits 16-19 say the same "since boot".
 */
export const THROTTLE_CONDITIONS = ['under_voltage', 'frequency_capped', 'throttled', 'soft_temperature_limit'] as const;

/** Mask of the "now" bits: the ones that say the node is slowed at this moment. */
export const THROTTLE_NOW_MASK = 0xf;

/**
 * From this temperature a node counts as hot. A Pi's firmware starts capping
 * the clock at 80 °C (85 °C hard); ranking a node last a little before that
 * keeps new work off it before it slows down, without reacting to the 50–70 °C
 * a busy Pi runs at normally.
 */
export const HOT_MILLICELSIUS = 75_000;

export type ThermalPolicy = 'off' | 'prefer-cool' | 'avoid-throttled';
export const THERMAL_POLICIES: readonly ThermalPolicy[] = ['off', 'prefer-cool', 'avoid-throttled'];

export function isThermalPolicy(value: string): value is ThermalPolicy {
  return (THERMAL_POLICIES as readonly string[]).includes(value);
}

/** 0 cool (or unknown), 1 hot, 2 throttling now: placement ranks higher numbers last. */
export function thermalPressure(thermal: NodeThermal | null | undefined): 0 | 1 | 2 {
  if (!thermal) return 0;
  if (thermal.hasThrottleFlags && (thermal.throttleFlags & THROTTLE_NOW_MASK) !== 0) return 2;
  if (thermal.hasTemperature && thermal.temperatureMillicelsius >= HOT_MILLICELSIUS) return 1;
  return 0;
}

/** The conditions that hold now, by name: ["frequency_capped", "throttled"]. */
export function throttleConditions(flags: number): string[] {
  return THROTTLE_CONDITIONS.filter((_, i) => (flags >> i) & 1);
}

/** Same reading for the purpose of reporting (throttled_since is the leader's to keep). */
export function sameThermalReading(a: NodeThermal | null | undefined, b: NodeThermal | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return (
    a.hasTemperature === b.hasTemperature &&
    a.temperatureMillicelsius === b.temperatureMillicelsius &&
    a.hasThrottleFlags === b.hasThrottleFlags &&
    a.throttleFlags === b.throttleFlags
  );
}
