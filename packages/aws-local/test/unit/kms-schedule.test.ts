import { describe, expect, it } from 'vitest';
import { Schedule } from '../../src/kms/schedule.js';

describe('Schedule', () => {
  it('keeps one entry per id, soonest first; moving or removing an id leaves no stale entry', () => {
    const s = new Schedule();
    s.set('a', 30);
    s.set('b', 10);
    s.set('c', 20);
    s.set('d', 20);
    s.set('a', 5);
    s.set('c', undefined);
    for (let i = 0; i < 100; i++) s.set('e', 1000 + i);
    expect(s.size).toBe(4);
    expect(s.takeDue(4)).toEqual([]);
    expect(s.takeDue(20)).toEqual(['a', 'b', 'd']);
    expect(s.takeDue(20)).toEqual([]);
    s.set('a', 2000);
    expect(s.takeDue(5000)).toEqual(['e', 'a']);
    expect(s.size).toBe(0);
  });
});
