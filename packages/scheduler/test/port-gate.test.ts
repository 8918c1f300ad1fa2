import { describe, expect, it } from 'vitest';
import { StateMachine } from '../src/store/state-machine';
import { checkPortsFree } from '../src/control/port-gate';
import { applyActions, spec } from './fixtures';

// Every service creation checks its published ports against every other service's; most publish
// none, and the check was still a copy of and a pass over every service (issue #17: one client's creates).

const put = (id: string, name: string, ports: { publishedPort: number; targetPort: number }[] = []) => ({
  action: 'putService' as const,
  putService: { id, meta: { version: 0, createdAt: 5, updatedAt: 5 }, spec: spec(name, 1, { ports }), previousSpec: null, updateStatus: null },
});

describe('the published-port check of a service creation', () => {
  it('looks at no other service when the new one publishes nothing, and still finds a clash when it does', () => {
    const machine = new StateMachine();
    expect(applyActions(machine, [put('web', 'web', [{ publishedPort: 8080, targetPort: 80 }]), ...Array.from({ length: 100 }, (_, i) => put(`s${i}`, `s${i}`))])).toEqual({ ok: true });
    let passes = 0;
    const values = machine.services.values.bind(machine.services);
    machine.services.values = () => (passes++, values());
    checkPortsFree(machine, spec('quiet', 1), 'quiet');
    expect(passes).toBe(0);
    expect(() => checkPortsFree(machine, spec('clash', 1, { ports: [{ publishedPort: 8080, targetPort: 81 }] }), 'clash')).toThrow(/8080\/tcp is already in use by service web/);
    checkPortsFree(machine, spec('free', 1, { ports: [{ publishedPort: 8081, targetPort: 80 }] }), 'free');
  });
});
