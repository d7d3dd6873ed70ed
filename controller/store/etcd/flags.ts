// --etcd, --etcd-ca, --etcd-cert, --etcd-key, --etcd-prefix as the controller's config (`etcd`),
// checked before anything is contacted or written: a bad flag is exit 2.
import { invalid } from '../../../common/errors.js';
import { etcdClient, parseEtcdUrls } from './connect.js';

export interface EtcdFlags {
  etcd?: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdPrefix?: string;
}

export function etcdFlags(o: EtcdFlags): {
  etcd?: { urls: string[]; ca?: string; cert?: string; key?: string; prefix?: string };
} {
  if (o.etcd === undefined) {
    if (o.etcdCa || o.etcdCert || o.etcdKey)
      throw invalid('--etcd-ca/--etcd-cert/--etcd-key need --etcd URLS', 'add --etcd https://HOST:2379,…');
    return {};
  }
  const etcd = {
    urls: parseEtcdUrls(o.etcd),
    ...(o.etcdCa ? { ca: o.etcdCa } : {}),
    ...(o.etcdCert ? { cert: o.etcdCert } : {}),
    ...(o.etcdKey ? { key: o.etcdKey } : {}),
    ...(o.etcdPrefix ? { prefix: o.etcdPrefix } : {}),
  };
  if (etcd.prefix && !/^\/.*\/$/.test(etcd.prefix))
    throw invalid(`--etcd-prefix '${etcd.prefix}' must start and end with /`, 'e.g. --etcd-prefix /fleetnet/');
  etcdClient(etcd).close(); // reads and checks the TLS files now (the client connects lazily)
  return { etcd };
}
