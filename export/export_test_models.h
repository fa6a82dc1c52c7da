// Zoo models for the exporters' tests, in a state that makes an output comparison mean
// something. A freshly initialized ternary network's activations shrink layer after layer
// (ternary weights of an untrained init, batch norms still at identity statistics) until a
// deep model such as MobileNetV2 outputs zeros, which any export would "match". Here the batch
// norms first learn the statistics of random inputs, as training would give them, so every
// layer sees activations of unit scale.
#ifndef BITLAB_EXPORT_EXPORT_TEST_MODELS_H_
#define BITLAB_EXPORT_EXPORT_TEST_MODELS_H_

#include <memory>
#include <string>

#include "bitmodels/bit_model.h"

namespace bitlab {
namespace testing {

/// The model AutoBitModel builds from `config_json` (seeded, so repeatable), its batch norms
/// calibrated on random inputs, deployed when `deploy`, in eval mode.
std::shared_ptr<BitModel> export_test_model(const std::string& config_json, bool deploy);

}  // namespace testing
}  // namespace bitlab

#endif  // BITLAB_EXPORT_EXPORT_TEST_MODELS_H_
