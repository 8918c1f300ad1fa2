import * as protoLoader from '@grpc/proto-loader';
import type * as protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { CONVERSION, loadGrpc, serviceDefinition } from '../src/proto';
import { descriptor } from '../src/gen/descriptor';

// proto-loader's definitions are the reference the hand-built ones must match on the wire.
const reference = protoLoader.fromJSON(descriptor() as protobuf.INamespace, { ...CONVERSION, keepCase: false });

describe('service definitions built without proto-loader', () => {
  for (const name of ['pisched.v1.Control', 'pisched.v1.Dispatcher']) {
    it(`${name}: the same methods, paths, streaming and client aliases as proto-loader's`, () => {
      const ours = serviceDefinition(name);
      const theirs = reference[name] as protoLoader.ServiceDefinition;
      expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
      expect(Object.keys(ours).length).toBeGreaterThan(0);
      for (const [method, def] of Object.entries(ours)) {
        const ref = theirs[method]!;
        expect({ path: def.path, requestStream: def.requestStream, responseStream: def.responseStream, originalName: def.originalName }).toEqual({
          path: ref.path,
          requestStream: ref.requestStream,
          responseStream: ref.responseStream,
          originalName: ref.originalName,
        });
      }
    });
  }

  it('encodes and decodes as proto-loader does, defaults and enums included', () => {
    const ours = serviceDefinition('pisched.v1.Control').CreateService!;
    const theirs = (reference['pisched.v1.Control'] as protoLoader.ServiceDefinition).CreateService!;
    const request = { spec: { name: 'web', replicas: 3, mode: 'REPLICATED', container: { image: 'busybox', env: ['A=1'] } } };
    const bytes = ours.requestSerialize(request);
    expect(Buffer.from(bytes)).toEqual(Buffer.from(theirs.requestSerialize(request)));
    expect(ours.requestDeserialize(bytes)).toEqual(theirs.requestDeserialize(bytes));
    expect(ours.requestDeserialize(bytes)).toMatchObject({ spec: { name: 'web', replicas: 3 } });
    const listed = { services: [{ service: { id: 's1', spec: { name: 'web' } }, running: 2 }] };
    const ListServices = serviceDefinition('pisched.v1.Control').ListServices!;
    const refList = (reference['pisched.v1.Control'] as protoLoader.ServiceDefinition).ListServices!;
    expect(ListServices.responseDeserialize(refList.responseSerialize(listed))).toEqual(refList.responseDeserialize(refList.responseSerialize(listed)));
    expect(() => ours.requestSerialize([] as unknown as object)).toThrow(/array/);
  });

  it('oneofs, maps and nested messages decode alike, each type resolved only when first used', () => {
    const ours = serviceDefinition('pisched.v1.Dispatcher').Session!;
    const theirs = (reference['pisched.v1.Dispatcher'] as protoLoader.ServiceDefinition).Session!;
    const message = { heartbeat: {} };
    const bytes = ours.requestSerialize(message);
    expect(ours.requestDeserialize(bytes)).toEqual(theirs.requestDeserialize(theirs.requestSerialize(message)));
    expect(ours.requestDeserialize(bytes)).toMatchObject({ msg: 'heartbeat' });
    const update = { node: 'n1', availability: 'drain', labelAdd: { zone: 'x' } };
    const node = serviceDefinition('pisched.v1.Control').UpdateNode!;
    const refNode = (reference['pisched.v1.Control'] as protoLoader.ServiceDefinition).UpdateNode!;
    expect(node.requestDeserialize(node.requestSerialize(update))).toEqual(refNode.requestDeserialize(refNode.requestSerialize(update)));
    expect(node.requestDeserialize(node.requestSerialize(update))).toMatchObject({ labelAdd: { zone: 'x' } });
  });

  it('gives grpc-js client constructors carrying their service definition', () => {
    const { Control, Dispatcher } = loadGrpc();
    expect(typeof Control).toBe('function');
    expect(Control.service.ListServices!.path).toBe('/pisched.v1.Control/ListServices');
    expect(typeof (Control.prototype as unknown as Record<string, unknown>).listServices).toBe('function');
    expect(Object.keys(Dispatcher.service).length).toBeGreaterThan(0);
  });
});
