#include "trainer/checkpoint/checkpoint_manager.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <typeinfo>
#include <utility>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>
#include <c10/util/Type.h>
#include <fcntl.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "bitcore/io/atomic_file.h"
#include "bitcore/io/safetensors.h"
#include "bitcore/io/sha256.h"
#include "bitmodels/model_weights.h"
#include "trainer/checkpoint/checkpoint.pb.h"

namespace bitlab {
namespace trainer {
namespace {

namespace fs = std::filesystem;

constexpr char kModelFile[] = "model.safetensors";
constexpr char kOptimizerFile[] = "optimizer.pt";
constexpr char kManifestFile[] = "manifest.pb";
constexpr char kStepPrefix[] = "step-";
// Unfinished saves and deletions; never read, removed after the next successful save.
constexpr char kTmpPrefix[] = ".tmp-";

// What is wrong with one of a checkpoint's files; in_checkpoint() adds the directory.
[[noreturn]] void fail(const std::string& file, const std::string& reason) {
  throw BitLabError(absl::StrCat(file, ": ", reason));
}

// c10::Error's what() carries a C++ backtrace, which buries the reason.
std::string reason_of(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    return c10_error->what_without_backtrace();
  }
  return e.what();
}

// Runs `f`, turning any failure (ours, std::filesystem's, libtorch's) into a BitLabError that
// names the checkpoint directory once, at the API boundary.
template <typename F>
auto in_checkpoint(const std::string& dir, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    throw BitLabError(absl::StrCat("checkpoint ", dir, ": ", reason_of(e)));
  }
}

std::string step_dir_name(int64_t step) { return absl::StrFormat("%s%08d", kStepPrefix, step); }

// The step of a "step-NNNNNNNN" name (8 digits or more), or nullopt for any other name.
c10::optional<int64_t> parse_step_dir(const std::string& name) {
  if (!absl::StartsWith(name, kStepPrefix)) return c10::nullopt;
  const std::string digits = name.substr(std::strlen(kStepPrefix));
  int64_t step = 0;
  if (digits.size() < 8 || !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(digits, &step)) {
    return c10::nullopt;
  }
  return step;
}

// The checkpoint directories' names under `root`, newest step first.
std::vector<std::string> list_checkpoints(const std::string& root) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root, error)) {
    const std::string name = entry.path().filename().string();
    if (const auto step = parse_step_dir(name)) found.emplace_back(*step, name);
  }
  std::sort(found.rbegin(), found.rend());
  std::vector<std::string> names;
  for (auto& [step, name] : found) names.push_back(std::move(name));
  return names;
}

void fsync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const std::string reason = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw BitLabError(absl::StrCat("cannot sync directory ", dir, ": ", reason));
  }
  ::close(fd);
}

BitLabError rename_error(const std::string& from, const std::string& to) {
  return BitLabError(absl::StrCat("cannot rename ", from, " to ", to, ": ", std::strerror(errno)));
}

void rename_or_throw(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) throw rename_error(from, to);
}

// Renames the finished `tmp` to `final_dir`. rename(2) does not replace a non-empty directory,
// so an existing checkpoint of the same step (a resumed run saving that step again) is swapped
// with the new one in one atomic step; the old one, left at `tmp`, goes with the leftovers.
void install(const std::string& tmp, const std::string& final_dir, const std::string& aside) {
  if (std::rename(tmp.c_str(), final_dir.c_str()) == 0) return;
  if (errno != EEXIST && errno != ENOTEMPTY) throw rename_error(tmp, final_dir);
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) == 0) {
    return;
  }
  if (errno != EINVAL && errno != ENOSYS) {
    throw BitLabError(
        absl::StrCat("cannot exchange ", tmp, " and ", final_dir, ": ", std::strerror(errno)));
  }
  // No RENAME_EXCHANGE on this file system: a crash between these two renames loses the old
  // checkpoint of this step only (it is left as a .tmp- directory); all others stay intact.
  rename_or_throw(final_dir, aside);
  rename_or_throw(tmp, final_dir);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BitLabError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// The manifest's entry for `name` in `dir` as the file is now: size and SHA-256, and for the
