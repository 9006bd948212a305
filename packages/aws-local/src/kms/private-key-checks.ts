import { checkPrimeSync, createECDH, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';

/**
 * Consistency checks of an imported asymmetric private key. `createPrivateKey` parses a PKCS#8
 * key without checking that its parts agree: an RSA key with an even modulus, e = 1, d = 0 or
 * p = q, or an EC key whose embedded public point is another key's, or whose scalar is 0 or not
 * below the group order, all parse. Such a key would then sign what its public key does not
 * verify, encrypt in the clear (e = 1), or fail every operation. Each check answers a reason the
 * key is refused, or undefined when it is consistent.
 *
 * KMS documents no requirement on an imported RSA key's public exponent beyond "a PKCS #8
 * private key of the key spec" (importing-keys-conceptual.html, "Requirements for imported key
 * material"); its HSMs are FIPS 140-3 validated, and FIPS 186-5 (A.1.1) requires an odd public
 * exponent with 2^16 < e < 2^256. The local KMS takes that bound: e = 65537 and the like pass,
 * e = 3 and e = 1 do not.
 */

const toBigInt = (b64url: string | undefined): bigint => {
  const bytes = Buffer.from(b64url ?? '', 'base64url');
  return bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`);
};

const mod = (a: bigint, n: bigint): bigint => ((a % n) + n) % n;

function gcd(a: bigint, b: bigint): bigint {
  let [x, y] = [a, b];
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

/** The group order n of each curve of the ECC key specs (SEC 2 / FIPS 186-5, appendix D). */
const ORDERS: Readonly<Record<string, bigint>> = {
  prime256v1: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  secp384r1:
    0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  secp521r1:
    0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  secp256k1: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
};

const MIN_RSA_EXPONENT = 65537n;
const MAX_RSA_EXPONENT = 1n << 256n;

function rsaProblem(privateKey: KeyObject): string | undefined {
  const jwk = privateKey.export({ format: 'jwk' });
  const [n, e, d, p, q, dp, dq, qi] = [jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi].map(
    toBigInt,
  ) as [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];
  if (n % 2n === 0n) return 'the modulus is even';
  if (p <= 1n || q <= 1n || p === q || p * q !== n)
    return 'the modulus is not the product of two distinct primes p and q';
  if (!checkPrimeSync(p) || !checkPrimeSync(q)) return 'p or q is not prime';
  if (e % 2n === 0n || e < MIN_RSA_EXPONENT || e >= MAX_RSA_EXPONENT)
    return 'the public exponent must be odd, at least 65537 and below 2^256';
  if (d <= 1n || d >= n) return 'the private exponent is out of range';
  const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
  if (mod(e * d, lambda) !== 1n) return 'the private exponent is not the inverse of the public exponent';
  if (dp !== mod(d, p - 1n) || dq !== mod(d, q - 1n) || mod(qi * q, p) !== 1n)
    return 'the CRT values (dp, dq, qi) do not match p, q and d';
  return undefined;
}

function ecProblem(privateKey: KeyObject): string | undefined {
  const curve = privateKey.asymmetricKeyDetails?.namedCurve ?? '';
  const order = ORDERS[curve];
  if (order === undefined) return `curve ${curve} is not supported`;
  const jwk = privateKey.export({ format: 'jwk' });
  const d = toBigInt(jwk.d);
  if (d < 1n || d >= order) return 'the private scalar is not between 1 and the group order';
  const size = Math.ceil(order.toString(16).length / 2);
  const ecdh = createECDH(curve);
  let point: Buffer;
  try {
    ecdh.setPrivateKey(Buffer.from(d.toString(16).padStart(size * 2, '0'), 'hex'));
    point = ecdh.getPublicKey();
  } catch {
    return 'the private scalar is not valid for the curve';
  }
  const coordinate = (point.length - 1) / 2;
  const x = Buffer.from(jwk.x ?? '', 'base64url');
  const y = Buffer.from(jwk.y ?? '', 'base64url');
  const pad = (b: Buffer) => Buffer.concat([Buffer.alloc(Math.max(0, coordinate - b.length)), b]);
  if (!pad(x).equals(point.subarray(1, 1 + coordinate)) || !pad(y).equals(point.subarray(1 + coordinate)))
    return 'the public point in the key is not d·G';
  return undefined;
}

/** Whether a signature by the key verifies with the public key derived from it. */
function roundTrips(privateKey: KeyObject): boolean {
  try {
    const probe = Buffer.from('eaas local kms imported key check', 'utf8');
    const signature = sign('sha256', probe, privateKey);
    return verify('sha256', probe, createPublicKey(privateKey), signature);
  } catch {
    return false;
  }
}

/**
 * Why an imported RSA or EC private key is not a consistent key pair, or undefined when it is:
 * RSA: n odd, n = p·q with p ≠ q prime, e odd and 65537 ≤ e < 2^256, e·d ≡ 1 mod λ(n), and the
 * CRT values matching; EC: 1 ≤ d < n and the embedded public point equal to d·G; both: a
 * signature made with the key verifies with the public key derived from it.
 */
export function privateKeyProblem(privateKey: KeyObject): string | undefined {
  let problem: string | undefined;
  try {
    if (privateKey.asymmetricKeyType === 'rsa') problem = rsaProblem(privateKey);
    else if (privateKey.asymmetricKeyType === 'ec') problem = ecProblem(privateKey);
    else problem = `key type ${privateKey.asymmetricKeyType} is not supported`;
  } catch {
    problem = 'the key cannot be read';
  }
  if (problem === undefined && !roundTrips(privateKey))
    problem = 'a signature made with the key does not verify with its public key';
  return problem;
}
