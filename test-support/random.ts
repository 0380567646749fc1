// A small seeded PRNG (mulberry32) so generated test data is the same on every
// run: a failure names its seed and reproduces.

export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, bound). */
  int(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  /** Uniform integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }

  /** count distinct items (all of them if there are fewer), in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    const out: T[] = [];
    while (out.length < count && pool.length > 0) {
      const [item] = pool.splice(this.int(pool.length), 1);
      if (item !== undefined) out.push(item);
    }
    return out;
  }

  /** A string of `length` characters drawn from alphabet. */
  string(alphabet: string, length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += alphabet.charAt(this.int(alphabet.length));
    return out;
  }
}

/**
 * The seed of a fuzz test: FUZZ_SEED when set; under CI=true the test's fixed
 * seed, so a CI run is never a coin toss; otherwise a new one each run, so
 * every local run explores (the test prints it, and FUZZ_SEED=<seed> replays).
 */
export function fuzzSeed(ciSeed: number): number {
  const given = process.env["FUZZ_SEED"];
  if (given !== undefined && given !== "") return Number(given);
  if (process.env["CI"] === "true") return ciSeed;
  return Math.floor(Math.random() * 2 ** 31);
}