// model file each tensor's dtype, shape and SHA-256. Used to write the manifest and to check it.
proto::FileEntry describe_file(const std::string& dir, const std::string& name) {
  const std::string path = absl::StrCat(dir, "/", name);
  proto::FileEntry entry;
  entry.set_name(name);
  entry.set_size(static_cast<int64_t>(fs::file_size(path)));
  entry.set_sha256(sha256_file_hex(path));
  if (name == kModelFile) {
    for (const auto& [tensor_name, stored] : load_safetensors(path).tensors) {
      const at::Tensor tensor = stored.contiguous();
      proto::TensorEntry* t = entry.add_tensors();
      t->set_name(tensor_name);
      t->set_dtype(c10::toString(tensor.scalar_type()));
      for (const int64_t size : tensor.sizes()) t->add_shape(size);
      t->set_sha256(sha256_hex(tensor.data_ptr(), tensor.nbytes()));
    }
  }
  return entry;
}

std::string tensor_description(const proto::TensorEntry& t) {
  return absl::StrCat("'", t.name(), "' ", t.dtype(), " [", absl::StrJoin(t.shape(), ", "),
                      "] sha256 ", t.sha256());
}

// Reads dir/manifest.pb and checks what it says about itself: the version and the step.
proto::CheckpointManifest read_manifest(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kManifestFile);
  if (!fs::exists(path)) fail(kManifestFile, "missing (the save did not finish?)");
  proto::CheckpointManifest manifest;
  if (!manifest.ParseFromString(read_file(path))) {
    fail(kManifestFile, "does not parse as a CheckpointManifest (corrupt or truncated)");
  }
  if (manifest.format_version() != kCheckpointFormatVersion) {
    fail(kManifestFile, absl::StrCat("format version ", manifest.format_version(),
                                     ", this build reads version ", kCheckpointFormatVersion));
  }
  const auto step = parse_step_dir(fs::path(dir).filename().string());
  if (step && *step != manifest.step()) {
    fail(kManifestFile, absl::StrCat("says step ", manifest.step(), " in a directory named ",
                                     fs::path(dir).filename().string()));
  }
  return manifest;
}

// Checks every file the manifest lists against its size and checksums.
void verify_files(const std::string& dir, const proto::CheckpointManifest& manifest) {
  for (const char* required : {kModelFile, kOptimizerFile}) {
    const bool listed =
        std::any_of(manifest.files().begin(), manifest.files().end(),
                    [&](const proto::FileEntry& f) { return f.name() == required; });
    if (!listed) fail(kManifestFile, absl::StrCat("does not list ", required));
  }
  for (const proto::FileEntry& expected : manifest.files()) {
    const std::string& name = expected.name();
    if (name.empty() || absl::StrContains(name, '/')) {
      fail(kManifestFile, absl::StrCat("lists an invalid file name '", name, "'"));
    }
    const std::string path = absl::StrCat(dir, "/", name);
    if (!fs::exists(path)) fail(name, "missing");
    const auto size = static_cast<int64_t>(fs::file_size(path));
    if (size != expected.size()) {
      fail(name, absl::StrCat("is ", size, " bytes, the manifest says ", expected.size(),
                              " (truncated?)"));
    }
    proto::FileEntry actual;
    try {
      actual = describe_file(dir, name);
    } catch (const std::exception& e) {
      fail(name, reason_of(e));
    }
    // Tensor by tensor first, so damage to tensor data is reported with the tensor's name.
    if (actual.tensors_size() != expected.tensors_size()) {
      fail(name, absl::StrCat("holds ", actual.tensors_size(), " tensors, the manifest lists ",
                              expected.tensors_size()));
    }
    for (int i = 0; i < actual.tensors_size(); ++i) {
      const std::string found = tensor_description(actual.tensors(i));
      const std::string listed = tensor_description(expected.tensors(i));
      if (found != listed) {
        fail(name, absl::StrCat("tensor ", found, " differs from the manifest's ", listed));
      }
    }
    if (actual.sha256() != expected.sha256()) {
      fail(name,
           absl::StrCat("sha256 is ", actual.sha256(), ", the manifest says ", expected.sha256()));
    }
  }
}

// The newest checkpoint under `root` that verifies (and is tagged best, if `only_best`).
c10::optional<std::string> newest_verified(const std::string& root, bool only_best,
                                           std::vector<SkippedCheckpoint>* skipped) {
  for (const std::string& name : list_checkpoints(root)) {
    const std::string dir = absl::StrCat(root, "/", name);
    try {
      const bool wanted = in_checkpoint(dir, [&] {
        const proto::CheckpointManifest manifest = read_manifest(dir);
        if (only_best && !manifest.is_best()) return false;
        verify_files(dir, manifest);
        return true;
      });
      if (wanted) return dir;
    } catch (const BitLabError& e) {
      std::cerr << "warning: skipping " << e.what() << "\n";
      if (skipped != nullptr) skipped->push_back({dir, e.what()});
    }
  }
  return c10::nullopt;
}

