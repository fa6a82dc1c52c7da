// The .bitlab deploy file: a save/load round trip computes the same outputs, and a damaged or
// forged file (flipped bytes anywhere, every truncation point, forged header sizes, offsets,
// shapes and dtypes) is a clean BitLabError naming the file, never a crash or a silent wrong
// model. Also run under --config=asan.
#include "export/deploy_file.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "bitcore/errors.h"
#include "bitmodels/auto_bit_model.h"
#include "export/deploy_header.pb.h"
#include "export/quantize_for_deployment.h"

namespace bitlab {
namespace {

std::shared_ptr<BitModel> deployed_model(const std::string& type, const std::string& quant) {
  torch::manual_seed(3);
  std::shared_ptr<BitModel> model = AutoBitModel::from_config(
      AutoBitConfig::from_json({{"model_type", type}, {"quant_config", quant}}));
  quantize_for_deployment(*model);
  model->eval();
  return model;
}

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Loading `path` throws a BitLabError that names it (and not some other exception).
void expect_clean_error(const std::string& path, const std::string& what) {
  try {
    load_deployed(path);
    ADD_FAILURE() << what << ": loaded without an error";
  } catch (const BitLabError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos)
        << what << ": the error does not name the file: " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": not a BitLabError: " << e.what();
  }
}

TEST(DeployFileTest, RoundTripComputesTheSame) {
  for (const auto& [type, quant] :
       {std::pair<std::string, std::string>{"lenet5", "ai8pc_wpt"}, {"mlp", "ai8pt_wpc"}}) {
    SCOPED_TRACE(type);
    const std::shared_ptr<BitModel> model = deployed_model(type, quant);
    const std::string path = temp_path(type + ".bitlab");
    save_deployed(*model, path);
    const std::shared_ptr<BitModel> loaded = load_deployed(path);
    verify_deployed_file(path);
    torch::NoGradGuard no_grad;
    const at::Tensor input = model->example_input(4);
    const at::Tensor expected = model->forward(input);
    const at::Tensor actual = loaded->forward(input);
    EXPECT_TRUE(at::equal(actual, expected))
        << "max difference " << (actual - expected).abs().max().item<float>();
  }
}

TEST(DeployFileTest, SavingATrainableModelIsAnError) {
  std::shared_ptr<BitModel> model = AutoBitModel::from_config(
      AutoBitConfig::from_json({{"model_type", "mlp"}, {"quant_config", "ai8pc_wpt"}}));
  EXPECT_THROW(save_deployed(*model, temp_path("trainable.bitlab")), BitLabError);
}

TEST(DeployFileTest, MissingAndTinyFilesAreErrors) {
  expect_clean_error(temp_path("does_not_exist.bitlab"), "missing file");
  const std::string empty = temp_path("empty.bitlab");
  write_bytes(empty, {});
  expect_clean_error(empty, "empty file");
}

class DamagedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::shared_ptr<BitModel> model = deployed_model("mlp", "ai8pc_wpt");
    original_path_ = temp_path("original.bitlab");
    save_deployed(*model, original_path_);
    original_ = read_bytes(original_path_);
    damaged_path_ = temp_path("damaged.bitlab");
  }

  void expect_rejected(const std::vector<char>& bytes, const std::string& what) {
    write_bytes(damaged_path_, bytes);
    expect_clean_error(damaged_path_, what);
  }

  // The header as written, and a file with `header` in its place (tensors moved along).
  deploy::DeployHeader header() const {
    uint64_t size = 0;
    std::memcpy(&size, original_.data() + 8, sizeof(size));
    deploy::DeployHeader parsed;
    EXPECT_TRUE(parsed.ParseFromArray(original_.data() + 16, static_cast<int>(size)));
    return parsed;
  }
  std::vector<char> with_header(const deploy::DeployHeader& forged) const {
    uint64_t size = 0;
    std::memcpy(&size, original_.data() + 8, sizeof(size));
    const std::string serialized = forged.SerializeAsString();
    std::vector<char> bytes(original_.begin(), original_.begin() + 8);
    const uint64_t new_size = serialized.size();
    bytes.insert(bytes.end(), reinterpret_cast<const char*>(&new_size),
                 reinterpret_cast<const char*>(&new_size) + 8);
    bytes.insert(bytes.end(), serialized.begin(), serialized.end());
    // Keep the data where the offsets say (pad or cut the gap after the header).
    bytes.resize(16 + size, 0);
    bytes.insert(bytes.end(), original_.begin() + 16 + size, original_.end());
    return bytes;
  }

  std::string original_path_;
  std::string damaged_path_;
  std::vector<char> original_;
};

