#include "bitlayers/converter.h"

#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "bitcore/errors.h"
#include "bitlayers/bit_attention.h"
#include "bitlayers/bit_conv.h"
#include "bitlayers/bit_embedding.h"
#include "bitlayers/bit_linear.h"
#include "bitlayers/memory_report.h"
#include "bitlayers/testing/small_transformer.h"
#include "bitlayers/testing/torchvision_resnet.h"

namespace bitlab {
namespace {

using ::testing::HasSubstr;
using testing::ResNet18;
using testing::SmallTransformer;
using testing::SmallTransformerOptions;

const BitQuantConfig kConfig = BitQuantConfig::from_string("ai8pc_wpt");

ConversionRule keep_rule(const std::string& pattern, const std::string& name) {
  ConversionRule rule;
  rule.pattern = pattern;
  rule.keep_float = true;
  rule.name = name;
  return rule;
}

std::vector<std::string> module_paths(const torch::nn::Module& module) {
  return module.named_modules().keys();
}

std::vector<std::string> report_paths(const ConversionReport& report) {
  std::vector<std::string> paths;
  for (const ConversionEntry& e : report.entries) paths.push_back(e.path);
  return paths;
}

std::shared_ptr<torch::nn::Module> module_at(const torch::nn::Module& root,
                                             const std::string& path) {
  const auto modules = root.named_modules();
  const auto* found = modules.find(path);
  return found == nullptr ? nullptr : *found;
}

const ConversionEntry& entry(const ConversionReport& report, const std::string& path) {
  const ConversionEntry* e = report.find(path);
  if (e == nullptr) throw std::runtime_error("no report entry for " + path);
  return *e;
}

bool is_resnet_conv_path(const std::string& path) {
  const auto ends_with = [&](const std::string& suffix) {
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with("conv1") || ends_with("conv2") || ends_with("downsample.0");
}

TEST(BitConverterTest, ResNet18KeepsStemAndClassifierAndConvertsTheRest) {
  torch::manual_seed(0);
  ResNet18 model(/*num_classes=*/10);
  const std::vector<std::string> paths_before = module_paths(*model);
  const MemoryReport float_memory = memory_report(*model);

  const ConversionReport report =
      BitConverter::convert(*model, kConfig, {keep_rule("^conv1$|^fc$", "stem and classifier")});

  // Every module path of the model, in named_modules() order; the tree keeps its paths.
  EXPECT_EQ(report_paths(report), paths_before);
  EXPECT_EQ(module_paths(*model), paths_before);

  // ResNet-18 has 20 convolutions: conv1, 16 in the blocks and 3 downsample convolutions.
  int converted_convs = 0;
  for (const std::string& path : paths_before) {
    if (!is_resnet_conv_path(path) || path == "conv1") continue;
    const auto m = module_at(*model, path);
    EXPECT_NE(m->as<BitConv2d>(), nullptr) << path;
    EXPECT_EQ(entry(report, path).status, ConversionStatus::kConverted) << path;
    EXPECT_EQ(entry(report, path).converted_to, "bitlab::BitConv2d") << path;
    ++converted_convs;
  }
  EXPECT_EQ(converted_convs, 19);
  EXPECT_EQ(report.num_converted, 19);
  EXPECT_EQ(report.num_convertible_kept, 2);

  EXPECT_NE(module_at(*model, "conv1")->as<torch::nn::Conv2d>(), nullptr);
  EXPECT_NE(module_at(*model, "fc")->as<torch::nn::Linear>(), nullptr);
  for (const char* kept : {"conv1", "fc"}) {
    EXPECT_EQ(entry(report, kept).status, ConversionStatus::kKept) << kept;
    EXPECT_EQ(entry(report, kept).rule, "stem and classifier") << kept;
    EXPECT_THAT(entry(report, kept).reason, HasSubstr("stem and classifier")) << kept;
  }
  EXPECT_EQ(entry(report, "layer1").status, ConversionStatus::kContainer);
  EXPECT_EQ(entry(report, "layer1.0").status, ConversionStatus::kContainer);
  EXPECT_EQ(entry(report, "bn1").status, ConversionStatus::kKept);
  EXPECT_EQ(entry(report, "bn1").reason, "not a convertible type");

  // The report counts what the float model held, and what deploying will leave.
  EXPECT_EQ(report.total_float_bytes, float_memory.total_float_bytes);
  EXPECT_EQ(report.total_parameters, static_cast<int64_t>([&] {
              int64_t n = 0;
              for (const auto& p : model->parameters()) n += p.numel();
              return n;
            }()));
  const std::string table = report.to_string();
  EXPECT_THAT(table, HasSubstr("layer4.1.conv2"));
  EXPECT_THAT(table, HasSubstr("<root>"));
  EXPECT_THAT(table, HasSubstr("rule 'stem and classifier' keeps it float32"));

  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 3, 64, 64});
  EXPECT_EQ(model(x).sizes(), (std::vector<int64_t>{2, 10}));

