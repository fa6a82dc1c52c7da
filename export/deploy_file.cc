#include "export/deploy_file.h"

#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include <ATen/Functions.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/io/atomic_file.h"
#include "bitcore/io/checksum64.h"
#include "bitcore/io/sha256.h"
#include "bitlayers/deployed_skeleton.h"
#include "bitmodels/auto_bit_model.h"
#include "bitmodels/model_weights.h"
#include "export/deploy_header.pb.h"

namespace bitlab {
namespace {

constexpr char kMagic[8] = {'B', 'I', 'T', 'L', 'A', 'B', '\r', '\n'};
constexpr uint64_t kPreambleBytes = 16;  // magic + header size
constexpr uint64_t kAlignment = 64;

uint64_t round_up(uint64_t value) { return (value + kAlignment - 1) / kAlignment * kAlignment; }

// The dtypes a model's state holds, by the names the header stores.
const std::vector<std::pair<at::ScalarType, const char*>>& dtype_names() {
  static const std::vector<std::pair<at::ScalarType, const char*>> names = {
      {at::kFloat, "float32"}, {at::kDouble, "float64"}, {at::kByte, "uint8"}, {at::kChar, "int8"},
      {at::kInt, "int32"},     {at::kLong, "int64"},     {at::kBool, "bool"}};
  return names;
}

const char* dtype_name(at::ScalarType type) {
  for (const auto& [t, name] : dtype_names()) {
    if (t == type) return name;
  }
  return nullptr;
}

// A read-only view of a whole file as a private, copy-on-write mapping: tensors can point into
// it, and a stray write changes this process's pages, never the file.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw BitLabError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
    struct stat info;
    if (::fstat(fd, &info) != 0) {
      const int error = errno;
      ::close(fd);
      throw BitLabError(absl::StrCat(path, ": cannot stat: ", std::strerror(error)));
    }
    size_ = static_cast<uint64_t>(info.st_size);
    if (size_ < kPreambleBytes) {
      ::close(fd);
      throw BitLabError(absl::StrCat(path, ": not a .bitlab file: ", size_,
                                     " bytes, shorter than its 16-byte preamble"));
    }
    void* data = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    const int error = errno;
    ::close(fd);
    if (data == MAP_FAILED) {
      throw BitLabError(absl::StrCat(path, ": cannot map: ", std::strerror(error)));
    }
    data_ = static_cast<uint8_t*>(data);
  }
  ~MappedFile() { ::munmap(data_, size_); }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// A mapped file whose preamble, header and every tensor record's bounds were checked.
struct CheckedFile {
  std::shared_ptr<MappedFile> file;
  deploy::DeployHeader header;
};

std::string record_field(const std::string& path, const deploy::TensorRecord& record,
                         const char* field) {
  return absl::StrCat(path, ": tensor '", record.name(), "' ", field);
}

// Everything that can be checked without the model: preamble, header, and that every record
// describes bytes inside the file, after the header, aligned, of a known dtype, whose shape
// accounts for exactly its size.
CheckedFile open_checked(const std::string& path) {
  CheckedFile checked;
  checked.file = std::make_shared<MappedFile>(path);
  const MappedFile& file = *checked.file;
  if (std::memcmp(file.data(), kMagic, sizeof(kMagic)) != 0) {
    throw BitLabError(absl::StrCat(path,
                                   ": not a .bitlab file (its first 8 bytes are not the "
                                   "magic \"BITLAB\\r\\n\")"));
  }
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, file.data() + sizeof(kMagic), sizeof(header_bytes));
  // Before parsing: a header may not claim more bytes than the file holds.
  if (header_bytes > file.size() - kPreambleBytes) {
    throw BitLabError(absl::StrCat(path, ": header size ", header_bytes, " bytes exceeds the ",
                                   file.size() - kPreambleBytes,
                                   " bytes the file holds after its preamble"));
  }
  if (header_bytes > static_cast<uint64_t>(std::numeric_limits<int>::max()) ||
      !checked.header.ParseFromArray(file.data() + kPreambleBytes,
                                     static_cast<int>(header_bytes))) {
    throw BitLabError(absl::StrCat(path, ": header (", header_bytes,
                                   " bytes) is not a valid DeployHeader protobuf"));
  }
  const deploy::DeployHeader& header = checked.header;
  if (header.format_version() != kDeployFormatVersion) {
    throw BitLabError(absl::StrCat(path, ": format_version ", header.format_version(),
                                   " is not supported (this build reads ", kDeployFormatVersion,
                                   ")"));
  }
  if (header.file_size() != file.size()) {
    throw BitLabError(absl::StrCat(path, ": file_size in the header is ", header.file_size(),
                                   " bytes but the file has ", file.size(),
                                   " (truncated or appended to)"));
  }
  const uint64_t data_start = kPreambleBytes + header_bytes;
  for (const deploy::TensorRecord& record : header.tensors()) {
    const char* dtype = nullptr;
    int64_t element_bytes = 0;
    for (const auto& [type, name] : dtype_names()) {
      if (record.dtype() == name) {
        dtype = name;
        element_bytes = static_cast<int64_t>(c10::elementSize(type));
      }
    }
    if (dtype == nullptr) {
      throw BitLabError(record_field(
          path, record, absl::StrCat("has unknown dtype '", record.dtype(), "'").c_str()));
    }
    // The shape's byte count, refusing negative dimensions and overflow.
    uint64_t bytes = static_cast<uint64_t>(element_bytes);
    for (const int64_t dim : record.shape()) {
      if (dim < 0 ||
          (dim > 0 && bytes > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(dim))) {
        throw BitLabError(record_field(path, record, "has an invalid shape"));
      }
      bytes *= static_cast<uint64_t>(dim);
    }
    if (bytes != record.size()) {
      throw BitLabError(absl::StrCat(record_field(path, record, "has size "), record.size(),
                                     " bytes but its shape [", absl::StrJoin(record.shape(), ", "),
                                     "] of ", dtype, " needs ", bytes));
    }
    if (record.offset() % kAlignment != 0 || record.offset() < data_start ||
        record.offset() > file.size() || record.size() > file.size() - record.offset()) {
      throw BitLabError(absl::StrCat(record_field(path, record, "at offset "), record.offset(),
                                     " with ", record.size(), " bytes does not lie within the ",
                                     file.size(), "-byte file's data (from byte ", data_start,
                                     ", 64-byte aligned)"));
    }
  }
  return checked;
}

}  // namespace

