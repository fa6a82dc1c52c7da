#include "bitzoo/transformer/model_testing.h"

#include <gtest/gtest.h>

#include "bitcore/quant_config.h"
#include "bitlayers/converter.h"
#include "bitmodels/config_fields.h"
#include "bitmodels/model_registry.h"

namespace bitlab {
namespace bitzoo {
namespace testing {

std::shared_ptr<BitModel> build_model(const std::string& model_type,
                                      const nlohmann::json& architecture) {
  ConfigFields fields(architecture, model_type + " test: architecture");
  std::shared_ptr<BitModel> model = ModelRegistry::get(model_type).build(fields);
  fields.check_all_read();
  return model;
}

void expect_converts_and_deploys(BitModel& model, const std::set<std::string>& kept,
                                 int64_t num_converted, const torch::Tensor& input) {
  const ConversionReport report =
      BitConverter::convert(model, BitQuantConfig::from_string("ai8pc_wpt"), model.default_rules());
  EXPECT_EQ(report.num_convertible_kept, static_cast<int64_t>(kept.size())) << report.to_string();
  EXPECT_EQ(report.num_converted, num_converted) << report.to_string();
  for (const std::string& path : kept) {
    const ConversionEntry* entry = report.find(path);
    ASSERT_NE(entry, nullptr) << path;
    EXPECT_EQ(entry->status, ConversionStatus::kKept) << path;
    EXPECT_FALSE(entry->rule.empty()) << path << " should be kept by a default rule";
  }
  for (const ConversionEntry& entry : report.entries) {
    if (entry.type == "torch::nn::Linear" && kept.count(entry.path) == 0) {
      EXPECT_EQ(entry.status, ConversionStatus::kConverted) << entry.path << ": " << entry.reason;
      EXPECT_EQ(entry.converted_to, "bitlab::BitLinear") << entry.path;
    }
  }

  torch::NoGradGuard no_grad;
  model.eval();
  const torch::Tensor before = model.forward(input);
  deploy_bit_layers(model);
  const torch::Tensor after = model.forward(input);
  EXPECT_TRUE(torch::allclose(after, before, /*rtol=*/1e-4, /*atol=*/1e-5))
      << "max difference " << (after - before).abs().max().item<double>();
}

}  // namespace testing
}  // namespace bitzoo
}  // namespace bitlab