  deploy_bit_layers(*model);
  EXPECT_FALSE(model->is_training());
  for (const auto& m : model->modules()) {
    if (auto* bit = dynamic_cast<BitLayer*>(m.get())) {
      EXPECT_TRUE(bit->is_deployed());
    }
  }
  const torch::Tensor deployed = model(x);
  EXPECT_EQ(deployed.sizes(), (std::vector<int64_t>{2, 10}));
  EXPECT_TRUE(torch::isfinite(deployed).all().item<bool>());

  const MemoryReport memory = memory_report(*model);
  EXPECT_EQ(memory.total_float_bytes, float_memory.total_float_bytes);
  EXPECT_EQ(memory.total_deployed_bytes, report.total_deployed_bytes);
  // 19 ternary convolutions at 2 bits a weight; conv1, fc and the BatchNorms stay float32.
  // With torchvision's 1000-class fp32 classifier (2 MB of the ~4.9 MB left) the ratio would be
  // capped near 9.4x by the classifier alone; 10 classes let the convolutions show.
  EXPECT_GE(memory.compression_ratio(), 14.0) << memory.to_string();
}

TEST(BitConverterTest, ConvertedForwardRunsTheBitLayers) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  ResNet18 float_model(10);
  torch::manual_seed(1);
  ResNet18 model(10);
  float_model->eval();
  model->eval();
  const torch::Tensor x = torch::randn({2, 3, 64, 64});
  ASSERT_TRUE(torch::equal(model(x), float_model(x)));  // same seed, same weights

  const auto old_conv = module_at(*model, "layer4.1.conv2");
  BitConverter::convert(*model, kConfig);
  const torch::Tensor converted = model(x);
  EXPECT_FALSE(torch::allclose(converted, float_model(x)));

  // The float layer the forward used to call no longer matters ...
  old_conv->as<torch::nn::Conv2d>()->weight.zero_();
  EXPECT_TRUE(torch::equal(model(x), converted));
  // ... and the Bit layer that replaced it does.
  auto bit_conv = module_at(*model, "layer4.1.conv2")->as<BitConv2d>();
  ASSERT_NE(bit_conv, nullptr);
  bit_conv->weight.mul_(-1.0);
  EXPECT_FALSE(torch::allclose(model(x), converted));
}

TEST(BitConverterTest, SmallTransformerConvertsEmbeddingsAttentionAndLinears) {
  torch::manual_seed(2);
  SmallTransformer model;
  const std::vector<std::string> paths_before = module_paths(*model);
  const torch::Tensor tokens = torch::randint(0, 64, {2, 16}, torch::kLong);
  const torch::Tensor float_logits = model(tokens).detach();
  EXPECT_EQ(float_logits.sizes(), (std::vector<int64_t>{2, 16, 64}));

  const ConversionReport report = BitConverter::convert(*model, kConfig);
  EXPECT_EQ(report_paths(report), paths_before);
  EXPECT_EQ(report.num_converted, 2 + 3 * 2 + 1);
  EXPECT_EQ(report.num_convertible_kept, 0);

  EXPECT_NE(module_at(*model, "tok_embedding")->as<BitEmbedding>(), nullptr);
  EXPECT_NE(module_at(*model, "pos_embedding")->as<BitEmbedding>(), nullptr);
  EXPECT_NE(module_at(*model, "head")->as<BitLinear>(), nullptr);
  for (const std::string block : {"blocks.0", "blocks.1"}) {
    EXPECT_NE(module_at(*model, block + ".attn")->as<BitMultiheadAttention>(), nullptr);
    EXPECT_NE(module_at(*model, block + ".fc1")->as<BitLinear>(), nullptr);
    EXPECT_NE(module_at(*model, block + ".fc2")->as<BitLinear>(), nullptr);
    EXPECT_EQ(entry(report, block + ".attn").converted_to, "bitlab::BitMultiheadAttention");
    // MultiheadAttention's out_proj went with it.
    EXPECT_EQ(entry(report, block + ".attn.out_proj").status, ConversionStatus::kPartOfConverted);
    EXPECT_EQ(entry(report, block + ".ln1").status, ConversionStatus::kKept);
  }
  EXPECT_EQ(entry(report, "blocks").status, ConversionStatus::kContainer);

  const torch::Tensor logits = model(tokens).detach();
  EXPECT_EQ(logits.sizes(), float_logits.sizes());
  EXPECT_FALSE(torch::allclose(logits, float_logits));

  model->eval();
  const torch::Tensor eval_logits = model(tokens);
  deploy_bit_layers(*model);
  const torch::Tensor deployed_logits = model(tokens);
  EXPECT_EQ(deployed_logits.sizes(), float_logits.sizes());
  EXPECT_TRUE(torch::allclose(deployed_logits, eval_logits, 1e-4, 1e-5));
  EXPECT_TRUE(module_at(*model, "blocks.0.attn")->as<BitMultiheadAttention>()->is_deployed());
}

