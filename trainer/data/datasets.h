// load_dataset: the image-classification data sets the trainer knows, by name, with their
// class names and standard normalization.
//
//   name           files in data_dir                                   default data_dir
//   fashion_mnist  {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]   /usr/share/datasets/
//                                                                      fashion-mnist
//   mnist          the same names                                      /usr/share/datasets/mnist
//   cifar10        data_batch_1..5.bin, test_batch.bin                 none: pass one
//   cifar100       train.bin, test.bin (fine labels)                   none: pass one
//   synthetic      none: make_synthetic, 1 x 16 x 16, 10 classes, 4096 train / 1024 test images
//
// For CIFAR, data_dir may be the unpacked cifar-10-batches-bin / cifar-100-binary directory or
// the directory holding it. Debian's dataset-fashion-mnist package installs Fashion-MNIST at
// its default place.
//
// Example:
//   bitlab::trainer::ImageClassificationData train =
//       bitlab::trainer::load_dataset("fashion_mnist", /*data_dir=*/"", "train");
//   bitlab::trainer::ImageDataset dataset(
//       std::move(train), bitlab::trainer::standard_augmentation("fashion_mnist"));
#ifndef BITLAB_TRAINER_DATA_DATASETS_H_
#define BITLAB_TRAINER_DATA_DATASETS_H_

#include <string>
#include <vector>

#include "trainer/data/image_dataset.h"
#include "trainer/data/transforms.h"

namespace bitlab {
namespace trainer {

/// The names load_dataset accepts.
const std::vector<std::string>& dataset_names();

/// Split `split` ("train" or "test") of data set `name` from `data_dir` (empty: the name's
/// default), validated, with class names, mean and stddev. Throws BitLabError for an unknown
/// name (listing the known ones) or split, for files missing (naming the paths looked at and
/// how to get the data) and for corrupt files.
ImageClassificationData load_dataset(const std::string& name, const std::string& data_dir,
                                     const std::string& split);

/// The augmentation commonly used to train on `name`: for CIFAR a random crop with 4 pixels of
/// padding and a horizontal flip; none for the others, which are usually trained without.
/// Throws BitLabError for an unknown name.
AugmentOptions standard_augmentation(const std::string& name);

}  // namespace trainer
}  // namespace bitlab

#endif  // BITLAB_TRAINER_DATA_DATASETS_H_
