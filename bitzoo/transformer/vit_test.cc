#include "bitzoo/transformer/vit.h"

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

// Small enough to run in milliseconds: 32x32 images in 8x8 patches (16 patches + class token).
const nlohmann::json kSmall = {
    {"image_size", 32}, {"patch_size", 8}, {"depth", 2}, {"num_classes", 10}};

int64_t count_parameters(const torch::nn::Module& model) {
  int64_t n = 0;
  for (const torch::Tensor& p : model.parameters()) n += p.numel();
  return n;
}

void expect_config_error(const std::string& model_type, const nlohmann::json& architecture,
                         const std::vector<std::string>& fields) {
  try {
    build_model(model_type, architecture);
    FAIL() << "expected ConfigError for " << architecture.dump();
  } catch (const ConfigError& e) {
    for (const std::string& field : fields) {
      EXPECT_NE(std::string(e.what()).find("'" + field + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(ViTTest, ClassifiesFromTheClassToken) {
  for (const std::string type : {"vit_tiny", "vit_small"}) {
    auto model = build_model(type, kSmall);
    EXPECT_EQ(model->config.model_type, type);
    const torch::Tensor input = model->example_input(3);
    EXPECT_EQ(input.sizes(), (std::vector<int64_t>{3, 3, 32, 32}));
    EXPECT_EQ(model->forward(input).sizes(), (std::vector<int64_t>{3, 10})) << type;
  }
}

TEST(ViTTest, VariantsAndOverrides) {
  auto tiny = std::dynamic_pointer_cast<VisionTransformer>(build_model("vit_tiny", kSmall));
  ASSERT_NE(tiny, nullptr);
  EXPECT_EQ(tiny->options.embed_dim(), 192);
  EXPECT_EQ(tiny->options.num_heads(), 3);
  EXPECT_EQ(tiny->blocks->size(), 2);
  auto small = std::dynamic_pointer_cast<VisionTransformer>(build_model("vit_small", {}));
  EXPECT_EQ(small->options.embed_dim(), 384);
  EXPECT_EQ(small->options.num_heads(), 6);
  EXPECT_EQ(small->options.depth(), 12);
  EXPECT_EQ(small->pos_embed.sizes(), (std::vector<int64_t>{1, 197, 384}));

  auto custom =
      std::dynamic_pointer_cast<VisionTransformer>(build_model("vit_tiny", {{"image_size", 28},
                                                                            {"patch_size", 7},
                                                                            {"in_channels", 1},
                                                                            {"num_classes", 10},
                                                                            {"embed_dim", 64},
                                                                            {"depth", 1},
                                                                            {"num_heads", 2},
                                                                            {"mlp_ratio", 2.0}}));
  EXPECT_EQ(custom->named_parameters()["blocks.0.mlp.fc1.weight"].sizes(),
            (std::vector<int64_t>{128, 64}));
  EXPECT_EQ(custom->forward(custom->example_input(2)).sizes(), (std::vector<int64_t>{2, 10}));
}

// timm's vit_tiny_patch16_224 and vit_small_patch16_224 (1000 classes) have 5,717,416 and
// 22,050,664 parameters. timm fuses q, k and v into one Linear `attn.qkv` (dim -> 3 dim, with
// bias); the separate q, k, v here hold exactly the same weights and biases, so the counts match.
TEST(ViTTest, ParameterCountsMatchTimm) {
  EXPECT_EQ(count_parameters(*build_model("vit_tiny", {})), 5717416);
  EXPECT_EQ(count_parameters(*build_model("vit_small", {})), 22050664);
}

TEST(ViTTest, ModuleNamesFollowTimm) {
  auto model = build_model("vit_tiny", kSmall);
  const auto modules = model->named_modules();
  for (const std::string path :
       {"patch_embed.proj", "blocks.1.norm1", "blocks.1.attn.q", "blocks.1.attn.k",
        "blocks.1.attn.v", "blocks.1.attn.proj", "blocks.1.norm2", "blocks.1.mlp.fc1",
        "blocks.1.mlp.fc2", "norm", "head"}) {
    EXPECT_TRUE(modules.contains(path)) << path;
  }
  const auto parameters = model->named_parameters();
  EXPECT_TRUE(parameters.contains("cls_token"));
  EXPECT_TRUE(parameters.contains("pos_embed"));
}

TEST(ViTTest, BadFieldsNameTheField) {
  expect_config_error("vit_tiny", {{"image_size", 30}, {"patch_size", 8}},
                      {"image_size", "patch_size"});
  expect_config_error("vit_small", {{"embed_dim", 100}}, {"embed_dim", "num_heads"});
  expect_config_error("vit_tiny", {{"num_classes", 0}}, {"num_classes"});
  expect_config_error("vit_tiny", {{"mlp_ratio", 0.001}}, {"mlp_ratio"});
  expect_config_error("vit_tiny", {{"depth", "two"}}, {"depth"});
  expect_config_error("vit_tiny", {{"patch", 8}}, {"patch"});  // unknown field
}

TEST(ViTTest, WrongImageSizeNamesExpectedAndGot) {
  auto model = build_model("vit_tiny", kSmall);
  try {
    model->forward(torch::randn({2, 3, 28, 28}));
    FAIL() << "expected BitLabError";
  } catch (const BitLabError& e) {
    EXPECT_NE(std::string(e.what()).find("[B, 3, 32, 32]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 3, 28, 28]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model->forward(torch::randn({2, 1, 32, 32})), BitLabError);
  EXPECT_THROW(model->forward(torch::randn({3, 32, 32})), BitLabError);
  EXPECT_THROW(model->forward(torch::zeros({2, 3, 32, 32}, torch::kLong)), BitLabError);
}

TEST(ViTTest, ConvertsEveryBlockLinearAndDeploys) {
  auto model = build_model("vit_tiny", kSmall);
  // 2 blocks x (q, k, v, proj, fc1, fc2); the patch embedding and the head stay float32.
  testing::expect_converts_and_deploys(*model, {"patch_embed.proj", "head"}, /*num_converted=*/12,
                                       model->example_input(2));
}

// Without the default rules the patch embedding and the head convert too: every swappable child
// is reachable by replace_child.
TEST(ViTTest, EveryLayerConvertsWithoutRules) {
  auto model = build_model("vit_tiny", kSmall);
  const ConversionReport report =
      BitConverter::convert(*model, BitQuantConfig::from_string("ai8pc_wpt"));
  EXPECT_EQ(report.num_converted, 14) << report.to_string();
  EXPECT_EQ(report.num_convertible_kept, 0) << report.to_string();
  EXPECT_EQ(model->forward(model->example_input(2)).sizes(), (std::vector<int64_t>{2, 10}));
}

}  // namespace
}  // namespace bitzoo
}  // namespace bitlab
