#!/bin/sh
# Regenerates the model registry in this directory from models/sources/.
# Every file under models/ except sources/ and this script is generated;
# engine/tests/models_regen.rs fails when the committed tree differs.
#
#   models/regenerate.sh            # from anywhere in the repository
#
# Without a built CLI the same is `WEFT_BLESS=1 cargo test -p weft --test models_regen`
# (which also refreshes engine/src/model/object_meta.json, the ObjectMeta
# schema CRD definitions embed; run it twice if that file changed).
#
# Model name and upstream version come from each file name
# (`gateway-api-v1.6.1.yaml` -> gateway-api v1.6.1; `linkerd-edge-26.8.3.yaml`
# -> linkerd edge-26.8.3; `kubernetes/v1.35.0/_definitions.json` ->
# kubernetes v1.35.0). To add a model, drop its CRDs here as
# `crds/<model>-<version>.yaml`, add its MANIFEST.txt line and rerun.
set -eu
cd "$(dirname "$0")"
# WEFT=/path/to/weft uses a built binary instead of `cargo run`.
if [ -n "${WEFT:-}" ]; then
    weft() { "$WEFT" "$@"; }
else
    weft() { cargo run --quiet -p weft -- "$@"; }
fi

for definitions in sources/kubernetes/*/_definitions.json; do
    weft model import --openapi "$definitions" -o .
done
for crds in sources/crds/*.yaml; do
    weft model import --crd "$crds" -o .
done
