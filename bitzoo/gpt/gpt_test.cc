#include "bitzoo/gpt/gpt.h"

#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "bitcore/errors.h"
#include "bitcore/quant_config.h"
#include "bitlayers/converter.h"
#include "bitmodels/causal_lm.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/model_registry.h"

namespace bitlab {
namespace bitzoo {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

GptOptions small_options(const std::string& mlp = "relu2") {
  return GptOptions().context_length(32).hidden_size(32).num_layers(2).num_heads(4).mlp(mlp);
}

std::shared_ptr<Gpt> make_gpt(const GptOptions& options) {
  torch::manual_seed(0);
  return std::make_shared<Gpt>(options);
}

// Converted with the architecture's rules and deployed (eval mode, packed kernels).
std::shared_ptr<Gpt> make_deployed_gpt(const GptOptions& options, const std::string& config) {
  std::shared_ptr<Gpt> gpt = make_gpt(options);
  BitConverter::convert(*gpt, BitQuantConfig::from_string(config), gpt->default_rules());
  deploy_bit_layers(*gpt);
  return gpt;
}

torch::Tensor random_ids(int64_t batch, int64_t length, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(0, 256, {batch, length}, torch::kLong);
}

// Logits of `ids` computed with the cache: the first `prefix` positions in one forward, then
// one position at a time.
torch::Tensor cached_logits(Gpt& gpt, const torch::Tensor& ids, int64_t prefix) {
  GptKVCache cache;
  std::vector<torch::Tensor> parts = {gpt.forward_with_cache(ids.narrow(1, 0, prefix), cache)};
  for (int64_t t = prefix; t < ids.size(1); ++t) {
    parts.push_back(gpt.forward_with_cache(ids.narrow(1, t, 1), cache));
  }
  EXPECT_EQ(cache.length(), ids.size(1));
  return torch::cat(parts, 1);
}

GenerationOptions sampling(uint64_t seed) {
  GenerationOptions options;
  options.max_new_tokens = 12;
  options.do_sample = true;
  options.temperature = 0.8;
  options.top_k = 50;
  options.top_p = 0.95;
  options.seed = seed;
  return options;
}

GenerationOptions greedy(int64_t max_new_tokens = 12) {
  GenerationOptions options;
  options.max_new_tokens = max_new_tokens;
  return options;
}

// Generation with and without the cache gives the same tokens, greedy and sampled.
void expect_cache_does_not_change_generation(Gpt& gpt) {
  const torch::Tensor prompt = random_ids(2, 5, 11);
  for (GenerationOptions options : {greedy(), sampling(5)}) {
    options.use_cache = true;
    const torch::Tensor cached = gpt.generate(prompt, options);
    options.use_cache = false;
    const torch::Tensor recomputed = gpt.generate(prompt, options);
    EXPECT_EQ(cached.sizes(), (std::vector<int64_t>{2, 5 + 12}));
    EXPECT_TRUE(torch::equal(cached, recomputed)) << cached << "\n" << recomputed;
    EXPECT_TRUE(torch::equal(cached.narrow(1, 0, 5), prompt));
  }
}

class GptMlpTest : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Mlps, GptMlpTest, ::testing::Values("relu2", "swiglu"));

TEST_P(GptMlpTest, ForwardShapesAndModules) {
  std::shared_ptr<Gpt> gpt = make_gpt(small_options(GetParam()));
  EXPECT_EQ(gpt->forward(random_ids(3, 7, 1)).sizes(), (std::vector<int64_t>{3, 7, 256}));
  EXPECT_EQ(gpt->forward(gpt->example_input(2)).sizes(), (std::vector<int64_t>{2, 16, 256}));

  std::set<std::string> linears;
  for (const auto& item : gpt->named_modules()) {
    if (auto* linear = item.value()->as<torch::nn::Linear>()) {
      linears.insert(item.key());
      EXPECT_FALSE(linear->bias.defined()) << item.key();
    }
  }
  std::set<std::string> expected = {"lm_head"};
  for (const std::string block : {"blocks.0.", "blocks.1."}) {
    for (const char* name : {"attn.q", "attn.k", "attn.v", "attn.o", "mlp.up", "mlp.down"}) {
      expected.insert(block + name);
    }
    if (GetParam() == "swiglu") expected.insert(block + "mlp.gate");
  }
  EXPECT_EQ(linears, expected);
  // intermediate_size 0 is 4 * hidden_size.
  const auto params = gpt->named_parameters();
  EXPECT_EQ(params["blocks.0.mlp.up.weight"].sizes(), (std::vector<int64_t>{128, 32}));
  EXPECT_EQ(params["blocks.0.mlp.down.weight"].sizes(), (std::vector<int64_t>{32, 128}));
  EXPECT_EQ(params["pos_embeddings.weight"].sizes(), (std::vector<int64_t>{32, 32}));
  for (const char* norm : {"norm", "blocks.1.attn_norm", "blocks.1.mlp_norm",
                           "blocks.1.attn.sub_norm", "blocks.1.mlp.sub_norm"}) {
    EXPECT_TRUE(params.contains(std::string(norm) + ".weight")) << norm;
  }
}

TEST_P(GptMlpTest, LaterTokensDoNotChangeEarlierLogits) {
  for (const bool deployed : {false, true}) {
    std::shared_ptr<Gpt> gpt = deployed ? make_deployed_gpt(small_options(GetParam()), "ai8pc_wpt")
                                        : make_gpt(small_options(GetParam()));
    torch::NoGradGuard no_grad;
    const torch::Tensor ids = random_ids(2, 12, 2);
    torch::Tensor changed = ids.clone();
    changed.select(1, 8).add_(1).remainder_(256);
    const torch::Tensor logits = gpt->forward(ids);
    const torch::Tensor changed_logits = gpt->forward(changed);
    EXPECT_TRUE(torch::allclose(logits.narrow(1, 0, 8), changed_logits.narrow(1, 0, 8), 1e-5, 1e-6))
        << "deployed " << deployed;
    EXPECT_FALSE(torch::allclose(logits.narrow(1, 8, 4), changed_logits.narrow(1, 8, 4)));
  }
}

TEST_P(GptMlpTest, CachedLogitsEqualTheFullForward) {
  for (const bool deployed : {false, true}) {
    std::shared_ptr<Gpt> gpt = deployed ? make_deployed_gpt(small_options(GetParam()), "ai8pc_wpt")
                                        : make_gpt(small_options(GetParam()));
    torch::NoGradGuard no_grad;
    const torch::Tensor ids = random_ids(2, 20, 3);
    EXPECT_TRUE(torch::allclose(cached_logits(*gpt, ids, 6), gpt->forward(ids), 1e-4, 1e-5))
        << "deployed " << deployed;
  }
}

TEST_P(GptMlpTest, CacheDoesNotChangeGeneratedTokens) {
  expect_cache_does_not_change_generation(*make_gpt(small_options(GetParam())));
  expect_cache_does_not_change_generation(
      *make_deployed_gpt(small_options(GetParam()), "ai8pc_wpt"));
}

TEST_P(GptMlpTest, ConversionConvertsEveryLinearButTheDefaultRuleOnes) {
  std::shared_ptr<Gpt> gpt = make_gpt(small_options(GetParam()));
  std::vector<std::string> linears;
  for (const auto& item : gpt->named_modules()) {
    if (item.value()->as<torch::nn::Linear>() != nullptr) linears.push_back(item.key());
  }
  const ConversionReport report =
      BitConverter::convert(*gpt, BitQuantConfig::from_string("ai8pc_wpt"), gpt->default_rules());
  for (const std::string& path : linears) {
    const ConversionEntry* entry = report.find(path);
    ASSERT_NE(entry, nullptr) << path;
    if (path == "lm_head") {
      EXPECT_EQ(entry->status, ConversionStatus::kKept);
    } else {
      EXPECT_EQ(entry->status, ConversionStatus::kConverted) << path << ": " << entry->reason;
      EXPECT_EQ(entry->converted_to, "bitlab::BitLinear") << path;
    }
  }
  for (const char* path : {"tok_embeddings", "pos_embeddings"}) {
    EXPECT_EQ(report.find(path)->status, ConversionStatus::kKept) << path;
  }
  EXPECT_EQ(report.num_converted, static_cast<int64_t>(linears.size()) - 1);
  EXPECT_EQ(report.num_convertible_kept, 3);  // the embeddings and lm_head

  // What forward runs is what was converted: eval, then deployed, give the same logits.
  const torch::Tensor ids = random_ids(2, 10, 4);
  gpt->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor eval_logits = gpt->forward(ids);
  deploy_bit_layers(*gpt);
  EXPECT_TRUE(torch::allclose(gpt->forward(ids), eval_logits, 1e-4, 1e-5));
}

TEST(GptTest, TernaryEmbeddingsConvertEverything) {
  std::shared_ptr<Gpt> gpt = make_gpt(small_options().ternary_embeddings(true));
  EXPECT_TRUE(gpt->default_rules().empty());
  const ConversionReport report =
      BitConverter::convert(*gpt, BitQuantConfig::from_string("ai8pc_wpt"), gpt->default_rules());
  EXPECT_EQ(report.num_convertible_kept, 0);
  EXPECT_EQ(report.find("tok_embeddings")->converted_to, "bitlab::BitEmbedding");
  EXPECT_EQ(report.find("pos_embeddings")->converted_to, "bitlab::BitEmbedding");
  EXPECT_EQ(report.find("lm_head")->converted_to, "bitlab::BitLinear");
  deploy_bit_layers(*gpt);
  expect_cache_does_not_change_generation(*gpt);
}

TEST(GptTest, SameSeedSameTokensWhateverTheGlobalRng) {
  std::shared_ptr<Gpt> gpt = make_gpt(small_options());
  const torch::Tensor prompt = random_ids(1, 4, 5);
  torch::manual_seed(100);
  const torch::Tensor first = gpt->generate(prompt, sampling(7));
  torch::manual_seed(200);
  const torch::Tensor second = gpt->generate(prompt, sampling(7));
  EXPECT_TRUE(torch::equal(first, second));
  EXPECT_FALSE(torch::equal(first, gpt->generate(prompt, sampling(8))));
}

TEST(GptTest, TopKOneAndTinyTopPAreGreedy) {
  std::shared_ptr<Gpt> gpt = make_gpt(small_options());
  const torch::Tensor prompt = random_ids(2, 4, 6);
  const torch::Tensor expected = gpt->generate(prompt, greedy());
  GenerationOptions top_k = sampling(9);
  top_k.top_k = 1;
  top_k.top_p = 1.0;
  EXPECT_TRUE(torch::equal(gpt->generate(prompt, top_k), expected));
  GenerationOptions top_p = sampling(9);
  top_p.top_k = 0;
  top_p.top_p = 1e-6;
  EXPECT_TRUE(torch::equal(gpt->generate(prompt, top_p), expected));
}

TEST(GptTest, StopsAtEos) {
  std::shared_ptr<Gpt> gpt = make_gpt(small_options());
  const torch::Tensor prompt = random_ids(2, 4, 7);
  const torch::Tensor free_run = gpt->generate(prompt, greedy());
  // One sequence: stops right after its first token when that is eos.
  GenerationOptions options = greedy();
  options.eos_token_id = free_run[0][4].item<int64_t>();
  const torch::Tensor single = gpt->generate(prompt.narrow(0, 0, 1), options);
  EXPECT_TRUE(torch::equal(single, free_run.narrow(0, 0, 1).narrow(1, 0, 5)));

  // Two sequences: go on until both have emitted eos; the finished one is padded with eos.
  const torch::Tensor both = gpt->generate(prompt, options);
  const int64_t eos = *options.eos_token_id;
  EXPECT_TRUE(torch::equal(both.narrow(1, 4, both.size(1) - 4)[0],
                           torch::full({both.size(1) - 4}, eos, torch::kLong)));
  // The second sequence runs as without eos, up to and including its own first eos.
  int64_t expected_length = free_run.size(1);
  for (int64_t t = 4; t < free_run.size(1); ++t) {
    if (free_run[1][t].item<int64_t>() == eos) {
      expected_length = t + 1;
      break;
    }
  }
  EXPECT_EQ(both.size(1), expected_length);
  EXPECT_TRUE(torch::equal(both[1], free_run[1].narrow(0, 0, both.size(1))));
}

TEST(GptTest, StopsAtContextLength) {
  std::shared_ptr<Gpt> gpt = make_gpt(small_options());
  for (const bool use_cache : {true, false}) {
    GenerationOptions options = greedy(10);
    options.use_cache = use_cache;
    EXPECT_EQ(gpt->generate(random_ids(1, 29, 8), options).size(1), 32);
    const torch::Tensor full = random_ids(2, 32, 8);
    EXPECT_TRUE(torch::equal(gpt->generate(full, options), full));
  }
  EXPECT_EQ(gpt->generate(random_ids(1, 3, 8), greedy(0)).size(1), 3);
}

TEST(GptTest, GenerateKeepsTheModeAndGradMode) {
  std::shared_ptr<Gpt> gpt = make_gpt(small_options());
  for (const bool training : {true, false}) {
    gpt->train(training);
    const torch::Tensor ids = gpt->generate(random_ids(1, 3, 9), sampling(1));
    EXPECT_FALSE(ids.requires_grad());
    EXPECT_EQ(gpt->is_training(), training);
    EXPECT_TRUE(torch::GradMode::is_enabled());
  }
}

TEST(GptTest, BadOptionsAndIdsThrow) {
  std::shared_ptr<Gpt> gpt = make_gpt(small_options());
  const torch::Tensor prompt = random_ids(1, 3, 10);
  const auto expect_option_error = [&](GenerationOptions options, const std::string& field) {
    EXPECT_THROW(
        {
          try {
            gpt->generate(prompt, options);
          } catch (const BitLabError& e) {
            EXPECT_THAT(e.what(), HasSubstr(field));
            throw;
          }
        },
        BitLabError)
        << field;
  };
  GenerationOptions options;
  options.temperature = 0.0;
  expect_option_error(options, "temperature");
  options.temperature = std::nan("");
  expect_option_error(options, "temperature");
  options = {};
  options.top_p = 0.0;
  expect_option_error(options, "top_p");
  options.top_p = 1.5;
  expect_option_error(options, "top_p");
  options = {};
  options.top_k = -1;
  expect_option_error(options, "top_k");
  options = {};
  options.max_new_tokens = -1;
  expect_option_error(options, "max_new_tokens");
  options = {};
  options.eos_token_id = 256;
  expect_option_error(options, "eos_token_id");

  const auto expect_ids_error = [&](const torch::Tensor& ids, const std::string& message) {
    for (const bool generate : {false, true}) {
      try {
        generate ? gpt->generate(ids, GenerationOptions()) : gpt->forward(ids);
        ADD_FAILURE() << "no error for " << message;
      } catch (const BitLabError& e) {
        EXPECT_THAT(e.what(), HasSubstr(message));
      }
    }
  };
  expect_ids_error(torch::zeros({1, 0}, torch::kLong), "non-empty");
  expect_ids_error(torch::zeros({3}, torch::kLong), "[B, T]");
  expect_ids_error(torch::zeros({1, 3}, torch::kInt), "expected int64");
  expect_ids_error(torch::zeros({1, 33}, torch::kLong), "context_length = 32");
  expect_ids_error(torch::full({1, 3}, 256, torch::kLong), "got 256");
  expect_ids_error(torch::full({1, 3}, -1, torch::kLong), "got -1");

  GptKVCache cache;
  gpt->forward_with_cache(torch::zeros({2, 30}, torch::kLong), cache);
  EXPECT_THROW(gpt->forward_with_cache(torch::zeros({2, 3}, torch::kLong), cache), ShapeError);
  EXPECT_THROW(gpt->forward_with_cache(torch::zeros({1, 1}, torch::kLong), cache), ShapeError);
}

TEST(GptTest, RegistryBuildsFromFieldsAndNamesBadFields) {
  const ModelType& type = ModelRegistry::get("gpt");
  ConfigFields fields({{"hidden_size", 32},
                       {"num_layers", 1},
                       {"num_heads", 2},
                       {"context_length", 8},
                       {"mlp", "swiglu"},
                       {"intermediate_size", 48}},
                      "config.json: architecture");
  std::shared_ptr<BitModel> model = type.build(fields);
  fields.check_all_read();
  auto* gpt = dynamic_cast<Gpt*>(model.get());
  ASSERT_NE(gpt, nullptr);
  EXPECT_EQ(gpt->config.model_type, "gpt");
  EXPECT_EQ(gpt->config.architecture["intermediate_size"], 48);
  EXPECT_EQ(gpt->max_sequence_length(), 8);
  EXPECT_EQ(gpt->vocab_size(), 256);
  EXPECT_EQ(model->example_input(2).sizes(), (std::vector<int64_t>{2, 8}));
  EXPECT_EQ(gpt->named_parameters()["blocks.0.mlp.gate.weight"].sizes(),
            (std::vector<int64_t>{48, 32}));

  const auto expect_config_error = [&](const nlohmann::json& architecture,
                                       const std::string& field) {
    ConfigFields bad(architecture, "config.json: architecture");
    try {
      type.build(bad);
      ADD_FAILURE() << "no error for " << architecture.dump();
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(),
                  AllOf(HasSubstr("config.json: architecture"), HasSubstr("'" + field + "'")));
    }
  };
  expect_config_error({{"hidden_size", 30}, {"num_heads", 4}}, "num_heads");
  expect_config_error({{"mlp", "gelu"}}, "mlp");
  expect_config_error({{"num_layers", 0}}, "num_layers");
  expect_config_error({{"vocab_size", -1}}, "vocab_size");
  expect_config_error({{"intermediate_size", -4}}, "intermediate_size");
  expect_config_error({{"ternary_embeddings", 1}}, "ternary_embeddings");
  EXPECT_THROW(Gpt(GptOptions().num_heads(3)), ConfigError);
}

}  // namespace
}  // namespace bitzoo
}  // namespace bitlab