// The optimizer's dynamic type, e.g. "torch::optim::AdamW": states of different optimizers
// have different entries, and loading one into another fails obscurely or not at all.
std::string optimizer_name(const torch::optim::Optimizer& optimizer) {
  return c10::demangle(typeid(optimizer).name());
}

std::string cpu_rng_state() {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  const at::Tensor state = generator.get_state();  // uint8, contiguous
  return std::string(static_cast<const char*>(state.data_ptr()), state.nbytes());
}

void set_cpu_rng_state(const std::string& bytes) {
  at::Tensor state = at::empty({static_cast<int64_t>(bytes.size())}, at::kByte);
  std::memcpy(state.data_ptr(), bytes.data(), bytes.size());
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

proto::CheckpointManifest manifest_of(const TrainingState& state) {
  proto::CheckpointManifest manifest;
  manifest.set_format_version(kCheckpointFormatVersion);
  manifest.set_step(state.step);
  manifest.set_epoch(state.epoch);
  manifest.set_batch_in_epoch(state.batch_in_epoch);
  manifest.set_scheduler_name(state.scheduler_name);
  manifest.set_scheduler_step(state.scheduler_step);
  manifest.mutable_metrics()->insert(state.metrics.begin(), state.metrics.end());
  if (state.best_metric) manifest.set_best_metric(*state.best_metric);
  manifest.set_training_config_json(state.training_config_json);
  manifest.set_model_config_json(state.model_config_json);
  manifest.mutable_other_rng_states()->insert(state.other_rng_states.begin(),
                                              state.other_rng_states.end());
  return manifest;
}

TrainingState state_of(const proto::CheckpointManifest& manifest) {
  TrainingState state;
  state.step = manifest.step();
  state.epoch = manifest.epoch();
  state.batch_in_epoch = manifest.batch_in_epoch();
  state.scheduler_name = manifest.scheduler_name();
  state.scheduler_step = manifest.scheduler_step();
  state.metrics.insert(manifest.metrics().begin(), manifest.metrics().end());
  if (manifest.has_best_metric()) state.best_metric = manifest.best_metric();
  state.training_config_json = manifest.training_config_json();
  state.model_config_json = manifest.model_config_json();
  state.other_rng_states.insert(manifest.other_rng_states().begin(),
                                manifest.other_rng_states().end());
  return state;
}

}  // namespace

bool operator==(const TrainingState& a, const TrainingState& b) {
  return a.step == b.step && a.epoch == b.epoch && a.batch_in_epoch == b.batch_in_epoch &&
         a.scheduler_name == b.scheduler_name && a.scheduler_step == b.scheduler_step &&
         a.metrics == b.metrics && a.best_metric == b.best_metric &&
         a.training_config_json == b.training_config_json &&
         a.model_config_json == b.model_config_json && a.other_rng_states == b.other_rng_states;
}

CheckpointManager::CheckpointManager(std::string root, int keep_last)
    : root_(std::move(root)), keep_last_(keep_last) {
  if (keep_last_ < 1) {
    throw BitLabError(absl::StrCat("CheckpointManager(", root_, "): keep_last is ", keep_last_,
                                   ", must be at least 1"));
  }
}

