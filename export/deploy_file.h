// The .bitlab deploy file: a deployed model in one file that loads in milliseconds by mapping
// its tensors instead of copying them.
//
// Layout (little-endian):
//   bytes 0-7    magic "BITLAB\r\n" (the CR LF catches text-mode transfers that rewrite it)
//   bytes 8-15   header size H (uint64)
//   bytes 16..   the DeployHeader protobuf (export/deploy_header.proto), H bytes: format
//                version, the model's AutoBitConfig as JSON, and the tensor index (name, dtype,
//                shape, offset, size, checksum64, SHA-256)
//   then         the tensors of the deployed model's state (packed t2 weights, scales, the
//                float32 parameters and buffers of layers kept in float), each at an offset
//                that is a multiple of 64, so the mapped data is aligned for SIMD loads.
//
// The loader treats the file as untrusted: the header size is checked against the file size
// before the header is parsed, every record's dtype, shape, offset and size against the file
// and against the model the config builds, and each tensor's checksum64 before it is used.
// Failures are BitLabErrors that name the file and the field. A loaded model's tensors point
// into a private mapping of the file (copy-on-write), which lives as long as they do; the
// kernels repack weights into their own layouts on the first forward, as after any load.
//
// Example:
//   bitlab::quantize_for_deployment(*model);
//   bitlab::save_deployed(*model, "resnet18.bitlab");
//   std::shared_ptr<bitlab::BitModel> loaded = bitlab::load_deployed("resnet18.bitlab");
#ifndef BITLAB_EXPORT_DEPLOY_FILE_H_
#define BITLAB_EXPORT_DEPLOY_FILE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "bitmodels/bit_model.h"

namespace bitlab {

/// The format_version this build writes and reads.
inline constexpr uint32_t kDeployFormatVersion = 1;

/// Writes a deployed `model` (every Bit layer deployed, e.g. by quantize_for_deployment) to
/// `path` atomically. Throws BitLabError if the model is not deployed.
void save_deployed(const BitModel& model, const std::string& path);

/// Builds the model the file's config describes as a deployed skeleton (no float weights
/// initialized, nothing quantized: bitlayers/deployed_skeleton.h) and points every tensor at
/// the mapped file; the model is in eval mode. Throws BitLabError naming the file and the field on
/// anything malformed or corrupt.
std::shared_ptr<BitModel> load_deployed(const std::string& path);

/// Checks every tensor's SHA-256 against the index (slower than the load's checksums; for
/// audits and tools). Throws BitLabError naming the file and the tensor on a mismatch.
void verify_deployed_file(const std::string& path);

}  // namespace bitlab

#endif  // BITLAB_EXPORT_DEPLOY_FILE_H_
