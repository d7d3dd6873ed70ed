// The few Reflect metadata functions @peculiar/x509's dependency injection (tsyringe) needs,
// installed only when no polyfill is present. Saves a dependency for ~20 lines; imported by
// x509.ts before the library, which throws at load time without them.
type Key = string | symbol;
type R = typeof Reflect & {
  getMetadata?: (k: Key, t: object) => unknown;
  getOwnMetadata?: (k: Key, t: object) => unknown;
  defineMetadata?: (k: Key, v: unknown, t: object) => void;
  metadata?: (k: Key, v: unknown) => (t: object) => void;
};

const r = Reflect as R;
if (!r.getMetadata) {
  const store = new WeakMap<object, Map<Key, unknown>>();
  const own = (t: object, k: Key) => store.get(t)?.get(k);
  r.defineMetadata = (k, v, t) => {
    let m = store.get(t);
    if (!m) store.set(t, (m = new Map()));
    m.set(k, v);
  };
  r.getOwnMetadata = (k, t) => own(t, k);
  r.getMetadata = (k, t) => {
    for (let o: object | null = t; o; o = Object.getPrototypeOf(o) as object | null) {
      const m = store.get(o);
      if (m?.has(k)) return m.get(k);
    }
    return undefined;
  };
  r.metadata = (k, v) => (t) => r.defineMetadata!(k, v, t);
}

export {};
