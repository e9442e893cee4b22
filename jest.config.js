/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/connectors', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // ts-jest in transpile-only mode (isolatedModules); `npm run typecheck` is the type gate.
    '^.+\\.[cm]?[tj]s$': ['ts-jest', { tsconfig: { module: 'commonjs', moduleResolution: 'bundler', allowJs: true } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(p-retry|is-network-error|cookie)/)'],
};
