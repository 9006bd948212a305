import type { Throttle } from './api-settings.js';

/**
 * API Gateway's throttling as the local gateway applies it: a token bucket per method, refilled at
 * the method's rate up to its burst, each request taking one token; a request finding none is
 * answered 429 TooManyRequestsException. A method without its own setting has the stage's numbers,
 * in its own bucket (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html).
 */
export class MethodThrottles {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly stage: Throttle,
    private readonly methods: Readonly<Record<string, Throttle>>,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Takes a token for `METHOD /path`; false when the bucket is empty (the request is throttled). */
  take(route: string): boolean {
    const { rate, burst } = this.methods[route] ?? this.stage;
    const now = this.clock();
    const bucket = this.buckets.get(route) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.buckets.set(route, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
