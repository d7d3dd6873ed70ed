// The CLI credential as grpc-js channel credentials, for code that dials the controller with grpc-js.
// (The lookup itself is cli/client/controller-credential.ts.)
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import { CONTROLLER_NAME } from '../../common/pki/identity.js';
import { clientCredentials, expectServerName, type Credential } from '../../common/pki/tls.js';
import { findCliCredential } from './controller-credential.js';

export { cliCredentialFiles, findCliCredential, tryCliCredential } from './controller-credential.js';

export function controllerChannel(cred: Credential = findCliCredential()): {
  creds: ChannelCredentials;
  options: ChannelOptions;
} {
  return { creds: clientCredentials(cred.caPem, cred), options: expectServerName(CONTROLLER_NAME) };
}
