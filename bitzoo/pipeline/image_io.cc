#include "bitzoo/pipeline/image_io.h"

#include <cctype>
#include <cerrno>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include <ATen/ops/empty.h>
#include <png.h>

#include "absl/strings/str_cat.h"
#include "bitcore/errors.h"
#include "bitcore/io/atomic_file.h"
#include "bitcore/tensor_checks.h"

namespace bitlab {
namespace bitzoo {
namespace {

constexpr char kPngSignature[] = "\x89PNG\r\n\x1a\n";
constexpr size_t kPngSignatureSize = 8;
// PNG allows 2^31 - 1 on each side; the cap keeps a forged header from making the decoder
// allocate before the data runs out (PNM needs no cap: its raster is checked against the file
// size before anything is allocated).
constexpr uint64_t kMaxPngPixels = uint64_t{1} << 28;
constexpr size_t kPngErrorSize = 256;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw BitLabError(absl::StrCat("decode_image_file: ", path, ": ", what));
}

std::string read_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) fail(path, absl::StrCat("cannot open: ", std::strerror(errno)));
  std::string bytes;
  char block[1 << 16];
  size_t read = 0;
  while ((read = std::fread(block, 1, sizeof(block), file.get())) > 0) bytes.append(block, read);
  if (std::ferror(file.get())) fail(path, absl::StrCat("cannot read: ", std::strerror(errno)));
  return bytes;
}

// ---- PNG -------------------------------------------------------------------------------------
//
// libpng reports errors by longjmp back to a setjmp, and longjmp skips C++ destructors. So the
// functions that call setjmp and then libpng (read_png_header, read_png_rows, encode_png) hold
// no object with a destructor, keep their results in memory owned by the caller, and return
// false on an error; the caller throws once outside. PngHandle, made and destroyed outside
// them, frees libpng's structs however decoding ends.

// What libpng said, in memory libpng can write to from its callbacks.
struct PngMessages {
  char error[kPngErrorSize] = "";
  // The last warning, which often says why an error followed (a zero width in IHDR warns,
  // then errors with "Invalid IHDR data").
  char warning[kPngErrorSize] = "";
};

// libpng's error callback: keeps the message for the exception, then unwinds to the setjmp.
void on_png_error(png_structp png, png_const_charp message) {
  std::snprintf(static_cast<PngMessages*>(png_get_error_ptr(png))->error, kPngErrorSize, "%s",
                message);
  png_longjmp(png, 1);
}

// Warnings alone (say a bad CRC in an ancillary chunk, which libpng then skips) do not stop
// decoding, so they are only kept, not printed.
void on_png_warning(png_structp png, png_const_charp message) {
  std::snprintf(static_cast<PngMessages*>(png_get_error_ptr(png))->warning, kPngErrorSize, "%s",
                message);
}

class PngHandle {
 public:
  enum Mode { kRead, kWrite };

  explicit PngHandle(Mode mode) : mode_(mode) {
    png = mode == kRead ? png_create_read_struct(PNG_LIBPNG_VER_STRING, &messages_, on_png_error,
                                                 on_png_warning)
                        : png_create_write_struct(PNG_LIBPNG_VER_STRING, &messages_, on_png_error,
                                                  on_png_warning);
    if (png != nullptr) info = png_create_info_struct(png);
    if (info == nullptr) {
      destroy();
      throw BitLabError(
          "libpng: cannot create its structs (out of memory, or png.h does not "
          "match the library's version)");
    }
  }
  ~PngHandle() { destroy(); }
  PngHandle(const PngHandle&) = delete;
  PngHandle& operator=(const PngHandle&) = delete;

  // libpng's error, with its last warning if any.
  std::string error() const {
    if (messages_.warning[0] == '\0') return messages_.error;
    return absl::StrCat(messages_.error, " (", messages_.warning, ")");
  }

  png_structp png = nullptr;
  png_infop info = nullptr;

 private:
  void destroy() {
    if (mode_ == kRead) {
      png_destroy_read_struct(&png, &info, nullptr);
    } else {
      png_destroy_write_struct(&png, &info);
    }
  }

  Mode mode_;
  // libpng holds a pointer to it: the handle must not move.
  PngMessages messages_;
};

struct PngInput {
  const std::string* bytes;
  size_t offset;
};

void read_png_bytes(png_structp png, png_bytep out, size_t count) {
  auto* input = static_cast<PngInput*>(png_get_io_ptr(png));
  if (count > input->bytes->size() - input->offset) png_error(png, "the file is truncated");
  std::memcpy(out, input->bytes->data() + input->offset, count);
  input->offset += count;
}

