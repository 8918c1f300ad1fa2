import { describe, expect, it } from 'vitest';
import { CliError } from '../src/errors';
import { idLines } from '../src/table';
import { taskFilter } from '../src/task-filters';
import { task } from './fixtures';

describe('ps --filter', () => {
  const running = task({ id: 'a', nodeId: 'pi-1', desiredState: 'RUNNING' });
  const stopped = task({ id: 'b', nodeId: 'pi-1', desiredState: 'SHUTDOWN' });
  const elsewhere = task({ id: 'c', nodeId: 'pi-2', desiredState: 'RUNNING' });
  const ids = (filters: string[]) => [running, stopped, elsewhere].filter(taskFilter(filters)).map((t) => t.id);

  it('keeps every task without filters', () => {
    expect(ids([])).toEqual(['a', 'b', 'c']);
  });

  it('takes one key\'s values as alternatives and needs every key to hold, as docker does', () => {
    expect(ids(['desired-state=running'])).toEqual(['a', 'c']);
    expect(ids(['desired-state=Shutdown'])).toEqual(['b']);
    expect(ids(['desired-state=running', 'desired-state=shutdown'])).toEqual(['a', 'b', 'c']);
    expect(ids(['node=pi-1'])).toEqual(['a', 'b']);
    expect(ids(['node=pi-1', 'desired-state=running'])).toEqual(['a']);
    expect(ids(['desired-state=accepted'])).toEqual([]);
  });

  it.each([
    ['desired-state=sleeping', 'invalid --filter "desired-state=sleeping": desired-state is one of running, shutdown, accepted'],
    ['name=web', 'invalid --filter "name=web": use desired-state=running|shutdown|accepted or node=NODE'],
    ['node', 'invalid --filter "node": use desired-state=running|shutdown|accepted or node=NODE'],
    ['node=', 'invalid --filter "node=": use desired-state=running|shutdown|accepted or node=NODE'],
  ])('refuses %s with one line', (filter, message) => {
    expect(() => taskFilter([filter])).toThrow(new CliError(message));
  });
});

describe('-q', () => {
  it('prints one id a line and nothing else', () => {
    expect(idLines(['a', 'b'])).toBe('a\nb\n');
    expect(idLines([])).toBe('');
  });
});
