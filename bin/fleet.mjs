#!/usr/bin/env node
// The `fleet` CLI entry. The project runs TypeScript directly through tsx (no build step for
// local use); FC bundles are built separately with esbuild.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
await main(process.argv.slice(2));