struct PngLayout {
  png_uint_32 width;
  png_uint_32 height;
  int channels;
  int passes;
};

// Reads the header and asks libpng for 8-bit gray or RGB without alpha, whatever the file has.
bool read_png_header(PngHandle* handle, PngInput* input, PngLayout* layout) {
  png_structp png = handle->png;
  png_infop info = handle->info;
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, input, read_png_bytes);
  png_read_info(png, info);
  const int color_type = png_get_color_type(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) {
    png_set_expand_gray_1_2_4_to_8(png);
  }
  // Rounds (png_set_strip_16 would truncate), as the PNM reader does.
  png_set_scale_16(png);
  png_set_strip_alpha(png);
  layout->passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  layout->width = png_get_image_width(png, info);
  layout->height = png_get_image_height(png, info);
  layout->channels = png_get_channels(png, info);
  return true;
}

bool read_png_rows(PngHandle* handle, const PngLayout& layout, png_bytep pixels) {
  png_structp png = handle->png;
  if (setjmp(png_jmpbuf(png))) return false;
  const size_t row_bytes = size_t{layout.width} * layout.channels;
  // For an interlaced image each pass fills in more pixels of the same rows.
  for (int pass = 0; pass < layout.passes; ++pass) {
    for (png_uint_32 y = 0; y < layout.height; ++y) {
      png_read_row(png, pixels + y * row_bytes, nullptr);
    }
  }
  // Reads up to IEND, checking the rest of the image data and the chunks' CRCs.
  png_read_end(png, nullptr);
  return true;
}

at::Tensor decode_png(const std::string& bytes, const std::string& path) {
  PngHandle handle(PngHandle::kRead);
  PngInput input{&bytes, 0};
  PngLayout layout{};
  if (!read_png_header(&handle, &input, &layout)) {
    fail(path, absl::StrCat("corrupt PNG: ", handle.error()));
  }
  if (layout.channels != 1 && layout.channels != 3) {
    fail(path, absl::StrCat("PNG decodes to ", layout.channels, " channels, expected 1 or 3"));
  }
  if (uint64_t{layout.width} * layout.height > kMaxPngPixels) {
    fail(path, absl::StrCat("PNG of ", layout.width, " x ", layout.height,
                            " pixels exceeds the limit of ", kMaxPngPixels));
  }
  at::Tensor pixels = at::empty({layout.height, layout.width, layout.channels}, at::kByte);
  if (!read_png_rows(&handle, layout, pixels.data_ptr<uint8_t>())) {
    fail(path, absl::StrCat("corrupt PNG: ", handle.error()));
  }
  return pixels;
}

void append_png_bytes(png_structp png, png_bytep data, size_t size) {
  bool out_of_memory = false;
  try {
    static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<char*>(data), size);
  } catch (const std::bad_alloc&) {
    out_of_memory = true;
  }
  // Outside the catch block: longjmp out of a handler would leak the exception.
  if (out_of_memory) png_error(png, "out of memory");
}

void flush_nothing(png_structp) {}

bool encode_png(PngHandle* handle, const png_byte* pixels, png_uint_32 height, png_uint_32 width,
                int channels, std::string* out) {
  png_structp png = handle->png;
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, out, append_png_bytes, flush_nothing);
  png_set_IHDR(png, handle->info, width, height, 8,
               channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, handle->info);
  const size_t row_bytes = size_t{width} * channels;
  for (png_uint_32 y = 0; y < height; ++y) png_write_row(png, pixels + y * row_bytes);
  png_write_end(png, nullptr);
  return true;
}

// ---- PNM (binary PGM and PPM) ----------------------------------------------------------------

