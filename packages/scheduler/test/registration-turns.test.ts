import { describe, expect, it } from 'vitest';
import { RegistrationTurns } from '../src/dispatcher/registration-turns';

const turn = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RegistrationTurns', () => {
  it('answers in arrival order, perTurn a turn of the event loop, letting other callbacks run between turns', async () => {
    const turns = new RegistrationTurns(10, 5_000, () => false);
    const answered: number[] = [];
    for (let i = 0; i < 25; i++) turns.add(() => answered.push(i));
    // Never in the caller's own turn: the registration's own read is not held up by the others.
    expect(answered).toEqual([]);
    await turn();
    expect(answered).toHaveLength(10);
    let between = -1;
    setImmediate(() => (between = answered.length));
    await turn();
    await turn();
    expect(between).toBe(20);
    expect(answered).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(turns.size).toBe(0);
  });

  it('holds registrations while held() says so, and answers them in turns once it stops', async () => {
    let holding = true;
    const turns = new RegistrationTurns(10, 5_000, () => holding);
    const answered: number[] = [];
    for (let i = 0; i < 30; i++) turns.add(() => answered.push(i));
    await sleep(120);
    expect(answered).toEqual([]);
    holding = false;
    // Looked at again within 50 ms, then a turn each ten.
    await sleep(80);
    await turn();
    await turn();
    expect(answered).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('answers a registration held for holdMs as things are then, and keeps holding the later ones', async () => {
    let now = 0;
    const turns = new RegistrationTurns(10, 1_000, () => true, () => now);
    const answered: string[] = [];
    turns.add(() => answered.push('early'));
    now = 600;
    turns.add(() => answered.push('late'));
    now = 1_000;
    await sleep(80);
    expect(answered).toEqual(['early']);
    now = 1_600;
    await sleep(80);
    expect(answered).toEqual(['early', 'late']);
  });
});
