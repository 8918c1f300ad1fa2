import { describe, expect, it } from 'vitest';
import { decodeMessage, embedEncoded, encodeMessage, fieldEncoder, validateServiceSpec, type DispatcherMessage__Output } from '../src';

const spec = validateServiceSpec({ name: 'web', replicas: 2, container: { image: 'pisched-test/busybox:latest', env: ['A=1'] } });
const task = (id: string) => ({ id, serviceId: 'svc1', slot: 1, nodeId: 'pi-1', desiredState: 'RUNNING', status: { state: 'ASSIGNED', timestamp: 3, message: 'assigned' }, meta: { version: 4, createdAt: 1, updatedAt: 2 } });

describe('messages joined from bytes encoded apart', () => {
  it('decode as the message encoded whole: entries of a repeated field, a field given as bytes, the whole wrapped in another message', () => {
    const whole = { assignments: { tasks: [{ ...task('a'), spec }, task('b')], configs: [{ name: 'c', data: Buffer.from('x') }] } };
    const entry = fieldEncoder('Assignments', 'tasks', 'spec');
    const entries = [
      entry(task('a'), encodeMessage('ServiceSpec', spec)),
      entry(task('b')),
      encodeMessage('Assignments', { configs: whole.assignments.configs }),
    ];
    const joined = embedEncoded('DispatcherMessage', 'assignments', entries);
    expect(decodeMessage<DispatcherMessage__Output>('DispatcherMessage', joined)).toEqual(decodeMessage('DispatcherMessage', encodeMessage('DispatcherMessage', whole)));
  });

  it('refuses a field that is not a message, or none', () => {
    expect(() => embedEncoded('Task', 'id', [])).toThrow(/not a message/);
    expect(() => fieldEncoder('Assignments', 'nothing')).toThrow(/no field nothing/);
    expect(() => fieldEncoder('Assignments', 'tasks', 'id')).toThrow(/not a message/);
  });
});
