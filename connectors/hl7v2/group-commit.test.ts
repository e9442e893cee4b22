import { GroupCommit } from './group-commit';

describe('group commit', () => {
  test('items that arrive while a commit runs share the next one; each settles with its own commit, in order', async () => {
    const batches: number[][] = [];
    let release: (() => void) | undefined;
    const group = new GroupCommit<number, string>(async (items) => {
      batches.push([...items]);
      if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
      return items.map((n) => `ok${n}`);
    });
    const settled: string[] = [];
    const first = group.submit(1).then((r) => settled.push(r));
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [2, 3, 4].map((n) => group.submit(n).then((r) => settled.push(r)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toEqual([]);
    release?.();
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
    expect(settled).toEqual(['ok1', 'ok2', 'ok3', 'ok4']);
    expect([group.commits, group.committedItems]).toEqual([2, 4]);
  });

  test('submissions of one event-loop turn go in one commit (no timer involved)', async () => {
    const sizes: number[] = [];
    const group = new GroupCommit<number, number>(async (items) => {
      sizes.push(items.length);
      return items;
    });
    await Promise.all(Array.from({ length: 50 }, (_, i) => group.submit(i)));
    expect(sizes).toEqual([50]);
  });

  test('a failed commit rejects exactly its own items; later ones still commit', async () => {
    let calls = 0;
    const group = new GroupCommit<number, number>(async (items) => {
      calls += 1;
      if (calls === 1) throw new Error('disk full');
      return items;
    });
    const a = group.submit(1);
    await expect(a).rejects.toThrow('disk full');
    await expect(group.submit(2)).resolves.toBe(2);
    await group.drained();
  });
});
