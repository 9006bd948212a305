/**
 * Typed settings read from an environment, every problem collected: a bad value never stops the
 * reading, so one start-up error lists them all, each naming its variable. Plain checks, no
 * validation library: the Lambda bundles carry only what they use.
 */

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** What a check of a set value answers: the problem, or undefined when the value is good. */
export type Check = (value: string) => string | undefined;

const DECIMAL = /^\d+$/;

export class Settings {
  private readonly problems: string[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** The raw value, undefined when unset. */
  raw(name: string): string | undefined {
    return this.env[name];
  }

  /** A whole number between `min` and `max`; `fallback` when unset. */
  int(name: string, min: number, max: number, fallback: number): number {
    const value = this.env[name];
    if (value === undefined) return fallback;
    const n = DECIMAL.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      this.problem(name, `must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`);
      return fallback;
    }
    return n;
  }

  /** One of `values`; `fallback` when unset. */
  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const value = this.env[name];
    if (value === undefined) return fallback;
    if (!(values as readonly string[]).includes(value)) {
      this.problem(name, `must be one of ${values.join(', ')}, not ${JSON.stringify(value)}`);
      return fallback;
    }
    return value as T;
  }

  /** A string passing `check`, or undefined when unset (or bad: the problem is recorded). */
  optional(name: string, check: Check = () => undefined): string | undefined {
    const value = this.env[name];
    if (value === undefined) return undefined;
    const problem = check(value);
    if (problem !== undefined) {
      this.problem(name, problem);
      return undefined;
    }
    return value;
  }

  /** A string passing `check`; `fallback` when unset. */
  text(name: string, fallback: string, check: Check = () => undefined): string {
    return this.optional(name, check) ?? fallback;
  }

  /** Records a problem that involves more than one setting. */
  problem(name: string, message: string): void {
    this.problems.push(`${name}: ${message}`);
  }

  /** Throws one ConfigError naming every bad setting, if any. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError(`Invalid configuration: ${this.problems.join('; ')}`);
  }
}
