import assert from 'node:assert/strict';
import { generateKeyPairSync, verify } from 'node:crypto';
import { test } from 'node:test';
import {
  ed25519Base64,
  ed25519Signer,
  encodeParams,
  hmacSha256Hex,
  hmacSigner,
  signRequest,
} from './sign.ts';

// Binance's official worked example (general info, "SIGNED Endpoint Examples for POST /fapi/v1/order - HMAC Keys").
const SECRET = '2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9';
const PARAMS = {
  symbol: 'BTCUSDT',
  side: 'BUY',
  type: 'LIMIT',
  quantity: 1,
  price: 9000,
  timeInForce: 'GTC',
  recvWindow: 5000,
  timestamp: 1591702613943,
};
const PAYLOAD =
  'symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943';

test('official HMAC vectors: query string, request body, and mixed (30baaf0f…)', () => {
  assert.equal(encodeParams(PARAMS), PAYLOAD);
  const sig = '3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9';
  assert.equal(hmacSha256Hex(SECRET, PAYLOAD), sig);
  const signer = hmacSigner(SECRET);
  // Example 1: everything in the query; Example 2: everything in the body.
  assert.deepEqual(signRequest(signer, PAYLOAD, ''), {
    query: `${PAYLOAD}&signature=${sig}`,
    body: '',
    signature: sig,
  });
  assert.deepEqual(signRequest(signer, '', PAYLOAD), {
    query: '',
    body: `${PAYLOAD}&signature=${sig}`,
    signature: sig,
  });
  // Example 3: query + body concatenated with no "&" between them, signature last in the body.
  const query = encodeParams({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC' });
  const body = encodeParams({ quantity: 1, price: 9000, recvWindow: 5000, timestamp: 1591702613943 });
  const mixed = signRequest(signer, query, body);
  assert.equal(mixed.signature, '30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4');
  assert.equal(mixed.query, 'symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC');
  assert.ok(
    mixed.body.endsWith('&signature=30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4'),
  );
});

test('canonical encoding: undefined skipped, booleans as text, values percent-encoded, order kept', () => {
  assert.equal(
    encodeParams({ symbol: 'BTCUSDT', reduceOnly: true, closePosition: false, price: undefined, limit: 45 }),
    'symbol=BTCUSDT&reduceOnly=true&closePosition=false&limit=45',
  );
  assert.equal(
    encodeParams({ origClientOrderIdList: '["my_id_1","my_id_2"]' }),
    'origClientOrderIdList=%5B%22my_id_1%22%2C%22my_id_2%22%5D',
  );
  assert.equal(encodeParams({ newClientOrderId: 'a b&c=d/é' }), 'newClientOrderId=a%20b%26c%3Dd%2F%C3%A9');
  assert.equal(encodeParams({}), '');
  assert.equal(encodeParams(undefined), '');
  assert.equal(encodeParams({ quantity: '0.00000010' }), 'quantity=0.00000010');
  assert.throws(() => encodeParams({ quantity: 1e-7 }), /pass it as a string/);
  assert.throws(() => encodeParams({ price: Number.NaN }), /finite/);
});

test('Ed25519: RFC 8032 test vectors from a PEM key; base64, URL-encoded on the wire', () => {
  // RFC 8032 §7.1 TEST 1 (empty message) and TEST 2 (one byte 0x72), keys as PKCS#8 PEM.
  const pem1 =
    '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n';
  const sig1 =
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';
  assert.equal(Buffer.from(ed25519Base64(pem1, ''), 'base64').toString('hex'), sig1);
  const pem2 =
    '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIEzNCJso/5banbbDRuwRTg9bijGfNaumJNqM9u1PuKb7\n-----END PRIVATE KEY-----\n';
  const sig2 =
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00';
  assert.equal(Buffer.from(ed25519Base64(pem2, 'r'), 'base64').toString('hex'), sig2);

  // A generated key: the wire value decodes to a signature the public key verifies.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signer = ed25519Signer(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
  assert.equal(signer.kind, 'ed25519');
  const wire = signRequest(signer, PAYLOAD, '').query.split('&signature=')[1];
  assert.ok(!/[+/=]/.test(wire), 'URL-encoded');
  const raw = Buffer.from(decodeURIComponent(wire), 'base64');
  assert.ok(verify(null, Buffer.from(PAYLOAD), publicKey, raw));
  assert.ok(!verify(null, Buffer.from(`${PAYLOAD}1`), publicKey, raw));

  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  assert.throws(() => ed25519Signer(rsa), /Ed25519/);
});