void save_deployed(const BitModel& model, const std::string& path) {
  if (!is_model_deployed(model)) {
    throw BitLabError(absl::StrCat("save_deployed(", path,
                                   "): the model is not deployed; call "
                                   "bitlab::quantize_for_deployment(model) first"));
  }
  deploy::DeployHeader header;
  header.set_format_version(kDeployFormatVersion);
  header.set_config_json(model.config.to_json().dump());
  header.set_quant_config(model.config.quant_config.to_string());
  std::vector<at::Tensor> contiguous;
  for (const auto& [name, tensor] : model_state_tensors(model)) {
    const char* dtype = dtype_name(tensor.scalar_type());
    if (dtype == nullptr) {
      throw BitLabError(absl::StrCat("save_deployed(", path, "): tensor '", name, "' has dtype ",
                                     c10::toString(tensor.scalar_type()),
                                     ", which the format does not store"));
    }
    contiguous.push_back(tensor.detach().to(at::kCPU).contiguous());
    const at::Tensor& t = contiguous.back();
    deploy::TensorRecord* record = header.add_tensors();
    record->set_name(name);
    record->set_dtype(dtype);
    for (const int64_t dim : t.sizes()) record->add_shape(dim);
    record->set_size(static_cast<uint64_t>(t.nbytes()));
    record->set_offset(1);  // placeholder: proto3 leaves zeros out, a nonzero fixed64 is 8 bytes
    record->set_checksum64(checksum64(t.data_ptr(), t.nbytes()));
    record->set_sha256(sha256_hex(t.data_ptr(), t.nbytes()));
  }
  header.set_file_size(1);  // placeholder, as the offsets
  // offset and file_size are fixed-width, so filling them in keeps the header's size.
  const uint64_t header_bytes = header.ByteSizeLong();
  uint64_t offset = round_up(kPreambleBytes + header_bytes);
  for (deploy::TensorRecord& record : *header.mutable_tensors()) {
    record.set_offset(offset);
    offset = round_up(offset + record.size());
  }
  header.set_file_size(offset);
  const std::string serialized = header.SerializeAsString();
  if (serialized.size() != header_bytes) {
    throw BitLabError(absl::StrCat("save_deployed(", path,
                                   "): header size changed while "
                                   "writing it (a bug)"));
  }

  static const uint8_t kZeros[kAlignment] = {};
  std::vector<ByteSpan> pieces = {{kMagic, sizeof(kMagic)},
                                  {&header_bytes, sizeof(header_bytes)},
                                  {serialized.data(), serialized.size()}};
  uint64_t written = kPreambleBytes + header_bytes;
  for (int i = 0; i < header.tensors_size(); ++i) {
    const deploy::TensorRecord& record = header.tensors(i);
    pieces.push_back({kZeros, static_cast<size_t>(record.offset() - written)});
    pieces.push_back({contiguous[i].data_ptr(), static_cast<size_t>(record.size())});
    written = record.offset() + record.size();
  }
  pieces.push_back({kZeros, static_cast<size_t>(header.file_size() - written)});
  write_file_atomically(path, pieces);
}

