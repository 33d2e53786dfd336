import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../server/config';

describe('server configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({}, []);
    assert.deepEqual(config, {
      port: 8080,
      host: 'localhost',
      databaseUrl: './data/sync.db',
      pgPoolSize: 10,
      authTokens: new Map(),
      jwtSecret: undefined,
      allowedOrigins: undefined,
      maxMessageBytes: 1024 * 1024,
      maxPageBytes: 8 * 1024 * 1024,
      rateLimit: { perSecond: 500, burst: 1000 },
      maxConnectionsPerPrincipal: 200,
      connectionByteRate: { perSecond: 4 * 1024 * 1024, burst: 8 * 1024 * 1024 },
      principalByteRate: { perSecond: 16 * 1024 * 1024, burst: 32 * 1024 * 1024 },
      namespaceQuotaBytes: 1024 * 1024 * 1024,
      authTimeoutMs: 10_000,
      heartbeatIntervalMs: 30_000,
      publicDir: 'dist/public',
      logLevel: 'info',
      maxConnections: 5000,
      maxSendBufferBytes: 16 * 1024 * 1024,
      maxTotalSendBufferBytes: 256 * 1024 * 1024,
      serveSourceMaps: false,
    });
  });

  it('reads the environment, and flags override it', () => {
    const config = loadConfig(
      {
        PORT: '9000',
        DATABASE_URL: 'postgres://db/sync',
        AUTH_TOKENS: 'abc=team-a, pad==team-b',
        JWT_SECRET: 'shh',
        ALLOWED_ORIGINS: 'https://a.example, https://b.example',
        RATE_LIMIT: '50',
        LOG_LEVEL: 'warn',
      },
      ['--port', '9100', '--log-level=silent', '--heartbeat-interval-ms', '500'],
    );
    assert.equal(config.port, 9100);
    assert.equal(config.logLevel, 'silent');
    assert.equal(config.heartbeatIntervalMs, 500);
    assert.equal(config.databaseUrl, 'postgres://db/sync');
    assert.deepEqual([...config.authTokens], [['abc', 'team-a'], ['pad=', 'team-b']]);
    assert.equal(config.jwtSecret, 'shh');
    assert.deepEqual(config.allowedOrigins, ['https://a.example', 'https://b.example']);
    assert.deepEqual(config.rateLimit, { perSecond: 50, burst: 100 });
  });

  it('reads the byte budgets: a burst never below the largest frame, a quota of 0 is none', () => {
    const config = loadConfig(
      { RATE_LIMIT_BYTES: '2048', RATE_LIMIT_PRINCIPAL_BYTES: '4096', RATE_LIMIT_PRINCIPAL_BYTES_BURST: '1048576', MAX_MESSAGE_BYTES: '65536', NAMESPACE_QUOTA_BYTES: '0' },
      [],
    );
    assert.deepEqual(config.connectionByteRate, { perSecond: 2048, burst: 65536 }, 'twice the rate would refuse a full-size frame forever');
    assert.deepEqual(config.principalByteRate, { perSecond: 4096, burst: 1048576 });
    assert.equal(config.namespaceQuotaBytes, undefined);
    assert.equal(loadConfig({ NAMESPACE_QUOTA_BYTES: '5000' }, []).namespaceQuotaBytes, 5000);
    assert.throws(() => loadConfig({ RATE_LIMIT_BYTES: '10' }, []), /RATE_LIMIT_BYTES must be an integer >= 1024/);
  });

  it('refuses invalid values with the variable\'s name, never echoing a token', () => {
    assert.throws(() => loadConfig({ PORT: 'eighty' }, []), /PORT must be an integer/);
    assert.throws(() => loadConfig({ MAX_MESSAGE_BYTES: '10' }, []), /MAX_MESSAGE_BYTES must be an integer >= 1024/);
    assert.throws(() => loadConfig({ LOG_LEVEL: 'loud' }, []), /LOG_LEVEL/);
    assert.throws(
      () => loadConfig({ AUTH_TOKENS: 'good=ns,sekrit-without-namespace' }, []),
      (error: Error) => /AUTH_TOKENS entry 2/.test(error.message) && !error.message.includes('sekrit'),
    );
  });
});
