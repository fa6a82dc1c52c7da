#include "trainer/data/datasets.h"

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bitcore/errors.h"
#include "trainer/data/cifar_reader.h"
#include "trainer/data/idx_reader.h"
#include "trainer/data/synthetic.h"

namespace bitlab {
namespace trainer {
namespace {

// How to get each data set, for the message when its files are missing.
constexpr char kFashionMnistHowTo[] =
    "apt-get install dataset-fashion-mnist, or pass --data_dir with the four IDX files of "
    "https://github.com/zalandoresearch/fashion-mnist";
constexpr char kMnistHowTo[] =
    "download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz "
    "and t10k-labels-idx1-ubyte.gz (http://yann.lecun.com/exdb/mnist/) into a directory and "
    "pass it as --data_dir";
constexpr char kCifar10HowTo[] =
    "download and unpack https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz, then pass "
    "--data_dir (the cifar-10-batches-bin directory or the one holding it)";
constexpr char kCifar100HowTo[] =
    "download and unpack https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz, then pass "
    "--data_dir (the cifar-100-binary directory or the one holding it)";

bool is_file(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

// `dir`/`base`.gz, else `dir`/`base`.
std::string find_idx_file(const std::string& where, const std::string& dir, const std::string& base,
                          const char* how_to) {
  const std::string path = dir + "/" + base;
  if (is_file(path + ".gz")) return path + ".gz";
  if (is_file(path)) return path;
  throw BitLabError(absl::StrCat(where, ": neither ", path, ".gz nor ", path, " exists; ", how_to));
}

ImageClassificationData load_idx(const std::string& where, const std::string& dir,
                                 const std::string& split, const char* how_to) {
  // The IDX distributions name the test split "t10k".
  const std::string prefix = split == "train" ? "train" : "t10k";
  // Images first, in their own statement: the missing file named is the first one looked for.
  const std::string images = find_idx_file(where, dir, prefix + "-images-idx3-ubyte", how_to);
  return read_idx_dataset(images, find_idx_file(where, dir, prefix + "-labels-idx1-ubyte", how_to));
}

// The CIFAR files of `split` in `dir`, or in the subdirectory the tarball unpacks to.
std::vector<std::string> find_cifar_files(const std::string& where, const std::string& dir,
                                          const std::string& subdir,
                                          const std::vector<std::string>& names,
                                          const char* how_to) {
  for (const std::string& candidate : {dir, dir + "/" + subdir}) {
    std::vector<std::string> paths;
    for (const std::string& name : names) paths.push_back(candidate + "/" + name);
    if (is_file(paths.front())) {
      for (const std::string& path : paths) {
        if (!is_file(path))
          throw BitLabError(absl::StrCat(where, ": ", path, " is missing; ", how_to));
      }
      return paths;
    }
  }
  throw BitLabError(absl::StrCat(where, ": neither ", dir, "/", names.front(), " nor ", dir, "/",
                                 subdir, "/", names.front(), " exists; ", how_to));
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const auto* names =
      new std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return *names;
}

const std::vector<std::string>& mnist_classes() {
  static const auto* names =
      new std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return *names;
}

const std::vector<std::string>& cifar10_classes() {
  static const auto* names = new std::vector<std::string>{
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return *names;
}

// fine_label_names.txt of cifar-100-binary, in label order.
const std::vector<std::string>& cifar100_classes() {
  static const auto* names = new std::vector<std::string>{
      "apple",       "aquarium_fish", "baby",      "bear",       "beaver",       "bed",
      "bee",         "beetle",        "bicycle",   "bottle",     "bowl",         "boy",
      "bridge",      "bus",           "butterfly", "camel",      "can",          "castle",
      "caterpillar", "cattle",        "chair",     "chimpanzee", "clock",        "cloud",
      "cockroach",   "couch",         "crab",      "crocodile",  "cup",          "dinosaur",
      "dolphin",     "elephant",      "flatfish",  "forest",     "fox",          "girl",
      "hamster",     "house",         "kangaroo",  "keyboard",   "lamp",         "lawn_mower",
      "leopard",     "lion",          "lizard",    "lobster",    "man",          "maple_tree",
      "motorcycle",  "mountain",      "mouse",     "mushroom",   "oak_tree",     "orange",
      "orchid",      "otter",         "palm_tree", "pear",       "pickup_truck", "pine_tree",
      "plain",       "plate",         "poppy",     "porcupine",  "possum",       "rabbit",
      "raccoon",     "ray",           "road",      "rocket",     "rose",         "sea",
      "seal",        "shark",         "shrew",     "skunk",      "skyscraper",   "snail",
      "snake",       "spider",        "squirrel",  "streetcar",  "sunflower",    "sweet_pepper",
      "table",       "tank",          "telephone", "television", "tiger",        "tractor",
      "train",       "trout",         "tulip",     "turtle",     "wardrobe",     "whale",
      "willow_tree", "wolf",          "woman",     "worm"};
  return *names;
}

void check_name(const char* where, const std::string& name) {
  for (const std::string& known : dataset_names()) {
    if (name == known) return;
  }
  throw BitLabError(absl::StrCat(where, ": unknown data set \"", name, "\"; the data sets are ",
                                 absl::StrJoin(dataset_names(), ", ")));
}

// The data directory: the one given, else the name's default; CIFAR has none.
std::string data_directory(const std::string& where, const std::string& name,
                           const std::string& data_dir) {
  if (!data_dir.empty()) return data_dir;
  if (name == "fashion_mnist") return "/usr/share/datasets/fashion-mnist";
  if (name == "mnist") return "/usr/share/datasets/mnist";
  throw BitLabError(absl::StrCat(where, ": no default data directory for ", name, "; ",
                                 name == "cifar10" ? kCifar10HowTo : kCifar100HowTo));
}

}  // namespace

const std::vector<std::string>& dataset_names() {
  static const auto* names =
      new std::vector<std::string>{"fashion_mnist", "mnist", "cifar10", "cifar100", "synthetic"};
  return *names;
}

ImageClassificationData load_dataset(const std::string& name, const std::string& data_dir,
                                     const std::string& split) {
  check_name("load_dataset", name);
  const std::string where = absl::StrCat("load_dataset(", name, ", ", split, ")");
  if (split != "train" && split != "test") {
    throw BitLabError(
        absl::StrCat(where, ": unknown split \"", split, "\"; expected \"train\" or \"test\""));
  }
  const bool train = split == "train";
  ImageClassificationData data;
  if (name == "synthetic") {
    SyntheticOptions options;
    options.samples = train ? 4096 : 1024;
    options.sample_stream = train ? 0 : 1;
    data = make_synthetic(options);
  } else {
    const std::string dir = data_directory(where, name, data_dir);
    if (name == "fashion_mnist" || name == "mnist") {
      const bool fashion = name == "fashion_mnist";
      data = load_idx(where, dir, split, fashion ? kFashionMnistHowTo : kMnistHowTo);
      data.class_names = fashion ? fashion_mnist_classes() : mnist_classes();
      data.mean = {fashion ? 0.2860 : 0.1307};
      data.stddev = {fashion ? 0.3530 : 0.3081};
    } else if (name == "cifar10") {
      const std::vector<std::string> files =
          train
              ? std::vector<std::string>{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                         "data_batch_4.bin", "data_batch_5.bin"}
              : std::vector<std::string>{"test_batch.bin"};
      data = read_cifar(find_cifar_files(where, dir, "cifar-10-batches-bin", files, kCifar10HowTo),
                        CifarFormat::kCifar10);
      data.class_names = cifar10_classes();
      data.mean = {0.4914, 0.4822, 0.4465};
      data.stddev = {0.2470, 0.2435, 0.2616};
    } else {  // cifar100
      data = read_cifar(find_cifar_files(where, dir, "cifar-100-binary",
                                         {train ? "train.bin" : "test.bin"}, kCifar100HowTo),
                        CifarFormat::kCifar100Fine);
      data.class_names = cifar100_classes();
      data.mean = {0.5071, 0.4865, 0.4409};
      data.stddev = {0.2673, 0.2564, 0.2762};
    }
  }
  data.validate(where);
  return data;
}

AugmentOptions standard_augmentation(const std::string& name) {
  check_name("standard_augmentation", name);
  AugmentOptions augment;
  if (name == "cifar10" || name == "cifar100") {
    augment.crop_padding = 4;
    augment.horizontal_flip = true;
  }
  return augment;
}

}  // namespace trainer
}  // namespace bitlab
