// The attach contract: value types, the edge parsers (CLI words, container labels, proto), the
// proto codec and the request fingerprint. Every tier imports it from here.
export * from './values.js';
export * from './address.js';
export * from './target.js';
export * from './mac-spec.js';
export * from './spec.js';
export * from './words.js';
export * from './codec.js';
export * from './fingerprint.js';
