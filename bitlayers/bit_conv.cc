#include "bitlayers/bit_conv.h"

#include <cmath>
#include <string>

#include <ATen/Parallel.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/constant_pad_nd.h>
#include <ATen/ops/convolution.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/record_function.h>
#include <c10/util/accumulate.h>
#include <c10/util/variant.h>
#include <torch/nn/functional/padding.h>
#include <torch/nn/init.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/kernel_registry.h"
#include "bitcore/packing.h"
#include "bitcore/straight_through.h"
#include "bitcore/tensor_checks.h"
#include "bitlayers/conv_patches.h"
#include "bitlayers/deployed_layout.h"
#include "bitlayers/deployed_skeleton.h"
#include "bitlayers/profile_name.h"

namespace bitlab {
namespace {

// Below this many output channels per group (depthwise convolutions have one), a matrix
// kernel would spend nearly all its time on padding columns; a direct convolution on the
// integer values is faster and, below 2^24 in magnitude, exact in float32.
constexpr int64_t kMinKernelColumns = 8;
constexpr int64_t kExactFloatIntegers = int64_t{1} << 24;

template <size_t D>
const char* layer_name() {
  return D == 1 ? "BitConv1d" : (D == 2 ? "BitConv2d" : "BitConv3d");
}

template <size_t D>
std::string array_string(const torch::ExpandingArray<D>& values) {
  return absl::StrCat("[", absl::StrJoin(*values, ", "), "]");
}

template <size_t D>
int64_t product(const torch::ExpandingArray<D>& values) {
  int64_t result = 1;
  for (int64_t v : *values) result *= v;
  return result;
}

bool is_zero_padding_mode(const torch::nn::detail::conv_padding_mode_t& mode) {
  return c10::holds_alternative<torch::enumtype::kZeros>(mode);
}

// The quantized input can be large (batch 32 of ResNet-18's first stage: 6 MB) and freshly
// mapped memory costs a page fault per 4 KB, so each thread keeps its quantized input and
// patch-chunk buffers between calls. Only the owning thread writes them; other threads read
// them only during the call.
enum WorkspaceSlot { kQuantizedInput = 0, kPatches = 1 };

at::Tensor thread_workspace(WorkspaceSlot slot, at::IntArrayRef shape, at::ScalarType dtype) {
  thread_local at::Tensor buffers[2];
  at::Tensor& buffer = buffers[slot];
  const int64_t bytes =
      c10::multiply_integers(shape) * static_cast<int64_t>(c10::elementSize(dtype));
  if (!buffer.defined() || buffer.numel() < bytes) {
    buffer = torch::Tensor();  // free the old buffer before taking the new one
    buffer = at::empty({bytes}, at::kByte);
  }
  return at::from_blob(buffer.data_ptr(), shape, at::TensorOptions().dtype(dtype));
}

}  // namespace

template <size_t D>
BitConvOptions<D> BitConvOptions<D>::from_torch(
    const torch::nn::detail::ConvNdOptions<D>& options) {
  if (options.transposed()) {
    throw BitLabError(absl::StrCat(layer_name<D>(),
                                   ": transposed convolutions have no ternary version; keep "
                                   "them in float32"));
  }
  return BitConvOptions<D>(options.in_channels(), options.out_channels(), options.kernel_size())
      .stride(options.stride())
      .padding(options.padding())
      .dilation(options.dilation())
      .groups(options.groups())
      .bias(options.bias())
      .padding_mode(options.padding_mode());
}

template <size_t D>
BitConvImpl<D>::BitConvImpl(const BitConvOptions<D>& options_) : options(options_) {
  reset();
}

template <size_t D>
void BitConvImpl<D>::reset() {
  const char* name = layer_name<D>();
  const int64_t in = options.in_channels();
  const int64_t out = options.out_channels();
  const int64_t groups = options.groups();
  if (in <= 0 || out <= 0 || groups <= 0) {
    throw BitLabError(absl::StrCat(name,
                                   ": in_channels, out_channels and groups must be positive, got ",
                                   in, ", ", out, " and ", groups));
  }
  if (in % groups != 0 || out % groups != 0) {
    throw BitLabError(absl::StrCat(name, ": groups = ", groups,
                                   " must divide in_channels and out_channels, got in_channels = ",
                                   in, " and out_channels = ", out));
  }
  for (size_t d = 0; d < D; ++d) {
    if ((*options.kernel_size())[d] <= 0 || (*options.stride())[d] <= 0 ||
        (*options.dilation())[d] <= 0) {
      throw BitLabError(
          absl::StrCat(name, ": kernel_size, stride and dilation must be positive, got ",
                       array_string(options.kernel_size()), ", ", array_string(options.stride()),
                       " and ", array_string(options.dilation())));
    }
  }
  if (const auto* explicit_padding = c10::get_if<torch::ExpandingArray<D>>(&options.padding())) {
    for (int64_t p : **explicit_padding) {
      if (p < 0) {
        throw BitLabError(absl::StrCat(name, ": padding must not be negative, got ",
                                       array_string(*explicit_padding)));
      }
    }
  } else if (c10::holds_alternative<torch::enumtype::kSame>(options.padding())) {
    for (int64_t s : *options.stride()) {
      if (s != 1) {
        throw BitLabError(absl::StrCat(name, ": padding kSame needs stride 1, got stride ",
                                       array_string(options.stride())));
      }
    }
  }
  options.quant_config().validate();

  packed_tracker_ = internal::PackedWeightTracker();
  group_weights_.clear();
  direct_weight_ = torch::Tensor();
  kernel_source_data_ = nullptr;
  if (is_deployed()) {  // the copy Cloneable::clone() resets; clone() then fills it
    internal::register_deployed_layout_like(*this, weight, bias, qweight, qweight_scale);
    return;
  }
  if (building_deployed_skeleton()) {
    const int64_t per_group_inputs = in / groups * product(options.kernel_size());
    internal::register_deployed_layout(
        *this, weight, bias, qweight, qweight_scale, {out, (per_group_inputs + 3) / 4},
        internal::deployed_scale_count(options.quant_config(), out), options.bias() ? out : 0);
    torch::nn::Module::train(false);
    return;
  }
  std::vector<int64_t> weight_shape = {out, in / groups};
  for (int64_t k : *options.kernel_size()) weight_shape.push_back(k);
  // Every name is registered whatever the options, so state-dict keys never depend on them.
  weight = this->register_parameter("weight", torch::empty(weight_shape));
  bias = this->register_parameter("bias", options.bias() ? torch::empty({out}) : torch::Tensor(),
                                  /*requires_grad=*/options.bias());
  qweight = this->register_buffer("qweight", torch::empty({0}, torch::kByte));
  qweight_scale = this->register_buffer("qweight_scale", torch::empty({0}));
  reset_parameters();
}

template <size_t D>
void BitConvImpl<D>::reset_parameters() {
  torch::NoGradGuard no_grad;
  if (options.init_method() == InitMethod::kXavierUniform) {
    torch::nn::init::xavier_uniform_(weight);
  } else {
    torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  }
  if (bias.defined()) {
    const int64_t fan_in =
        options.in_channels() / options.groups() * product(options.kernel_size());
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    torch::nn::init::uniform_(bias, -bound, bound);
  }
  packed_tracker_.invalidate();
}

template <size_t D>
void BitConvImpl<D>::pretty_print(std::ostream& stream) const {
  stream << "bitlab::" << layer_name<D>() << "(" << options.in_channels() << ", "
         << options.out_channels() << ", kernel_size=" << array_string(options.kernel_size())
         << ", stride=" << array_string(options.stride());
  if (const auto* explicit_padding = c10::get_if<torch::ExpandingArray<D>>(&options.padding())) {
    stream << ", padding=" << array_string(*explicit_padding);
  } else {
    stream << ", padding="
           << (c10::holds_alternative<torch::enumtype::kSame>(options.padding()) ? "same"
                                                                                 : "valid");
  }
  stream << ", dilation=" << array_string(options.dilation()) << ", groups=" << options.groups()
         << ", bias=" << std::boolalpha << options.bias()
         << ", quant=" << options.quant_config().to_string() << ", deployed=" << is_deployed()
         << ")";
}

template <size_t D>
std::vector<int64_t> BitConvImpl<D>::padding_per_side() const {
  std::vector<int64_t> pads(2 * D, 0);
  for (size_t d = 0; d < D; ++d) {
    int64_t left = 0;
    int64_t right = 0;
    if (const auto* explicit_padding = c10::get_if<torch::ExpandingArray<D>>(&options.padding())) {
      left = right = (**explicit_padding)[d];
    } else if (c10::holds_alternative<torch::enumtype::kSame>(options.padding())) {
      const int64_t total = (*options.dilation())[d] * ((*options.kernel_size())[d] - 1);
      left = total / 2;
      right = total - left;
    }
    const size_t reversed = D - 1 - d;
    pads[2 * reversed] = left;
    pads[2 * reversed + 1] = right;
  }
  return pads;
}

template <size_t D>
torch::Tensor BitConvImpl<D>::pad(const torch::Tensor& input) const {
  const std::vector<int64_t> pads = padding_per_side();
  bool any = false;
  for (int64_t p : pads) any = any || p != 0;
  if (!any) return input;
  if (is_zero_padding_mode(options.padding_mode())) return at::constant_pad_nd(input, pads, 0);
  torch::nn::functional::PadFuncOptions pad_options(pads);
  if (c10::holds_alternative<torch::enumtype::kReflect>(options.padding_mode())) {
    pad_options.mode(torch::kReflect);
  } else if (c10::holds_alternative<torch::enumtype::kReplicate>(options.padding_mode())) {
    pad_options.mode(torch::kReplicate);
  } else {
    pad_options.mode(torch::kCircular);
  }
  return torch::nn::functional::pad(input, pad_options);
}

template <size_t D>
void BitConvImpl<D>::check_input(const torch::Tensor& input) const {
  const char* name = layer_name<D>();
  check_defined(name, "input", input);
  check_dtype(name, "input", input, torch::kFloat);
  const int64_t rank = input.dim();
  if (rank != static_cast<int64_t>(D) + 2 && rank != static_cast<int64_t>(D) + 1) {
    throw ShapeError(absl::StrCat(name, ": input has shape ", shape_string(input),
                                  "; expected rank ", D + 2,
                                  " [batch, in_channels = ", options.in_channels(), ", spatial x ",
                                  D, "] or rank ", D + 1, " without the batch"));
  }
  const int64_t channel_dim = rank - static_cast<int64_t>(D) - 1;
  if (input.size(channel_dim) != options.in_channels()) {
    throw ShapeError(absl::StrCat(name, ": input has shape ", shape_string(input), "; dimension ",
                                  channel_dim, " has ", input.size(channel_dim),
                                  " channels, expected in_channels = ", options.in_channels()));
  }
  const std::vector<int64_t> pads = padding_per_side();
  for (size_t d = 0; d < D; ++d) {
    const size_t reversed = D - 1 - d;
    const int64_t padded =
        input.size(channel_dim + 1 + d) + pads[2 * reversed] + pads[2 * reversed + 1];
    const int64_t span = (*options.dilation())[d] * ((*options.kernel_size())[d] - 1) + 1;
    if (padded < span) {
      throw ShapeError(absl::StrCat(
          name, ": input has shape ", shape_string(input), "; spatial dimension ", d, " is ",
          padded, " after padding, smaller than the dilated kernel (", span, ")"));
    }
  }
}

template <size_t D>
torch::Tensor BitConvImpl<D>::forward(const torch::Tensor& given) {
  // As BitLinear: reduced-precision input (autocast) is widened to the float32 the
  // quantization is defined on.
  const torch::Tensor input = is_reduced_float(given) ? given.to(torch::kFloat) : given;
  const Float32Region float32;
  check_input(input);
  const bool fake_quant = this->is_training() && !is_deployed();
  // Profilers see the layer as one scope named with its kernel (profile_name.h).
  RECORD_USER_SCOPE_WITH_INPUTS(
      bit_layer_profile_name(
          absl::StrCat("BitConv", D, "d"),
          absl::StrCat(options.in_channels(), "->", options.out_channels(), " k",
                       absl::StrJoin(*options.kernel_size(), "x"),
                       options.groups() > 1 ? absl::StrCat(" groups ", options.groups()) : ""),
          options.quant_config(), fake_quant),
      std::vector<c10::IValue>{input});
  const bool unbatched = input.dim() == static_cast<int64_t>(D) + 1;
  const torch::Tensor x = unbatched ? input.unsqueeze(0) : input;
  // A layer that holds deployed weights (deploy(), or a deployed state dict loaded into it)
  // has no float weight to train: it runs the packed path in either mode.
  torch::Tensor y = fake_quant ? forward_fake_quant(x) : forward_packed(x);
  return unbatched ? y.squeeze(0) : y;
}

template <size_t D>
torch::Tensor BitConvImpl<D>::forward_fake_quant(const torch::Tensor& x) {
  const BitQuantConfig& config = options.quant_config();
  const torch::Tensor w_hat =
      ste_fake_quantize_weight(weight.reshape({options.out_channels(), -1}), config)
          .view(weight.sizes());
  torch::Tensor x_hat = x;
  if (config.activation_dtype == ActivationDtype::kInt8) {
    // One row per sample: per token ("per_channel") then means one scale per sample.
    x_hat = ste_fake_quantize_x(x.reshape({x.size(0), -1}), config).view(x.sizes());
  }
  // Zero padding that is the same on both sides is left to the convolution; any other goes
  // through pad(), which matches what the eval path sees.
  const std::vector<int64_t> pads = padding_per_side();
  std::vector<int64_t> conv_padding(D, 0);
  bool symmetric = true;
  for (size_t d = 0; d < D; ++d) {
    symmetric = symmetric && pads[2 * d] == pads[2 * d + 1];
    conv_padding[D - 1 - d] = pads[2 * d];
  }
  torch::Tensor padded = x_hat;
  if (!is_zero_padding_mode(options.padding_mode()) || !symmetric) {
    padded = pad(x_hat);
    std::fill(conv_padding.begin(), conv_padding.end(), 0);
  }
  return at::convolution(padded, w_hat, bias, *options.stride(), conv_padding, *options.dilation(),
                         /*transposed=*/false, std::vector<int64_t>(D, 0), options.groups());
}

template <size_t D>
torch::Tensor BitConvImpl<D>::forward_packed(const torch::Tensor& x) {
  refresh_packed_weights();
  const BitQuantConfig& config = options.quant_config();
  const bool int8 = config.activation_dtype == ActivationDtype::kInt8;
  const bool zero_mode = is_zero_padding_mode(options.padding_mode());
  const int64_t batch = x.size(0);
  const int64_t out = options.out_channels();
  const int64_t groups = options.groups();
  std::vector<int64_t> to_channels_last = {0};
  std::vector<int64_t> to_channels_first = {0, static_cast<int64_t>(D) + 1};
  for (size_t d = 0; d < D; ++d) {
    to_channels_last.push_back(2 + d);
    to_channels_first.push_back(1 + d);
  }
  to_channels_last.push_back(1);

  // Work channels last ([B, *spatial, C]; a free view of a channels-last input). Quantize
  // once, before the patches repeat every value up to prod(kernel) times: a sample's scale
  // does not depend on the order of its values. Zero padding is left to the patch gather (0
  // quantizes to 0); the other modes copy existing values, so padding the float input first
  // leaves the absmax, and so the scales, unchanged.
  const torch::Tensor source = (zero_mode ? x : pad(x)).permute(to_channels_last).contiguous();
  torch::Tensor values = source;
  torch::Tensor x_scale;
  if (int8) {
    values = thread_workspace(kQuantizedInput, source.sizes(), at::kChar);
    const bool per_token = config.activation_granularity == Granularity::kPerChannel;
    x_scale = at::empty({per_token ? batch : 1}, at::kFloat);
    if (batch > 0) {
      bitlinear::quantize_activations(KernelRegistry::get_kernel_for_config(config),
                                      source.data_ptr<float>(), batch, source.numel() / batch,
                                      config, values.data_ptr<int8_t>(), x_scale.data_ptr<float>(),
                                      /*row_sums=*/nullptr);
    }
  }

  std::vector<int64_t> channel_shape(D + 2, 1);  // [1, out, 1, ...] for broadcasting
  channel_shape[1] = out;
  if (direct_weight_.defined()) {
    // Direct path: the integer values (or float activations) against the ternary weight.
    const torch::Tensor channels_first = values.permute(to_channels_first);
    torch::Tensor y =
        at::convolution((zero_mode ? pad(channels_first) : channels_first).to(at::kFloat),
                        direct_weight_, {}, *options.stride(), std::vector<int64_t>(D, 0),
                        *options.dilation(), false, std::vector<int64_t>(D, 0), groups);
    // ((acc * s) * g) + b, in the contract's order, one operation at a time.
    if (int8) {
      std::vector<int64_t> sample_shape(D + 2, 1);
      sample_shape[0] = x_scale.size(0) == 1 ? 1 : batch;
      y.mul_(x_scale.view(sample_shape));
    }
    y.mul_(qweight_scale.size(0) == 1 ? qweight_scale : qweight_scale.view(channel_shape));
    if (bias.defined()) y.add_(bias.view(channel_shape));
    return y;
  }

  // im2col into rows of one patch each, then one matrix product per group.
  internal::PatchGeometry geometry;
  geometry.batch = batch;
  geometry.channels = options.in_channels();
  const std::vector<int64_t> pads = padding_per_side();
  std::vector<int64_t> y_shape = {batch};
  for (size_t d = 0; d < D; ++d) {
    const size_t g = 3 - D + d;  // unused leading dimensions keep size 1
    const int64_t before = zero_mode ? pads[2 * (D - 1 - d)] : 0;
    const int64_t after = zero_mode ? pads[2 * (D - 1 - d) + 1] : 0;
    geometry.in[g] = source.size(1 + d);
    geometry.kernel[g] = (*options.kernel_size())[d];
    geometry.stride[g] = (*options.stride())[d];
    geometry.dilation[g] = (*options.dilation())[d];
    geometry.pad_before[g] = before;
    geometry.out[g] =
        (geometry.in[g] + before + after - geometry.dilation[g] * (geometry.kernel[g] - 1) - 1) /
            geometry.stride[g] +
        1;
    y_shape.push_back(geometry.out[g]);
  }
  y_shape.push_back(out);
  const int64_t rows = batch * geometry.positions();
  torch::Tensor row_scale;
  if (int8) {
    row_scale = x_scale.size(0) == 1 ? x_scale : x_scale.repeat_interleave(geometry.positions());
  }
  const int64_t channels_per_group = options.in_channels() / groups;
  const int64_t out_per_group = out / groups;
  const int64_t row_length = geometry.kernel_positions() * channels_per_group;
  // The patch matrix goes through the product in chunks of about 512 KB, which stay in L2
  // from the gather to the product's last column block; gathered whole, it would be written
  // to memory and read back once per column block (57 MB at batch 32 of ResNet-18's first
  // stage).
  constexpr int64_t kChunkBytes = int64_t{1} << 19;
  const int64_t chunk_rows = std::max<int64_t>(
      8, kChunkBytes / std::max<int64_t>(1, row_length * values.element_size()) / 8 * 8);
  const int64_t chunks = (rows + chunk_rows - 1) / chunk_rows;
  std::vector<torch::Tensor> group_outputs;
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t first_channel = g * channels_per_group;
    std::vector<int32_t> pixel_sums;
    if (int8 && geometry.kernel_positions() > 1) {
      pixel_sums = internal::pixel_channel_sums(values.data_ptr<int8_t>(), geometry, first_channel,
                                                channels_per_group);
    }
    const torch::Tensor group_bias =
        bias.defined() ? bias.narrow(0, g * out_per_group, out_per_group) : torch::Tensor();
    torch::Tensor group_y = at::empty({rows, out_per_group}, at::kFloat);
    // Gathers chunk c's patches into this thread's buffer and multiplies them.
    auto run_chunk = [&](int64_t c) {
      const int64_t row0 = c * chunk_rows;
      const int64_t n_rows = std::min(chunk_rows, rows - row0);
      const torch::Tensor chunk =
          thread_workspace(kPatches, {n_rows, row_length}, values.scalar_type());
      const torch::Tensor chunk_y = group_y.narrow(0, row0, n_rows);
      if (int8) {
        const torch::Tensor row_sums = at::empty({n_rows}, at::kInt);
        internal::gather_patches(values.data_ptr<int8_t>(), geometry, first_channel,
                                 channels_per_group, row0, row0 + n_rows, chunk.data_ptr<int8_t>(),
                                 pixel_sums.empty() ? nullptr : pixel_sums.data(),
                                 row_sums.data_ptr<int32_t>());
        bitlinear::forward_packed_int8(
            chunk, row_scale.size(0) == 1 ? row_scale : row_scale.narrow(0, row0, n_rows),
            group_weights_[g], group_bias, row_sums, chunk_y);
      } else {
        internal::gather_patches(values.data_ptr<float>(), geometry, first_channel,
                                 channels_per_group, row0, row0 + n_rows, chunk.data_ptr<float>(),
                                 /*pixel_sums=*/nullptr, /*row_sums=*/nullptr);
        chunk_y.copy_(bitlinear::forward_packed(chunk, group_weights_[g], group_bias, config));
      }
    };
    // With chunks to spare, each thread takes whole chunks (its patches stay in its own L2,
    // and threads meet once per layer); with few, the chunks run one after another and the
    // gather and the product split their work among the threads inside.
    if (chunks >= 4 * at::get_num_threads()) {
      at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) run_chunk(c);
      });
    } else {
      for (int64_t c = 0; c < chunks; ++c) run_chunk(c);
    }
    group_outputs.push_back(group_y);
  }
  const torch::Tensor y = groups == 1 ? group_outputs[0] : at::cat(group_outputs, 1);
  // The product is channels last already: a channels-last input gets it as it is (what
  // torch's convolutions do too), any other input a contiguous copy.
  const torch::Tensor result = y.view(y_shape).permute(to_channels_first);
  const bool channels_last_input =
      D >= 2 && !x.is_contiguous() &&
      x.is_contiguous(D == 2 ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::ChannelsLast3d);
  return channels_last_input ? result : result.contiguous();
}

