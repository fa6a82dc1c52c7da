// ONNX export: the pretrained LeNet-5 written as an ONNX model in both modes, for onnxruntime
// and other ONNX runtimes. Prints each file's size; the int8 file stores the ternary weights
// in one byte each instead of four.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_model.h"
#include "export/onnx_export.h"

int main() {
  std::shared_ptr<bitlab::BitModel> model = bitlab::AutoBitModel::from_pretrained("lenet5-fmnist");
  bitlab::deploy_bit_layers(*model);  // optional: a trainable model exports the same weights

  bitlab::OnnxExportOptions options;       // opset 17; input shape: model->example_input(1)'s
  options.mode = bitlab::OnnxMode::kInt8;  // kFloat: float32 weights, plain MatMul and Conv
  bitlab::export_onnx(*model, "lenet5-int8.onnx", options);

  options.mode = bitlab::OnnxMode::kFloat;
  bitlab::export_onnx(*model, "lenet5-float.onnx", options);

  const auto int8_bytes = std::filesystem::file_size("lenet5-int8.onnx");
  const auto float_bytes = std::filesystem::file_size("lenet5-float.onnx");
  std::printf("wrote lenet5-int8.onnx (%ju bytes) and lenet5-float.onnx (%ju bytes)\n",
              static_cast<uintmax_t>(int8_bytes), static_cast<uintmax_t>(float_bytes));
  return int8_bytes < float_bytes ? 0 : 1;
}
