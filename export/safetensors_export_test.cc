// export_float_safetensors / import_float_safetensors: a ternary zoo model exported as float32
// imports into its float32 twin, whose weights are then exactly the dequantized ternary
// weights and whose outputs are the ternary model's (with float32 activations); a deployed
// model exports the same bytes; bad files are errors naming the file and the tensor.
#include "export/safetensors_export.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "bitcore/errors.h"
#include "bitcore/io/safetensors.h"
#include "bitcore/quant_config.h"
#include "bitcore/quantization.h"
#include "bitlayers/bit_conv.h"
#include "bitlayers/bit_embedding.h"
#include "bitlayers/bit_linear.h"
#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bitlab {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string temp_path(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::shared_ptr<BitModel> build(const std::string& type, const std::string& precision) {
  return AutoBitModel::from_config(AutoBitConfig::from_json(
      {{"model_type", type}, {"quant_config", "af32_wpt"}, {"precision", precision}}));
}

std::map<std::string, torch::Tensor> tensors_of(const torch::nn::Module& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : model.named_parameters()) out[p.key()] = p.value();
  for (const auto& b : model.named_buffers()) out[b.key()] = b.value();
  return out;
}

// The weight a trainable Bit layer computes with, through the training path's fake
// quantization (bit for bit dequantize_weight(quantize_weight(...)), quantization.h).
torch::Tensor expected_weight(const torch::Tensor& weight, const BitQuantConfig& config) {
  return fake_quantize_weight(weight.detach().reshape({weight.size(0), -1}), config)
      .view(weight.sizes());
}

// Every Bit layer's dequantized weight (and bias) by float state-dict name; the model must not
// be deployed.
std::map<std::string, torch::Tensor> expected_bit_tensors(const torch::nn::Module& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : model.named_modules()) {
    const std::string prefix = item.key().empty() ? "" : item.key() + ".";
    const torch::nn::Module* m = item.value().get();
    if (const auto* l = dynamic_cast<const BitLinearImpl*>(m)) {
      out[prefix + "weight"] = expected_weight(l->weight, l->options.quant_config());
      if (l->bias.defined()) out[prefix + "bias"] = l->bias;
    } else if (const auto* c = dynamic_cast<const BitConv1dImpl*>(m)) {
      out[prefix + "weight"] = expected_weight(c->weight, c->options.quant_config());
      if (c->bias.defined()) out[prefix + "bias"] = c->bias;
    } else if (const auto* c = dynamic_cast<const BitConv2dImpl*>(m)) {
      out[prefix + "weight"] = expected_weight(c->weight, c->options.quant_config());
      if (c->bias.defined()) out[prefix + "bias"] = c->bias;
    } else if (const auto* c = dynamic_cast<const BitConv3dImpl*>(m)) {
      out[prefix + "weight"] = expected_weight(c->weight, c->options.quant_config());
      if (c->bias.defined()) out[prefix + "bias"] = c->bias;
    } else if (const auto* e = dynamic_cast<const BitEmbeddingImpl*>(m)) {
      out[prefix + "weight"] = expected_weight(e->weight, e->options.quant_config());
    }
  }
  return out;
}

// Checks that `twin` holds exactly `ternary`'s float tensors: dequantized weights for Bit
// layers, everything else as it is.
void expect_twin_matches(const torch::nn::Module& ternary, const torch::nn::Module& twin) {
  const std::map<std::string, torch::Tensor> bit = expected_bit_tensors(ternary);
  ASSERT_FALSE(bit.empty());
  const std::map<std::string, torch::Tensor> ternary_tensors = tensors_of(ternary);
  for (const auto& [name, got] : tensors_of(twin)) {
    auto it = bit.find(name);
    const torch::Tensor expected = it != bit.end() ? it->second : ternary_tensors.at(name);
    EXPECT_EQ(got.scalar_type(), expected.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(got, expected))
        << name << ": max difference " << (got - expected).abs().max().item<double>();
  }
}

void expect_outputs_close(const torch::Tensor& got, const torch::Tensor& expected,
                          const std::string& what) {
  const double scale = expected.abs().max().item<double>();
  const double diff = (got - expected).abs().max().item<double>();
  EXPECT_LE(diff, 1e-5 * scale) << what << ": max difference " << diff << " at scale " << scale;
}

class ZooExportTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooExportTest, FloatTwinMatchesTernaryTrainableAndDeployed) {
  const std::string type = GetParam();
  torch::manual_seed(0);
  std::shared_ptr<BitModel> ternary = build(type, "ternary");
  const torch::Tensor x = ternary->example_input(3);
  {
    // A training forward moves BatchNorm's running statistics off their defaults.
    torch::NoGradGuard no_grad;
    ternary->forward(x);
  }
  ternary->eval();
  const torch::Tensor y = ternary->forward(x).detach();

  const std::string trainable_file = temp_path(type + "-trainable.safetensors");
  export_float_safetensors(*ternary, trainable_file);
  const SafetensorsContents contents = load_safetensors(trainable_file);
  EXPECT_EQ(contents.metadata.at("format"), "pt");
  EXPECT_EQ(contents.metadata.at("bitlab.export"), "float");
  for (const auto& [name, tensor] : contents.tensors) {
    EXPECT_THAT(name, ::testing::Not(HasSubstr("qweight"))) << name;
  }

  torch::manual_seed(1);
  std::shared_ptr<BitModel> twin = build(type, "float32");
  import_float_safetensors(*twin, trainable_file);
  EXPECT_EQ(contents.tensors.size(), tensors_of(*twin).size());
  expect_twin_matches(*ternary, *twin);
  twin->eval();
  const torch::Tensor y_twin = twin->forward(x).detach();
  expect_outputs_close(y_twin, y, type + " float twin vs ternary (eval)");

