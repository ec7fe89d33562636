#!/usr/bin/env node
// Production entry: compiled commands from dist/ and the manifest generated at build time.
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