std::shared_ptr<BitModel> load_deployed(const std::string& path) {
  const CheckedFile checked = open_checked(path);
  const deploy::DeployHeader& header = checked.header;
  nlohmann::json config_json;
  try {
    config_json = nlohmann::json::parse(header.config_json());
  } catch (const nlohmann::json::exception& e) {
    throw BitLabError(absl::StrCat(path, ": config_json is not valid JSON: ", e.what()));
  }
  std::shared_ptr<BitModel> model;
  try {
    // Built as a skeleton: no float weights initialized, converted or quantized, since every
    // tensor is pointed at the file below (checked first to have its record there).
    DeployedSkeletonScope skeleton;
    model = AutoBitModel::from_config(AutoBitConfig::from_json(config_json, "config_json"));
    if (!is_model_deployed(*model)) {
      throw BitLabError(absl::StrCat("config_json (precision '", model->config.precision,
                                     "') builds a model without Bit layers"));
    }
  } catch (const BitLabError& e) {
    throw BitLabError(absl::StrCat(path, ": ", e.what()));
  }
  model->eval();

  std::map<std::string, const deploy::TensorRecord*> records;
  for (const deploy::TensorRecord& record : header.tensors()) {
    if (!records.emplace(record.name(), &record).second) {
      throw BitLabError(absl::StrCat(path, ": tensor '", record.name(), "' is listed twice"));
    }
  }
  const std::vector<std::pair<std::string, at::Tensor>> tensors = model_state_tensors(*model);
  for (const auto& [name, tensor] : tensors) {
    const auto it = records.find(name);
    if (it == records.end()) {
      throw BitLabError(absl::StrCat(path, ": missing tensor '", name, "' (the model expects ",
                                     dtype_name(tensor.scalar_type()), " [",
                                     absl::StrJoin(tensor.sizes(), ", "), "])"));
    }
    const deploy::TensorRecord& record = *it->second;
    const std::vector<int64_t> shape(record.shape().begin(), record.shape().end());
    if (record.dtype() != dtype_name(tensor.scalar_type()) || tensor.sizes() != shape) {
      throw BitLabError(absl::StrCat(path, ": tensor '", name, "' is ", record.dtype(), " [",
                                     absl::StrJoin(shape, ", "), "] but the model expects ",
                                     dtype_name(tensor.scalar_type()), " [",
                                     absl::StrJoin(tensor.sizes(), ", "), "]"));
    }
    const uint8_t* bytes = checked.file->data() + record.offset();
    if (checksum64(bytes, record.size()) != record.checksum64()) {
      throw BitLabError(absl::StrCat(path, ": tensor '", name,
                                     "' is corrupt (its bytes do not match checksum64)"));
    }
  }
  // Every model tensor has its record (above) and names are unique, so more records means
  // some name the model does not have.
  if (records.size() != tensors.size()) {
    std::set<std::string> expected;
    for (const auto& item : tensors) expected.insert(item.first);
    for (const auto& [name, record] : records) {
      if (expected.count(name) == 0) {
        throw BitLabError(absl::StrCat(path, ": unexpected tensor '", name,
                                       "' (not in the model its config builds)"));
      }
    }
  }

  // Everything checked: point the model's tensors into the mapping, which each keeps alive.
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : tensors) {
    const deploy::TensorRecord& record = *records.at(name);
    if (record.size() == 0) continue;
    const std::shared_ptr<MappedFile> file = checked.file;
    at::Tensor mapped = at::from_blob(
        file->data() + record.offset(), tensor.sizes(), [file](void*) {},
        tensor.options().device(at::kCPU));
    at::Tensor target = tensor;
    target.set_data(mapped);
  }
  return model;
}

void verify_deployed_file(const std::string& path) {
  const CheckedFile checked = open_checked(path);
  for (const deploy::TensorRecord& record : checked.header.tensors()) {
    if (sha256_hex(checked.file->data() + record.offset(), record.size()) != record.sha256()) {
      throw BitLabError(
          absl::StrCat(path, ": tensor '", record.name(), "' does not match its SHA-256"));
    }
  }
}

}  // namespace bitlab