template <size_t D>
void BitConvImpl<D>::refresh_packed_weights() {
  const BitQuantConfig& config = options.quant_config();
  const int64_t out = options.out_channels();
  const int64_t groups = options.groups();
  const int64_t per_group_inputs = options.in_channels() / groups * product(options.kernel_size());
  if (!is_deployed()) {
    // As BitLinear: stale after training, an in-place change in eval mode, or a new storage.
    if (packed_tracker_.stale(weight, qweight, config)) {
      bitlinear::PreparedWeights prepared =
          bitlinear::prepare_weights(weight.reshape({out, -1}), config);
      torch::NoGradGuard no_grad;
      qweight.set_data(prepared.qweight);
      qweight_scale.set_data(prepared.qweight_scale);
      packed_tracker_.mark_packed(weight, config);
      kernel_source_data_ = nullptr;
    }
  }
  const BitKernel& kernel = KernelRegistry::get_kernel_for_config(config);
  const int64_t buffers_version = qweight._version() + qweight_scale._version();
  const bool kernel_changed = !group_weights_.empty() && group_weights_[0].kernel != &kernel;
  if (!kernel_changed && kernel_source_data_ == qweight.data_ptr() &&
      kernel_source_version_ == buffers_version) {
    return;
  }
  const int64_t out_per_group = out / groups;
  const bool exact_in_float = config.activation_dtype == ActivationDtype::kFloat32 ||
                              per_group_inputs * 127 < kExactFloatIntegers;
  group_weights_.clear();
  direct_weight_ = torch::Tensor();
  if (out_per_group < kMinKernelColumns && exact_in_float) {
    std::vector<int64_t> weight_shape = {out, options.in_channels() / groups};
    for (int64_t k : *options.kernel_size()) weight_shape.push_back(k);
    direct_weight_ = unpack_t2(qweight, per_group_inputs).to(torch::kFloat).view(weight_shape);
  } else {
    // Reorder each row from torch's [channels, kernel...] to the patches' [kernel...,
    // channels] (conv_patches.h).
    const int64_t channels_per_group = options.in_channels() / groups;
    const torch::Tensor reordered = pack_t2(unpack_t2(qweight, per_group_inputs)
                                                .view({out, channels_per_group, -1})
                                                .permute({0, 2, 1})
                                                .reshape({out, per_group_inputs}));
    const bool per_channel = qweight_scale.size(0) > 1;
    for (int64_t g = 0; g < groups; ++g) {
      bitlinear::PreparedWeights prepared{
          per_channel ? qweight_scale.narrow(0, g * out_per_group, out_per_group) : qweight_scale,
          reordered.narrow(0, g * out_per_group, out_per_group), per_group_inputs};
      group_weights_.push_back(bitlinear::pack_for_kernel(prepared, kernel));
    }
  }
  kernel_source_data_ = qweight.data_ptr();
  kernel_source_version_ = buffers_version;
}

