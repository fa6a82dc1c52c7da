#include "bitzoo/gpt/gpt.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <memory>
#include <tuple>
#include <utility>

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/irange.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/init.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitlayers/deployed_skeleton.h"
#include "bitmodels/model_registry.h"

namespace bitlab {
namespace bitzoo {
namespace {

using Children = std::initializer_list<std::pair<const char*, torch::nn::AnyModule*>>;

// Points the AnyModule member registered as `name` at `replacement` (replace_child's body).
void replace_named(const char* owner, Children children, const std::string& name,
                   const torch::nn::AnyModule& replacement) {
  for (const auto& child : children) {
    if (name == child.first) {
      *child.second = replacement;
      return;
    }
  }
  throw BitLabError(absl::StrCat(owner, "::replace_child: '", name,
                                 "' is not a swappable child (expected one of its projections)"));
}

torch::nn::AnyModule projection(torch::nn::Module& parent, const std::string& name, int64_t in,
                                int64_t out) {
  return torch::nn::AnyModule(
      parent.register_module(name, make_linear(torch::nn::LinearOptions(in, out).bias(false))));
}

// Causal multi-head self-attention with BitNet b1.58's sub-norm before the output projection.
class AttentionImpl : public torch::nn::Module, public SwappableChildren {
 public:
  AttentionImpl(int64_t hidden, int64_t heads) : heads_(heads) {
    q = projection(*this, "q", hidden, hidden);
    k = projection(*this, "k", hidden, hidden);
    v = projection(*this, "v", hidden, hidden);
    sub_norm = register_module("sub_norm", BitRMSNorm(hidden));
    o = projection(*this, "o", hidden, hidden);
  }

  // x [B, T, hidden] at positions past .. past + T - 1, past = what `cache` holds (0 without).
  torch::Tensor forward(const torch::Tensor& x, GptKVCache::Layer* cache) {
    const int64_t B = x.size(0);
    const int64_t T = x.size(1);
    const int64_t C = x.size(2);
    const int64_t D = C / heads_;
    const auto split_heads = [&](const torch::Tensor& t) {
      return t.reshape({B, T, heads_, D}).transpose(1, 2);  // [B, heads, T, D]
    };
    const torch::Tensor queries = split_heads(q.forward(x));
    torch::Tensor keys = split_heads(k.forward(x));
    torch::Tensor values = split_heads(v.forward(x));
    if (cache != nullptr) {
      if (cache->keys.defined()) {
        keys = torch::cat({cache->keys, keys}, 2);
        values = torch::cat({cache->values, values}, 2);
      }
      cache->keys = keys;
      cache->values = values;
    }
    const int64_t S = keys.size(2);
    const int64_t past = S - T;
    torch::Tensor scores = torch::matmul(queries, keys.transpose(-2, -1)) / std::sqrt(double(D));
    // Query i sits at position past + i and sees the keys up to there.
    const torch::Tensor future =
        torch::ones({T, S}, x.options().dtype(torch::kBool)).triu(past + 1);
    scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
    const torch::Tensor attended =
        torch::matmul(scores.softmax(-1), values).transpose(1, 2).reshape({B, T, C});
    return o.forward(sub_norm(attended));
  }

  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override {
    replace_named("Gpt attention", {{"q", &q}, {"k", &k}, {"v", &v}, {"o", &o}}, name, replacement);
  }

  torch::nn::AnyModule q, k, v, o;
  BitRMSNorm sub_norm = nullptr;

 private:
  int64_t heads_;
};
TORCH_MODULE(Attention);

// "relu2": down(sub_norm(relu(up(h))^2)); "swiglu": down(sub_norm(silu(gate(h)) * up(h))).
class MlpImpl : public torch::nn::Module, public SwappableChildren {
 public:
  MlpImpl(int64_t hidden, int64_t width, bool swiglu) : swiglu_(swiglu) {
    if (swiglu_) gate = projection(*this, "gate", hidden, width);
    up = projection(*this, "up", hidden, width);
    sub_norm = register_module("sub_norm", BitRMSNorm(width));
    down = projection(*this, "down", width, hidden);
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const torch::Tensor h = swiglu_ ? torch::silu(gate.forward(x)) * up.forward(x)
                                    : torch::relu(up.forward(x)).square();
    return down.forward(sub_norm(h));
  }

