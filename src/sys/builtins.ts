/**
 * Node built-ins that cost every command time to load (beside what the CLI loads anyway, on this machine
 * kind: node:crypto ~5.6 ms, node:zlib ~2.4 ms, node:util ~1.8 ms, node:worker_threads ~0.9 ms) but serve
 * only some paths (node:util only an error's wording): loaded when first called, synchronously, instead of
 * by an import that every command evaluates at start.
 */
export const nodeCrypto = () => process.getBuiltinModule('node:crypto');
export const nodeZlib = () => process.getBuiltinModule('node:zlib');
export const nodeUtil = () => process.getBuiltinModule('node:util');
export const nodeWorkerThreads = () => process.getBuiltinModule('node:worker_threads');
