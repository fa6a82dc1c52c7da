#include "bitzoo/pipeline/image_io.h"

#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <png.h>

#include "bitcore/errors.h"
#include "bitcore/io/atomic_file.h"

namespace bitlab {
namespace bitzoo {
namespace {

using ::testing::HasSubstr;

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "/" + name; }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  write_file_atomically(path, {{bytes.data(), bytes.size()}});
}

at::Tensor pixels(const std::vector<int>& values, int64_t height, int64_t width, int64_t channels) {
  return at::tensor(values).to(at::kByte).view({height, width, channels});
}

// PNG's CRC-32 (the zlib one), bit by bit.
uint32_t crc32(const std::string& bytes) {
  uint32_t crc = 0xffffffff;
  for (unsigned char byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320 & (0u - (crc & 1)));
  }
  return ~crc;
}

// A PNG as libpng stores it, for what write_png does not write: 16-bit and sub-byte samples,
// alpha, palettes, interlacing.
struct RawPng {
  RawPng(png_uint_32 width, png_uint_32 height, int color_type, int bit_depth,
         std::vector<uint8_t> rows)
      : width(width), height(height), color_type(color_type), bit_depth(bit_depth), rows(rows) {}

  png_uint_32 width;
  png_uint_32 height;
  int color_type;
  int bit_depth;
  // Packed rows, 16-bit samples big-endian.
  std::vector<uint8_t> rows;
  std::vector<png_color> palette;
  std::vector<png_byte> transparency;
  int interlace = PNG_INTERLACE_NONE;
};