  void replace_child(const std::string& name, const torch::nn::AnyModule& replacement) override {
    replace_named("Gpt MLP", {{"gate", &gate}, {"up", &up}, {"down", &down}}, name, replacement);
  }

  torch::nn::AnyModule gate, up, down;
  BitRMSNorm sub_norm = nullptr;

 private:
  bool swiglu_;
};
TORCH_MODULE(Mlp);

// Pre-norm decoder block. It holds no convertible layer itself, so it needs no swapping.
class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const GptOptions& options) {
    const int64_t hidden = options.hidden_size();
    attn_norm = register_module("attn_norm", BitRMSNorm(hidden));
    attn = register_module("attn", Attention(hidden, options.num_heads()));
    mlp_norm = register_module("mlp_norm", BitRMSNorm(hidden));
    mlp = register_module("mlp", Mlp(hidden, options.mlp_width(), options.mlp() == "swiglu"));
  }

  torch::Tensor forward(const torch::Tensor& x, GptKVCache::Layer* cache) {
    const torch::Tensor y = x + attn->forward(attn_norm(x), cache);
    return y + mlp->forward(mlp_norm(y));
  }

  BitRMSNorm attn_norm = nullptr;
  Attention attn = nullptr;
  BitRMSNorm mlp_norm = nullptr;
  Mlp mlp = nullptr;
};
TORCH_MODULE(Block);

[[noreturn]] void bad_option(const std::string& what, const std::string& got) {
  throw BitLabError(absl::StrCat("Gpt::generate: ", what, ", got ", got));
}

void check_generation_options(const GenerationOptions& options, int64_t vocab_size) {
  // Written so that NaN fails too.
  if (!(options.temperature > 0.0)) {
    bad_option("temperature must be > 0", absl::StrCat(options.temperature));
  }
  if (!(options.top_p > 0.0 && options.top_p <= 1.0)) {
    bad_option("top_p must be in (0, 1]", absl::StrCat(options.top_p));
  }
  if (options.top_k < 0) bad_option("top_k must be >= 0", absl::StrCat(options.top_k));
  if (options.max_new_tokens < 0) {
    bad_option("max_new_tokens must be >= 0", absl::StrCat(options.max_new_tokens));
  }
  if (options.eos_token_id.has_value() &&
      (*options.eos_token_id < 0 || *options.eos_token_id >= vocab_size)) {
    bad_option(absl::StrCat("eos_token_id must be in [0, ", vocab_size, ")"),
               absl::StrCat(*options.eos_token_id));
  }
}

// The next token of every sequence from its logits [B, vocab]: argmax, or a sample after
// temperature, top_k and top_p.
torch::Tensor next_tokens(const torch::Tensor& logits, const GenerationOptions& options,
                          at::Generator& generator) {
  if (!options.do_sample) return logits.argmax(-1);
  // The generator is a CPU one, so sampling runs on the CPU whatever the model's device.
  torch::Tensor scores = logits.to(torch::kCPU, torch::kFloat) / options.temperature;
  const float removed = -std::numeric_limits<float>::infinity();
  if (options.top_k > 0 && options.top_k < scores.size(-1)) {
    const torch::Tensor kth =
        std::get<0>(scores.topk(options.top_k, -1)).narrow(-1, options.top_k - 1, 1);
    scores = scores.masked_fill(scores < kth, removed);
  }
  if (options.top_p < 1.0) {
    torch::Tensor sorted, order;
    std::tie(sorted, order) = scores.sort(-1, /*descending=*/true);
    const torch::Tensor probs = sorted.softmax(-1);
    // Drop a token once the more likely ones before it reach top_p; the most likely one
    // (preceded by nothing) always stays.
    const torch::Tensor drop_sorted = (probs.cumsum(-1) - probs) >= options.top_p;
    scores =
        scores.masked_fill(torch::zeros_like(drop_sorted).scatter(-1, order, drop_sorted), removed);
  }
  return torch::multinomial(scores.softmax(-1), 1, /*replacement=*/false, generator)
      .squeeze(-1)
      .to(logits.device());
}

}  // namespace

GptOptions GptOptions::from_fields(ConfigFields& fields) {
  GptOptions options;
  options.vocab_size(fields.get_int("vocab_size", options.vocab_size()));
  options.context_length(fields.get_int("context_length", options.context_length()));
  options.hidden_size(fields.get_int("hidden_size", options.hidden_size()));
  options.num_layers(fields.get_int("num_layers", options.num_layers()));
  options.num_heads(fields.get_int("num_heads", options.num_heads()));
  options.mlp(fields.get_choice("mlp", options.mlp(), {"relu2", "swiglu"}));
  options.intermediate_size(fields.get_int("intermediate_size", options.intermediate_size()));
  options.ternary_embeddings(fields.get_bool("ternary_embeddings", options.ternary_embeddings()));
  options.validate(fields.context());
  return options;
}