  deploy_bit_layers(*ternary);
  const torch::Tensor y_deployed = ternary->forward(x).detach();
  expect_outputs_close(y_twin, y_deployed, type + " float twin vs deployed ternary");
  const std::string deployed_file = temp_path(type + "-deployed.safetensors");
  export_float_safetensors(*ternary, deployed_file);
  EXPECT_TRUE(read_bytes(deployed_file) == read_bytes(trainable_file))
      << type << ": the deployed model's export differs from the trainable one's";
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooExportTest, ::testing::Values("mlp", "lenet5", "resnet20"),
                         [](const auto& info) { return info.param; });

// Every kind of Bit layer, per-channel scales, grouped convolutions and a layer without bias.
TEST(SafetensorsExportTest, EveryBitLayerKind) {
  torch::manual_seed(0);
  const BitQuantConfig config = BitQuantConfig::from_string("af32_wpc");
  torch::nn::Sequential ternary(
      BitEmbedding(BitEmbeddingOptions(11, 8).quant_config(config)),
      BitConv1d(BitConv1dOptions(4, 6, 3).groups(2).quant_config(config)),
      BitConv3d(BitConv3dOptions(2, 3, {1, 2, 3}).bias(false).quant_config(config)),
      BitLinear(BitLinearOptions(7, 5).bias(false).quant_config(config)));
  const std::string trainable_file = temp_path("every-kind-trainable.safetensors");
  export_float_safetensors(*ternary, trainable_file);

  torch::nn::Sequential twin(
      torch::nn::Embedding(11, 8), torch::nn::Conv1d(torch::nn::Conv1dOptions(4, 6, 3).groups(2)),
      torch::nn::Conv3d(torch::nn::Conv3dOptions(2, 3, {1, 2, 3}).bias(false)),
      torch::nn::Linear(torch::nn::LinearOptions(7, 5).bias(false)));
  import_float_safetensors(*twin, trainable_file);
  expect_twin_matches(*ternary, *twin);

  deploy_bit_layers(*ternary);
  const std::string deployed_file = temp_path("every-kind-deployed.safetensors");
  export_float_safetensors(*ternary, deployed_file);
  EXPECT_TRUE(read_bytes(deployed_file) == read_bytes(trainable_file));
}

class ImportErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
    std::shared_ptr<BitModel> ternary = build("mlp", "ternary");
    good_ = temp_path("mlp-good.safetensors");
    export_float_safetensors(*ternary, good_);
    contents_ = load_safetensors(good_);
    twin_ = build("mlp", "float32");
    ASSERT_GE(contents_.tensors.size(), 2u);
  }

  // Writes `tensors` as `name` and returns the import error's message ("" when none).
  std::string import_error(const std::string& name,
                           const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
    const std::string path = temp_path(name);
    save_safetensors(path, tensors, {{"format", "pt"}});
    const std::map<std::string, torch::Tensor> before = tensors_of(*twin_);
    std::map<std::string, torch::Tensor> copies;
    for (const auto& [key, t] : before) copies[key] = t.clone();
    try {
      import_float_safetensors(*twin_, path);
    } catch (const BitLabError& e) {
      // Nothing was copied.
      for (const auto& [key, t] : tensors_of(*twin_)) {
        EXPECT_TRUE(torch::equal(t, copies.at(key))) << key << " changed by a failed import";
      }
      return e.what();
    }
    return "";
  }

  std::string good_;
  SafetensorsContents contents_;
  std::shared_ptr<BitModel> twin_;
};

TEST_F(ImportErrorTest, MissingTensor) {
  auto tensors = contents_.tensors;
  const std::string missing = tensors.back().first;
  tensors.pop_back();
  EXPECT_THAT(import_error("missing.safetensors", tensors),
              AllOf(HasSubstr("missing.safetensors"), HasSubstr("'" + missing + "'"),
                    HasSubstr("missing")));
}

TEST_F(ImportErrorTest, WrongShape) {
  auto tensors = contents_.tensors;
  const std::string name = tensors.front().first;
  tensors.front().second = torch::zeros({tensors.front().second.numel() + 1});
  EXPECT_THAT(
      import_error("shape.safetensors", tensors),
      AllOf(HasSubstr("shape.safetensors"), HasSubstr("'" + name + "'"), HasSubstr("shape")));
}

TEST_F(ImportErrorTest, WrongDtype) {
  auto tensors = contents_.tensors;
  const std::string name = tensors.front().first;
  tensors.front().second = tensors.front().second.to(torch::kDouble);
  EXPECT_THAT(import_error("dtype.safetensors", tensors),
              AllOf(HasSubstr("dtype.safetensors"), HasSubstr("'" + name + "'"),
                    HasSubstr("Double"), HasSubstr("Float")));
}

TEST_F(ImportErrorTest, UnexpectedTensor) {
  auto tensors = contents_.tensors;
  tensors.emplace_back("head.extra", torch::zeros({2}));
  EXPECT_THAT(import_error("unexpected.safetensors", tensors),
              AllOf(HasSubstr("unexpected.safetensors"), HasSubstr("'head.extra'"),
                    HasSubstr("not a parameter or buffer")));
}

TEST_F(ImportErrorTest, TernaryModelPointsToTheFloatTwin) {
  std::shared_ptr<BitModel> ternary = build("mlp", "ternary");
  try {
    import_float_safetensors(*ternary, good_);
    FAIL() << "importing into a ternary model should fail";
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("qweight"), HasSubstr("float32")));
  }
}

TEST_F(ImportErrorTest, GoodFileImports) {
  EXPECT_EQ(import_error("good.safetensors", contents_.tensors), "");
}

}  // namespace
}  // namespace bitlab