template <size_t D>
void BitConvImpl<D>::train(bool on) {
  if (on && is_deployed()) {
    throw BitLabError(
        absl::StrCat(layer_name<D>(),
                     ": train() after deploy(): the float weight was freed when the "
                     "layer was deployed; train a copy made before deploy() instead"));
  }
  // As BitLinear: optimizers update through .data(), which leaves the version counter alone.
  if (!on && this->is_training()) packed_tracker_.invalidate();
  torch::nn::Module::train(on);
}

template <size_t D>
void BitConvImpl<D>::deploy() {
  if (is_deployed()) {  // completes the layout of a layer given deployed weights by hand
    internal::move_bias_to_buffers(*this, this->parameters_, bias);
    return;
  }
  // Always repack: optimizer steps since the last eval forward leave the version counter alone.
  packed_tracker_.invalidate();
  torch::nn::Module::train(false);
  refresh_packed_weights();
  torch::NoGradGuard no_grad;
  weight.set_data(torch::empty({0}));
  weight.set_requires_grad(false);
  internal::move_bias_to_buffers(*this, this->parameters_, bias);
}

template <size_t D>
void BitConvImpl<D>::load(torch::serialize::InputArchive& archive) {
  torch::nn::Module::load(archive);
  if (is_deployed()) internal::move_bias_to_buffers(*this, this->parameters_, bias);
}

