// Deployed skeletons: Bit layers built in a DeployedSkeletonScope have exactly the tensors
// (names, shapes, dtypes, parameter or buffer) that deploy() leaves, and compute what the
// deployed layer computes once those are copied in; make_linear / make_conv2d /
// make_embedding build layers that compute like torch's own given the same weights; the scope
// ends where it should.
#include "bitlayers/deployed_skeleton.h"

#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include "bitcore/errors.h"
#include "bitcore/quant_config.h"
#include "bitlayers/bit_conv.h"
#include "bitlayers/bit_embedding.h"
#include "bitlayers/bit_linear.h"
#include "bitlayers/converter.h"

namespace bitlab {
namespace {

struct TensorEntry {
  std::string name;
  std::vector<int64_t> shape;
  at::ScalarType dtype;
  bool parameter;
};

std::vector<TensorEntry> layout(const torch::nn::Module& module) {
  std::vector<TensorEntry> entries;
  for (const auto& item : module.named_parameters()) {
    entries.push_back({item.key(), item.value().sizes().vec(), item.value().scalar_type(), true});
  }
  for (const auto& item : module.named_buffers()) {
    entries.push_back({item.key(), item.value().sizes().vec(), item.value().scalar_type(), false});
  }
  return entries;
}

void expect_same_layout(const torch::nn::Module& expected, const torch::nn::Module& actual) {
  const std::vector<TensorEntry> want = layout(expected);
  const std::vector<TensorEntry> got = layout(actual);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ(got[i].name, want[i].name);
    EXPECT_EQ(got[i].shape, want[i].shape);
    EXPECT_EQ(got[i].dtype, want[i].dtype);
    EXPECT_EQ(got[i].parameter, want[i].parameter);
  }
}

// A `Layer` built with `options` inside a scope is deployed, in eval mode, with the layout
// deploy() leaves; with the deployed layer's tensors copied in it computes the same on `input`.
// Returns the skeleton.
template <typename Layer, typename Options>
Layer expect_born_deployed(const Options& options, const at::Tensor& input) {
  Layer deployed(options);
  deployed->deploy();
  Layer skeleton(nullptr);
  {
    DeployedSkeletonScope scope;
    skeleton = Layer(options);
  }
  EXPECT_TRUE(skeleton->is_deployed());
  EXPECT_FALSE(skeleton->is_training());
  expect_same_layout(*deployed, *skeleton);
  torch::NoGradGuard no_grad;
  for (const auto& item : deployed->named_buffers()) {
    skeleton->named_buffers()[item.key()].copy_(item.value());
  }
  const at::Tensor want = deployed(input);
  const at::Tensor got = skeleton(input);
  EXPECT_TRUE(at::equal(got, want)) << "max difference " << (got - want).abs().max().item<float>();
  return skeleton;
}

const char* const kConfigs[] = {"ai8pt_wpt", "ai8pc_wpc", "af32_wpc"};

TEST(DeployedSkeletonTest, BitLinearIsBornDeployed) {
  for (const char* config : kConfigs) {
    for (const bool bias : {true, false}) {
      SCOPED_TRACE(std::string(config) + (bias ? " with bias" : " without bias"));
      expect_born_deployed<BitLinear>(
          BitLinearOptions(37, 11).bias(bias).quant_config(BitQuantConfig::from_string(config)),
          at::randn({3, 37}));
    }
  }
}

TEST(DeployedSkeletonTest, BitConv2dIsBornDeployed) {
  for (const char* config : kConfigs) {
    for (const int64_t groups : {1, 2}) {
      SCOPED_TRACE(std::string(config) + " groups " + std::to_string(groups));
      expect_born_deployed<BitConv2d>(BitConv2dOptions(6, 8, {3, 2})
                                          .groups(groups)
                                          .padding(1)
                                          .bias(groups == 1)
                                          .quant_config(BitQuantConfig::from_string(config)),
                                      at::randn({2, 6, 7, 5}));
    }
  }
}

TEST(DeployedSkeletonTest, BitEmbeddingIsBornDeployed) {
  for (const char* config : kConfigs) {
    SCOPED_TRACE(config);
    const BitEmbedding skeleton =
        expect_born_deployed<BitEmbedding>(BitEmbeddingOptions(13, 10).padding_idx(-1).quant_config(
                                               BitQuantConfig::from_string(config)),
                                           at::tensor({0, 12, 5, 5}, at::kLong));
    EXPECT_EQ(skeleton->options.padding_idx(), 12);
  }
}

// make_* inside a scope: the torch layer's options and parameter shapes, and its forward once
// the weights are copied in. Outside: torch's layer as it is.
TEST(DeployedSkeletonTest, FloatLayersComputeLikeTorchs) {
  torch::NoGradGuard no_grad;
  const auto check = [](torch::nn::Module& expected, torch::nn::Module& skeleton,
                        const std::function<at::Tensor()>& forward_expected,
                        const std::function<at::Tensor()>& forward_skeleton) {
    expect_same_layout(expected, skeleton);
    for (const auto& item : expected.named_parameters()) {
      skeleton.named_parameters()[item.key()].copy_(item.value());
    }
    EXPECT_TRUE(at::equal(forward_skeleton(), forward_expected()));
  };

  const auto linear_options = torch::nn::LinearOptions(9, 4);
  const auto conv_options = torch::nn::Conv2dOptions(4, 6, 3).padding(torch::kSame).groups(2);
  const auto embedding_options = torch::nn::EmbeddingOptions(7, 3).padding_idx(-2);
  torch::nn::Linear linear(linear_options);
  torch::nn::Conv2d conv(conv_options);
  torch::nn::Embedding embedding(embedding_options);
  torch::nn::Linear linear_skeleton(nullptr);
  torch::nn::Conv2d conv_skeleton(nullptr);
  torch::nn::Embedding embedding_skeleton(nullptr);
  {
    DeployedSkeletonScope scope;
    linear_skeleton = make_linear(linear_options);
    conv_skeleton = make_conv2d(conv_options);
    embedding_skeleton = make_embedding(embedding_options);
  }
  EXPECT_EQ(embedding_skeleton->options.padding_idx(), embedding->options.padding_idx());
  const at::Tensor x = at::randn({2, 9});
  const at::Tensor images = at::randn({2, 4, 5, 6});
  const at::Tensor ids = at::tensor({0, 6, 5}, at::kLong);
  check(
      *linear, *linear_skeleton, [&] { return linear(x); }, [&] { return linear_skeleton(x); });
  check(
      *conv, *conv_skeleton, [&] { return conv(images); }, [&] { return conv_skeleton(images); });
  check(
      *embedding, *embedding_skeleton, [&] { return embedding(ids); },
      [&] { return embedding_skeleton(ids); });

  // Outside a scope, torch's layers: initialized (a draw, not the uninitialized memory).
  torch::manual_seed(5);
  const at::Tensor drawn = make_linear(linear_options)->weight;
  torch::manual_seed(5);
  EXPECT_TRUE(at::equal(drawn, torch::nn::Linear(linear_options)->weight));
}

TEST(DeployedSkeletonTest, BadOptionsAreStillErrors) {
  DeployedSkeletonScope scope;
  EXPECT_THROW(make_conv2d(torch::nn::Conv2dOptions(6, 4, 3).groups(4)), BitLabError);
  EXPECT_THROW(make_embedding(torch::nn::EmbeddingOptions(5, 2).padding_idx(5)), BitLabError);
  EXPECT_THROW(make_embedding(torch::nn::EmbeddingOptions(5, 2).padding_idx(-6)), BitLabError);
  EXPECT_THROW(BitLinear(0, 3), BitLabError);
}

TEST(DeployedSkeletonTest, ScopesNestAndEnd) {
  EXPECT_FALSE(building_deployed_skeleton());
  {
    DeployedSkeletonScope outer;
    {
      DeployedSkeletonScope inner;
      EXPECT_TRUE(building_deployed_skeleton());
    }
    EXPECT_TRUE(building_deployed_skeleton());
  }
  EXPECT_FALSE(building_deployed_skeleton());
  EXPECT_FALSE(BitLinear(8, 4)->is_deployed());
}

// BitConverter in a scope: the float layers become Bit layers born deployed, without reading
// the float weights (which a skeleton leaves uninitialized); rules keeping a layer float keep it.
TEST(DeployedSkeletonTest, ConverterBuildsDeployedLayers) {
  DeployedSkeletonScope scope;
  torch::nn::Sequential model(make_linear(torch::nn::LinearOptions(12, 8)),
                              make_conv2d(torch::nn::Conv2dOptions(3, 4, 1)),
                              make_linear(torch::nn::LinearOptions(8, 2)));
  ConversionRule keep_last;
  keep_last.pattern = "^2$";
  keep_last.keep_float = true;
  const ConversionReport report =
      BitConverter::convert(*model, BitQuantConfig::from_string("ai8pt_wpt"), {keep_last});
  EXPECT_EQ(report.num_converted, 2) << report.to_string();
  EXPECT_TRUE(model[0]->as<BitLinear>() != nullptr && model[0]->as<BitLinear>()->is_deployed());
  EXPECT_TRUE(model[1]->as<BitConv2d>() != nullptr && model[1]->as<BitConv2d>()->is_deployed());
  EXPECT_TRUE(model[2]->as<torch::nn::Linear>() != nullptr);
}

}  // namespace
}  // namespace bitlab
