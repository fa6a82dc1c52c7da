// BitQuantConfig: how a ternary layer quantizes its weights and activations.
//
// The numerics behind every field are in docs/numerics.md. In short: weights
// are ternary with an absmean scale (one per tensor or one per output channel); activations
// stay float32 or become int8 with an absmax scale (one per tensor or one per token, i.e. per
// row of the input flattened to (M, K)).
//
// Example:
//   bitlab::BitQuantConfig config = bitlab::BitQuantConfig::from_string("ai8pc_wpt");
//   config.weight_granularity = bitlab::Granularity::kPerChannel;
//   config.validate();                   // throws QuantizationError naming a bad field
//   std::string s = config.to_string();  // "ai8pc_wpc"
//   nlohmann::json j = config.to_json();
//
// This header has no libtorch dependency so kernels can use it.
#ifndef BITLAB_BITCORE_QUANT_CONFIG_H_
#define BITLAB_BITCORE_QUANT_CONFIG_H_

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace bitlab {

/// How many scales a tensor gets. For weights, per channel means one scale per output
/// channel (row of W). For activations, per channel means one scale per token (row of the
/// input flattened to (M, K)): a scale per input feature cannot be factored out of an integer
/// dot product.
enum class Granularity { kPerTensor, kPerChannel };

/// The data type activations are quantized to before the matrix product.
enum class ActivationDtype { kFloat32, kInt8 };

/// "per_tensor" / "per_channel".
const char* to_string(Granularity granularity);
/// "float32" / "int8".
const char* to_string(ActivationDtype dtype);

struct BitQuantConfig {
  /// One absmean scale for the whole weight, or one per output channel.
  Granularity weight_granularity = Granularity::kPerTensor;
  /// float32: weights only are ternary. int8: activations are quantized too (integer path).
  ActivationDtype activation_dtype = ActivationDtype::kInt8;
  /// One absmax scale for the whole input, or one per token. Ignored for float32 activations.
  Granularity activation_granularity = Granularity::kPerChannel;
  /// Floor for every scale, so all-zero inputs or weights never divide by zero.
  float eps = 1e-5f;

  /// Throws QuantizationError naming the field, the bad value and what is allowed.
  void validate() const;

  /// Compact form "{act}_{weight}", act in ai8pt | ai8pc | af32, weight in wpt | wpc, as the
  /// ternary projects BitLab replaces spell it. `eps` is not part of the string.
  std::string to_string() const;
  /// Parses the compact form; an unknown string throws QuantizationError listing valid ones.
  static BitQuantConfig from_string(std::string_view compact);

  /// {"weight_granularity": ..., "activation_dtype": ..., "activation_granularity": ..., "eps":
  /// ...}
  nlohmann::json to_json() const;
  /// Missing fields take their defaults; unknown fields and bad values throw QuantizationError.
  static BitQuantConfig from_json(const nlohmann::json& json);

  /// int8 activations and weights, one scale per tensor each ("ai8pt_wpt"): the fewest
  /// scales and all-integer inner loops, the cheapest setting on small mobile cores.
  static BitQuantConfig for_mobile();
  /// int8 per-token activations and per-channel weights ("ai8pc_wpc"): the most accurate
  /// integer setting; the extra scales cost nothing on server CPUs and GPUs.
  static BitQuantConfig for_server();
  /// float32 activations with per-channel ternary weights ("af32_wpc"): isolates the effect
  /// of weight quantization, for experiments on training ternary models.
  static BitQuantConfig for_research();

  bool operator==(const BitQuantConfig& other) const;
  bool operator!=(const BitQuantConfig& other) const { return !(*this == other); }
};

}  // namespace bitlab

#endif  // BITLAB_BITCORE_QUANT_CONFIG_H_
