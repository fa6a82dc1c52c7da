#!/bin/bash
# The bitlab CLI end to end: every subcommand on a shipped model, --help, and the exit codes of
# bad commands, flags and paths.
set -uo pipefail
bitlab="$1"
export BITLAB_CACHE="$TEST_TMPDIR/cache"
failures=0

# expect CODE PATTERN COMMAND...: the command exits with CODE and its output matches PATTERN.
expect() {
  local code="$1" pattern="$2"
  shift 2
  local out status
  out="$("$bitlab" "$@" 2>&1)"
  status=$?
  if [[ "$status" != "$code" ]] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: bitlab $* exited $status (expected $code), output:" >&2
    echo "$out" >&2
    failures=$((failures + 1))
  fi
}

expect 0 "^lenet5-fmnist +pretrained +pretrained on fashion_mnist" zoo
expect 0 "^resnet18 +architecture " zoo
expect 0 "test_accuracy \| 0\.[0-9]+ \|" zoo lenet5-fmnist
expect 0 "## CPU latency" zoo lenet5-fmnist
expect 0 "^# resnet20" zoo resnet20
expect 0 "kernel selection for ai8pc_wpt" info lenet5-fmnist
expect 0 "61706 parameters" info lenet5-fmnist
expect 0 "precision ternary" info mlp
expect 0 "usage: bitlab info MODEL" info --help
expect 0 "^accuracy 0\.[0-9]+, loss [0-9.]+ \(10000 samples of fashion_mnist\)" eval mlp-fmnist
expect 0 "^wrote $TEST_TMPDIR/mlp.safetensors" export mlp-fmnist --out="$TEST_TMPDIR/mlp.safetensors"
[[ -s "$TEST_TMPDIR/mlp.safetensors" ]] || { echo "FAIL: export wrote nothing" >&2; failures=$((failures + 1)); }
expect 0 "^wrote $TEST_TMPDIR/lenet5.pt: a TorchScript module" export lenet5-fmnist --format=torchscript --out="$TEST_TMPDIR/lenet5.pt"
[[ -s "$TEST_TMPDIR/lenet5.pt" ]] || { echo "FAIL: TorchScript export wrote nothing" >&2; failures=$((failures + 1)); }
expect 1 "TorchScript export supports" export gpt --format=torchscript --out="$TEST_TMPDIR/gpt.pt"
# convert: the float32 weights export wrote, made ternary again, to a directory and a .bitlab.
expect 0 "converted" convert "$TEST_TMPDIR/mlp.safetensors" --model_type=mlp --out="$TEST_TMPDIR/mlp-converted"
expect 0 "^accuracy 0\.(7|8|9)[0-9]*, loss" eval "$TEST_TMPDIR/mlp-converted"
expect 0 "^wrote $TEST_TMPDIR/mlp-converted.bitlab: deployed" convert "$TEST_TMPDIR/mlp.safetensors" --model_type=mlp --quant_config=ai8pt_wpt --keep_float='^classifier$' --out="$TEST_TMPDIR/mlp-converted.bitlab"
expect 1 "mlp.safetensors.*tensor" convert "$TEST_TMPDIR/mlp.safetensors" --model_type=lenet5 --out="$TEST_TMPDIR/wrong"
expect 1 "--architecture=\[1\]: expected a JSON object" convert "$TEST_TMPDIR/mlp.safetensors" --model_type=mlp --architecture='[1]' --out="$TEST_TMPDIR/wrong"
expect 1 "/nonexistent/w.safetensors" convert /nonexistent/w.safetensors --model_type=mlp --out="$TEST_TMPDIR/wrong"
expect 2 "usage: bitlab convert CHECKPOINT" convert "$TEST_TMPDIR/mlp.safetensors" --out="$TEST_TMPDIR/wrong"
for mode in float int8; do
  expect 0 "^wrote $TEST_TMPDIR/lenet5-$mode.onnx: ONNX \(opset 17, $mode mode" \
    export lenet5-fmnist --format=onnx --onnx_mode=$mode --out="$TEST_TMPDIR/lenet5-$mode.onnx"
done
int8_bytes=$(stat -c %s "$TEST_TMPDIR/lenet5-int8.onnx" 2>/dev/null || echo 0)
float_bytes=$(stat -c %s "$TEST_TMPDIR/lenet5-float.onnx" 2>/dev/null || echo 0)
# Ternary weights in 1 byte instead of 4 (the float32 first conv and classifier stay 4).
if (( int8_bytes == 0 || 2 * int8_bytes > float_bytes )); then
  echo "FAIL: ONNX int8 file $int8_bytes bytes, float $float_bytes bytes" >&2
  failures=$((failures + 1))
fi
expect 1 "fp16.*is not one of" export lenet5-fmnist --format=onnx --onnx_mode=fp16 \
  --out="$TEST_TMPDIR/x.onnx"
expect 1 "--onnx_mode=int8: only for --format=onnx" export lenet5-fmnist --onnx_mode=int8 \
  --out="$TEST_TMPDIR/x.safetensors"
expect 1 "--format=tflite: expected safetensors, onnx or torchscript" export mlp-fmnist --format=tflite \
  --out="$TEST_TMPDIR/mlp.tflite"
expect 1 "not a model ONNX export knows" export mobilenet_v2 --format=onnx --out="$TEST_TMPDIR/m.onnx"
expect 0 "--onnx_mode=float.int8" export --help
expect 1 "imagenet" eval mlp-fmnist --dataset=imagenet
expect 2 "usage: bitlab export MODEL --out=FILE" export mlp-fmnist
expect 0 "^lenet5-fmnist, batch 4, [0-9]+ threads: median [0-9.]+ ms per forward" benchmark lenet5-fmnist --batch=4 --iterations=3
expect 0 "^kernel: (reference|x86_)" benchmark lenet5-fmnist --iterations=2
expect 0 "^memory: [0-9.]+ KiB held by the deployed model" benchmark mlp-fmnist --iterations=2
expect 1 "--batch=0: expected a positive integer" benchmark mlp-fmnist --batch=0
expect 0 "BitConv2d 6->16 k5x5 \[[a-z0-9_]+\] +\[1, 6, 14, 14\] +[0-9.]+ +[0-9.]+%" benchmark lenet5-fmnist --iterations=2 --per_layer=true
deployed="$TEST_TMPDIR/lenet5.bitlab"
expect 0 "^wrote $deployed: deployed [0-9]+ Bit layers" deploy lenet5-fmnist --out="$deployed"
expect 0 "61706 parameters" info "$deployed"
expect 0 "^accuracy 0\.(8|9)[0-9]*, loss" eval "$deployed"
expect 0 "^$deployed, batch 2, " benchmark "$deployed" --batch=2 --iterations=2
expect 2 "usage: bitlab deploy MODEL --out=FILE.bitlab" deploy lenet5-fmnist
printf 'not a model' >"$TEST_TMPDIR/junk.bitlab"
expect 1 "junk.bitlab: not a .bitlab file" info "$TEST_TMPDIR/junk.bitlab"
expect 0 "usage: bitlab <command>" --help
expect 1 "/nonexistent/model" info /nonexistent/model
expect 1 "resnet9000" zoo resnet9000
expect 2 "unknown command 'frobnicate'" frobnicate
expect 2 "unknown flag --fast" info --fast lenet5-fmnist
expect 2 "usage: bitlab info MODEL" info
expect 2 "usage: bitlab <command>"

[[ "$failures" == 0 ]] && echo "all bitlab CLI checks passed"
exit "$failures"