// The header's numbers: whitespace-separated decimals, with '#' comments to the end of a line.
class PnmHeaderReader {
 public:
  PnmHeaderReader(const std::string& bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  uint32_t next_number(const char* field) {
    while (position_ < bytes_.size()) {
      const char c = bytes_[position_];
      if (c == '#') {
        while (position_ < bytes_.size() && bytes_[position_] != '\n' &&
               bytes_[position_] != '\r') {
          ++position_;
        }
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++position_;
      } else {
        break;
      }
    }
    if (position_ == bytes_.size() ||
        !std::isdigit(static_cast<unsigned char>(bytes_[position_]))) {
      fail(path_, absl::StrCat("PNM header: expected the ", field, " at byte ", position_));
    }
    uint64_t value = 0;
    while (position_ < bytes_.size() &&
           std::isdigit(static_cast<unsigned char>(bytes_[position_]))) {
      value = value * 10 + (bytes_[position_++] - '0');
      if (value > INT32_MAX) fail(path_, absl::StrCat("PNM header: the ", field, " is too large"));
    }
    return static_cast<uint32_t>(value);
  }

  // The raster starts after exactly one whitespace byte following the maxval.
  size_t raster_offset() const {
    if (position_ == bytes_.size() ||
        !std::isspace(static_cast<unsigned char>(bytes_[position_]))) {
      fail(path_, "PNM header: expected one whitespace byte after the maxval");
    }
    return position_ + 1;
  }

 private:
  const std::string& bytes_;
  const std::string& path_;
  size_t position_ = 2;  // After the magic.
};

at::Tensor decode_pnm(const std::string& bytes, const std::string& path, int64_t channels) {
  PnmHeaderReader header(bytes, path);
  const uint32_t width = header.next_number("width");
  const uint32_t height = header.next_number("height");
  const uint32_t maxval = header.next_number("maxval");
  const size_t offset = header.raster_offset();
  if (width == 0 || height == 0) {
    fail(path, absl::StrCat("the image is ", width, " x ", height, " pixels: a side is zero"));
  }
  if (maxval == 0 || maxval > 65535) {
    fail(path, absl::StrCat("PNM maxval ", maxval, " is outside [1, 65535]"));
  }
  const size_t sample_bytes = maxval < 256 ? 1 : 2;
  const size_t row_bytes = size_t{width} * channels * sample_bytes;
  const size_t available = bytes.size() - offset;
  if (height > available / row_bytes) {
    fail(path, absl::StrCat("truncated PNM: ", height, " rows of ", row_bytes,
                            " bytes need more than the ", available, " bytes after the header"));
  }
  at::Tensor pixels = at::empty({height, width, channels}, at::kByte);
  uint8_t* out = pixels.data_ptr<uint8_t>();
  const auto* in = reinterpret_cast<const uint8_t*>(bytes.data() + offset);
  for (int64_t i = 0; i < pixels.numel(); ++i) {
    // Samples of 2 bytes are big-endian.
    const uint32_t value = sample_bytes == 1 ? in[i] : (uint32_t{in[2 * i]} << 8) | in[2 * i + 1];
    if (value > maxval) {
      fail(path, absl::StrCat("PNM sample ", i, " is ", value, ", above the maxval ", maxval));
    }
    out[i] = static_cast<uint8_t>((value * 255 + maxval / 2) / maxval);
  }
  return pixels;
}

}  // namespace

DecodedImage decode_image_file(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.empty()) fail(path, "the file is empty");
  if (bytes.size() >= kPngSignatureSize &&
      std::memcmp(bytes.data(), kPngSignature, kPngSignatureSize) == 0) {
    return {decode_png(bytes, path), ImageFormat::kPng};
  }
  if (bytes.size() >= 2 && bytes[0] == 'P' && bytes[1] == '5') {
    return {decode_pnm(bytes, path, 1), ImageFormat::kPgm};
  }
  if (bytes.size() >= 2 && bytes[0] == 'P' && bytes[1] == '6') {
    return {decode_pnm(bytes, path, 3), ImageFormat::kPpm};
  }
  fail(path, "unknown image format: expected PNG, binary PGM (P5) or binary PPM (P6)");
}

void check_image_pixels(const char* function, const at::Tensor& pixels) {
  check_dtype(function, "pixels", pixels, at::kByte);
  check_rank(function, "pixels", pixels, 3);
  check_not_empty(function, "pixels", pixels);
  if (pixels.size(2) != 1 && pixels.size(2) != 3) {
    throw ShapeError(absl::StrCat(function, ": pixels has shape ", shape_string(pixels),
                                  ", expected [H, W, C] with C = 1 (gray) or 3 (RGB)"));
  }
}

void write_png(const std::string& path, const at::Tensor& pixels) {
  check_image_pixels("write_png", pixels);
  if (pixels.size(0) > INT32_MAX || pixels.size(1) > INT32_MAX) {
    throw ShapeError(absl::StrCat("write_png: ", path, ": ", shape_string(pixels),
                                  " pixels exceed PNG's 2^31 - 1 per side"));
  }
  const at::Tensor contiguous = pixels.cpu().contiguous();
  std::string encoded;
  {
    PngHandle handle(PngHandle::kWrite);
    if (!encode_png(
            &handle, contiguous.data_ptr<uint8_t>(), static_cast<png_uint_32>(pixels.size(0)),
            static_cast<png_uint_32>(pixels.size(1)), static_cast<int>(pixels.size(2)), &encoded)) {
      throw BitLabError(absl::StrCat("write_png: ", path, ": libpng: ", handle.error()));
    }
  }
  write_file_atomically(path, {{encoded.data(), encoded.size()}});
}

}  // namespace bitzoo
}  // namespace bitlab