// Holds no object with a destructor: libpng's errors longjmp back here.
bool write_raw_png(FILE* file, const RawPng& raw) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, raw.width, raw.height, raw.bit_depth, raw.color_type, raw.interlace,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!raw.palette.empty()) {
    png_set_PLTE(png, info, raw.palette.data(), static_cast<int>(raw.palette.size()));
  }
  if (!raw.transparency.empty()) {
    png_set_tRNS(png, info, raw.transparency.data(), static_cast<int>(raw.transparency.size()),
                 nullptr);
  }
  png_write_info(png, info);
  const size_t row_bytes = raw.rows.size() / raw.height;
  const int passes = png_set_interlace_handling(png);
  for (int pass = 0; pass < passes; ++pass) {
    for (png_uint_32 y = 0; y < raw.height; ++y) png_write_row(png, &raw.rows[y * row_bytes]);
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

at::Tensor decode_raw_png(const RawPng& raw) {
  const std::string path = temp_path("raw.png");
  FILE* file = std::fopen(path.c_str(), "wb");
  EXPECT_NE(file, nullptr);
  EXPECT_TRUE(write_raw_png(file, raw));
  std::fclose(file);
  const DecodedImage image = decode_image_file(path);
  EXPECT_EQ(image.format, ImageFormat::kPng);
  return image.pixels;
}

void expect_decode_error(const std::string& name, const std::string& bytes,
                         const std::string& message) {
  const std::string path = temp_path(name);
  write_bytes(path, bytes);
  try {
    decode_image_file(path);
    FAIL() << "expected an error containing: " << message;
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
    EXPECT_THAT(e.what(), HasSubstr(message));
  }
}

TEST(ImageIoTest, WritePngRoundTripsGrayAndRgb) {
  at::manual_seed(0);
  for (const at::Tensor& original : {at::randint(0, 256, {5, 7, 1}).to(at::kByte),
                                     at::randint(0, 256, {4, 3, 3}).to(at::kByte)}) {
    const std::string path = temp_path("round_trip.png");
    write_png(path, original);
    const DecodedImage image = decode_image_file(path);
    EXPECT_EQ(image.format, ImageFormat::kPng);
    EXPECT_TRUE(at::equal(image.pixels, original)) << image.pixels << original;
  }
}

TEST(ImageIoTest, WritePngRejectsOtherTensorsAndNamesAnUnwritablePath) {
  EXPECT_THROW(write_png(temp_path("x.png"), at::zeros({2, 2, 4}, at::kByte)), ShapeError);
  EXPECT_THROW(write_png(temp_path("x.png"), at::zeros({2, 2, 3})), ShapeError);
  EXPECT_THROW(write_png(temp_path("x.png"), at::zeros({0, 2, 3}, at::kByte)), ShapeError);
  const std::string path = temp_path("no/such/dir/x.png");
  try {
    write_png(path, at::zeros({2, 2, 1}, at::kByte));
    FAIL();
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
  }
}

TEST(ImageIoTest, ScalesSixteenBitGrayToEightBit) {
  // k * 257 is exactly k on the 8-bit scale.
  const std::vector<int> values = {0, 1, 128, 254, 255, 7};
  RawPng raw(3, 2, PNG_COLOR_TYPE_GRAY, 16, {});
  for (int v : values) {
    raw.rows.push_back(static_cast<uint8_t>((v * 257) >> 8));
    raw.rows.push_back(static_cast<uint8_t>(v * 257));
  }
  EXPECT_TRUE(at::equal(decode_raw_png(raw), pixels(values, 2, 3, 1)));
}

TEST(ImageIoTest, ExpandsOneBitGray) {
  RawPng raw(8, 1, PNG_COLOR_TYPE_GRAY, 1, {0b10110001});
  EXPECT_TRUE(at::equal(decode_raw_png(raw), pixels({255, 0, 255, 255, 0, 0, 0, 255}, 1, 8, 1)));
}

TEST(ImageIoTest, DropsAlpha) {
  RawPng rgba(2, 1, PNG_COLOR_TYPE_RGB_ALPHA, 8, {10, 20, 30, 0, 40, 50, 60, 255});
  EXPECT_TRUE(at::equal(decode_raw_png(rgba), pixels({10, 20, 30, 40, 50, 60}, 1, 2, 3)));
  RawPng gray_alpha(2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, {10, 0, 20, 128});
  EXPECT_TRUE(at::equal(decode_raw_png(gray_alpha), pixels({10, 20}, 1, 2, 1)));
}

TEST(ImageIoTest, ExpandsPaletteWithTransparencyToRgb) {
  RawPng raw(3, 1, PNG_COLOR_TYPE_PALETTE, 8, {2, 0, 1});
  raw.palette = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
  raw.transparency = {0, 255};
  EXPECT_TRUE(at::equal(decode_raw_png(raw), pixels({7, 8, 9, 1, 2, 3, 4, 5, 6}, 1, 3, 3)));
}

TEST(ImageIoTest, ReadsInterlacedPng) {
  at::manual_seed(1);
  const at::Tensor original = at::randint(0, 256, {7, 9, 3}).to(at::kByte);
  const uint8_t* data = original.data_ptr<uint8_t>();
  RawPng raw(9, 7, PNG_COLOR_TYPE_RGB, 8, {data, data + original.numel()});
  raw.interlace = PNG_INTERLACE_ADAM7;
  EXPECT_TRUE(at::equal(decode_raw_png(raw), original));
}

TEST(ImageIoTest, ReadsPgmAndPpmWithCommentsAndMaxvals) {
  const std::string pgm_path = temp_path("gray.pgm");
  write_bytes(pgm_path, std::string("P5\n# made by hand\n3 # width\n1\n255\n") +
                            std::string("\x00\x7f\xff", 3));
  DecodedImage pgm = decode_image_file(pgm_path);
  EXPECT_EQ(pgm.format, ImageFormat::kPgm);
  EXPECT_TRUE(at::equal(pgm.pixels, pixels({0, 127, 255}, 1, 3, 1)));

  // maxval 65535: two bytes per sample, big-endian; k * 257 is k on the 8-bit scale.
  const std::string ppm_path = temp_path("color.ppm");
  write_bytes(ppm_path, std::string("P6 1 2\t#c\n65535\r") +
                            std::string("\x00\x00\x01\x01\xff\xff\x80\x80\x00\x00\x07\x07", 12));
  DecodedImage ppm = decode_image_file(ppm_path);
  EXPECT_EQ(ppm.format, ImageFormat::kPpm);
  EXPECT_TRUE(at::equal(ppm.pixels, pixels({0, 1, 255, 128, 0, 7}, 2, 1, 3)));

  // Other maxvals are rescaled to 0..255, rounding.
  write_bytes(pgm_path, std::string("P5 3 1 15 ") + std::string("\x00\x07\x0f", 3));
  EXPECT_TRUE(at::equal(decode_image_file(pgm_path).pixels, pixels({0, 119, 255}, 1, 3, 1)));
}

TEST(ImageIoTest, CorruptPngsNameTheFile) {
  const std::string path = temp_path("good.png");
  write_png(path, at::full({16, 16, 3}, 100, at::kByte));
  const std::string good = read_bytes(path);

  expect_decode_error("truncated.png", good.substr(0, good.size() / 2), "truncated");
  // Ending just before IEND still fails: the file is checked to its end.
  expect_decode_error("no_iend.png", good.substr(0, good.size() - 12), "truncated");
  const size_t idat = good.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  size_t idat_size = 0;
  for (int i = 0; i < 4; ++i) idat_size = idat_size << 8 | static_cast<uint8_t>(good[idat - 4 + i]);
  std::string bad_crc = good;
  bad_crc[idat + 4 + idat_size] ^= 0x55;
  expect_decode_error("bad_crc.png", bad_crc, "IDAT: CRC error");
  std::string bad_data = good;
  bad_data[idat + 4 + idat_size / 2] ^= 0x55;
  expect_decode_error("bad_data.png", bad_data, "corrupt PNG: IDAT");
  // IHDR's width (big-endian, after the signature, the chunk length and type) set to 0, with
  // the chunk's CRC (over type and data) fixed so that the width is what fails.
  std::string zero_width = good;
  zero_width[19] = 0;
  const uint32_t crc = crc32(zero_width.substr(12, 17));
  for (int i = 0; i < 4; ++i) zero_width[29 + i] = static_cast<char>(crc >> (24 - 8 * i));
  expect_decode_error("zero_width.png", zero_width, "width is zero");
}

TEST(ImageIoTest, BadFilesNameTheFile) {
  expect_decode_error("truncated.pgm", std::string("P5 4 4 255\n") + "0123456789", "truncated");
  expect_decode_error("no_maxval.pgm", "P5 4 4", "expected the maxval");
  expect_decode_error("no_raster.pgm", "P5 4 4 255", "expected one whitespace byte");
  expect_decode_error("no_height.ppm", "P6 4 # c\n x", "expected the height");
  expect_decode_error("zero.pgm", "P5 0 4 255\n", "zero");
  expect_decode_error("maxval.pgm", "P5 1 1 70000\n\x01\x01", "maxval 70000");
  expect_decode_error("sample.pgm", "P5 2 1 10\n\x05\x0b", "above the maxval 10");
  expect_decode_error("ascii.pgm", "P2 1 1 255\n7\n", "unknown image format");
  expect_decode_error("text.png", "hello, world", "unknown image format");
  expect_decode_error("empty.png", "", "empty");
  const std::string missing = temp_path("missing.png");
  try {
    decode_image_file(missing);
    FAIL();
  } catch (const BitLabError& e) {
    EXPECT_THAT(e.what(), HasSubstr(missing));
    EXPECT_THAT(e.what(), HasSubstr("No such file"));
  }
}

}  // namespace
}  // namespace bitzoo
}  // namespace bitlab