std::string CheckpointManager::save(const torch::nn::Module& model,
                                    const torch::optim::Optimizer& optimizer,
                                    const TrainingState& state, bool is_best) {
  if (state.step < 0) {
    throw BitLabError(absl::StrCat("cannot save a checkpoint in ", root_, ": step is ", state.step,
                                   ", must be at least 0"));
  }
  const std::string name = step_dir_name(state.step);
  const std::string final_dir = absl::StrCat(root_, "/", name);
  const std::string tmp = absl::StrCat(root_, "/", kTmpPrefix, name, "-", ::getpid());
  try {
    fs::create_directories(root_);
    fs::remove_all(tmp);  // left by an earlier process with the same pid
    fs::create_directory(tmp);

    save_model_weights(model, absl::StrCat(tmp, "/", kModelFile));
    std::ostringstream optimizer_bytes;
    torch::serialize::OutputArchive archive;
    optimizer.save(archive);
    archive.save_to(optimizer_bytes);
    const std::string optimizer_data = optimizer_bytes.str();
    write_file_atomically(absl::StrCat(tmp, "/", kOptimizerFile),
                          {{optimizer_data.data(), optimizer_data.size()}});

    // The manifest comes last: a directory with a manifest that verifies is complete.
    proto::CheckpointManifest manifest = manifest_of(state);
    manifest.set_optimizer_name(optimizer_name(optimizer));
    manifest.set_torch_cpu_rng_state(cpu_rng_state());
    manifest.set_is_best(is_best);
    for (const char* file : {kModelFile, kOptimizerFile}) {
      *manifest.add_files() = describe_file(tmp, file);
    }
    const std::string manifest_data = manifest.SerializeAsString();
    write_file_atomically(absl::StrCat(tmp, "/", kManifestFile),
                          {{manifest_data.data(), manifest_data.size()}});
    fsync_directory(tmp);

    install(tmp, final_dir,
            absl::StrCat(root_, "/", kTmpPrefix, "replaced-", name, "-", ::getpid()));
    fsync_directory(root_);
  } catch (const std::exception& e) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw BitLabError(absl::StrCat("cannot save checkpoint ", final_dir, ": ", reason_of(e)));
  }
  remove_old_checkpoints(name);
  return final_dir;
}

void CheckpointManager::remove_old_checkpoints(const std::string& just_saved) const {
  const std::vector<std::string> names = list_checkpoints(root_);
  std::string best;
  for (const std::string& name : names) {
    try {
      if (read_manifest(absl::StrCat(root_, "/", name)).is_best()) {
        best = name;
        break;
      }
    } catch (const std::exception&) {
      // A broken manifest tags nothing.
    }
  }
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    if (static_cast<int>(i) < keep_last_ || name == just_saved || name == best) continue;
    // Renamed first, so a crash during the deletion leaves a .tmp- directory, never a
    // half-deleted checkpoint that latest_valid() would have to reject.
    rename_or_throw(absl::StrCat(root_, "/", name),
                    absl::StrCat(root_, "/", kTmpPrefix, "deleted-", name, "-", ::getpid()));
  }
  // Listed first: a directory changed while it is being read may list entries twice or not.
  std::vector<fs::path> leftovers;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root_, error)) {
    if (absl::StartsWith(entry.path().filename().string(), kTmpPrefix)) {
      leftovers.push_back(entry.path());
    }
  }
  for (const fs::path& leftover : leftovers) fs::remove_all(leftover, error);
}

c10::optional<std::string> CheckpointManager::latest_valid(
    std::vector<SkippedCheckpoint>* skipped) const {
  return newest_verified(root_, /*only_best=*/false, skipped);
}

c10::optional<std::string> CheckpointManager::best(std::vector<SkippedCheckpoint>* skipped) const {
  return newest_verified(root_, /*only_best=*/true, skipped);
}

void CheckpointManager::verify(const std::string& checkpoint_dir) {
  in_checkpoint(checkpoint_dir,
                [&] { verify_files(checkpoint_dir, read_manifest(checkpoint_dir)); });
}

TrainingState CheckpointManager::load(const std::string& checkpoint_dir, torch::nn::Module& model,
                                      torch::optim::Optimizer& optimizer) {
  return in_checkpoint(checkpoint_dir, [&] {
    const proto::CheckpointManifest manifest = read_manifest(checkpoint_dir);
    verify_files(checkpoint_dir, manifest);
    if (manifest.optimizer_name() != optimizer_name(optimizer)) {
      fail(kOptimizerFile, absl::StrCat("holds the state of a ", manifest.optimizer_name(),
                                        " but the optimizer is a ", optimizer_name(optimizer)));
    }
    // Its errors name the file.
    load_model_weights(model, absl::StrCat(checkpoint_dir, "/", kModelFile));
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(absl::StrCat(checkpoint_dir, "/", kOptimizerFile));
      optimizer.load(archive);
    } catch (const std::exception& e) {
      fail(kOptimizerFile, reason_of(e));
    }
    try {
      set_cpu_rng_state(manifest.torch_cpu_rng_state());
    } catch (const std::exception& e) {
      fail(kManifestFile, absl::StrCat("torch_cpu_rng_state: ", reason_of(e)));
    }
    return state_of(manifest);
  });
}

}  // namespace trainer
}  // namespace bitlab
