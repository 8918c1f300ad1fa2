import { describe, expect, it } from 'vitest';
import { chainIds, heldPrefix } from '../src/images/layer-chain';
import { legacyLayerIndex, topLevelFields } from '../src/images/legacy-layer-id';
import { LEGACY_DIFF_IDS, LEGACY_LAYERS } from './legacy-save-fixture';

const d = (char: string) => `sha256:${char.repeat(64)}`;

describe('which layers a receiver holds already', () => {
  it('is the longest prefix one local image starts with, never layers matched out of order', () => {
    const wanted = [d('a'), d('b'), d('c')];
    expect(heldPrefix(wanted, [])).toBe(0);
    expect(heldPrefix(wanted, [[d('a')], [d('a'), d('b'), d('x')]])).toBe(2);
    // b and c alone, or a over another base: not the same chain.
    expect(heldPrefix(wanted, [[d('b'), d('c')], [d('x'), d('a'), d('b')]])).toBe(0);
    expect(heldPrefix(wanted, [[d('a'), d('b'), d('c'), d('e')]])).toBe(3);
  });

  it('names each layer by the digest of its whole chain, as the engine stores it', () => {
    const chains = chainIds([d('a'), d('b')]);
    expect(chains[0]).toBe(d('a'));
    expect(chains[1]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(chainIds([d('c'), d('b')])[1]).not.toBe(chains[1]);
  });

  it('places the layers of a legacy docker save by their directory names, as Docker 20.10 wrote them', () => {
    const chains = chainIds(LEGACY_DIFF_IDS);
    expect(LEGACY_LAYERS.map(({ directory, json }) => legacyLayerIndex(directory, json, chains))).toEqual([0, 1, 2]);
    // Only the chains asked about: the top layer is not among the first two.
    expect(legacyLayerIndex(LEGACY_LAYERS[2].directory, LEGACY_LAYERS[2].json, chains.slice(0, 2))).toBe(-1);
    // Another base under the same layers gives other names.
    expect(LEGACY_LAYERS.map(({ directory, json }) => legacyLayerIndex(directory, json, chainIds([d('e'), ...LEGACY_DIFF_IDS.slice(1)])))).toEqual([-1, -1, -1]);
    expect(legacyLayerIndex(LEGACY_LAYERS[0].directory, 'not json', chains)).toBe(-1);
  });

  it('keeps top-level JSON values as the text they were', () => {
    const fields = topLevelFields('{"a":"x\\u003cy","b":{"c":[1,{"d":"}"}]},"e":null, "f" : 2.50}');
    expect([...fields]).toEqual([['a', '"x\\u003cy"'], ['b', '{"c":[1,{"d":"}"}]}'], ['e', 'null'], ['f', '2.50']]);
    expect(() => topLevelFields('[1]')).toThrow();
  });
});
