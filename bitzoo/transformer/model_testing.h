// What the transformer model tests share: building a registered model type from an
// "architecture" object, and a gtest check that converting a model with its default rules
// converts every Linear the rules do not keep and that deploying it leaves its eval outputs as
// they were. Test-only.
//
// Example:
//   auto model = bitlab::bitzoo::testing::build_model("vit_tiny", {{"depth", 2}});
//   bitlab::bitzoo::testing::expect_converts_and_deploys(
//       *model, /*kept=*/{"patch_embed.proj", "head"}, /*num_converted=*/12,
//       model->example_input(2));
#ifndef BITLAB_BITZOO_TRANSFORMER_MODEL_TESTING_H_
#define BITLAB_BITZOO_TRANSFORMER_MODEL_TESTING_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "bitmodels/bit_model.h"

namespace bitlab {
namespace bitzoo {
namespace testing {

/// ModelRegistry's builder of `model_type` on `architecture`, checking like AutoBitModel that
/// every field was read.
std::shared_ptr<BitModel> build_model(const std::string& model_type,
                                      const nlohmann::json& architecture);

/// Converts `model` with "ai8pc_wpt" and model.default_rules(), then expects: the convertible
/// layers at the paths `kept` are kept by a rule (and are the only ones kept), every
/// torch::nn::Linear elsewhere is converted, `num_converted` layers in all; after
/// deploy_bit_layers the eval output on `input` equals the converted model's before deploy.
void expect_converts_and_deploys(BitModel& model, const std::set<std::string>& kept,
                                 int64_t num_converted, const torch::Tensor& input);

}  // namespace testing
}  // namespace bitzoo
}  // namespace bitlab

#endif  // BITLAB_BITZOO_TRANSFORMER_MODEL_TESTING_H_
