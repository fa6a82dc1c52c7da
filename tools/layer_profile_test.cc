// profile_layers: the forward's outermost scopes, in order, each Bit layer once under its name
// and kernel (not the operators inside it), float layers as their operators.
#include "tools/layer_profile.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/types.h>

#include "absl/strings/match.h"
#include "bitcore/errors.h"
#include "bitmodels/auto_bit_model.h"
#include "export/quantize_for_deployment.h"

namespace bitlab {
namespace {

TEST(LayerProfileTest, ListsEachLayerOfLeNet5) {
  // LeNet-5 keeps conv1 and fc3 in float32; conv2, fc1 and fc2 are Bit layers.
  std::shared_ptr<BitModel> model = AutoBitModel::from_config(
      AutoBitConfig::from_json({{"model_type", "lenet5"}, {"quant_config", "ai8pc_wpt"}}));
  quantize_for_deployment(*model);
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor input = model->example_input(2);
  const std::vector<LayerTiming> layers = profile_layers([&] { model->forward(input); }, 3);

  std::vector<std::string> bit_layers;
  int max_pools = 0;
  for (const LayerTiming& layer : layers) {
    EXPECT_GE(layer.milliseconds, 0.0) << layer.name;
    if (absl::StartsWith(layer.name, "Bit")) bit_layers.push_back(layer.name);
    if (layer.name == "aten::max_pool2d") ++max_pools;
  }
  ASSERT_EQ(bit_layers.size(), 3u) << format_layer_profile(layers);
  EXPECT_TRUE(absl::StartsWith(bit_layers[0], "BitConv2d 6->16 k5x5 [")) << bit_layers[0];
  for (const LayerTiming& layer : layers) {
    if (layer.name == bit_layers[0]) {
      EXPECT_EQ(layer.input_shape, "[2, 6, 14, 14]");
    }
  }
  EXPECT_TRUE(absl::StartsWith(bit_layers[1], "BitLinear 400->120 [")) << bit_layers[1];
  EXPECT_EQ(max_pools, 2) << format_layer_profile(layers);
  // The Bit layers' own operators (quantization, packing) are inside their scopes.
  EXPECT_LT(layers.size(), 20u) << format_layer_profile(layers);
  EXPECT_EQ(layers.front().input_shape, "[2, 1, 28, 28]") << format_layer_profile(layers);

  const std::string table = format_layer_profile(layers);
  EXPECT_NE(table.find("total"), std::string::npos) << table;
  EXPECT_NE(table.find("BitLinear 120->84 ["), std::string::npos) << table;
}

TEST(LayerProfileTest, ChangingSequenceIsAnError) {
  int run = 0;
  EXPECT_THROW(profile_layers(
                   [&] {
                     at::Tensor x = torch::ones({2, 2});
                     if (run++ % 2 == 1) x = torch::relu(x);
                   },
                   2),
               BitLabError);
}

}  // namespace
}  // namespace bitlab
