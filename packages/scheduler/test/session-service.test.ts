import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, loadGrpc, messageType } from '@pisched/api';
import { dispatcherService } from '../src/dispatcher/session-service';

const report = {
  status: {
    updates: [
      { taskId: 'task-1', status: { state: 'RUNNING', timestamp: 2 ** 41, message: 'started ✓', containerId: 'c1' }, startedAt: 2 ** 41 },
      { taskId: 'task-2', status: { state: 'FAILED', timestamp: 5, err: 'exit 3', exitCode: 3 } },
    ],
  },
};

describe('the Dispatcher service a scheduler serves', () => {
  it("reads the agents' messages in one pass, without protobufjs reflection, to what the reflection's definition gives", () => {
    const served = dispatcherService();
    const reference = loadGrpc().Dispatcher.service;
    const bytes = Buffer.from(encodeMessage('AgentMessage', report));
    const expected = decodeMessage('AgentMessage', bytes);
    expect(reference.Session!.requestDeserialize(bytes)).toEqual(expected);
    const reflection = messageType('AgentMessage');
    const decode = reflection.decode;
    reflection.decode = () => {
      throw new Error('reflection asked to decode');
    };
    try {
      const message = served.Session!.requestDeserialize(bytes);
      expect(message).toEqual(expected);
      expect(JSON.stringify(message)).toBe(JSON.stringify(expected));
    } finally {
      reflection.decode = decode;
    }
  });

  it('is otherwise the definition the agents and the CLI know: same path, streams and encoders', () => {
    const served = dispatcherService().Session!;
    const reference = loadGrpc().Dispatcher.service.Session!;
    expect({ ...served, requestDeserialize: 0 }).toEqual({ ...reference, requestDeserialize: 0 });
    expect(Object.keys(dispatcherService())).toEqual(Object.keys(loadGrpc().Dispatcher.service));
  });
});
