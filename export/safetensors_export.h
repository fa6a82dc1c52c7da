// Float32 safetensors export and import of BitLab models: the bridge to Hugging Face and
// PyTorch, which know nothing of packed ternary weights.
//
// export_float_safetensors writes the float architecture a BitLab model was converted from,
// under the float module's state-dict names:
//   - every Bit layer (BitLinear, BitConv1d/2d/3d, BitEmbedding) becomes `<path>.weight`, its
//     ternary weight dequantized (ternary values times the weight scale(s), bitcore's
//     dequantize_weight, the values the layer computes with), and `<path>.bias` when it has
//     one. A trainable layer quantizes its latent float weight exactly as its own packing does
//     (bitlinear::prepare_weights on the weight viewed as [out, -1]); a deployed one unpacks its
//     `qweight` and `qweight_scale`. Both give the same bytes. The packed buffers themselves
//     are not written.
//   - every other parameter and buffer as it is (BatchNorm running statistics and
//     num_batches_tracked included, in their own dtype).
// The metadata is {"format": "pt", "bitlab.export": "float"}, so `safetensors.torch.load_file`
// followed by `module.load_state_dict` works in Python. The file is written atomically.
//
// import_float_safetensors loads such a file, or any safetensors file with torch names (for
// example one Python's `safetensors.torch.save_file` wrote from a state_dict), into a float
// model: every tensor in the file must be a parameter or buffer of the model with the same
// shape and dtype, and every parameter and buffer of the model must be in the file. Everything
// is checked before anything is copied; a problem is a BitLabError naming the file and the
// tensor.
//
// Example:
//   auto ternary = bitlab::AutoBitModel::from_config(bitlab::AutoBitConfig::from_json(
//       {{"model_type", "lenet5"}, {"quant_config", "ai8pc_wpt"}}));
//   ... train, maybe deploy ...
//   bitlab::export_float_safetensors(*ternary, "/out/lenet5-float.safetensors");
//   auto twin = bitlab::AutoBitModel::from_config(bitlab::AutoBitConfig::from_json(
//       {{"model_type", "lenet5"}, {"precision", "float32"}}));
//   bitlab::import_float_safetensors(*twin, "/out/lenet5-float.safetensors");
#ifndef BITLAB_EXPORT_SAFETENSORS_EXPORT_H_
#define BITLAB_EXPORT_SAFETENSORS_EXPORT_H_

#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace bitlab {

/// The tensors export_float_safetensors writes, in its order (each module's parameters, then
/// its buffers, modules in pre-order, as torch's state_dict orders them), as CPU tensors.
/// Throws BitLabError for a Bit layer of a kind it does not know, or one holding tensors
/// besides weight, bias, qweight and qweight_scale.
std::vector<std::pair<std::string, at::Tensor>> float_state_dict(const torch::nn::Module& model);

/// Writes float_state_dict(model) to `path` with metadata {"format": "pt",
/// "bitlab.export": "float"}, atomically.
void export_float_safetensors(const torch::nn::Module& model, const std::string& path);

/// Copies every tensor of the safetensors file `path` into the parameter or buffer of `model`
/// with its name. Throws BitLabError naming the file and the tensor when a tensor of the file is
/// not in the model, a parameter or buffer of the model is not in the file, or shapes or dtypes
/// differ (ShapeError); nothing is copied then.
void import_float_safetensors(torch::nn::Module& model, const std::string& path);

}  // namespace bitlab

#endif  // BITLAB_EXPORT_SAFETENSORS_EXPORT_H_