TEST_F(DamagedFileTest, FlippedBytesAnywhereAreDetected) {
  // Every byte of the preamble and header, then a spread of positions through the tensors.
  uint64_t header_size = 0;
  std::memcpy(&header_size, original_.data() + 8, sizeof(header_size));
  const deploy::DeployHeader index = header();
  std::vector<size_t> positions;
  for (size_t i = 0; i < 16 + header_size; ++i) positions.push_back(i);
  for (size_t i = 16 + header_size; i < original_.size(); i += 97) positions.push_back(i);
  for (const size_t i : positions) {
    std::vector<char> bytes = original_;
    bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
    write_bytes(damaged_path_, bytes);
    try {
      load_deployed(damaged_path_);
      // A flip in alignment padding or in a field the loader does not read (the SHA-256 hex
      // digests, the informational quant string) leaves a valid file; verification must then
      // catch a digest flip or the bytes were padding.
      bool padding = i >= 16 + header_size;
      for (const auto& record : index.tensors()) {
        if (i >= record.offset() && i < record.offset() + record.size()) padding = false;
      }
      if (!padding && i >= 16 + header_size) ADD_FAILURE() << "flipped tensor byte " << i;
    } catch (const BitLabError& e) {
      EXPECT_NE(std::string(e.what()).find(damaged_path_), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "byte " << i << ": not a BitLabError: " << e.what();
    }
  }
}

TEST_F(DamagedFileTest, EveryTruncationIsRejected) {
  for (size_t length = 0; length < original_.size(); length += (length < 512 ? 1 : 61)) {
    expect_rejected(std::vector<char>(original_.begin(), original_.begin() + length),
                    "truncated to " + std::to_string(length));
  }
  std::vector<char> longer = original_;
  longer.push_back('x');
  expect_rejected(longer, "one byte appended");
}

TEST_F(DamagedFileTest, ForgedHeaderFieldsAreRejected) {
  {
    std::vector<char> bytes = original_;
    const uint64_t huge = uint64_t{1} << 62;
    std::memcpy(bytes.data() + 8, &huge, sizeof(huge));
    expect_rejected(bytes, "header size beyond the file");
  }
  const deploy::DeployHeader good = header();
  // A matrix with bytes (a deployed layer's float weight is empty, and forging it proves less).
  int t = 0;
  while (t < good.tensors_size() &&
         (good.tensors(t).shape_size() < 2 || good.tensors(t).size() == 0)) {
    ++t;
  }
  ASSERT_LT(t, good.tensors_size());
  auto forge = [&](const std::string& what, auto&& change) {
    deploy::DeployHeader forged = good;
    change(forged);
    expect_rejected(with_header(forged), what);
  };
  forge("format version", [](auto& h) { h.set_format_version(99); });
  forge("file size", [](auto& h) { h.set_file_size(h.file_size() * 2); });
  forge("config JSON", [](auto& h) { h.set_config_json("{not json"); });
  forge("model type", [](auto& h) { h.set_config_json(R"({"model_type": "no_such_model"})"); });
  forge("offset past the end",
        [t](auto& h) { h.mutable_tensors(t)->set_offset(uint64_t{1} << 40); });
  forge("offset + size wrapping", [t](auto& h) {
    h.mutable_tensors(t)->set_offset(64);
    h.mutable_tensors(t)->set_size(~uint64_t{0} - 10);
  });
  forge("unaligned offset",
        [t](auto& h) { h.mutable_tensors(t)->set_offset(h.tensors(t).offset() + 1); });
  forge("offset inside the header", [t](auto& h) { h.mutable_tensors(t)->set_offset(0); });
  forge("size larger than the shape",
        [t](auto& h) { h.mutable_tensors(t)->set_size(h.tensors(t).size() + 64); });
  forge("huge shape", [t](auto& h) {
    h.mutable_tensors(t)->clear_shape();
    h.mutable_tensors(t)->add_shape(int64_t{1} << 40);
    h.mutable_tensors(t)->add_shape(int64_t{1} << 40);
  });
  forge("negative dimension", [t](auto& h) { h.mutable_tensors(t)->set_shape(0, -4); });
  forge("other shape, same bytes", [t](auto& h) {
    auto* record = h.mutable_tensors(t);
    int64_t numel = 1;
    for (const int64_t d : record->shape()) numel *= d;
    record->clear_shape();
    record->add_shape(numel);
  });
  forge("unknown dtype", [t](auto& h) { h.mutable_tensors(t)->set_dtype("complex128"); });
  forge("other dtype", [t](auto& h) { h.mutable_tensors(t)->set_dtype("int8"); });
  forge("checksum",
        [t](auto& h) { h.mutable_tensors(t)->set_checksum64(h.tensors(t).checksum64() ^ 1); });
  forge("renamed tensor", [t](auto& h) { h.mutable_tensors(t)->set_name("not.a.tensor"); });
  forge("duplicated tensor", [t](auto& h) { *h.add_tensors() = h.tensors(t); });
  forge("missing tensor", [t](auto& h) { h.mutable_tensors()->DeleteSubrange(t, 1); });
}

}  // namespace
}  // namespace bitlab
