// The CLI's light client lists every Controller RPC under the path grpc-js serves it on, and reads
// `ls --json` chunks straight out of their protobuf bytes.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CONTROLLER_METHODS, LIST_ATTACHMENTS_JSON, jsonChunkData } from '../../cli/client/controller.js';
import { JsonChunk } from '../../proto/gen/fleetnet/v1/controller.js';
import { ControllerService, EncodedMessage } from '../../common/rpc/services.js';

it('CONTROLLER_METHODS and LIST_ATTACHMENTS_JSON match the generated Controller service', () => {
  const fromService = Object.fromEntries(Object.entries(ControllerService).map(([k, v]) => [k, v.path]));
  const fromLite = Object.fromEntries(
    [...Object.entries(CONTROLLER_METHODS), ['listAttachmentsJson', LIST_ATTACHMENTS_JSON]].map(([k, v]) => [
      k,
      (v as { path: string }).path,
    ]),
  );
  assert.deepEqual(fromLite, fromService);
  assert.equal(ControllerService.listAttachmentsJson.responseStream, true);
});

it('jsonChunkData returns the data field of a JsonChunk as a view into the message (no copy)', () => {
  for (const size of [0, 1, 127, 128, 16_383, 16_384, (1 << 20) + 3]) {
    const data = Buffer.alloc(size, 'x');
    const msg = Buffer.from(JsonChunk.encode({ data }).finish());
    const got = jsonChunkData(msg);
    assert.deepEqual(got, data, `size ${size}`);
    assert.equal(got.buffer, msg.buffer, `size ${size}: a view into the message`);
  }
  const withUnknownField = Buffer.concat([
    Buffer.from([0x10, 0x05]),
    Buffer.from(JsonChunk.encode({ data: Buffer.from('ab') }).finish()),
  ]);
  assert.equal(jsonChunkData(withUnknownField).toString(), 'ab', 'a field it does not know is skipped');
});

it("the services' serializers give the encoded bytes as a Buffer over the encoder's own array (no second copy)", () => {
  const m = ControllerService.listAttachmentsJson;
  const data = Buffer.alloc((1 << 20) + 7, 'x'); // an ls --json chunk is up to 1 MiB
  const wire = m.responseSerialize({ data });
  assert.ok(Buffer.isBuffer(wire));
  assert.equal(wire.byteOffset, 0);
  assert.equal(
    wire.buffer.byteLength,
    wire.length,
    'the Buffer views an array of exactly its size: the encoder made it',
  );
  assert.ok(jsonChunkData(wire).equals(data));
  assert.ok(Buffer.from(m.responseDeserialize(wire).data).equals(data));
  const req = ControllerService.listAttachments.requestSerialize({ host: 'h1', network: 'n', container: '' });
  assert.equal(req.buffer.byteLength, req.length);
});

it('a reply encoded once is sent as its bytes, the same as encoding it each time', () => {
  const m = ControllerService.listAttachmentsJson;
  const data = Buffer.from('[{"id":"fa-1"}]');
  const once = EncodedMessage.of(JsonChunk, { data });
  const wire = m.responseSerialize(once as unknown as { data: Buffer });
  assert.equal(wire, once.bytes, 'passed through, not encoded again');
  assert.ok(wire.equals(m.responseSerialize({ data })));
  assert.ok(jsonChunkData(wire).equals(data));
});
