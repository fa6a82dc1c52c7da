// Saving and loading a model's tensors as a safetensors file, by state-dict name.
//
// What is saved: every parameter and buffer under its dotted name, except the packed-weight
// caches of Bit layers that are not deployed (`qweight`, `qweight_scale`): those are derived
// from the float weight and rebuilt on the next eval forward. A deployed model saves its packed
// weights, scales and biases, and no float weights. The file's metadata records which
// ("bitlab.deployed": "true" / "false"). Deployed weights load into a trainable model by
// deploying it first (irreversibly); trainable weights into a deployed model are an error.
//
// Loading checks every tensor: a missing tensor, an unexpected one, or a shape or dtype that
// differs from the model's is a BitLabError naming the file and the tensor.
//
// Example:
//   bitlab::save_model_weights(*model, "/out/model.safetensors");
//   bitlab::load_model_weights(*fresh_model, "/out/model.safetensors");
#ifndef BITLAB_BITMODELS_MODEL_WEIGHTS_H_
#define BITLAB_BITMODELS_MODEL_WEIGHTS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>

namespace bitlab {

/// Whether `model`'s Bit layers are deployed: true if all are, false if none (or there are
/// none); throws BitLabError naming a layer when only some are.
bool is_model_deployed(const torch::nn::Module& model);

/// The tensors save_model_weights writes (see the file comment), by dotted state-dict name,
/// in named_modules() order. They alias the model's own tensors.
std::vector<std::pair<std::string, at::Tensor>> model_state_tensors(const torch::nn::Module& model);

/// Writes `model`'s tensors (see the file comment), atomically.
void save_model_weights(const torch::nn::Module& model, const std::string& path,
                        std::map<std::string, std::string> metadata = {});

/// Reads `path` into `model`'s tensors; `model` must have the saved file's structure (see the
/// file comment for the deployed state). Everything is checked before anything is copied.
void load_model_weights(torch::nn::Module& model, const std::string& path);

}  // namespace bitlab

#endif  // BITLAB_BITMODELS_MODEL_WEIGHTS_H_
