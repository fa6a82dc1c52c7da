// Quickstart: the shipped pretrained LeNet-5 loaded by name, then run on the first 200 images
// of Fashion-MNIST's test split (Debian's dataset-fashion-mnist) through the image
// classification pipeline, which preprocesses each image the way the model's config says.
#include <cstdint>
#include <cstdio>
#include <memory>

#include <ATen/ATen.h>

#include "bitmodels/auto_bit_model.h"
#include "bitzoo/pipeline/pipeline.h"
#include "trainer/data/idx_reader.h"

int main() {
  // Verified against the manifest compiled into //bitzoo, then copied into the cache.
  std::shared_ptr<bitlab::BitModel> model = bitlab::AutoBitModel::from_pretrained("lenet5-fmnist");
  bitlab::bitzoo::Pipeline classifier("image-classification", model);

  const at::Tensor images = bitlab::trainer::read_idx_images(
      "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");  // uint8 [10000, 28, 28]
  const at::Tensor labels = bitlab::trainer::read_idx_labels(
      "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");  // uint8 [10000]
  const int64_t count = 200;
  int64_t correct = 0;
  for (int64_t i = 0; i < count; ++i) {
    // Decoded pixels are [H, W, C]; the pipeline scales and normalizes them.
    const auto top = classifier.classify(images[i].unsqueeze(-1), /*top_k=*/1);
    if (top.at(0).class_id == labels[i].item<int64_t>()) ++correct;
    if (i == 0) std::printf("first image: %s (%.2f)\n", top[0].label.c_str(), top[0].score);
  }
  std::printf("lenet5-fmnist: %lld of %lld test images correct\n", static_cast<long long>(correct),
              static_cast<long long>(count));
  return correct * 10 >= count * 8 ? 0 : 1;  // the card says 90.75% on the whole split
}