TEST(BitConverterTest, ConvertedAttentionIsWhatTheBlockRuns) {
  // Only attention is converted, so a change in the output can only come from it.
  torch::manual_seed(3);
  SmallTransformer model;
  const torch::Tensor tokens = torch::randint(0, 64, {2, 8}, torch::kLong);
  torch::NoGradGuard no_grad;
  const torch::Tensor float_logits = model(tokens);
  const ConversionReport report =
      BitConverter::convert(*model, kConfig, {keep_rule("embedding|fc|head", "not attention")});
  EXPECT_EQ(report.num_converted, 2);
  EXPECT_EQ(report.num_convertible_kept, 2 + 2 * 2 + 1);
  EXPECT_FALSE(torch::allclose(model(tokens), float_logits));
}

TEST(BitConverterTest, PerRuleConfigs) {
  torch::manual_seed(4);
  SmallTransformer model;
  ConversionRule research;
  research.pattern = R"(\.fc2$)";
  research.config = BitQuantConfig::for_research();
  research.name = "mlp output";
  ConversionRule keep_fc1;
  keep_fc1.pattern = "fc";  // would match fc2 too, but the first matching rule wins
  keep_fc1.keep_float = true;
  const ConversionReport report = BitConverter::convert(*model, kConfig, {research, keep_fc1});

  for (const std::string block : {"blocks.0", "blocks.1"}) {
    auto fc2 = module_at(*model, block + ".fc2")->as<BitLinear>();
    ASSERT_NE(fc2, nullptr);
    EXPECT_EQ(fc2->options.quant_config(), BitQuantConfig::for_research());
    EXPECT_EQ(entry(report, block + ".fc2").rule, "mlp output");
    EXPECT_NE(module_at(*model, block + ".fc1")->as<torch::nn::Linear>(), nullptr);
    EXPECT_EQ(entry(report, block + ".fc1").rule, "pattern \"fc\"");
    EXPECT_EQ(entry(report, block + ".fc1").status, ConversionStatus::kKept);
  }
  EXPECT_EQ(module_at(*model, "head")->as<BitLinear>()->options.quant_config(), kConfig);
  EXPECT_EQ(model(torch::randint(0, 64, {1, 4}, torch::kLong)).sizes(),
            (std::vector<int64_t>{1, 4, 64}));
}

// A custom module that calls its typed member and does not implement SwappableChildren.
struct OpaqueImpl : torch::nn::Module {
  OpaqueImpl() { fc = register_module("fc", torch::nn::Linear(8, 8)); }
  torch::Tensor forward(const torch::Tensor& x) { return torch::relu(fc(x)); }
  torch::nn::Linear fc = nullptr;
};
TORCH_MODULE(Opaque);

TEST(BitConverterTest, ParentWithoutSwappableChildrenKeepsItsLayersAndSaysWhy) {
  torch::manual_seed(5);
  Opaque opaque;
  torch::nn::Sequential model(opaque, torch::nn::Linear(8, 4));
  const torch::Tensor x = torch::randn({3, 8});
  const torch::Tensor opaque_before = opaque(x).detach();

  const ConversionReport report = BitConverter::convert(*model, kConfig);
  const ConversionEntry& fc = entry(report, "0.fc");
  EXPECT_EQ(fc.status, ConversionStatus::kKept);
  EXPECT_THAT(fc.reason, HasSubstr("does not implement bitlab::SwappableChildren"));
  EXPECT_THAT(fc.reason, HasSubstr("torch::nn::AnyModule"));
  EXPECT_THAT(entry(report, "0").reason, HasSubstr("convertible children stay float32"));
  EXPECT_EQ(entry(report, "1").status, ConversionStatus::kConverted);
  EXPECT_EQ(report.num_converted, 1);
  EXPECT_EQ(report.num_convertible_kept, 1);

  EXPECT_NE(module_at(*model, "0.fc")->as<torch::nn::Linear>(), nullptr);
  EXPECT_TRUE(torch::equal(opaque(x), opaque_before));
  EXPECT_EQ(model->forward(x).sizes(), (std::vector<int64_t>{3, 4}));
}

