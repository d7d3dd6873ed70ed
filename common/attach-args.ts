// Kept for existing importers: the attach grammar now lives in common/attach/.
export {
  isAddressToken,
  parseAddressToken,
  parseAttachArgs,
  parseLast,
  parsePkey,
  parseTarget,
  parseVlanId,
  type AddressSpec,
  type AttachArgs,
  type DhcpClient,
  type MacSpec,
  type TargetKind,
  type TargetRef,
} from './attach/index.js';
