#!/usr/bin/env bash
# Regenerates the TypeScript for proto/fleetnet/v1 into the folder given (proto/gen by default):
#   <out>/fleetnet/v1/*.ts           messages and grpc-js services (agent, controller)
#   <out>/messages/fleetnet/v1/*.ts  messages only, with no grpc-js import: the CLI's fast path
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-proto/gen}
mkdir -p "$out" "$out/messages"
common=esModuleInterop=true,importSuffix=.js,env=node,forceLong=number,useDate=false
gen() {
  protoc \
    --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
    --ts_proto_out="$1" \
    --ts_proto_opt="$2,$common" \
    -I proto \
    proto/fleetnet/v1/*.proto
}
gen "$out" outputServices=grpc-js
gen "$out/messages" outputServices=false
