/**
 * Node built-ins that cost every command time to load (node:crypto ~5.6 ms, node:zlib ~2.4 ms beside what
 * the CLI loads anyway, on this machine kind) but serve only some paths: loaded when first called,
 * synchronously, instead of by an import that every command evaluates at start.
 */
export const nodeCrypto = () => process.getBuiltinModule('node:crypto');
export const nodeZlib = () => process.getBuiltinModule('node:zlib');
