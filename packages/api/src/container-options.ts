import type { ContainerSpec, HealthConfigInput, ServiceSpecInput } from './types';
import { SpecError } from './spec-error';

// Names as `docker run --stop-signal` takes them, or a number.
const SIGNAL_PATTERN = /^(?:SIG)?[A-Z][A-Z0-9+-]*$|^\d{1,2}$/;

/**
 * The stop and health parts of a container spec, checked and filled in. An
 * absent health check stays absent (the image's HEALTHCHECK applies); ["NONE"]
 * turns the image's off, as Docker reads it.
 */
export function validateContainerOptions(
  input: NonNullable<ServiceSpecInput['container']>,
): Pick<ContainerSpec, 'stopSignal' | 'stopGracePeriodMs' | 'init' | 'healthcheck'> {
  const stopSignal = (input.stopSignal ?? '').trim().toUpperCase();
  if (stopSignal !== '' && !SIGNAL_PATTERN.test(stopSignal)) {
    throw new SpecError(`invalid stop signal "${input.stopSignal}": use a name such as SIGINT or a number`);
  }
  const stopGracePeriodMs = Number(input.stopGracePeriodMs ?? 0);
  if (!Number.isSafeInteger(stopGracePeriodMs) || stopGracePeriodMs < 0) {
    throw new SpecError(`invalid stop grace period "${String(input.stopGracePeriodMs)}": must be a whole number of ms, not negative`);
  }
  return { stopSignal, stopGracePeriodMs, init: input.init ?? false, healthcheck: validateHealthcheck(input.healthcheck) };
}

function validateHealthcheck(input: HealthConfigInput | null | undefined): ContainerSpec['healthcheck'] {
  if (input == null) return null;
  const test = [...(input.test ?? [])];
  if (test.length === 0) throw new SpecError('invalid health check: a command is required (or NONE to disable the image\'s)');
  if (!['NONE', 'CMD', 'CMD-SHELL'].includes(test[0])) {
    throw new SpecError(`invalid health check "${test.join(' ')}": must start with CMD, CMD-SHELL or NONE`);
  }
  if (test[0] !== 'NONE' && test.length < 2) throw new SpecError('invalid health check: a command is required after ' + test[0]);
  const numbers = {
    intervalMs: Number(input.intervalMs ?? 0),
    timeoutMs: Number(input.timeoutMs ?? 0),
    retries: Number(input.retries ?? 0),
    startPeriodMs: Number(input.startPeriodMs ?? 0),
  };
  for (const [field, value] of Object.entries(numbers)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new SpecError(`invalid health check ${field}: must be a whole number, not negative`);
  }
  // Docker refuses intervals, timeouts and start periods under 1 ms but non-zero; ours are in ms already.
  return { test, ...numbers };
}