// Calls a Linear or the BitLinear that replaced it, as a ModuleList / ModuleDict owner must.
torch::Tensor call_linear(const std::shared_ptr<torch::nn::Module>& m, const torch::Tensor& x) {
  if (auto* bit = m->as<BitLinear>()) return bit->forward(x);
  return m->as<torch::nn::Linear>()->forward(x);
}

struct NestedImpl : torch::nn::Module {
  NestedImpl() {
    seq =
        register_module("seq", torch::nn::Sequential(torch::nn::Linear(8, 16), torch::nn::ReLU()));
    // A Sequential cannot hold a Sequential (its forward is templated); a ModuleList can.
    list = register_module("list",
                           torch::nn::ModuleList(torch::nn::Sequential(torch::nn::Linear(16, 16)),
                                                 torch::nn::Linear(16, 16)));
    dict = register_module("dict", torch::nn::ModuleDict());
    dict->update(std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>>{
        {"proj", torch::nn::Linear(16, 4).ptr()}});
  }
  torch::Tensor forward(torch::Tensor x) {
    x = seq->forward(x);
    x = list->ptr<torch::nn::SequentialImpl>(0)->forward(x);
    x = call_linear(list->ptr(1), x);
    return call_linear((*dict)["proj"], x);
  }
  torch::nn::Sequential seq = nullptr;
  torch::nn::ModuleList list = nullptr;
  torch::nn::ModuleDict dict = nullptr;
};
TORCH_MODULE(Nested);

TEST(BitConverterTest, NestedSequentialModuleListAndModuleDict) {
  torch::manual_seed(6);
  Nested model;
  const std::vector<std::string> linears = {"seq.0", "list.0.0", "list.1", "dict.proj"};
  std::vector<torch::nn::Linear> originals;
  for (const std::string& path : linears) {
    originals.emplace_back(
        std::dynamic_pointer_cast<torch::nn::LinearImpl>(module_at(*model, path)));
  }
  const std::vector<std::string> paths_before = module_paths(*model);

  const ConversionReport report = BitConverter::convert(*model, kConfig);
  EXPECT_EQ(report_paths(report), paths_before);
  EXPECT_EQ(report.num_converted, 4);
  for (const std::string& path : linears) {
    EXPECT_NE(module_at(*model, path)->as<BitLinear>(), nullptr) << path;
  }
  // What the containers run, not only what they register.
  EXPECT_NE(model->seq->ptr(0)->as<BitLinear>(), nullptr);
  EXPECT_NE(model->list->ptr<torch::nn::SequentialImpl>(0)->ptr(0)->as<BitLinear>(), nullptr);
  EXPECT_NE(model->list->ptr(1)->as<BitLinear>(), nullptr);
  EXPECT_NE((*model->dict)["proj"]->as<BitLinear>(), nullptr);

  // The converted model computes exactly the Bit layers made from the float ones.
  const torch::Tensor x = torch::randn({5, 8});
  std::vector<BitLinear> expected_layers;
  for (const auto& linear : originals) {
    expected_layers.emplace_back(BitLinearImpl::from_linear(linear, kConfig));
  }
  torch::Tensor expected = torch::relu(expected_layers[0](x));
  for (size_t i = 1; i < expected_layers.size(); ++i) expected = expected_layers[i](expected);
  EXPECT_TRUE(torch::equal(model(x), expected));
}

TEST(BitConverterTest, SharedLayerStaysShared) {
  torch::nn::Linear shared(6, 6);
  torch::nn::Sequential model(shared, torch::nn::ReLU(), shared);
  const ConversionReport report = BitConverter::convert(*model, kConfig);
  EXPECT_EQ(report.num_converted, 2);
  ASSERT_NE(model->ptr(0)->as<BitLinear>(), nullptr);
  EXPECT_EQ(model->ptr(0).get(), model->ptr(2).get());
}