void GptOptions::validate(const std::string& context) const {
  const auto fail = [&](const char* field, const std::string& expected, const auto& got) {
    throw ConfigError(
        absl::StrCat(context, ": field '", field, "' must be ", expected, ", got ", got));
  };
  const std::pair<const char*, int64_t> positive[] = {{"vocab_size", vocab_size_},
                                                      {"context_length", context_length_},
                                                      {"hidden_size", hidden_size_},
                                                      {"num_layers", num_layers_},
                                                      {"num_heads", num_heads_}};
  for (const auto& field : positive) {
    if (field.second < 1) fail(field.first, ">= 1", field.second);
  }
  if (hidden_size_ % num_heads_ != 0) {
    fail("num_heads", absl::StrCat("a divisor of hidden_size (", hidden_size_, ")"), num_heads_);
  }
  if (mlp_ != "relu2" && mlp_ != "swiglu") fail("mlp", "\"relu2\" or \"swiglu\"", mlp_);
  if (intermediate_size_ < 0) {
    fail("intermediate_size", ">= 0 (0: 4 * hidden_size)", intermediate_size_);
  }
}

nlohmann::json GptOptions::to_json() const {
  return {{"vocab_size", vocab_size_},
          {"context_length", context_length_},
          {"hidden_size", hidden_size_},
          {"num_layers", num_layers_},
          {"num_heads", num_heads_},
          {"mlp", mlp_},
          {"intermediate_size", intermediate_size_},
          {"ternary_embeddings", ternary_embeddings_}};
}

Gpt::Gpt(const GptOptions& options_) : options(options_) {
  options.validate();
  config.model_type = "gpt";
  config.architecture = options.to_json();
  const int64_t hidden = options.hidden_size();
  tok_embeddings = torch::nn::AnyModule(register_module(
      "tok_embeddings", make_embedding(torch::nn::EmbeddingOptions(options.vocab_size(), hidden))));
  pos_embeddings = torch::nn::AnyModule(register_module(
      "pos_embeddings",
      make_embedding(torch::nn::EmbeddingOptions(options.context_length(), hidden))));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.num_layers(); ++i) blocks->push_back(Block(options));
  norm = register_module("norm", BitRMSNorm(hidden));
  lm_head = projection(*this, "lm_head", hidden, options.vocab_size());

  // GPT-2's initialization: torch's N(0, 1) embeddings would dwarf the residual branches, and
  // scaling the projections that write into the residual stream (o, down) by
  // 1 / sqrt(2 * layers) keeps its variance from growing with depth.
  if (building_deployed_skeleton()) return;  // its tensors are filled from a file next
  torch::NoGradGuard no_grad;
  const double residual_std = 0.02 / std::sqrt(2.0 * options.num_layers());
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    const std::string& path = item.key();
    if (auto* linear = item.value()->as<torch::nn::Linear>()) {
      const bool residual = absl::EndsWith(path, ".o") || absl::EndsWith(path, ".down");
      torch::nn::init::normal_(linear->weight, 0.0, residual ? residual_std : 0.02);
    } else if (auto* embedding = item.value()->as<torch::nn::Embedding>()) {
      torch::nn::init::normal_(embedding->weight, 0.0, 0.02);
    }
  }
}

void Gpt::check_ids(const torch::Tensor& ids, int64_t past) const {
  if (ids.scalar_type() != torch::kLong) {
    throw ShapeError(
        absl::StrCat("Gpt: expected int64 token ids, got ", std::string(ids.dtype().name())));
  }
  if (ids.dim() != 2 || ids.size(0) < 1 || ids.size(1) < 1) {
    throw ShapeError(absl::StrCat("Gpt: expected non-empty token ids [B, T], got shape ",
                                  c10::str(ids.sizes())));
  }
  if (past + ids.size(1) > options.context_length()) {
    throw ShapeError(
        absl::StrCat("Gpt: expected at most context_length = ", options.context_length(),
                     " positions, got ", past, " cached + ", ids.size(1), " new"));
  }
  const int64_t lowest = ids.min().item<int64_t>();
  const int64_t highest = ids.max().item<int64_t>();
  if (lowest < 0 || highest >= options.vocab_size()) {
    throw BitLabError(absl::StrCat("Gpt: expected token ids in [0, ", options.vocab_size(),
                                   "), got ", lowest < 0 ? lowest : highest));
  }
}

