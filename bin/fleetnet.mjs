#!/usr/bin/env node
// The same executable as bin/fleetnet.cjs (package.json's bin), for scripts that name this file.
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./fleetnet.cjs');
