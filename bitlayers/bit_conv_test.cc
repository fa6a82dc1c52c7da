#include "bitlayers/bit_conv.h"

#include <sstream>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/conv.h>
#include <torch/optim/sgd.h>
#include <torch/serialize.h>
#include <torch/types.h>

#include "bitcore/errors.h"
#include "bitcore/quantization.h"

namespace bitlab {
namespace {

using ::testing::HasSubstr;

BitQuantConfig quant(const char* compact) { return BitQuantConfig::from_string(compact); }

// Runs `layer` on x in train, eval and deployed modes and checks the contract: eval within
// rtol 1e-4 / atol 1e-5 of training's fake quantization, deployed equal to eval.
template <typename Layer>
void expect_modes_agree(Layer layer, const torch::Tensor& x, const std::string& what) {
  layer->train();
  const torch::Tensor train = layer(x).detach();
  layer->eval();
  const torch::Tensor eval = layer(x);
  layer->deploy();
  const torch::Tensor deployed = layer(x);
  ASSERT_EQ(eval.sizes(), train.sizes()) << what;
  EXPECT_TRUE(torch::allclose(eval, train, 1e-4, 1e-5))
      << what << ": max difference " << (eval - train).abs().max().item<float>();
  EXPECT_TRUE(torch::equal(deployed, eval)) << what;
}

TEST(BitConvTest, Conv2dModesAgreeAcrossOptions) {
  torch::manual_seed(0);
  struct Case {
    const char* name;
    BitConv2dOptions options;
  };
  const std::vector<Case> cases = {
      {"3x3 pad 1", BitConv2dOptions(5, 16, 3).padding(1)},
      {"stride 2 no bias", BitConv2dOptions(5, 16, 3).stride(2).padding(1).bias(false)},
      {"1x1", BitConv2dOptions(5, 12, 1)},
      {"dilation 2", BitConv2dOptions(5, 16, 3).dilation(2).padding(2)},
      {"rectangular",
       BitConv2dOptions(5, 9, {3, 2}).stride({1, 2}).padding(torch::ExpandingArray<2>({1, 0}))},
      {"same", BitConv2dOptions(5, 16, {4, 3}).padding(torch::kSame)},
      {"valid", BitConv2dOptions(5, 16, 3).padding(torch::kValid)},
      {"groups 2 (kernel path)", BitConv2dOptions(4, 32, 3).padding(1).groups(2)},
      {"depthwise (direct path)", BitConv2dOptions(6, 6, 3).padding(1).groups(6)},
      {"depthwise x2", BitConv2dOptions(6, 12, 3).padding(1).groups(6)},
      {"reflect", BitConv2dOptions(5, 16, 3).padding(1).padding_mode(torch::kReflect)},
      {"replicate", BitConv2dOptions(5, 16, 3).padding(2).padding_mode(torch::kReplicate)},
      {"circular", BitConv2dOptions(5, 16, 3).padding(1).padding_mode(torch::kCircular)},
  };
  for (const char* config : {"ai8pc_wpt", "ai8pt_wpc", "af32_wpt"}) {
    for (const Case& c : cases) {
      BitConv2dOptions options = c.options;
      options.quant_config(quant(config));
      BitConv2d layer(options);
      const torch::Tensor x = torch::randn({2, options.in_channels(), 9, 8});
      expect_modes_agree(layer, x, std::string(c.name) + " " + config);
    }
  }
}

TEST(BitConvTest, LargeInputsGoThroughThePatchesInChunks) {
  // 2 x 110 x 100 = 22000 patch rows of 36 bytes: more than one 512 KB chunk.
  torch::manual_seed(12);
  for (const char* config : {"ai8pc_wpt", "ai8pt_wpc", "af32_wpt"}) {
    for (int64_t groups : {1, 2}) {
      expect_modes_agree(
          BitConv2d(
              BitConv2dOptions(4, 16, 3).padding(1).groups(groups).quant_config(quant(config))),
          torch::randn({2, 4, 110, 100}),
          std::string("chunked ") + config + " groups " + std::to_string(groups));
    }
  }
}

TEST(BitConvTest, ManyChunksAreSharedAmongThreads) {
  // 2 x 64 x 64 = 8192 rows of 576 bytes: 9 chunks, enough for each of 2 threads to take
  // whole chunks.
  torch::manual_seed(13);
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  for (const char* config : {"ai8pc_wpc", "ai8pt_wpt"}) {
    expect_modes_agree(
        BitConv2d(BitConv2dOptions(64, 32, 3).padding(1).quant_config(quant(config))),
        torch::randn({2, 64, 64, 64}), std::string("many chunks ") + config);
  }
  at::set_num_threads(threads);
}

TEST(BitConvTest, Conv1dAnd3dModesAgree) {
  torch::manual_seed(1);
  for (const char* config : {"ai8pc_wpc", "af32_wpt"}) {
    expect_modes_agree(
        BitConv1d(BitConv1dOptions(3, 16, 5).stride(2).padding(2).quant_config(quant(config))),
        torch::randn({3, 3, 20}), std::string("conv1d ") + config);
    expect_modes_agree(
        BitConv1d(
            BitConv1dOptions(4, 8, 3).padding(torch::kSame).groups(4).quant_config(quant(config))),
        torch::randn({2, 4, 11}), std::string("conv1d depthwise ") + config);
    expect_modes_agree(
        BitConv3d(
            BitConv3dOptions(2, 16, 3).padding(1).dilation({1, 2, 1}).quant_config(quant(config))),
        torch::randn({2, 2, 5, 7, 6}), std::string("conv3d ") + config);
  }
}

TEST(BitConvTest, TrainingForwardIsTorchConvAtTheDequantizedValues) {
  torch::manual_seed(2);
  const BitQuantConfig config = quant("ai8pc_wpc");
  BitConv2d layer(BitConv2dOptions(3, 8, 3).stride(2).padding(1).groups(1).quant_config(config));
  const torch::Tensor x = torch::randn({2, 3, 10, 10});
  const torch::Tensor w_hat =
      fake_quantize_weight(layer->weight.detach().reshape({8, -1}), config).view({8, 3, 3, 3});
  // Per-token activations mean one scale per sample for a convolution.
  const torch::Tensor x_hat = fake_quantize_x(x.reshape({2, -1}), config).view(x.sizes());
  torch::nn::Conv2d reference(torch::nn::Conv2dOptions(3, 8, 3).stride(2).padding(1));
  {
    torch::NoGradGuard no_grad;
    reference->weight.copy_(w_hat);
    reference->bias.copy_(layer->bias);
  }
  EXPECT_TRUE(torch::allclose(layer(x), reference(x_hat), 1e-5, 1e-6));
}

// d/dp sum(conv(x_hat, w_hat) * r) by central differences in double precision, at the
// dequantized values: what the straight-through estimator must reproduce.
torch::Tensor finite_difference(const torch::Tensor& point,
                                const std::function<double(const torch::Tensor&)>& f) {
  torch::Tensor grad = torch::zeros_like(point);
  torch::Tensor probe = point.clone();
  const double h = 1e-3;
  auto flat_probe = probe.view({-1});
  auto flat_grad = grad.view({-1});
  for (int64_t i = 0; i < probe.numel(); ++i) {
    const double original = flat_probe[i].item<double>();
    flat_probe[i] = original + h;
    const double up = f(probe);
    flat_probe[i] = original - h;
    const double down = f(probe);
    flat_probe[i] = original;
    flat_grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

TEST(BitConvTest, StraightThroughGradientsMatchFiniteDifferences) {
  torch::manual_seed(3);
  for (const char* config_name : {"ai8pt_wpt", "af32_wpc"}) {
    const BitQuantConfig config = quant(config_name);
    for (int64_t groups : {1, 2}) {
      BitConv2d layer(
          BitConv2dOptions(4, 4, 3).stride(2).padding(1).groups(groups).quant_config(config));
      const torch::Tensor x = torch::randn({2, 4, 5, 5}, torch::requires_grad());
      const torch::Tensor r = torch::randn({2, 4, 3, 3});
      (layer(x) * r).sum().backward();

      const torch::Tensor w_hat =
          fake_quantize_weight(layer->weight.detach().reshape({4, -1}), config)
              .view(layer->weight.sizes())
              .to(torch::kDouble);
      torch::Tensor x_hat = x.detach();
      if (config.activation_dtype == ActivationDtype::kInt8) {
        x_hat = fake_quantize_x(x_hat.reshape({2, -1}), config).view(x.sizes());
      }
      x_hat = x_hat.to(torch::kDouble);
      const torch::Tensor b = layer->bias.detach().to(torch::kDouble);
      const torch::Tensor r64 = r.to(torch::kDouble);
      auto loss = [&](const torch::Tensor& xi, const torch::Tensor& wi, const torch::Tensor& bi) {
        return (torch::conv2d(xi, wi, bi, 2, 1, 1, groups) * r64).sum().item<double>();
      };
      const torch::Tensor fd_w =
          finite_difference(w_hat, [&](const torch::Tensor& w) { return loss(x_hat, w, b); });
      const torch::Tensor fd_x =
          finite_difference(x_hat, [&](const torch::Tensor& xi) { return loss(xi, w_hat, b); });
      const torch::Tensor fd_b =
          finite_difference(b, [&](const torch::Tensor& bi) { return loss(x_hat, w_hat, bi); });
      const std::string what = std::string(config_name) + " groups " + std::to_string(groups);
      EXPECT_TRUE(torch::allclose(layer->weight.grad().to(torch::kDouble), fd_w, 1e-4, 1e-4))
          << what;
      EXPECT_TRUE(torch::allclose(x.grad().to(torch::kDouble), fd_x, 1e-4, 1e-4)) << what;
      EXPECT_TRUE(torch::allclose(layer->bias.grad().to(torch::kDouble), fd_b, 1e-4, 1e-4)) << what;
    }
  }
}

TEST(BitConvTest, ChannelsLastInputGetsChannelsLastOutput) {
  torch::manual_seed(6);
  BitConv2d layer(BitConv2dOptions(8, 16, 3).padding(1));
  layer->eval();
  const torch::Tensor x = torch::randn({2, 8, 7, 7});
  const torch::Tensor expected = layer(x);
  EXPECT_TRUE(expected.is_contiguous());
  const torch::Tensor y = layer(x.contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::equal(y, expected));
}

TEST(BitConvTest, DeployAfterAnOptimizerStepUsesTheNewWeights) {
  torch::manual_seed(7);
  BitConv2d layer(BitConv2dOptions(3, 16, 3).padding(1));
  const torch::Tensor x = torch::randn({1, 3, 6, 6});
  layer->eval();
  layer(x);  // packs
  layer->train();
  torch::optim::SGD sgd(layer->parameters(), torch::optim::SGDOptions(5.0));
  (layer(x) * torch::randn({1, 16, 6, 6})).sum().backward();
  sgd.step();
  const torch::Tensor train = layer(x).detach();
  layer->deploy();
  EXPECT_TRUE(torch::allclose(layer(x), train, 1e-4, 1e-5));
  // A clone of a deployed layer is deployed and computes the same.
  auto copy = std::dynamic_pointer_cast<BitConv2dImpl>(layer->clone());
  ASSERT_TRUE(copy);
  EXPECT_TRUE(copy->is_deployed());
  EXPECT_TRUE(copy->named_buffers().contains("bias"));
  EXPECT_FALSE(copy->bias.is_same(layer->bias));  // a copy, not shared
  EXPECT_TRUE(torch::equal(copy->forward(x), layer(x)));
}

TEST(BitConvTest, UnbatchedInput) {
  BitConv1d layer(BitConv1dOptions(3, 8, 3).padding(1));
  const torch::Tensor x = torch::randn({3, 10});
  const torch::Tensor train = layer(x).detach();
  EXPECT_EQ(train.sizes(), (std::vector<int64_t>{8, 10}));
  layer->eval();
  EXPECT_TRUE(torch::allclose(layer(x), train, 1e-4, 1e-5));
}

TEST(BitConvTest, EvalAfterAnOptimizerStepRepacks) {
  torch::manual_seed(4);
  BitConv2d layer(BitConv2dOptions(3, 16, 3).padding(1));
  const torch::Tensor x = torch::randn({2, 3, 6, 6});
  layer->eval();
  const torch::Tensor before = layer(x);
  const torch::Tensor packed_before = layer->qweight.clone();
  layer->train();
  torch::optim::SGD sgd(layer->parameters(), torch::optim::SGDOptions(5.0));
  (layer(x) * torch::randn({2, 16, 6, 6})).sum().backward();
  sgd.step();
  layer->eval();
  const torch::Tensor after = layer(x);
  EXPECT_FALSE(torch::equal(layer->qweight, packed_before));
  EXPECT_FALSE(torch::allclose(after, before));
  layer->train();
  EXPECT_TRUE(torch::allclose(after, layer(x).detach(), 1e-4, 1e-5));
}

TEST(BitConvTest, StateRoundTripsInEveryMode) {
  torch::manual_seed(5);
  const torch::Tensor x = torch::randn({2, 4, 7, 7});
  for (int mode = 0; mode < 3; ++mode) {  // train, eval, deployed
    auto make = [] { return BitConv2d(BitConv2dOptions(4, 16, 3).padding(1).groups(2)); };
    BitConv2d source = make();
    BitConv2d target = make();
    if (mode >= 1) {
      source->eval();
      target->eval();
      source(x);  // packs
    }
    if (mode == 2) {
      source->deploy();
      target->deploy();
    }
    torch::NoGradGuard no_grad;
    for (const auto& item : source->named_parameters()) {
      torch::Tensor destination = target->named_parameters()[item.key()];
      destination.set_data(item.value().clone());
    }
    for (const auto& item : source->named_buffers()) {
      target->named_buffers()[item.key()].set_data(item.value().clone());
    }
    EXPECT_TRUE(torch::equal(target(x), source(x))) << "mode " << mode;
  }
}

TEST(BitConvTest, DeployedCheckpointLoadsIntoAFreshLayer) {
  torch::manual_seed(9);
  BitConv2d source(BitConv2dOptions(4, 16, 3).padding(1).quant_config(quant("ai8pc_wpc")));
  source->deploy();
  std::stringstream checkpoint;
  torch::save(source, checkpoint);
  BitConv2d target(BitConv2dOptions(4, 16, 3).padding(1).quant_config(quant("ai8pc_wpc")));
  torch::load(target, checkpoint);
  EXPECT_TRUE(target->is_deployed());
  EXPECT_TRUE(target->named_buffers().contains("bias"));
  const torch::Tensor x = torch::randn({2, 4, 6, 6});
  EXPECT_TRUE(torch::equal(target(x), source(x)));  // even though target is in training mode
  EXPECT_THROW(target->train(), BitLabError);
}

TEST(BitConvTest, DeployFreesTheWeightAndIsFinal) {
  BitConv2d layer(BitConv2dOptions(8, 16, 3));
  layer->deploy();
  EXPECT_TRUE(layer->is_deployed());
  EXPECT_EQ(layer->weight.numel(), 0);
  EXPECT_EQ(layer->qweight.sizes(), (std::vector<int64_t>{16, 18}));  // ceil(8 * 9 / 4)
  EXPECT_FALSE(layer->named_parameters().contains("bias"));
  ASSERT_TRUE(layer->named_buffers().contains("bias"));
  EXPECT_TRUE(layer->named_buffers()["bias"].is_same(layer->bias));
  EXPECT_EQ(layer->float_bytes(), 4 * (16 * 72 + 16));
  EXPECT_EQ(layer->deployed_bytes(), 16 * 18 + 4 * (1 + 16));
  layer->deploy();
  try {
    layer->train();
    FAIL() << "train() after deploy() must throw";
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("BitConv2d: train() after deploy()"));
  }
}

TEST(BitConvTest, FromTorchCopiesOptionsAndWeights) {
  torch::nn::Conv2d conv(
      torch::nn::Conv2dOptions(4, 8, 3).stride(2).padding(1).groups(2).bias(false));
  BitConv2d layer(BitConv2dImpl::from_torch(*conv, quant("ai8pc_wpc")));
  EXPECT_TRUE(torch::equal(layer->weight, conv->weight));
  EXPECT_FALSE(layer->bias.defined());
  std::ostringstream printed;
  layer->pretty_print(printed);
  EXPECT_EQ(printed.str(),
            "bitlab::BitConv2d(4, 8, kernel_size=[3, 3], stride=[2, 2], padding=[1, 1], "
            "dilation=[1, 1], groups=2, bias=false, quant=ai8pc_wpc, deployed=false)");
  const torch::Tensor x = torch::randn({1, 4, 8, 8});
  EXPECT_EQ(layer(x).sizes(), conv(x).sizes());
  torch::nn::ConvTranspose2d transposed(torch::nn::ConvTranspose2dOptions(4, 8, 3));
  EXPECT_THROW(BitConv2dOptions::from_torch(transposed->options), BitLabError);
}

TEST(BitConvTest, BadInputIsNamed) {
  auto expect_error = [](const std::function<void()>& f, const std::string& message) {
    try {
      f();
      FAIL() << "expected an error containing: " << message;
    } catch (const BitLabError& e) {
      EXPECT_THAT(e.what(), HasSubstr(message));
    }
  };
  BitConv2d layer(BitConv2dOptions(4, 8, 3));
  for (bool training : {true, false}) {
    layer->train(training);
    expect_error(
        [&] {
          layer(torch::randn({1, 3, 8, 8}));
        },
        "BitConv2d: input has shape [1, 3, 8, 8]; dimension 1 has 3 channels, expected "
        "in_channels = 4");
    expect_error([&] { layer(torch::randn({8, 8})); }, "expected rank 4");
    expect_error(
        [&] {
          layer(torch::randn({1, 4, 2, 8}));
        },
        "spatial dimension 0 is 2 after padding, smaller than the dilated kernel (3)");
  }
  expect_error([] { BitConv2d(BitConv2dOptions(6, 8, 3).groups(4)); },
               "groups = 4 must divide in_channels and out_channels, got in_channels = 6");
  expect_error([] { BitConv2d(BitConv2dOptions(4, 8, 3).stride(2).padding(torch::kSame)); },
               "padding kSame needs stride 1");
}

}  // namespace
}  // namespace bitlab
