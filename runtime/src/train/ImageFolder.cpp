//===- ImageFolder.cpp - ROOT/<split>/<class>/<image> data sets -----------===//
//
// Tiny ImageNet and ImageNet as torchvision's ImageFolder reads them: class
// folders sorted by name give the label indices, every JPEG or PNG below a
// class folder (at any depth) is one of its images. Only file names are kept;
// images are decoded when a view needs them (ImageSet::read).
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/train/Data.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <sstream>

namespace locus::rt::train {

namespace fs = std::filesystem;

namespace {

bool isImageFile(const fs::path &path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

/// The images below `folder` (any depth), sorted so the order is the same on
/// every file system.
Status listImages(const fs::path &folder, std::vector<std::string> &out) {
  std::error_code ec;
  out.clear();
  for (fs::recursive_directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file() && isImageFile(it->path()))
      out.push_back(it->path().string());
  if (ec)
    return Status::error(fmt::format("{}: cannot list: {}", folder.string(), ec.message()));
  std::sort(out.begin(), out.end());
  return Status::success();
}

Status listClasses(const fs::path &split, std::vector<std::string> &out) {
  std::error_code ec;
  out.clear();
  for (fs::directory_iterator it(split, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory())
      out.push_back(it->path().filename().string());
  if (ec)
    return Status::error(fmt::format("{}: cannot list: {}", split.string(), ec.message()));
  std::sort(out.begin(), out.end());
  return Status::success();
}

void startSet(ImageSet &set, int64_t channels) {
  set = ImageSet{};
  set.channels = channels;
}

void addImage(ImageSet &set, std::string file, int32_t label) {
  set.files.push_back(std::move(file));
  set.labels.push_back(label);
  ++set.count;
}

/// A split of class folders, each named in `classes` (the training split
/// defines them) and holding at least one image.
Status loadClassFolders(const fs::path &split, const std::map<std::string, int32_t> &classes,
                        int64_t channels, ImageSet &out) {
  std::vector<std::string> names;
  LOCUS_RETURN_IF_ERROR(listClasses(split, names));
  if (names.empty())
    return Status::error(fmt::format("{}: no class folders (expected {}/<class>/<image>)",
                                     split.string(), split.string()));
  startSet(out, channels);
  std::vector<std::string> files;
  for (const std::string &name : names) {
    auto label = classes.find(name);
    if (label == classes.end())
      return Status::error(fmt::format("{}: class '{}' is not one of the training split's {} "
                                       "classes",
                                       (split / name).string(), name, classes.size()));
    LOCUS_RETURN_IF_ERROR(listImages(split / name, files));
    if (files.empty())
      return Status::error(fmt::format("{}: an empty class folder (no .jpg, .jpeg or .png image)",
                                       (split / name).string()));
    for (std::string &file : files)
      addImage(out, std::move(file), label->second);
  }
  return Status::success();
}

/// Tiny ImageNet's validation split: val/images/* labelled by
/// val/val_annotations.txt ("file<TAB>class<TAB>box...").
Status loadAnnotatedSplit(const fs::path &split, const std::map<std::string, int32_t> &classes,
                          int64_t channels, ImageSet &out) {
  const fs::path annotations = split / "val_annotations.txt";
  std::ifstream in(annotations);
  if (!in)
    return Status::error(fmt::format("{}: cannot open", annotations.string()));
  startSet(out, channels);
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty())
      continue;
    std::istringstream fields(line);
    std::string file, name;
    if (!std::getline(fields, file, '\t') || !std::getline(fields, name, '\t'))
      return Status::error(fmt::format("{}:{}: expected 'file<TAB>class'", annotations.string(),
                                       number));
    auto label = classes.find(name);
    if (label == classes.end())
      return Status::error(fmt::format("{}:{}: class '{}' is not one of the training split's "
                                       "classes",
                                       annotations.string(), number, name));
    const fs::path image = split / "images" / file;
    if (!fs::is_regular_file(image))
      return Status::error(fmt::format("{}:{}: {} does not exist", annotations.string(), number,
                                       image.string()));
    addImage(out, image.string(), label->second);
  }
  if (out.count == 0)
    return Status::error(fmt::format("{}: no images listed", annotations.string()));
  return Status::success();
}

} // namespace

Status loadImageFolder(const std::string &root, int64_t channels, Dataset &out) {
  out = Dataset{};
  out.name = "folder";
  const fs::path base(root), train = base / "train";
  if (!fs::is_directory(train))
    return Status::error(fmt::format("{}: no 'train' folder (expected {}/train/<class>/<image> "
                                     "and {}/val/<class>/<image>)",
                                     root, root, root));
  std::vector<std::string> names;
  LOCUS_RETURN_IF_ERROR(listClasses(train, names));
  std::map<std::string, int32_t> classes;
  for (size_t i = 0; i < names.size(); ++i)
    classes[names[i]] = static_cast<int32_t>(i);
  LOCUS_RETURN_IF_ERROR(loadClassFolders(train, classes, channels, out.train));
  out.classes = static_cast<int32_t>(names.size());

  fs::path held = base / "val";
  if (!fs::is_directory(held))
    held = base / "test";
  if (!fs::is_directory(held))
    return Status::error(fmt::format("{}: no 'val' or 'test' folder for the probe's test split",
                                     root));
  if (fs::exists(held / "val_annotations.txt"))
    LOCUS_RETURN_IF_ERROR(loadAnnotatedSplit(held, classes, channels, out.test));
  else
    LOCUS_RETURN_IF_ERROR(loadClassFolders(held, classes, channels, out.test));
  return channelStatistics(out.train, out.norm);
}

} // namespace locus::rt::train
