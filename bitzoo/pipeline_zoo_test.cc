// Pipeline with real zoo models built through AutoBitModel: LeNet-5 classifying a PNG file,
// and the GPT generating text, deterministic for a seed and the same after a save and load.
#include <cstdlib>
#include <string>

#include <ATen/ops/softmax.h>
#include <torch/types.h>

#include "bitlayers/converter.h"
#include "bitmodels/auto_bit_model.h"
#include "bitzoo/pipeline/image_io.h"
#include "bitzoo/pipeline/pipeline.h"
#include "bitzoo/pipeline/preprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bitlab {
namespace bitzoo {
namespace {

std::string tmp(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(PipelineZooTest, LeNet5ClassifiesAPngAsItsForwardDoes) {
  torch::manual_seed(1);
  const std::vector<std::string> labels = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                           "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                           "Bag",         "Ankle boot"};
  const AutoBitConfig config = AutoBitConfig::from_json({{"model_type", "lenet5"},
                                                         {"quant_config", "ai8pc_wpt"},
                                                         {"image_input",
                                                          {{"channels", 1},
                                                           {"height", 28},
                                                           {"width", 28},
                                                           {"mean", {0.286}},
                                                           {"std", {0.353}},
                                                           {"labels", labels}}}});
  std::shared_ptr<BitModel> model = AutoBitModel::from_config(config);
  deploy_bit_layers(*model);

  const torch::Tensor pixels = torch::randint(0, 256, {40, 30, 3}, torch::kByte);
  const std::string png = tmp("garment.png");
  write_png(png, pixels);
  Pipeline pipeline("image-classification", model);
  const std::vector<Prediction> top = pipeline.classify_file(png, 3);
  ASSERT_EQ(top.size(), 3u);

  const torch::Tensor probabilities =
      at::softmax(model->forward(preprocess_image(pixels, *config.image_input)), 1)[0];
  const int64_t best = probabilities.argmax().item<int64_t>();
  EXPECT_EQ(top[0].class_id, best);
  EXPECT_EQ(top[0].label, labels[best]);
  EXPECT_NEAR(top[0].score, probabilities[best].item<double>(), 1e-6);
  EXPECT_GE(top[0].score, top[1].score);
  EXPECT_GE(top[1].score, top[2].score);
}

TEST(PipelineZooTest, GptGeneratesTheSameTextForASeedAndAfterALoad) {
  torch::manual_seed(2);
  const AutoBitConfig config = AutoBitConfig::from_json(
      {{"model_type", "gpt"},
       {"quant_config", "ai8pc_wpt"},
       {"tokenizer", "byte"},
       {"architecture",
        {{"hidden_size", 32}, {"num_layers", 2}, {"num_heads", 4}, {"context_length", 64}}}});
  std::shared_ptr<BitModel> model = AutoBitModel::from_config(config);
  GenerationOptions options;
  options.max_new_tokens = 12;
  options.do_sample = true;
  options.top_k = 20;
  options.seed = 7;
  Pipeline pipeline("text-generation", model);
  const std::string text = pipeline.generate("ternary ", options);
  EXPECT_EQ(text.size(), std::string("ternary ").size() + 12);
  EXPECT_EQ(text.rfind("ternary ", 0), 0u);
  EXPECT_EQ(pipeline.generate("ternary ", options), text);

  AutoBitModel::save_pretrained(*model, tmp("gpt"));
  Pipeline loaded("text-generation", AutoBitModel::from_pretrained(tmp("gpt")));
  EXPECT_EQ(loaded.generate("ternary ", options), text);
}

}  // namespace
}  // namespace bitzoo
}  // namespace bitlab