torch::Tensor Gpt::run(const torch::Tensor& ids, GptKVCache* cache) {
  const int64_t past = cache != nullptr ? cache->length() : 0;
  check_ids(ids, past);
  if (cache != nullptr) {
    if (cache->layers.empty()) cache->layers.resize(blocks->size());
    const int64_t cached_batch = past > 0 ? cache->layers.front().keys.size(0) : ids.size(0);
    if (cache->layers.size() != blocks->size() || cached_batch != ids.size(0)) {
      throw ShapeError(absl::StrCat("Gpt: the KV cache holds ", cache->layers.size(),
                                    " layers of batch ", cached_batch, ", expected ",
                                    blocks->size(), " layers of batch ", ids.size(0)));
    }
  }
  const torch::Tensor positions =
      torch::arange(past, past + ids.size(1), ids.options().dtype(torch::kLong));
  torch::Tensor x = tok_embeddings.forward(ids) + pos_embeddings.forward(positions);
  for (const auto i : c10::irange(blocks->size())) {
    x = blocks[i]->as<BlockImpl>()->forward(x, cache != nullptr ? &cache->layers[i] : nullptr);
  }
  return lm_head.forward(norm(x));
}

torch::Tensor Gpt::forward(const torch::Tensor& ids) { return run(ids, nullptr); }

torch::Tensor Gpt::forward_with_cache(const torch::Tensor& ids, GptKVCache& cache) {
  return run(ids, &cache);
}

torch::Tensor Gpt::example_input(int64_t batch) const {
  return torch::randint(0, options.vocab_size(),
                        {batch, std::min<int64_t>(16, options.context_length())}, torch::kLong);
}

std::vector<ConversionRule> Gpt::default_rules() const {
  if (options.ternary_embeddings()) return {};
  ConversionRule keep;
  keep.pattern = "^tok_embeddings$|^pos_embeddings$|^lm_head$";
  keep.keep_float = true;
  keep.name = "float32 embeddings and LM head (ternary_embeddings false)";
  return {keep};
}

at::Tensor Gpt::generate(const at::Tensor& prompt_ids, const GenerationOptions& generation) {
  check_generation_options(generation, options.vocab_size());
  check_ids(prompt_ids, 0);
  torch::NoGradGuard no_grad;
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(generation.seed);
  GptKVCache cache;
  torch::Tensor ids = prompt_ids;
  // With the cache, only the tokens it has not seen yet run: the prompt, then one at a time.
  torch::Tensor unseen = prompt_ids;
  torch::Tensor finished = torch::zeros({ids.size(0)}, ids.options().dtype(torch::kBool));
  for (int64_t step = 0; step < generation.max_new_tokens && ids.size(1) < options.context_length();
       ++step) {
    const torch::Tensor logits =
        generation.use_cache ? forward_with_cache(unseen, cache) : forward(ids);
    torch::Tensor next = next_tokens(logits.select(1, -1), generation, generator);
    if (generation.eos_token_id.has_value()) {
      next = next.masked_fill(finished, *generation.eos_token_id);
      finished = finished | next.eq(*generation.eos_token_id);
    }
    unseen = next.unsqueeze(1);
    ids = torch::cat({ids, unseen}, 1);
    if (finished.all().item<bool>()) break;
  }
  return ids;
}

void Gpt::replace_child(const std::string& name, const torch::nn::AnyModule& replacement) {
  replace_named("Gpt",
                {{"tok_embeddings", &tok_embeddings},
                 {"pos_embeddings", &pos_embeddings},
                 {"lm_head", &lm_head}},
                name, replacement);
}

BITLAB_REGISTER_MODEL("gpt",
                      "decoder-only GPT in BitNet b1.58 style (RMSNorm SubLN, ReLU^2 or SwiGLU "
                      "MLP, learned positions, KV-cache generation)",
                      [](ConfigFields& fields) -> std::shared_ptr<BitModel> {
                        return std::make_shared<Gpt>(GptOptions::from_fields(fields));
                      });

}  // namespace bitzoo
}  // namespace bitlab