TEST(BitConverterTest, UnsupportedLayersAreKeptWithTheReason) {
  torch::nn::ModuleList model(
      torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(4, 4, 3)),
      torch::nn::MultiheadAttention(torch::nn::MultiheadAttentionOptions(8, 2).add_bias_kv(true)),
      torch::nn::Embedding(torch::nn::EmbeddingOptions(10, 4).sparse(true)),
      torch::nn::Conv1d(torch::nn::Conv1dOptions(4, 8, 3)));
  const ConversionReport report = BitConverter::convert(*model, kConfig);
  EXPECT_THAT(entry(report, "0").reason, HasSubstr("transposed convolution"));
  EXPECT_EQ(entry(report, "1").status, ConversionStatus::kKept);
  EXPECT_THAT(entry(report, "1").reason, HasSubstr("cannot represent"));
  EXPECT_THAT(entry(report, "1").reason, HasSubstr("add_bias_kv"));
  EXPECT_THAT(entry(report, "1.out_proj").reason, HasSubstr("part of '1', which is kept"));
  EXPECT_EQ(entry(report, "2").status, ConversionStatus::kKept);
  EXPECT_THAT(entry(report, "2").reason, HasSubstr("sparse"));
  EXPECT_EQ(entry(report, "3").converted_to, "bitlab::BitConv1d");
  EXPECT_NE(model->ptr(1)->as<torch::nn::MultiheadAttention>(), nullptr);
  EXPECT_NE(model->ptr(3)->as<BitConv1d>(), nullptr);
  EXPECT_EQ(report.num_converted, 1);
  EXPECT_EQ(report.num_convertible_kept, 2);
}

TEST(BitConverterTest, BadRegexNamesThePattern) {
  torch::nn::Sequential model(torch::nn::Linear(4, 4));
  ConversionRule bad;
  bad.pattern = "fc(";
  bad.name = "broken";
  try {
    BitConverter::convert(*model, kConfig, {bad});
    FAIL() << "expected BitLabError";
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"fc(\""));
    EXPECT_THAT(e.what(), HasSubstr("'broken'"));
  }
  EXPECT_NE(model->ptr(0)->as<torch::nn::Linear>(), nullptr);  // nothing converted
}

TEST(BitConverterTest, ConvertibleRootIsRefused) {
  torch::nn::Linear linear(4, 4);
  try {
    BitConverter::convert(*linear, kConfig);
    FAIL() << "expected BitLabError";
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr("BitLinearImpl::from_linear"));
  }
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3));
  EXPECT_THROW(BitConverter::convert(*conv, kConfig), BitLabError);
}

TEST(BitConverterTest, ConversionKeepsTrainingModeAndFrozenWeights) {
  torch::nn::Sequential model(torch::nn::Linear(4, 4), torch::nn::Linear(4, 4));
  model->ptr(1)->as<torch::nn::Linear>()->weight.set_requires_grad(false);
  model->eval();
  BitConverter::convert(*model, kConfig);
  EXPECT_FALSE(model->ptr(0)->is_training());
  EXPECT_TRUE(model->ptr(0)->as<BitLinear>()->weight.requires_grad());
  EXPECT_FALSE(model->ptr(1)->as<BitLinear>()->weight.requires_grad());
}

TEST(MemoryReportTest, BitLayersAnswerThroughTheirInterfaceOthersCountTheirTensors) {
  torch::nn::Sequential model(BitLinear(BitLinearOptions(64, 32)), torch::nn::BatchNorm1d(32),
                              torch::nn::ReLU());
  const MemoryReport report = memory_report(*model);
  ASSERT_EQ(report.layers.size(), 2u);  // ReLU and the Sequential hold nothing
  EXPECT_EQ(report.layers[0].path, "0");
  EXPECT_EQ(report.layers[0].type, "bitlab::BitLinear");
  EXPECT_TRUE(report.layers[0].bit_layer);
  EXPECT_EQ(report.layers[0].float_bytes, 4 * (64 * 32 + 32));
  EXPECT_EQ(report.layers[0].deployed_bytes, 32 * 16 + 4 * (1 + 32));
  // weight, bias, running_mean, running_var in float32 and num_batches_tracked in int64.
  EXPECT_EQ(report.layers[1].type, "torch::nn::BatchNorm1d");
  EXPECT_EQ(report.layers[1].float_bytes, 4 * 32 * 4 + 8);
  EXPECT_EQ(report.layers[1].deployed_bytes, report.layers[1].float_bytes);
  EXPECT_EQ(report.total_float_bytes, 4 * (64 * 32 + 32) + 4 * 32 * 4 + 8);
  EXPECT_DOUBLE_EQ(report.compression_ratio(),
                   static_cast<double>(report.total_float_bytes) / report.total_deployed_bytes);
  EXPECT_THAT(report.to_string(), HasSubstr("bitlab::BitLinear"));

  // Deploying changes nothing in the report: it counts what deployment leaves.
  deploy_bit_layers(*model);
  EXPECT_TRUE(memory_report(*model).layers[0].deployed);
  EXPECT_EQ(memory_report(*model).total_deployed_bytes, report.total_deployed_bytes);
  EXPECT_THROW(model->train(), BitLabError);
}

}  // namespace
}  // namespace bitlab
