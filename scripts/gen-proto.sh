#!/usr/bin/env bash
# Regenerates the TypeScript for proto/fleetnet/v1 into the folder given (proto/gen by default):
# ONE tree, <out>/fleetnet/v1/*.ts, with the messages and each service as a plain definition
# (ts-proto's generic definitions: no @grpc/grpc-js import). common/rpc/services.ts makes grpc-js
# services and clients of them for the agent and controller; the CLI's client reads the same
# definitions without loading grpc-js.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-proto/gen}
mkdir -p "$out"
opts=outputServices=generic-definitions,esModuleInterop=true,importSuffix=.js
opts+=,env=node,forceLong=number,useDate=false,outputJsonMethods=false
protoc \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$out" \
  --ts_proto_opt="$opts" \
  -I proto \
  proto/fleetnet/v1/*.proto
