/**
 * Loads the SMART Backend Services signing key from a file and checks, at start-up, that it can sign with the
 * configured algorithm. Any problem is ERR_CONFIG_INVALID naming the file (never the key material).
 * Parsing is Node's (crypto.createPrivateKey); signing is jose's. Nothing here does cryptography itself.
 */
import { createPrivateKey, type JsonWebKey as NodeJwk, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { SignJWT } from 'jose';
import { BridgeError } from '../../src/errors';
import type { Logger } from '../../src/log';

export type SmartAlg = 'RS384' | 'ES384';

export interface SigningKey {
  readonly key: KeyObject;
  readonly alg: SmartAlg;
  /** The JWK's own `kid`, when the file is a JWK that carries one. */
  readonly kid?: string;
}

/**
 * Reads `file`: a PEM private key (PKCS#8 `BEGIN PRIVATE KEY`; PKCS#1 and SEC1 are read too) or a private JWK as
 * JSON (also a JWKS: the key whose `kid` is `kid`, or its only key). RS384 needs an RSA key of ≥ 2048 bits,
 * ES384 an EC key on P-384. Warns when the file can be read by other users.
 */
export async function loadSigningKey(file: string, alg: SmartAlg, kid: string | undefined, log: Logger): Promise<SigningKey> {
  const invalid = (why: string): BridgeError => new BridgeError('ERR_CONFIG_INVALID', `FHIR private key file ${file}: ${why}`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
    if (((await stat(file)).mode & 0o077) !== 0) log.warn('fhir private key file is readable by other users', { file });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw invalid(`cannot be read (${typeof code === 'string' ? code : 'error'})`);
  }

  let key: KeyObject;
  let jwkKid: string | undefined;
  if (text.trimStart().startsWith('{')) {
    const jwk = pickJwk(text, kid, invalid);
    if (typeof jwk.alg === 'string' && jwk.alg !== alg) throw invalid(`the JWK is for ${jwk.alg}, not ${alg}`);
    if (typeof jwk.d !== 'string') throw invalid('the JWK is a public key (no "d"); a private key is needed');
    jwkKid = typeof jwk.kid === 'string' && jwk.kid !== '' ? jwk.kid : undefined;
    try {
      key = createPrivateKey({ key: jwk as NodeJwk, format: 'jwk' });
    } catch {
      throw invalid('not a usable private JWK');
    }
  } else {
    try {
      key = createPrivateKey({ key: text, format: 'pem' });
    } catch {
      throw invalid('not a private key in PEM (PKCS#8) or JWK form (encrypted keys are not supported)');
    }
  }

  checkType(key, alg, invalid);
  try {
    // The same call as every assertion: fails now, not at the first token request.
    await new SignJWT({}).setProtectedHeader({ alg }).sign(key);
  } catch (e) {
    throw invalid(`cannot sign ${alg} (${e instanceof Error ? e.name : 'error'})`);
  }
  return jwkKid === undefined ? { key, alg } : { key, alg, kid: jwkKid };
}

type Jwk = Record<string, unknown>;

function pickJwk(text: string, kid: string | undefined, invalid: (why: string) => BridgeError): Jwk {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid('not a JWK object');
  const keys = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) return parsed as Jwk;
  const candidates = keys.filter((k): k is Jwk => k !== null && typeof k === 'object' && (kid === undefined || (k as Jwk).kid === kid));
  const only = candidates.length === 1 ? candidates[0] : undefined;
  if (only === undefined) throw invalid(kid === undefined ? `a JWKS with ${keys.length} keys: set kid to choose one` : `no single key with kid ${kid} in the JWKS`);
  return only;
}

function checkType(key: KeyObject, alg: SmartAlg, invalid: (why: string) => BridgeError): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  if (alg === 'RS384') {
    if (type !== 'rsa') throw invalid(`RS384 needs an RSA key, the file holds ${type ?? 'another kind of'} key`);
    if ((details?.modulusLength ?? 0) < 2048) throw invalid(`RS384 needs an RSA key of at least 2048 bits, this one has ${details?.modulusLength ?? '?'}`);
  } else {
    if (type !== 'ec') throw invalid(`ES384 needs an EC key, the file holds ${type ?? 'another kind of'} key`);
    if (details?.namedCurve !== 'secp384r1') throw invalid(`ES384 needs an EC key on P-384, this one is on ${details?.namedCurve ?? '?'}`);
  }
}
