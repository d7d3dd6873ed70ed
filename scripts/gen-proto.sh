#!/usr/bin/env bash
# Regenerates the TypeScript for proto/fleetnet/v1 into the folder given (proto/gen by default).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-proto/gen}
mkdir -p "$out"
protoc \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,importSuffix=.js,env=node,forceLong=number,useDate=false \
  -I proto \
  proto/fleetnet/v1/*.proto