template <size_t D>
int64_t BitConvImpl<D>::float_bytes() const {
  const int64_t per_group_inputs =
      options.in_channels() / options.groups() * product(options.kernel_size());
  const int64_t bias_values = options.bias() ? options.out_channels() : 0;
  return 4 * (options.out_channels() * per_group_inputs + bias_values);
}

template <size_t D>
int64_t BitConvImpl<D>::deployed_bytes() const {
  const int64_t n = options.out_channels();
  const int64_t per_group_inputs =
      options.in_channels() / options.groups() * product(options.kernel_size());
  const int64_t scales = internal::deployed_scale_count(options.quant_config(), n);
  const int64_t bias_values = options.bias() ? n : 0;
  return n * ((per_group_inputs + 3) / 4) + 4 * (scales + bias_values);
}

template <size_t D>
std::shared_ptr<BitConvImpl<D>> BitConvImpl<D>::from_torch(const TorchConvImpl<D>& conv,
                                                           const BitQuantConfig& config) {
  auto layer = std::make_shared<BitConvImpl<D>>(
      BitConvOptions<D>::from_torch(conv.options).quant_config(config));
  if (layer->is_deployed()) return layer;  // a skeleton (deployed_skeleton.h): nothing to copy
  torch::NoGradGuard no_grad;
  layer->weight.copy_(conv.weight);
  if (conv.options.bias()) layer->bias.copy_(conv.bias);
  return layer;
}

template struct BitConvOptions<1>;
template struct BitConvOptions<2>;
template struct BitConvOptions<3>;
template class BitConvImpl<1>;
template class BitConvImpl<2>;
template class BitConvImpl<3>;

}  // namespace bitlab
