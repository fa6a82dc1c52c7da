#include "bitzoo/transformer/bert.h"

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bitcore/errors.h"
#include "bitcore/quant_config.h"
#include "bitlayers/converter.h"
#include "bitmodels/config_fields.h"
#include "bitzoo/transformer/model_testing.h"

namespace bitlab {
namespace bitzoo {
namespace {

using testing::build_model;
using torch::indexing::Slice;

const nlohmann::json kSmall = {{"vocab_size", 100},       {"hidden_size", 32},
                               {"num_layers", 2},         {"num_heads", 4},
                               {"intermediate_size", 64}, {"max_position", 24}};

std::shared_ptr<Bert> small_bert(nlohmann::json overrides = nlohmann::json::object()) {
  nlohmann::json architecture = kSmall;
  architecture.update(overrides);
  auto model = std::dynamic_pointer_cast<Bert>(build_model("bert", architecture));
  EXPECT_NE(model, nullptr);
  return model;
}

// Runs `f` and expects a BitLabError whose message contains every string of `parts`.
template <typename F>
void expect_error(F f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL() << "expected BitLabError";
  } catch (const BitLabError& e) {
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  }
}

TEST(BertTest, PredictsTheVocabularyAtEveryPosition) {
  auto model = small_bert();
  EXPECT_EQ(model->config.model_type, "bert");
  const torch::Tensor ids = model->example_input(3);
  EXPECT_EQ(ids.sizes(), (std::vector<int64_t>{3, 16}));
  EXPECT_EQ(ids.scalar_type(), torch::kLong);
  EXPECT_EQ(model->forward(ids).sizes(), (std::vector<int64_t>{3, 16, 100}));
  EXPECT_EQ(model->forward(ids.index({Slice(), Slice(0, 5)})).sizes(),
            (std::vector<int64_t>{3, 5, 100}));
}

TEST(BertTest, ExampleInputAvoidsThePadId) {
  for (const int64_t pad : {0, 7, 99}) {
    auto model = small_bert({{"pad_token_id", pad}});
    const torch::Tensor ids = model->example_input(64);
    EXPECT_FALSE((ids == pad).any().item<bool>()) << pad;
    EXPECT_GE(ids.min().item<int64_t>(), 0);
    EXPECT_LT(ids.max().item<int64_t>(), 100);
  }
  EXPECT_EQ(small_bert({{"max_position", 8}})->example_input(1).size(1), 8);
}

// The defaults (BERT-mini sized) give exactly this layout: the count pins the architecture.
TEST(BertTest, ParameterCountAtDefaults) {
  auto model = build_model("bert", {});
  const int64_t V = 30522, H = 256, L = 4, I = 1024, P = 512, types = 2;
  const int64_t embeddings = V * H + P * H + types * H + 2 * H;
  const int64_t block = 2 * H + 4 * (H * H + H) + 2 * H + (H * I + I) + (I * H + H);
  const int64_t head = (H * H + H) + 2 * H + (H * V + V);  // dense, norm, untied decoder
  int64_t n = 0;
  for (const torch::Tensor& p : model->parameters()) n += p.numel();
  EXPECT_EQ(n, embeddings + L * block + 2 * H + head);
}

TEST(BertTest, ModuleNames) {
  const auto modules = small_bert()->named_modules();
  for (const std::string path : {"embeddings.word_embeddings", "embeddings.position_embeddings",
                                 "embeddings.token_type_embeddings", "embeddings.norm",
                                 "blocks.1.attn.q", "blocks.1.attn.proj", "blocks.1.mlp.fc2",
                                 "norm", "mlm_head.dense", "mlm_head.norm", "mlm_head.decoder"}) {
    EXPECT_TRUE(modules.contains(path)) << path;
  }
}

TEST(BertTest, PaddingDoesNotReachRealTokens) {
  auto model = small_bert();
  torch::NoGradGuard no_grad;
  torch::Tensor ids = model->example_input(2);
  torch::Tensor mask = torch::ones_like(ids);
  mask.index_put_({0, Slice(10)}, 0);  // sample 0: 10 real tokens, 6 padding
  torch::Tensor changed = ids.clone();
  changed.index_put_({0, Slice(10)}, (ids.index({0, Slice(10)}) + 1) % 100);

  const torch::Tensor a = model->forward_with_mask(ids, mask);
  const torch::Tensor b = model->forward_with_mask(changed, mask);
  EXPECT_TRUE(torch::equal(a.index({0, Slice(0, 10)}), b.index({0, Slice(0, 10)})));
  EXPECT_TRUE(torch::equal(a[1], b[1]));
  // The padded positions themselves do change, and without the mask so do the real ones.
  EXPECT_FALSE(torch::equal(a.index({0, Slice(10)}), b.index({0, Slice(10)})));
  EXPECT_FALSE(torch::allclose(model->forward_with_mask(ids, torch::ones_like(ids))[0],
                               model->forward_with_mask(changed, torch::ones_like(ids))[0]));
}

TEST(BertTest, ForwardMasksThePadToken) {
  auto model = small_bert({{"pad_token_id", 3}});
  torch::NoGradGuard no_grad;
  torch::Tensor ids = model->example_input(2);
  ids.index_put_({1, Slice(12)}, 3);
  EXPECT_TRUE(torch::equal(model->forward(ids), model->forward_with_mask(ids, ids != 3)));
  EXPECT_TRUE(torch::equal(
      model->forward(ids),
      model->forward_with_mask(ids, (ids != 3).to(torch::kLong), torch::zeros_like(ids))));
}

TEST(BertTest, TokenTypesChangeTheOutput) {
  auto model = small_bert();
  torch::NoGradGuard no_grad;
  const torch::Tensor ids = model->example_input(1);
  torch::Tensor types = torch::zeros_like(ids);
  types.index_put_({0, Slice(8)}, 1);
  EXPECT_FALSE(torch::allclose(model->forward(ids),
                               model->forward_with_mask(ids, torch::ones_like(ids), types)));
}

TEST(BertTest, BadIdsNameExpectedAndGot) {
  auto model = small_bert();
  const torch::Tensor ids = model->example_input(2);
  expect_error(
      [&] {
        model->forward(ids.clone().index_put_({0, 0}, 100));
      },
      {"input_ids", "vocab_size = 100", "100]"});
  expect_error([&] { model->forward(ids.clone().index_put_({0, 0}, -1)); }, {"input_ids", "[-1, "});
  expect_error(
      [&] {
        model->forward(torch::ones({2, 25}, torch::kLong));
      },
      {"max_position = 24", "got 25"});
  expect_error([&] { model->forward(ids.to(torch::kInt)); }, {"int64", "Int"});
  expect_error([&] { model->forward(ids.to(torch::kFloat)); }, {"int64", "Float"});
  expect_error([&] { model->forward(ids[0]); }, {"[B, T]", "[16]"});
  expect_error([&] { model->forward(torch::Tensor()); }, {"undefined"});
  expect_error(
      [&] {
        model->forward_with_mask(ids, torch::ones({2, 15}, torch::kLong));
      },
      {"attention_mask [2, 16]", "[2, 15]"});
  expect_error(
      [&] {
        model->forward_with_mask(ids, torch::ones({2, 16}));
      },
      {"attention_mask", "Float"});
  expect_error(
      [&] { model->forward_with_mask(ids, torch::ones_like(ids), torch::full_like(ids, 2)); },
      {"token_type_ids", "type_vocab_size = 2", "[2, 2]"});
}

TEST(BertTest, BadFieldsNameTheField) {
  const auto expect_config_error = [](const nlohmann::json& architecture,
                                      const std::vector<std::string>& fields) {
    std::vector<std::string> parts;
    for (const std::string& field : fields) parts.push_back("'" + field + "'");
    try {
      build_model("bert", architecture);
      FAIL() << "expected ConfigError for " << architecture.dump();
    } catch (const ConfigError& e) {
      for (const std::string& part : parts) {
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
      }
    }
  };
  expect_config_error({{"hidden_size", 30}}, {"hidden_size", "num_heads"});
  expect_config_error({{"vocab_size", 10}, {"pad_token_id", 10}}, {"pad_token_id"});
  expect_config_error({{"vocab_size", 1}}, {"vocab_size"});
  expect_config_error({{"num_layers", 0}}, {"num_layers"});
  expect_config_error({{"max_position", -1}}, {"max_position"});
  expect_config_error({{"hidden", 64}}, {"hidden"});  // unknown field
}

TEST(BertTest, ConvertsEveryEncoderLinearAndDeploys) {
  auto model = small_bert();
  // 2 blocks x (q, k, v, proj, fc1, fc2) + mlm_head.dense; the embeddings and the decoder stay
  // float32.
  testing::expect_converts_and_deploys(
      *model,
      {"embeddings.word_embeddings", "embeddings.position_embeddings",
       "embeddings.token_type_embeddings", "mlm_head.decoder"},
      /*num_converted=*/13, model->example_input(2));
}

// Without the default rules the embeddings and the decoder convert too: every swappable child
// is reachable by replace_child.
TEST(BertTest, EveryLayerConvertsWithoutRules) {
  auto model = small_bert();
  const ConversionReport report =
      BitConverter::convert(*model, BitQuantConfig::from_string("ai8pc_wpt"));
  EXPECT_EQ(report.num_converted, 17) << report.to_string();
  EXPECT_EQ(report.num_convertible_kept, 0) << report.to_string();
  EXPECT_EQ(model->forward(model->example_input(2)).sizes(), (std::vector<int64_t>{2, 16, 100}));
}

// Per-token activation scales ("ai8pc") keep tokens independent, so the mask holds exactly in
// the converted model too.
TEST(BertTest, PaddingStillMaskedAfterConversion) {
  auto model = small_bert();
  BitConverter::convert(*model, BitQuantConfig::from_string("ai8pc_wpt"), model->default_rules());
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor ids = model->example_input(1);
  const torch::Tensor mask = (torch::arange(16) < 10).unsqueeze(0);
  torch::Tensor changed = ids.clone();
  changed.index_put_({0, Slice(10)}, (ids.index({0, Slice(10)}) + 1) % 100);
  const torch::Tensor a = model->forward_with_mask(ids, mask);
  const torch::Tensor b = model->forward_with_mask(changed, mask);
  EXPECT_TRUE(torch::allclose(a.index({0, Slice(0, 10)}), b.index({0, Slice(0, 10)}), 1e-5, 1e-6));
}

}  // namespace
}  // namespace bitzoo
}  // namespace bitlab
